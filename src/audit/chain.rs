//! The tamper-evident hash chain over the audit trail.
//!
//! Events are inserted *unsealed* (`seq`, `prev_hash`, `hash` NULL), so any number
//! of mama instances can insert at once without contending for the chain's head.
//! (On SQLite, whose writers share one lock anyway, the audit batch writer
//! links its events as it inserts them: [`insert_sealed`].) A sealer (a
//! background task in every instance, and `mama audit verify`) takes the
//! unsealed events in id order under a lock (a PostgreSQL transaction-level advisory
//! lock; on SQLite the single writer) and gives each `seq = last + 1`,
//! `prev_hash = hash(last)` and `hash = HMAC-SHA-256(audit key, prev_hash, canonical(event))`
//! under the current audit key (`MAMA_AUDIT_KEY`, never stored in the database),
//! whose id is kept beside the link (`link_key`) so older keys still verify the
//! past after a rotation. The canonical encoding covers every stored field
//! (targets and details included) and the seq itself. Changing, deleting,
//! inserting or reordering a sealed event therefore breaks the chain at a named
//! event, and without the audit key nobody can re-hash after a change. Events
//! sealed before the chain was keyed keep their plain SHA-256 links; an unkeyed
//! link after a keyed one is itself a break.
//!
//! What someone with the database *and* the key could still do (cut the newest
//! events, or rewrite and re-hash) is caught by signed checkpoints kept outside
//! the database: see [`super::checkpoint`].
//!
//! Pruning (retention) removes a prefix of the chain and keeps an anchor (the last
//! pruned seq and hash) in `app_state`, so the rest still verifies; each prune is
//! also a signed checkpoint of kind `prune`.
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::OnConflict,
};
use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::entities::{app_state, audit_event};

/// The audit keys: the current one links new events; older ones (by id) still
/// verify the events they linked. Built from the settings; never stored.
#[derive(Clone)]
pub struct AuditKeys {
    keys: std::sync::Arc<Vec<(String, SecretBox<[u8; 32]>)>>,
}

impl std::fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKeys(current {}, [redacted])", self.current_id())
    }
}

/// The id of an audit key: "a" and the first 8 hex digits of
/// SHA-256("mama.audit-key-id\0" ‖ key).
pub fn audit_key_id(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"mama.audit-key-id\0");
    h.update(key);
    format!("a{}", &hex::encode(h.finalize())[..8])
}

impl AuditKeys {
    pub fn new(current: &SecretBox<[u8; 32]>, old: &[SecretBox<[u8; 32]>]) -> Self {
        let mut keys: Vec<(String, SecretBox<[u8; 32]>)> = vec![];
        for k in std::iter::once(current).chain(old) {
            let id = audit_key_id(k.expose_secret());
            if !keys.iter().any(|(i, _)| *i == id) {
                keys.push((id, SecretBox::new(Box::new(*k.expose_secret()))));
            }
        }
        AuditKeys {
            keys: std::sync::Arc::new(keys),
        }
    }

    pub fn from_secrets(s: &crate::config::Secrets) -> Self {
        Self::new(&s.audit_key, &s.old_audit_keys)
    }

    /// The id new links are made under.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    fn get(&self, id: &str) -> Option<&[u8; 32]> {
        self.keys
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, k)| k.expose_secret())
    }

    /// The link of `e` at `seq` after `prev_hash` under the key `key_id`; `None`
    /// when that key is not configured.
    pub fn link(
        &self,
        key_id: &str,
        prev_hash: &str,
        e: &audit_event::Model,
        seq: i64,
    ) -> Option<String> {
        let key = self.get(key_id)?;
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
        m.update(b"mama.audit.link.v2\n");
        m.update(key_id.as_bytes());
        m.update(b"\n");
        m.update(prev_hash.as_bytes());
        m.update(b"\n");
        m.update(canonical(e, seq).as_bytes());
        Some(hex::encode(m.finalize().into_bytes()))
    }

    /// The link under the current key.
    pub fn current_link(&self, prev_hash: &str, e: &audit_event::Model, seq: i64) -> String {
        self.link(self.current_id(), prev_hash, e, seq)
            .expect("the current key is configured")
    }
}

/// The `prev_hash` of the first event ever sealed.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Key of the advisory lock the sealers take on PostgreSQL ("audt").
const SEAL_LOCK_KEY: i64 = 0x6175_6474;
/// `app_state` names.
pub const ANCHOR: &str = "audit.chain.anchor";
pub const LAST_VERIFIED: &str = "audit.chain.verified";
const CHECKPOINT: &str = "audit.chain.checkpoint";

