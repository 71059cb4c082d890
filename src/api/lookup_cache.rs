//! The key lookup's answers kept in memory, checked against the database on
//! every call.
//!
//! Internal systems call `POST /api/v1/keys/lookup` on every request they serve,
//! for a few thousand users over and over; reading those users, their models and
//! their services from the database on every call cost most of the call (on
//! SQLite, every commit of any connection empties the page cache of all others,
//! so each call read its 100 users back from the OS). This cache holds each
//! user's answer as the JSON of its members' values (the names are written per
//! call from one static list) and the user's key, decrypted and checked against
//! its stored SHA-256 once, when the answer was read, in blocks of answers read
//! together (`Block`: a value repeated in the block is stored once), wiped
//! when the last answer in them is dropped. Process memory already holds the
//! encryption keys, so it exposes nothing new (SECURITY.md, "Someone with the
//! host").
//!
//! **Never stale.** The migration `create_read_generation` keeps a counter
//! (`read_generation.n`) that every change to `users`, `user_models`,
//! `user_services` or `services` raises in the change's own transaction,
//! whichever process made it. Each call reads that counter first (one
//! primary-key read) and uses cached answers only if they were read at the same
//! counter; a higher counter empties the cache. Answers read from the database
//! are stored only under the counter read *before* them, and only if the cache
//! is still at that counter, so an answer read before a change can never be
//! served after the change became visible.
//!
//! `MAMA_LOOKUP_CACHE_USERS` bounds the entries (default 100,000; about 0.15 KB
//! each for the bench's users, index included, measured in the README); `0`
//! turns the cache off. When full, the oldest blocks are dropped.
use std::{
    collections::HashMap,
    hash::BuildHasher,
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::contract::{LookupError, UserKey};
use crate::{
    crypto::{DecryptError, KeyCipher},
    metrics::Metrics,
    users::queries::UserGrants,
};

/// The members of an answer ([`UserKey`]) in serde's order, each as written
/// before its value. The test `the_assembled_body_is_byte_for_byte_what_serde_writes`
/// fails when `UserKey` changes and this list does not.
const MEMBERS: [&str; 16] = [
    "{\"user_id\":",
    ",\"organisation\":",
    ",\"key\":",
    ",\"key_alias\":",
    ",\"models\":",
    ",\"services\":",
    ",\"extra\":",
    ",\"sync_state\":",
    ",\"updated_at\":",
    ",\"max_budget\":",
    ",\"budget_duration\":",
    ",\"rpm_limit\":",
    ",\"tpm_limit\":",
    ",\"spend\":",
    ",\"blocked\":",
    ",\"expires_at\":",
];
/// The key's place among [`MEMBERS`]; its value is not kept with the others.
const KEY_MEMBER: usize = 2;

/// The varint at `bytes[at..]` (`crate::varint`) and where it ends; a block's
/// varints are whole, it wrote them.
fn varint(bytes: &[u8], at: usize) -> (usize, usize) {
    let mut rest = &bytes[at..];
    let v = crate::varint::get(&mut rest).expect("a block's varints are whole");
    (v as usize, bytes.len() - rest.len())
}

fn put_varint(out: &mut Vec<u8>, v: usize) {
    crate::varint::put(out, v as u64)
}

/// Answers stored back to back in one allocation, wiped when the last answer
/// pointing into it is dropped (it holds keys).
///
/// A record is: the length it writes (varint), the user's ID (varint length and
/// bytes, what the cache hashes), the key as a JSON string (varint length and
/// bytes), then the JSON value of every other member after the ID in
/// [`MEMBERS`]' order, each either inline (varint `len << 1`, then the bytes) or,
/// when the same value was stored inline earlier in the block, a reference to it
/// (varint `at << 1 | 1`). Most members repeat from user to user (`null`,
/// `false`, `"synced"`, the organisation, the model list), so a block of a
/// page of users is about a third of the one-allocation-per-answer layout it
/// replaced (README, "What bounds RSS").
struct Block(Box<[u8]>);

impl Drop for Block {
    fn drop(&mut self) {
        secrecy::zeroize::Zeroize::zeroize(&mut self.0[..]);
    }
}

/// Writes answers into a [`Block`]. Its buffer never reallocates in place: it
/// moves to a larger one whose predecessor is wiped, and the block is an exact
/// copy of it, so no freed memory keeps a key.
struct BlockBuilder {
    buf: secrecy::zeroize::Zeroizing<Vec<u8>>,
    /// Values stored inline so far: where.
    seen: HashMap<Box<[u8]>, usize>,
}

impl BlockBuilder {
    fn new() -> Self {
        BlockBuilder {
            buf: Vec::with_capacity(4096).into(),
            seen: HashMap::new(),
        }
    }

    fn reserve(&mut self, extra: usize) {
        if self.buf.capacity() - self.buf.len() < extra {
            let mut bigger =
                Vec::with_capacity((self.buf.len() + extra).max(2 * self.buf.capacity()));
            bigger.extend_from_slice(&self.buf);
            // The old buffer is wiped as it is dropped.
            self.buf = bigger.into();
        }
    }

    /// Appends `g`'s answer with its `key`; its place in the block.
    fn push(&mut self, g: UserGrants, key: &SecretString) -> u32 {
        let id = g.user.user_id.clone();
        // serde writes the whole answer (with an empty key); it is cut at the
        // members' names, which occur nowhere else unescaped.
        let json =
            serde_json::to_string(&user_key(g, String::new())).expect("a lookup answer serialises");
        let key = secrecy::zeroize::Zeroizing::new(
            serde_json::to_string(key.expose_secret()).expect("a string serialises"),
        );
        let mut values = [(0usize, 0usize); MEMBERS.len()];
        let mut at = 0;
        for (i, member) in MEMBERS.iter().enumerate() {
            debug_assert!(json[at..].starts_with(member));
            let start = at + member.len();
            at = match MEMBERS.get(i + 1) {
                Some(next) => start + json[start..].find(next).expect("answers have every member"),
                None => json.len() - 1,
            };
            values[i] = (start, at);
        }
        // What the answer writes: serde's JSON with the key in place of `""`.
        let written = json.len() - 2 + key.len();
        self.reserve(json.len() + key.len() + id.len() + 8 * MEMBERS.len());
        let place = self.buf.len();
        put_varint(&mut self.buf, written);
        put_varint(&mut self.buf, id.len());
        self.buf.extend_from_slice(id.as_bytes());
        put_varint(&mut self.buf, key.len());
        self.buf.extend_from_slice(key.as_bytes());
        for (i, &(start, end)) in values.iter().enumerate().skip(1) {
            if i == KEY_MEMBER {
                continue;
            }
            let value = &json.as_bytes()[start..end];
            match self.seen.get(value) {
                Some(&at)
                    if crate::varint::len((at << 1 | 1) as u64)
                        < crate::varint::len((value.len() << 1) as u64) + value.len() =>
                {
                    put_varint(&mut self.buf, at << 1 | 1)
                }
                _ => {
                    let at = self.buf.len();
                    put_varint(&mut self.buf, value.len() << 1);
                    self.buf.extend_from_slice(value);
                    self.seen.entry(value.into()).or_insert(at);
                }
            }
        }
        u32::try_from(place).expect("a block is under 4 GiB")
    }

    fn finish(self) -> Arc<Block> {
        Arc::new(Block(self.buf.as_slice().into()))
    }
}

/// One user's answer, ready to send: its place in a shared `Block`.
#[derive(Clone)]
pub struct Answer {
    block: Arc<Block>,
    at: u32,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("user_id", &self.user_id())
            .finish_non_exhaustive()
    }
}

