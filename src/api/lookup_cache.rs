//! The key lookup's answers kept in memory, checked against the database on
//! every call.
//!
//! Internal systems call `POST /api/v1/keys/lookup` on every request they serve,
//! for a few thousand users over and over; reading those users, their models and
//! their services from the database on every call cost most of the call (on
//! SQLite, every commit of any connection empties the page cache of all others,
//! so each call read its 100 users back from the OS). This cache holds each
//! user's answer as ready JSON **without the key**: the stored ciphertext and
//! its hash are kept, and the key is decrypted and checked per call as before.
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
//! `MAMA_LOOKUP_CACHE_USERS` bounds the entries (default 100,000, about 0.7 KB
//! each, measured); `0` turns the cache off. When full, half the entries are dropped.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

use super::contract::{LookupError, UserKey};
use crate::{metrics::Metrics, users::queries::UserGrants};

/// The key's place in the serialised answer: a value no key can take.
const KEY_MARK: &str = "\u{1}mama-key\u{1}";

/// One user's answer, ready to send once its key is filled in.
#[derive(Debug)]
pub struct Answer {
    pub user_id: String,
    /// The answer's JSON up to the key's value (`{"user_id":…,"key":`) and after
    /// it (`,"key_alias":…}`).
    head: Box<str>,
    tail: Box<str>,
    pub key_ciphertext: String,
    pub key_sha256: String,
}

impl Answer {
    /// The answer of `g` (the user with its models and services).
    pub fn of(g: UserGrants) -> Answer {
        let (user_id, key_ciphertext, key_sha256) = (
            g.user.user_id.clone(),
            g.user.key_ciphertext.clone(),
            g.user.key_sha256.clone(),
        );
        let json = serde_json::to_string(&user_key(g, KEY_MARK.to_string()))
            .expect("a lookup answer serialises");
        let mark = serde_json::to_string(KEY_MARK).expect("a string serialises");
        let at = json.find(&mark).expect("the key mark is in the answer");
        Answer {
            user_id,
            head: json[..at].into(),
            tail: json[at + mark.len()..].into(),
            key_ciphertext,
            key_sha256,
        }
    }

    /// Appends the answer with `key` to `out`.
    pub fn write(&self, key: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(self.head.as_bytes());
        serde_json::to_writer(&mut *out, key).expect("a string serialises");
        out.extend_from_slice(self.tail.as_bytes());
    }
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

/// The whole lookup response from its parts, exactly as serde would write
/// [`super::contract::LookupResponse`]: `users` are (answer, decrypted key).
pub fn response_body(
    users: &[(Arc<Answer>, secrecy::SecretString)],
    not_found: &[String],
    errors: &[LookupError],
) -> Vec<u8> {
    use secrecy::ExposeSecret;
    let estimate: usize = users
        .iter()
        .map(|(a, _)| a.head.len() + a.tail.len() + 64)
        .sum();
    let mut out = Vec::with_capacity(estimate + 64);
    out.extend_from_slice(b"{\"users\":[");
    for (i, (a, key)) in users.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        a.write(key.expose_secret(), &mut out);
    }
    out.extend_from_slice(b"],\"not_found\":");
    write_json(&mut out, &not_found);
    out.extend_from_slice(b",\"errors\":");
    write_json(&mut out, &errors);
    out.push(b'}');
    out
}

fn write_json(out: &mut Vec<u8>, v: &impl Serialize) {
    serde_json::to_writer(out, v).expect("a lookup answer serialises");
}

#[derive(Debug, Default)]
struct Inner {
    /// The counter the entries were read at.
    generation: i64,
    users: HashMap<String, Arc<Answer>>,
}

/// The cache; one per instance (its own app data, beside `AppData`).
#[derive(Debug)]
pub struct LookupCache {
    capacity: usize,
    inner: Mutex<Inner>,
    metrics: Arc<Metrics>,
}