/// Where the chain starts: after the last pruned event, or at the genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
}

impl Anchor {
    fn genesis() -> Self {
        Anchor {
            seq: 0,
            hash: GENESIS.to_string(),
        }
    }
}

/// The canonical encoding of an event's stored fields (with its `seq`): a JSON
/// array in a fixed order, timestamps at microsecond precision (what PostgreSQL
/// keeps), `targets` and `details` as stored.
pub fn canonical(e: &audit_event::Model, seq: i64) -> String {
    serde_json::json!([
        1, // encoding version
        seq,
        e.id,
        e.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        e.request_id,
        e.actor_kind,
        e.actor_id,
        e.actor_name,
        e.action,
        e.outcome,
        e.http_status,
        e.duration_us,
        e.client_ip,
        e.user_agent,
        e.method,
        e.path,
        e.target_count,
        e.targets,
        e.details,
    ])
    .to_string()
}

/// The legacy, unkeyed link: `sha256(prev_hash "\n" canonical)`, lowercase hex.
/// Only events sealed before the chain was keyed carry it.
pub fn link_hash(prev_hash: &str, e: &audit_event::Model, seq: i64) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical(e, seq).as_bytes());
    hex::encode(h.finalize())
}

/// Reads a JSON value from `app_state`.
pub async fn state_get<T: for<'de> Deserialize<'de>>(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<T>, DbErr> {
    Ok(
        crate::db::by_key(app_state::Entity::find_by_id(name.to_string()), db)
            .await?
            .and_then(|r| serde_json::from_str(&r.value).ok()),
    )
}

/// Writes (inserts or replaces) a JSON value in `app_state`.
pub async fn state_set<T: Serialize>(
    db: &impl ConnectionTrait,
    name: &str,
    value: &T,
) -> Result<(), DbErr> {
    let row = app_state::ActiveModel {
        name: Set(name.to_string()),
        value: Set(serde_json::to_string(value).map_err(|e| DbErr::Custom(e.to_string()))?),
        updated_at: Set(Utc::now()),
    };
    app_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(app_state::Column::Name)
                .update_columns([app_state::Column::Value, app_state::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

async fn anchor(db: &impl ConnectionTrait) -> Result<Anchor, DbErr> {
    Ok(state_get(db, ANCHOR).await?.unwrap_or_else(Anchor::genesis))
}

/// The newest sealed event's seq and hash; no row when nothing is sealed. Raw
/// SQL: `.one()` would bind its LIMIT, and SQLite re-prepares a statement whose
/// LIMIT is bound on every run (see `db::by_key`).
const HEAD_SQL: &str =
    "SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1";
/// Whether any event waits for the sealer (one probe of the unsealed index).
///
/// Not `EXISTS (… WHERE seq IS NULL)`: PostgreSQL plans that as a sequential
/// scan stopping at the first match whenever its statistics say most events
/// are unsealed (as right after the events were first analysed), and the
/// unsealed events are the newest, at the table's end: 8.6 ms a call on the
/// lookup bench (`BENCH_PG_STATEMENTS`), 3.4 s of a run. Ordered by id, the
/// partial index `idx_audit_events_unsealed` answers it.
const ANY_UNSEALED_SQL: &str =
    "SELECT (SELECT id FROM audit_events WHERE seq IS NULL ORDER BY id LIMIT 1) IS NOT NULL";

/// The last sealed event's seq and hash (or the anchor).
pub async fn head(db: &impl ConnectionTrait) -> Result<Anchor, DbErr> {
    let last = crate::db::query_row(db, HEAD_SQL, vec![]).await?;
    head_in(db, last.as_ref(), 0).await
}

/// The head as [`HEAD_SQL`] read it into `row`'s columns `at` (seq) and `at + 1`
/// (hash); the anchor when there is no row or they are NULL (nothing sealed).
async fn head_in(
    db: &impl ConnectionTrait,
    row: Option<&sea_orm::QueryResult>,
    at: usize,
) -> Result<Anchor, DbErr> {
    let (seq, hash) = match row {
        Some(r) => (
            r.try_get_by_index::<Option<i64>>(at)?,
            r.try_get_by_index::<Option<String>>(at + 1)?,
        ),
        None => (None, None),
    };
    match (seq, hash) {
        (Some(seq), Some(hash)) => Ok(Anchor { seq, hash }),
        _ => anchor(db).await,
    }
}

/// One event's place in the chain, as the sealer writes it.
struct Link {
    id: i64,
    seq: i64,
    prev_hash: String,
    hash: String,
}

/// Links per UPDATE statement (four bound values each).
const LINKS_PER_STATEMENT: usize = 500;

/// Writes the links of many events in one UPDATE … FROM a VALUES list (SQLite
/// 3.33+ and PostgreSQL). Raw SQL because SeaORM cannot join an UPDATE to a
/// VALUES list; it replaced one UPDATE per event, whose per-statement cost was
/// most of the sealer's time (measured: ~0.7 ms of CPU per looked-up batch of
/// 100 IDs under load went to sealing before, see the README).
async fn write_links(
    txn: &impl ConnectionTrait,
    links: &[Link],
    link_key: &str,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    // PostgreSQL types the VALUES list from its first row.
    let row = if backend == DbBackend::Postgres {
        "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT))"
    } else {
        "(?, ?, ?, ?)"
    };
    let rows = vec![row; links.len()].join(", ");
    let sql = format!(
        "WITH v(id, seq, prev_hash, hash) AS (VALUES {rows}) \
         UPDATE audit_events SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash, link_key = ? \
         FROM v WHERE audit_events.id = v.id AND audit_events.seq IS NULL"
    );
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(links.len() * 4 + 1);
    for l in links {
        values.push(l.id.into());
        values.push(l.seq.into());
        values.push(l.prev_hash.clone().into());
        values.push(l.hash.clone().into());
    }
    values.push(link_key.into());
    let done = txn
        .execute_raw(crate::db::stmt(backend, &sql, values))
        .await?;
    if done.rows_affected() != links.len() as u64 {
        // Another sealer got there first; the transaction is rolled back and the
        // next pass starts from the new head.
        return Err(DbErr::Custom(format!(
            "sealed {} of {} events: another sealer is running",
            done.rows_affected(),
            links.len()
        )));
    }
    Ok(())
}

/// Stores the group-commit writer's `events` sealed (SQLite): in its write
/// transaction, which holds the database's single write lock, it reads the
/// chain's head and the last id handed out, and inserts each event with its id,
/// seq and link. The sealer would otherwise rewrite every event row in a
/// transaction of its own (a second copy of each page in the WAL, a second
/// fsync, and the write lock held for up to 1,000 events while lookups wait):
/// measured, that was most of what bounded lookups on SQLite (README).
///
/// Returns `false`, storing nothing, when unsealed events are waiting (written
/// with an edit in its own transaction): the chain takes events in id order, so
/// the sealer seals those first and the caller stores these unsealed behind
/// them. Also `false` on PostgreSQL, whose sealer seals later: there the same
/// needs the sealers' advisory lock and four more statements per batch, and
/// measured it cost more than the sealer's UPDATEs (README).
pub async fn insert_sealed(
    txn: &impl ConnectionTrait,
    keys: &AuditKeys,
    events: &[&super::Event],
) -> Result<bool, DbErr> {
    if txn.get_database_backend() != DbBackend::Sqlite || events.is_empty() {
        return Ok(false);
    }
    // In one statement (each is a hand-off to the connection's thread): whether
    // an event waits for the sealer, the last id given (AUTOINCREMENT keeps it
    // in `sqlite_sequence`, so pruned ids are never handed out again), and the
    // head, as `head` reads it.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT ({ANY_UNSEALED_SQL}), \
             MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0), \
             COALESCE((SELECT MAX(id) FROM audit_events), 0)), h.seq, h.hash \
             FROM (SELECT 1) AS one LEFT JOIN ({HEAD_SQL}) AS h ON 1"
        )
    });
    let row = crate::db::query_row(txn, &SQL, vec![])
        .await?
        .ok_or_else(|| DbErr::Custom("no row for the audit trail's last id".into()))?;
    if row.try_get_by_index::<bool>(0)? {
        return Ok(false);
    }
    let last: i64 = row.try_get_by_index(1)?;
    let head = head_in(txn, Some(&row), 2).await?;
    let ids = (last + 1..).take(events.len());
    let rows = super::event::sealed_rows(events, ids, head, keys)?;
    super::event::insert_rows(txn, rows).await?;
    Ok(true)
}