impl Answer {
    /// The answer of `g` (the user with its models and services) with its
    /// decrypted `key`, in a block of its own.
    pub fn of(g: UserGrants, key: SecretString) -> Answer {
        let mut b = BlockBuilder::new();
        let at = b.push(g, &key);
        Answer {
            block: b.finish(),
            at,
        }
    }

    pub fn user_id(&self) -> &str {
        std::str::from_utf8(self.user_id_bytes()).expect("the ID is UTF-8")
    }

    /// The ID's bytes: what the cache hashes and compares (no UTF-8 check per
    /// probe).
    fn user_id_bytes(&self) -> &[u8] {
        id_at(&self.block.0, self.at as usize)
    }

    /// Bytes [`Answer::write`] appends.
    fn len(&self) -> usize {
        varint(&self.block.0, self.at as usize).0
    }

    /// Appends the answer to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let bytes = &self.block.0[..];
        let (written, at) = varint(bytes, self.at as usize);
        out.reserve(written);
        let (id_len, at) = varint(bytes, at);
        let id = std::str::from_utf8(&bytes[at..at + id_len]).expect("the ID is UTF-8");
        let (key_len, mut at) = varint(bytes, at + id_len);
        let key = &bytes[at..at + key_len];
        at += key_len;
        out.extend_from_slice(MEMBERS[0].as_bytes());
        write_json(out, &id);
        for (i, member) in MEMBERS.iter().enumerate().skip(1) {
            out.extend_from_slice(member.as_bytes());
            if i == KEY_MEMBER {
                out.extend_from_slice(key);
                continue;
            }
            // Inline (`len << 1`, then the bytes) or where an inline copy is
            // (`at << 1 | 1`).
            let (h, next) = varint(bytes, at);
            let (len, from) = if h & 1 == 1 {
                let (inline, from) = varint(bytes, h >> 1);
                at = next;
                (inline >> 1, from)
            } else {
                at = next + (h >> 1);
                (h >> 1, next)
            };
            out.extend_from_slice(&bytes[from..from + len]);
        }
        out.push(b'}');
    }
}