impl LookupCache {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> LookupCache {
        LookupCache {
            capacity,
            inner: Mutex::new(Inner::default()),
            metrics,
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answers among `ids` at `generation`, and the IDs not cached. A
    /// newer generation empties the cache; an older one (this call read the
    /// counter before another call saw it move) uses nothing.
    pub fn get(
        &self,
        generation: i64,
        ids: &[String],
    ) -> (HashMap<String, Arc<Answer>>, Vec<String>) {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = vec![];
        {
            let mut inner = self.lock();
            if generation > inner.generation {
                inner.users.clear();
                inner.generation = generation;
                self.metrics.record_lookup_cache_reset();
                self.metrics.set_lookup_cache_entries(0);
            }
            let current = generation == inner.generation;
            for id in ids {
                match inner.users.get(id).filter(|_| current) {
                    Some(a) => {
                        found.insert(id.clone(), a.clone());
                    }
                    None => missing.push(id.clone()),
                }
            }
        }
        self.metrics
            .record_lookup_cache(found.len() as u64, missing.len() as u64);
        (found, missing)
    }

    /// Stores answers read from the database after the counter was read as
    /// `generation`: only if the cache is still at that generation.
    pub fn put<'a>(
        &self,
        generation: i64,
        answers: impl ExactSizeIterator<Item = &'a Arc<Answer>>,
    ) {
        let n = answers.len().min(self.capacity);
        if n == 0 {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        while !inner.users.is_empty() && inner.users.len() + n > self.capacity {
            // Drop every other entry, the first one included (so a single entry
            // goes too and the loop always ends): cheap, and no entry is favoured.
            let mut keep = true;
            inner.users.retain(|_, _| {
                keep = !keep;
                keep
            });
        }
        for a in answers.take(n) {
            inner.users.insert(a.user_id.clone(), a.clone());
        }
        self.metrics.set_lookup_cache_entries(inner.users.len());
    }
}

/// The counter of changes to what the lookup answers (see the module doc).
pub async fn generation(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(crate::db::stmt(
            db.get_database_backend(),
            "SELECT n FROM read_generation WHERE id = 1",
            vec![],
        ))
        .await?;
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
        let keys = ["sk-a\"b\\c", "sk-plain"];
        let gs = [grants("u-1", Some("alias")), grants("ü-2", None)];
        let users: Vec<_> = gs
            .iter()
            .zip(keys)
            .map(|(g, k)| {
                (
                    Arc::new(Answer::of(g.clone())),
                    secrecy::SecretString::from(k),
                )
            })
            .collect();
        let not_found = vec!["nobody".to_string()];
        let errors = vec![LookupError {
            user_id: "u-3".into(),
            code: "refused".into(),
            message: "the stored key cannot be decrypted".into(),
        }];
        let body = response_body(&users, &not_found, &errors);
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

    fn cache(capacity: usize) -> LookupCache {
        LookupCache::new(capacity, Arc::new(Metrics::default()))
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn answers_are_served_only_at_the_generation_they_were_read_at() {
        let c = cache(10);
        let (hit, miss) = c.get(5, &ids(&["a", "b"]));
        assert!(hit.is_empty());
        assert_eq!(miss, ids(&["a", "b"]));
        c.put(5, [Arc::new(Answer::of(grants("a", None)))].iter());
        let (hit, miss) = c.get(5, &ids(&["a", "b"]));
        assert_eq!(hit.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(miss, ids(&["b"]));
        // A change moved the counter: nothing cached is used, the cache empties.
        let (hit, miss) = c.get(6, &ids(&["a"]));
        assert!(hit.is_empty());
        assert_eq!(miss, ids(&["a"]));
        // An answer read at the older counter is not stored at the newer one.
        c.put(5, [Arc::new(Answer::of(grants("a", None)))].iter());
        assert!(c.get(6, &ids(&["a"])).0.is_empty());
        // A call that read an older counter than the cache's uses nothing.
        c.put(6, [Arc::new(Answer::of(grants("a", None)))].iter());
        assert!(c.get(5, &ids(&["a"])).0.is_empty());
        assert_eq!(c.get(6, &ids(&["a"])).0.len(), 1);
    }

    #[test]
    fn a_full_cache_drops_entries_and_stays_within_its_bound() {
        let c = cache(4);
        c.get(1, &[]);
        for i in 0..20 {
            c.put(
                1,
                [Arc::new(Answer::of(grants(&format!("u{i}"), None)))].iter(),
            );
            assert!(c.lock().users.len() <= 4);
        }
        assert!(c.get(1, &ids(&["u19"])).0.contains_key("u19"));
        // A batch as large as the cache into a full cache: still within it.
        let batch: Vec<_> = (20..24)
            .map(|i| Arc::new(Answer::of(grants(&format!("u{i}"), None))))
            .collect();
        c.put(1, batch.iter());
        assert!(c.lock().users.len() <= 4);
        assert!(c.get(1, &ids(&["u23"])).0.contains_key("u23"));
        let off = cache(0);
        off.get(1, &[]);
        off.put(1, [Arc::new(Answer::of(grants("a", None)))].iter());
        assert!(off.get(1, &ids(&["a"])).0.is_empty());
    }
}