/// Whether any event waits for the sealer ([`ANY_UNSEALED_SQL`]).
async fn any_unsealed(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let row = crate::db::query_row(db, ANY_UNSEALED_SQL, vec![]).await?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<bool>(0)?,
        None => false,
    })
}

/// Seals up to `batch` unsealed events, oldest id first; returns how many.
/// Safe to run from many instances at once.
pub async fn seal_pending(
    db: &DatabaseConnection,
    keys: &AuditKeys,
    batch: u64,
) -> Result<u64, DbErr> {
    use audit_event::Column as C;
    // Nothing waiting (on SQLite the usual case: the writer seals as it stores):
    // no write transaction.
    if !any_unsealed(db).await? {
        return Ok(0);
    }
    // On SQLite `begin_write` takes the write lock now (BEGIN IMMEDIATE) rather
    // than upgrading a read later, which could fail under a concurrent writer.
    let txn = crate::db::begin_write(db).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({SEAL_LOCK_KEY})"))
            .await?;
    }
    let pending = audit_event::Entity::find()
        .filter(C::Seq.is_null())
        .order_by_asc(C::Id)
        .limit(batch)
        .all(&txn)
        .await?;
    if pending.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let mut head = head(&txn).await?;
    let mut links = Vec::with_capacity(pending.len());
    for e in &pending {
        let seq = head.seq + 1;
        let hash = keys.current_link(&head.hash, e, seq);
        links.push(Link {
            id: e.id,
            seq,
            prev_hash: std::mem::take(&mut head.hash),
            hash: hash.clone(),
        });
        head = Anchor { seq, hash };
    }
    for chunk in links.chunks(LINKS_PER_STATEMENT) {
        write_links(&txn, chunk, keys.current_id()).await?;
    }
    txn.commit().await?;
    Ok(pending.len() as u64)
}