/// The ID of the record at `at`.
fn id_at(bytes: &[u8], at: usize) -> &[u8] {
    let (_, at) = varint(bytes, at);
    let (len, at) = varint(bytes, at);
    &bytes[at..at + len]
}

/// The contract's answer for `g` with `key`.
pub fn user_key(g: UserGrants, key: String) -> UserKey {
    let u = g.user;
    UserKey {
        user_id: u.user_id,
        organisation: u.organisation,
        key,
        key_alias: u.key_alias,
        models: g.models,
        services: g.services,
        extra: u.extra,
        sync_state: u.sync_state,
        updated_at: u.updated_at,
        max_budget: u.max_budget,
        budget_duration: u.budget_duration,
        rpm_limit: u.rpm_limit,
        tpm_limit: u.tpm_limit,
        spend: u.spend,
        blocked: u.blocked,
        expires_at: u.expires_at,
    }
}

/// The lookup response, exactly as serde would write
/// [`super::contract::LookupResponse`], written when actix asks for it: after
/// the audit middleware stored the call's event, not before. Its length is
/// known ahead (a `Content-Length`, not chunked). Built in the handler, 128
/// calls waiting for their group commit held a ~40 KB body each (~7 MB at 128
/// connections, README "What bounds RSS"). It goes out in pieces of about
/// `PIECE_BYTES`: actix copies a body into the connection's write buffer until
/// that holds [`WRITE_MARK_BYTES`] (`h1_write_buffer_size`), writes it,
/// and keeps the buffer for the connection's next answer. One 36 KB piece grew
/// every keep-alive connection's buffer to 64–72 KiB (9.4 MB at 128 connections,
/// heaptrack); 12 KiB pieces under 16 KiB kept it at 32 KiB (fourteenth
/// session); 7 KiB pieces, each written at once, keep it at 8 KiB, in about six
/// writes a call instead of two, within the CPU per call's spread (README,
/// sixteenth session). A piece also stays in jemalloc's small size classes (up
/// to 14 KiB), which its threads cache.
pub struct LookupBody {
    users: std::vec::IntoIter<Answer>,
    /// Written at the start (`{"users":[`), false once it is.
    opening: bool,
    /// Whether an answer was written (a comma goes before the next).
    any: bool,
    /// `],"not_found":…,"errors":…}`, written after the last answer.
    closing: Option<Vec<u8>>,
    /// Bytes not yet written.
    remaining: u64,
}

/// About how much [`LookupBody`] writes per piece: with the connection's
/// header and one answer past the mark, a piece fits the 8 KiB write buffer
/// actix gives a connection, and [`WRITE_MARK_BYTES`] sends each piece at once,
/// so the buffer never grows.
const PIECE_BYTES: usize = 7 * 1024;

/// The server's write mark (`h1_write_buffer_size`, set by
/// `startup::build_server`): above a response head, below a piece, so that
/// each piece of a [`LookupBody`] goes out as soon as it is buffered.
pub const WRITE_MARK_BYTES: usize = 4 * 1024;

const OPENING: &[u8] = b"{\"users\":[";

impl LookupBody {
    pub fn new(users: Vec<Answer>, not_found: &[String], errors: &[LookupError]) -> Self {
        let mut closing = b"],\"not_found\":".to_vec();
        write_json(&mut closing, &not_found);
        closing.extend_from_slice(b",\"errors\":");
        write_json(&mut closing, &errors);
        closing.push(b'}');
        let answers: usize = users.iter().map(|a| a.len()).sum();
        let commas = users.len().saturating_sub(1);
        LookupBody {
            remaining: (OPENING.len() + answers + commas + closing.len()) as u64,
            users: users.into_iter(),
            opening: true,
            any: false,
            closing: Some(closing),
        }
    }

    /// Appends the next piece to `out`; false when everything was written.
    fn write_piece(&mut self, out: &mut Vec<u8>) -> bool {
        let before = out.len();
        if std::mem::take(&mut self.opening) {
            out.extend_from_slice(OPENING);
        }
        while out.len() - before < PIECE_BYTES {
            match self.users.next() {
                Some(a) => {
                    if std::mem::replace(&mut self.any, true) {
                        out.push(b',');
                    }
                    a.write(out);
                }
                None => {
                    if let Some(closing) = self.closing.take() {
                        out.extend_from_slice(&closing);
                    }
                    break;
                }
            }
        }
        self.remaining -= (out.len() - before) as u64;
        out.len() > before
    }

    /// The whole body at once.
    pub fn into_vec(mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.remaining as usize);
        while self.write_piece(&mut out) {}
        out
    }
}

impl actix_web::body::MessageBody for LookupBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized(self.remaining)
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        let this = self.get_mut();
        // An answer is written whole, so a piece can pass the mark by one.
        let mut piece = Vec::with_capacity((this.remaining as usize).min(PIECE_BYTES + 512));
        std::task::Poll::Ready(this.write_piece(&mut piece).then(|| Ok(piece.into())))
    }
}

fn write_json(out: &mut Vec<u8>, v: &impl Serialize) {
    serde_json::to_writer(out, v).expect("a lookup answer serialises");
}

/// Where an answer is: its block's number and its place in the block.
#[derive(Clone, Copy)]
struct Slot {
    block: u32,
    at: u32,
}

/// The blocks the index points into, oldest first, numbered from `first`.
#[derive(Default)]
struct Blocks {
    held: std::collections::VecDeque<Arc<Block>>,
    first: u32,
    /// What they hold, in bytes.
    bytes: usize,
}

impl Blocks {
    fn get(&self, n: u32) -> &Arc<Block> {
        &self.held[(n - self.first) as usize]
    }

    /// The user ID `s` points to.
    fn id(&self, s: &Slot) -> &[u8] {
        id_at(&self.get(s.block).0, s.at as usize)
    }

    /// The number of `block`, registered if it is not the newest one already.
    fn register(&mut self, block: &Arc<Block>) -> u32 {
        if !self.held.back().is_some_and(|b| Arc::ptr_eq(b, block)) {
            self.held.push_back(block.clone());
            self.bytes += block.0.len();
        }
        self.first + self.held.len() as u32 - 1
    }

    /// Drops the oldest block; its number, if there was one.
    fn drop_oldest(&mut self) -> Option<u32> {
        let gone = self.held.pop_front()?;
        self.bytes -= gone.0.len();
        self.first += 1;
        Some(self.first - 1)
    }
}

#[derive(Default)]
struct Inner {
    /// The counter the entries were read at.
    generation: i64,
    /// The answers by their user's ID.
    index: hashbrown::HashTable<Slot>,
    blocks: Blocks,
    hasher: std::hash::RandomState,
}

impl Inner {
    fn clear(&mut self) {
        self.index.clear();
        self.blocks = Blocks::default();
    }