/// Seals until nothing is pending.
pub async fn seal_all(db: &DatabaseConnection, keys: &AuditKeys) -> Result<u64, DbErr> {
    let mut total = 0;
    loop {
        let n = seal_pending(db, keys, 1000).await?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

/// The background sealer every instance runs: seals, then writes a signed
/// checkpoint when one is due (every N events, and at least every interval).
/// Once `stop` is raised it makes one last pass and ends, so the events the
/// audit writer flushed on the way down are sealed: raise it after that flush.
pub fn spawn_sealer(
    db: DatabaseConnection,
    keys: AuditKeys,
    checkpoints: super::checkpoint::Checkpointer,
    every: Duration,
    mut stop: crate::shutdown::Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            let last = stop.sleep(every).await;
            let r = match seal_all(&db, &keys).await {
                Ok(_) => checkpoints.if_due(&db).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match r {
                Ok(_) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::error!(error = %e, "audit chain sealer failed; will retry");
                }
                Err(_) => {}
            }
            if last {
                tracing::info!("audit chain sealer stopped after its last pass");
                return;
            }
        }
    })
}

/// The result of walking the chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// Events whose link was checked.
    pub checked: u64,
    /// Events sealed by this run before walking.
    pub sealed_now: u64,
    /// The first event that breaks the chain, and why.
    pub first_bad_id: Option<i64>,
    pub first_bad_seq: Option<i64>,
    pub problem: Option<String>,
    pub head_seq: i64,
    pub verified_at: chrono::DateTime<Utc>,
    /// Events with a legacy, unkeyed SHA-256 link (sealed before the chain was keyed).
    #[serde(default)]
    pub legacy_links: u64,
}

impl VerifyReport {
    /// One line for people.
    pub fn summary(&self) -> String {
        if self.ok {
            format!(
                "audit chain intact: {} events checked (head seq {}), {} sealed now",
                self.checked, self.head_seq, self.sealed_now
            )
        } else {
            format!(
                "audit chain BROKEN at event id {} (seq {}): {}",
                self.first_bad_id.map_or("?".into(), |i| i.to_string()),
                self.first_bad_seq.map_or("?".into(), |i| i.to_string()),
                self.problem.as_deref().unwrap_or("unknown problem")
            )
        }
    }
}