    fn find(&self, id: &[u8]) -> Option<Answer> {
        let hash = self.hasher.hash_one(id);
        let slot = self.index.find(hash, |s| self.blocks.id(s) == id)?;
        Some(Answer {
            block: self.blocks.get(slot.block).clone(),
            at: slot.at,
        })
    }

    /// Drops the oldest block and its answers.
    fn drop_oldest(&mut self) {
        if let Some(n) = self.blocks.drop_oldest() {
            self.index.retain(|s| s.block != n);
        }
    }

    fn insert(&mut self, a: &Answer) {
        let slot = Slot {
            block: self.blocks.register(&a.block),
            at: a.at,
        };
        let id = a.user_id_bytes();
        let hash = self.hasher.hash_one(id);
        let (blocks, hasher) = (&self.blocks, &self.hasher);
        match self.index.find_mut(hash, |s| blocks.id(s) == id) {
            // Read twice (two calls missed it at once): the newer copy.
            Some(old) => *old = slot,
            None => {
                self.index
                    .insert_unique(hash, slot, |s| hasher.hash_one(blocks.id(s)));
            }
        }
    }
}

/// The cache; one per instance (its own app data, beside `AppData`).
pub struct LookupCache {
    capacity: usize,
    inner: Mutex<Inner>,
    metrics: Arc<Metrics>,
    /// Told when a newer counter empties the cache (the preloader waits on it).
    reset: tokio::sync::Notify,
}

impl LookupCache {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> LookupCache {
        LookupCache {
            capacity,
            inner: Mutex::new(Inner::default()),
            metrics,
            reset: tokio::sync::Notify::new(),
        }
    }

    /// Answers held now.
    fn len(&self) -> usize {
        self.lock().index.len()
    }

    /// Moves the cache to `generation` if that is newer, emptying it.
    fn advance(&self, inner: &mut Inner, generation: i64) {
        if generation > inner.generation {
            inner.clear();
            inner.generation = generation;
            self.metrics.record_lookup_cache_reset();
            self.publish(inner);
            self.reset.notify_waiters();
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, inner: &Inner) {
        // The index's slots (8 bytes and a control byte each) count too.
        let bytes = inner.blocks.bytes + inner.index.capacity() * (std::mem::size_of::<Slot>() + 1);
        self.metrics
            .set_lookup_cache_entries(inner.index.len(), bytes);
    }

    /// The cached answers of `ids` at `generation`, in their order (`None`: not
    /// cached). A newer generation empties the cache; an older one
    /// (this call read the counter before another call saw it move) uses nothing.
    pub fn get(&self, generation: i64, ids: &[String]) -> Vec<Option<Answer>> {
        let found: Vec<Option<Answer>> = {
            let mut inner = self.lock();
            self.advance(&mut inner, generation);
            if generation == inner.generation {
                ids.iter().map(|id| inner.find(id.as_bytes())).collect()
            } else {
                vec![None; ids.len()]
            }
        };
        let hits = found.iter().filter(|a| a.is_some()).count() as u64;
        self.metrics
            .record_lookup_cache(hits, ids.len() as u64 - hits);
        found
    }

    /// Stores answers read from the database after the counter was read as
    /// `generation`: only if the cache is still at that generation (false:
    /// nothing stored). When full, the oldest blocks (a preload page each, or
    /// one lookup's misses) make room.
    pub fn put<'a>(
        &self,
        generation: i64,
        answers: impl ExactSizeIterator<Item = &'a Answer>,
    ) -> bool {
        let n = answers.len().min(self.capacity);
        if n == 0 {
            return true;
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return false;
        }
        while !inner.blocks.held.is_empty() && inner.index.len() + n > self.capacity {
            inner.drop_oldest();
        }
        for a in answers.take(n) {
            inner.insert(a);
        }
        self.publish(&inner);
        true
    }
}

/// The answers of `users` with their keys decrypted and checked, written into
/// one block, in their order; a key that cannot be read fails its user only
/// (logged, never cached).
pub fn answers(
    cipher: &KeyCipher,
    users: impl IntoIterator<Item = UserGrants>,
) -> Vec<(String, Result<Answer, DecryptError>)> {
    let mut b = BlockBuilder::new();
    let placed: Vec<_> = users
        .into_iter()
        .map(|g| {
            let u = &g.user;
            let id = u.user_id.clone();
            match cipher.decrypt(&u.user_id, &u.key_ciphertext, &u.key_sha256) {
                Ok(key) => (id, Ok(b.push(g, &key))),
                Err(e) => {
                    tracing::warn!(user_id = %u.user_id, error = %e, "a stored key cannot be returned");
                    (id, Err(e))
                }
            }
        })
        .collect();
    let block = b.finish();
    placed
        .into_iter()
        .map(|(id, at)| {
            let a = at.map(|at| Answer {
                block: block.clone(),
                at,
            });
            (id, a)
        })
        .collect()
}

/// Users per page of the preload.
const PRELOAD_PAGE: u64 = 1_000;

/// Fills the cache from the database in the background, at start and after
/// each reset (at most once per `every`, `MAMA_LOOKUP_CACHE_PRELOAD_SECONDS`),
/// so the first lookups after a start or a change find their users in memory
/// instead of reading them (100 users cost PostgreSQL about 3.5 ms per call,
/// measured). A fill that fails is tried again after the pause. Each fill reads
/// the counter, moves the cache to it, and stores users page by page (by
/// primary key) under it until the cache is full, by the cache's own rule: a
/// page read after the counter moved again is not stored, and that reset wakes
/// the next fill.
pub fn spawn_preloader(
    db: DatabaseConnection,
    cipher: KeyCipher,
    cache: Arc<LookupCache>,
    every: Duration,
    mut stop: crate::shutdown::Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !cache.enabled() {
            return;
        }
        loop {
            let started = tokio::time::Instant::now();
            let filled = async {
                let generation = generation(&db).await?;
                // Created under the lock, right after this fill's own move: a
                // `Notified` hears every `notify_waiters` from its creation on,
                // so a later reset (by a lookup) wakes the next fill and this
                // move does not.
                let reset = {
                    let mut inner = cache.lock();
                    cache.advance(&mut inner, generation);
                    cache.reset.notified()
                };
                let n = fill(&db, &cipher, &cache, generation, &stop).await?;
                Ok::<_, DbErr>((n, reset))
            };
            match filled.await {
                Ok((n, reset)) => {
                    tracing::debug!(users = n, "lookup cache preloaded");
                    tokio::select! {
                        _ = reset => {}
                        _ = stop.stopped() => return,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lookup cache preload failed; lookups read their users")
                }
            }
            if stop.sleep(every.saturating_sub(started.elapsed())).await {
                return;
            }
        }
    })
}