/// Seals pending events, then walks the whole chain by seq and reports the first
/// broken link. The result is stored in `app_state` for the `/audit` page.
pub async fn verify(db: &DatabaseConnection, keys: &AuditKeys) -> Result<VerifyReport, DbErr> {
    use audit_event::Column as C;
    let sealed_now = seal_all(db, keys).await?;
    let start = anchor(db).await?;
    let mut prev = start.clone();
    let mut prev_id: Option<i64> = None;
    let mut checked = 0u64;
    let mut legacy_links = 0u64;
    let mut keyed_seen = false;
    let mut bad: Option<(i64, i64, String)> = None;
    'walk: loop {
        let rows = audit_event::Entity::find()
            .filter(C::Seq.gt(prev.seq))
            .order_by_asc(C::Seq)
            .limit(5000)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        for e in rows {
            let seq = e.seq.unwrap_or_default();
            let expected = prev.seq + 1;
            let after = match prev_id {
                Some(id) => format!("event id {id} (seq {})", prev.seq),
                None if prev.seq == 0 => "the start of the chain".to_string(),
                None => format!("the pruning anchor (seq {})", prev.seq),
            };
            let problem = if seq != expected {
                Some(format!(
                    "seq {expected} is missing after {after} (deleted or renumbered?); next is seq {seq}"
                ))
            } else if e.prev_hash.as_deref() != Some(prev.hash.as_str()) {
                Some(format!(
                    "its prev_hash does not match the hash of {after} (inserted, deleted or reordered?)"
                ))
            } else {
                match e.link_key.as_deref() {
                    None if keyed_seen => Some(
                        "its link is an unkeyed SHA-256 hash after keyed links (modified and re-hashed without the audit key?)"
                            .to_string(),
                    ),
                    None if e.hash.as_deref() != Some(link_hash(&prev.hash, &e, seq).as_str()) => {
                        Some("its contents do not match its hash (modified?)".to_string())
                    }
                    None => {
                        legacy_links += 1;
                        None
                    }
                    Some(kid) => {
                        keyed_seen = true;
                        match keys.link(kid, &prev.hash, &e, seq) {
                            None => Some(format!(
                                "its link names audit key id {}, which is not configured (MAMA_AUDIT_KEY / MAMA_AUDIT_KEYS_OLD; forged?)",
                                kid.chars().take(16).collect::<String>()
                            )),
                            Some(h) if e.hash.as_deref() != Some(h.as_str()) => Some(format!(
                                "its contents do not match its HMAC under audit key {kid} (modified, or re-hashed without the audit key?)"
                            )),
                            Some(_) => None,
                        }
                    }
                }
            };
            if let Some(p) = problem {
                bad = Some((e.id, seq, p));
                break 'walk;
            }
            checked += 1;
            prev = Anchor {
                seq,
                hash: e.hash.unwrap_or_default(),
            };
            prev_id = Some(e.id);
        }
    }
    // A checkpoint from the last good run must still be there, unchanged: this
    // catches a chain rewritten wholesale from some point on.
    if bad.is_none()
        && let Some(cp) = state_get::<Anchor>(db, CHECKPOINT).await?
        && cp.seq > start.seq
    {
        let row = audit_event::Entity::find()
            .filter(C::Seq.eq(cp.seq))
            .one(db)
            .await?;
        match row {
            Some(r) if r.hash.as_deref() == Some(cp.hash.as_str()) => {}
            Some(r) => {
                bad = Some((
                    r.id,
                    cp.seq,
                    "its hash differs from the one recorded by an earlier verification (chain rewritten?)".into(),
                ))
            }
            None => {
                bad = Some((
                    0,
                    cp.seq,
                    "an event verified earlier is gone (chain truncated?)".into(),
                ))
            }
        }
    }
    let report = VerifyReport {
        ok: bad.is_none(),
        checked,
        sealed_now,
        first_bad_id: bad.as_ref().map(|b| b.0),
        first_bad_seq: bad.as_ref().map(|b| b.1),
        problem: bad.map(|b| b.2),
        head_seq: prev.seq,
        verified_at: Utc::now(),
        legacy_links,
    };
    state_set(db, LAST_VERIFIED, &report).await?;
    if report.ok && prev.seq > start.seq {
        state_set(db, CHECKPOINT, &prev).await?;
    }
    Ok(report)
}

/// The last verification's result, if any.
pub async fn last_verified(db: &impl ConnectionTrait) -> Result<Option<VerifyReport>, DbErr> {
    state_get(db, LAST_VERIFIED).await
}

/// Records that events up to `seq` (whose hash is `hash`) were archived and pruned.
pub async fn set_anchor(db: &impl ConnectionTrait, seq: i64, hash: &str) -> Result<(), DbErr> {
    state_set(
        db,
        ANCHOR,
        &Anchor {
            seq,
            hash: hash.to_string(),
        },
    )
    .await
}