/// One fill at `generation`: the answers stored.
async fn fill(
    db: &DatabaseConnection,
    cipher: &KeyCipher,
    cache: &LookupCache,
    generation: i64,
    stop: &crate::shutdown::Stop,
) -> Result<usize, DbErr> {
    let (mut after, mut stored) = (0, 0);
    while cache.len() < cache.capacity && !stop.is_stopped() {
        let page = super::queries::page_after(db, after, PRELOAD_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.user.id;
        let room = cache.capacity.saturating_sub(cache.len());
        let answers: Vec<_> = answers(cipher, page.into_iter().take(room))
            .into_iter()
            .filter_map(|(_, a)| a.ok())
            .collect();
        if !cache.put(generation, answers.iter()) {
            break;
        }
        stored += answers.len();
    }
    Ok(stored)
}

/// The IDs whose slot in `found` (as [`LookupCache::get`] answers `ids`) is
/// empty: those to read from the database.
pub fn missing(ids: &[String], found: &[Option<Answer>]) -> Vec<String> {
    ids.iter()
        .zip(found)
        .filter(|(_, a)| a.is_none())
        .map(|(id, _)| id.clone())
        .collect()
}

/// The read generation as the API token guard read it, with the caller's
/// token (one statement, `api_clients::queries::find_by_token_hash_with_generation`).
/// Answers checked against it are at least as new as the moment the call was
/// authenticated.
#[derive(Debug, Clone, Copy)]
pub struct ReadGeneration(pub i64);

/// The counter of changes to what the lookup answers (see the module doc).
pub async fn generation(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row =
        crate::db::query_row(db, "SELECT n FROM read_generation WHERE id = 1", vec![]).await?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<i64>(0)?,
        None => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::contract::LookupResponse;
    use chrono::TimeZone;

    /// `LookupCache::get` split into the answers found and the IDs missing.
    fn get(c: &LookupCache, generation: i64, ids: &[String]) -> (Vec<Answer>, Vec<String>) {
        let found = c.get(generation, ids);
        assert_eq!(found.len(), ids.len(), "one slot per ID, in order");
        let missing = missing(ids, &found);
        (found.into_iter().flatten().collect(), missing)
    }

    fn grants(user_id: &str, alias: Option<&str>) -> UserGrants {
        let t = chrono::Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
        UserGrants {
            user: crate::entities::user::Model {
                id: 7,
                user_id: user_id.into(),
                organisation: "Acme \"R&D\"".into(),
                key_ciphertext: "v2:k1:abc".into(),
                key_sha256: "00ff".into(),
                key_hint: "sk-…abcd".into(),
                key_alias: alias.map(Into::into),
                extra: "line one\nline two ✓".into(),
                sync_state: "synced".into(),
                sync_error: None,
                synced_at: None,
                version: 3,
                created_at: t,
                updated_at: t,
                max_budget: Some(50.0),
                budget_duration: Some("30d".into()),
                rpm_limit: None,
                tpm_limit: Some(1000),
                expires_at: Some(t),
                blocked: true,
                spend: Some(1.25),
                last_active_at: None,
                spend_refreshed_at: None,
            },
            models: vec!["gpt-4o".into(), "claude".into()],
            services: vec!["wiki".into()],
        }
    }

    #[test]
    fn the_assembled_body_is_byte_for_byte_what_serde_writes() {
        let keys = ["sk-a\"b\\c", "sk-plain", "sk-3"];
        // Values that hold other members' names (escaped, as serde writes them).
        let mut tricky = grants("u-4", Some(",\"models\":["));
        tricky.user.extra = "x\",\"key\":\"y".into();
        tricky.models = vec![",\"services\":".into()];
        let gs = [grants("u-1", Some("alias")), grants("ü-2", None), tricky];
        let users = in_one_block(gs.iter().cloned().zip(keys));
        let not_found = vec!["nobody".to_string()];
        let errors = vec![LookupError {
            user_id: "u-3".into(),
            code: "refused".into(),
            message: "the stored key cannot be decrypted".into(),
        }];
        let body = LookupBody::new(users, &not_found, &errors);
        let size = actix_web::body::MessageBody::size(&body);
        let body = body.into_vec();
        assert_eq!(size, actix_web::body::BodySize::Sized(body.len() as u64));
        let expected = serde_json::to_vec(&LookupResponse {
            users: gs
                .iter()
                .zip(keys)
                .map(|(g, k)| user_key(g.clone(), k.to_string()))
                .collect(),
            not_found,
            errors,
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    #[test]
    fn a_long_body_goes_out_in_pieces_that_add_up_to_what_serde_writes() {
        use actix_web::body::{BodySize, MessageBody};
        use std::task::{Context, Poll, Waker};
        // Values that repeat (most members, a model list in three) and some
        // that do not (the ID, every seventh alias).
        let gs: Vec<_> = (0..1000)
            .map(|i| {
                let alias = format!("alias-{}", i / 7);
                let mut g = grants(&format!("u-{i:04}"), (i % 7 == 0).then_some(alias.as_str()));
                g.models.truncate(i % 3);
                g
            })
            .collect();
        let users = in_one_block(gs.iter().cloned().map(|g| (g, "sk-key")));
        let longest = users.iter().map(|a| a.len()).max().unwrap();
        let users_block = users[0].block.clone();
        let not_found = vec!["nobody".to_string()];
        let mut body = LookupBody::new(users, &not_found, &[]);
        let announced = body.size();
        let mut pieces = vec![];
        let mut cx = Context::from_waker(Waker::noop());
        while let Poll::Ready(Some(Ok(piece))) = std::pin::Pin::new(&mut body).poll_next(&mut cx) {
            pieces.push(piece);
        }
        assert!(pieces.len() >= 4, "{} pieces", pieces.len());
        assert!(
            pieces.iter().all(|p| p.len() <= PIECE_BYTES + longest + 1),
            "{:?}",
            pieces.iter().map(|p| p.len()).collect::<Vec<_>>()
        );
        let whole = pieces.concat();
        assert_eq!(announced, BodySize::Sized(whole.len() as u64));
        // The block holds a fraction of what the answers write.
        let held = users_block.0.len();
        assert!(held * 4 < whole.len(), "{held} bytes for {}", whole.len());
        let expected = serde_json::to_vec(&LookupResponse {
            users: gs
                .iter()
                .map(|g| user_key(g.clone(), "sk-key".to_string()))
                .collect(),
            not_found,
            errors: vec![],
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(whole).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    /// Answers written into one block, as a preload page's are.
    fn in_one_block<'a>(pairs: impl IntoIterator<Item = (UserGrants, &'a str)>) -> Vec<Answer> {
        let mut b = BlockBuilder::new();
        let places: Vec<u32> = pairs
            .into_iter()
            .map(|(g, k)| b.push(g, &SecretString::from(k)))
            .collect();
        let block = b.finish();
        places
            .into_iter()
            .map(|at| Answer {
                block: block.clone(),
                at,
            })
            .collect()
    }

    fn answer(user_id: &str) -> Answer {
        Answer::of(grants(user_id, None), SecretString::from("sk-x"))
    }

    fn cache(capacity: usize) -> LookupCache {
        LookupCache::new(capacity, Arc::new(Metrics::default()))
    }

    fn user_ids(found: &[Answer]) -> Vec<&str> {
        found.iter().map(|a| a.user_id()).collect()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn answers_are_served_only_at_the_generation_they_were_read_at() {
        let c = cache(10);
        let (hit, miss) = get(&c, 5, &ids(&["a", "b"]));
        assert!(hit.is_empty());
        assert_eq!(miss, ids(&["a", "b"]));
        c.put(5, [answer("a")].iter());
        let (hit, miss) = get(&c, 5, &ids(&["a", "b"]));
        assert_eq!(user_ids(&hit), ["a"]);
        assert_eq!(miss, ids(&["b"]));
        // A change moved the counter: nothing cached is used, the cache empties.
        let (hit, miss) = get(&c, 6, &ids(&["a"]));
        assert!(hit.is_empty());
        assert_eq!(miss, ids(&["a"]));
        // An answer read at the older counter is not stored at the newer one.
        c.put(5, [answer("a")].iter());
        assert!(get(&c, 6, &ids(&["a"])).0.is_empty());
        // A call that read an older counter than the cache's uses nothing.
        c.put(6, [answer("a")].iter());
        assert!(get(&c, 5, &ids(&["a"])).0.is_empty());
        assert_eq!(get(&c, 6, &ids(&["a"])).0.len(), 1);
    }

    #[test]
    fn a_full_cache_drops_entries_and_stays_within_its_bound() {
        let c = cache(4);
        get(&c, 1, &[]);
        for i in 0..20 {
            c.put(1, [answer(&format!("u{i}"))].iter());
            assert!(c.lock().index.len() <= 4);
        }
        assert_eq!(user_ids(&get(&c, 1, &ids(&["u19"])).0), ["u19"]);
        // A batch as large as the cache into a full cache: still within it.
        let batch: Vec<_> = (20..24).map(|i| answer(&format!("u{i}"))).collect();
        c.put(1, batch.iter());
        assert!(c.lock().index.len() <= 4);
        assert_eq!(user_ids(&get(&c, 1, &ids(&["u23"])).0), ["u23"]);
        // The same answers again replace, not add; the byte count is the
        // blocks'.
        c.put(1, batch.iter());
        let inner = c.lock();
        assert_eq!(inner.index.len(), 4);
        let held: usize = inner.blocks.held.iter().map(|b| b.0.len()).sum();
        assert_eq!(inner.blocks.bytes, held);
        drop(inner);
        let off = cache(0);
        off.get(1, &[]);
        off.put(1, [answer("a")].iter());
        assert!(get(&off, 1, &ids(&["a"])).0.is_empty());
    }
}
