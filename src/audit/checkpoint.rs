//! Signed checkpoints of the audit chain, kept outside the database.
//!
//! Every N sealed events, and at least every interval even when idle, the sealer
//! signs the chain head (seq and hash) with Ed25519 (`MAMA_AUDIT_SIGNING_KEY`) and
//! writes the signed note to an append-only file (`MAMA_AUDIT_CHECKPOINT_FILE`,
//! one JSON line per note, fsynced) and as one log line (`audit checkpoint`),
//! which a log shipper carries off the machine. Each note names the previous one
//! (the SHA-256 of its signed text), so removing notes from the middle of the file
//! is visible. A retention prune is a note of kind `prune` naming the last pruned
//! event. `mama audit verify --checkpoints FILE` then checks the database against
//! this evidence (see [`verify_evidence`]).
//!
//! The note follows C2SP's signed-note shape: an origin line, the tree size (the
//! seq), the head hash, extension lines, a blank line, and one signature line
//! `— <key name> base64(key id ‖ signature)` whose key id is the first 4 bytes of
//! SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). `mama audit public-key` prints the
//! verifier key as `<name>+<key id hex>+base64(0x01 ‖ public key)`.
use std::{io::Write, path::PathBuf, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chain::{self, Anchor};
use crate::entities::audit_event;

/// The first line of every note.
pub const ORIGIN: &str = "mama/audit";
/// The signer's name in signature lines and in the verifier key.
pub const KEY_NAME: &str = "mama-audit";
/// `app_state`: the last checkpoint written, which the next one names.
const LAST: &str = "audit.checkpoint.last";
/// Same advisory lock as the sealer: a checkpoint reads a head nobody is extending.
const SEAL_LOCK_KEY: i64 = 0x6175_6474;

/// What a checkpoint says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The chain's head at `time`.
    Checkpoint,
    /// Events up to and including `seq` were archived and deleted on purpose.
    Prune,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Checkpoint => "checkpoint",
            Kind::Prune => "prune",
        }
    }
}

/// The signed content of one note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub seq: i64,
    pub hash: String,
    pub kind: Kind,
    pub time: DateTime<Utc>,
    /// SHA-256 hex of the previous note's body, or `-` for the first.
    pub prev: String,
}

impl Body {
    pub fn text(&self) -> String {
        format!(
            "{ORIGIN}\n{}\n{}\nkind {}\ntime {}\nprev {}\n",
            self.seq,
            self.hash,
            self.kind.as_str(),
            self.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            self.prev
        )
    }

    /// What the next note names as `prev`.
    pub fn id(&self) -> String {
        hex::encode(Sha256::digest(self.text().as_bytes()))
    }

    fn parse(text: &str) -> Option<Body> {
        let mut l = text.lines();
        if l.next()? != ORIGIN {
            return None;
        }
        let seq = l.next()?.parse().ok()?;
        let hash = l.next()?.to_string();
        let kind = match l.next()?.strip_prefix("kind ")? {
            "checkpoint" => Kind::Checkpoint,
            "prune" => Kind::Prune,
            _ => return None,
        };
        let time = DateTime::parse_from_rfc3339(l.next()?.strip_prefix("time ")?)
            .ok()?
            .with_timezone(&Utc);
        let prev = l.next()?.strip_prefix("prev ")?.to_string();
        let b = Body {
            seq,
            hash,
            kind,
            time,
            prev,
        };
        // Canonical form only: the text must be exactly what `text()` makes.
        (b.text() == text).then_some(b)
    }
}

/// C2SP key id: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[..4].
fn key_id(pk: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(KEY_NAME.as_bytes());
    h.update(b"\n\x01");
    h.update(pk.as_bytes());
    h.finalize()[..4].try_into().expect("4 bytes")
}

/// The verifier key as text: `mama-audit+<key id hex>+base64(0x01 ‖ public key)`.
pub fn vkey(pk: &VerifyingKey) -> String {
    let mut raw = vec![1u8];
    raw.extend_from_slice(pk.as_bytes());
    format!(
        "{KEY_NAME}+{}+{}",
        hex::encode(key_id(pk)),
        STANDARD.encode(raw)
    )
}

/// Parses a verifier key printed by [`vkey`].
pub fn parse_vkey(s: &str) -> Result<VerifyingKey, String> {
    let s = s.trim();
    let mut p = s.splitn(3, '+');
    let (name, id, b64) = (p.next(), p.next(), p.next());
    let (Some(name), Some(id), Some(b64)) = (name, id, b64) else {
        return Err("a public key looks like mama-audit+<id>+<base64>".into());
    };
    if name != KEY_NAME {
        return Err(format!("the public key is for {name:?}, not {KEY_NAME}"));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| "the public key's last part is not base64".to_string())?;
    if raw.len() != 33 || raw[0] != 1 {
        return Err("the public key is not an Ed25519 key (type 0x01, 32 bytes)".into());
    }
    let pk = VerifyingKey::from_bytes(&raw[1..].try_into().expect("32 bytes"))
        .map_err(|_| "the public key is not a valid Ed25519 point".to_string())?;
    if hex::encode(key_id(&pk)) != id {
        return Err("the public key's id does not match the key".into());
    }
    Ok(pk)
}

/// Signs a body into a note: body, blank line, signature line.
pub fn sign(key: &SigningKey, body: &Body) -> String {
    let text = body.text();
    let sig = key.sign(text.as_bytes());
    let mut raw = key_id(&key.verifying_key()).to_vec();
    raw.extend_from_slice(&sig.to_bytes());
    format!("{text}\n— {KEY_NAME} {}\n", STANDARD.encode(raw))
}

/// Checks a note's signature; returns its body.
pub fn open(note: &str, pk: &VerifyingKey) -> Result<Body, String> {
    let (text, sigs) = note
        .split_once("\n\n")
        .ok_or_else(|| "it is not a signed note (no blank line)".to_string())?;
    let text = format!("{text}\n");
    let body = Body::parse(&text).ok_or_else(|| "its body is malformed".to_string())?;
    let want = key_id(pk);
    for line in sigs.lines() {
        let Some(b64) = line.strip_prefix(&format!("— {KEY_NAME} ")) else {
            continue;
        };
        let Ok(raw) = STANDARD.decode(b64.trim()) else {
            continue;
        };
        if raw.len() != 68 || raw[..4] != want {
            continue;
        }
        let sig = Signature::from_bytes(&raw[4..].try_into().expect("64 bytes"));
        return pk
            .verify_strict(text.as_bytes(), &sig)
            .map(|_| body)
            .map_err(|_| "its signature is invalid (altered or forged)".to_string());
    }
    Err(format!("it is not signed by the expected key {}", vkey(pk)))
}

/// What the database remembers of the last checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Last {
    seq: i64,
    time: DateTime<Utc>,
    id: String,
}

/// Writes checkpoints: the signing key, the file, the cadence.
#[derive(Clone)]
pub struct Checkpointer {
    key: std::sync::Arc<SigningKey>,
    pub file: Option<PathBuf>,
    pub every: i64,
    pub interval: Duration,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checkpointer({:?}, [redacted])", self.file)
    }
}

impl Checkpointer {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Checkpointer {
            key: std::sync::Arc::new(SigningKey::from_bytes(
                s.secrets.audit_signing_key.expose_secret(),
            )),
            file: s.audit_checkpoint_file.clone(),
            every: s.audit_checkpoint_every,
            interval: s.audit_checkpoint_interval,
        }
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Writes a checkpoint of the head now.
    pub async fn now(&self, db: &DatabaseConnection) -> Result<Body, DbErr> {
        Ok(self
            .write(db, true)
            .await?
            .expect("a forced checkpoint is written"))
    }

    /// Writes a checkpoint when N events were sealed since the last one, or the
    /// interval has passed (even with no new event), or there was none yet.
    pub async fn if_due(&self, db: &DatabaseConnection) -> Result<Option<Body>, DbErr> {
        self.write(db, false).await
    }

    async fn write(&self, db: &DatabaseConnection, force: bool) -> Result<Option<Body>, DbErr> {
        let txn = crate::db::begin_write(db).await?;
        if db.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({SEAL_LOCK_KEY})"))
                .await?;
        }
        let head = chain::head(&txn).await?;
        let last: Option<Last> = chain::state_get(&txn, LAST).await?;
        let now = Utc::now();
        let due = force
            || match &last {
                None => head.seq > 0,
                Some(l) => {
                    head.seq - l.seq >= self.every
                        || (now - l.time).to_std().unwrap_or_default() >= self.interval
                }
            };
        if !due {
            txn.commit().await?;
            return Ok(None);
        }
        let body = self.append(&txn, last, Kind::Checkpoint, &head).await?;
        txn.commit().await?;
        Ok(Some(body))
    }

    /// Signs `kind` at `at`, remembers it in the caller's transaction, appends it to
    /// the file (fsynced) and logs it. The caller commits.
    async fn append(
        &self,
        txn: &impl ConnectionTrait,
        last: Option<Last>,
        kind: Kind,
        at: &Anchor,
    ) -> Result<Body, DbErr> {
        let body = Body {
            seq: at.seq,
            hash: at.hash.clone(),
            kind,
            time: Utc::now(),
            prev: last.map_or_else(|| "-".to_string(), |l| l.id),
        };
        let note = sign(&self.key, &body);
        chain::state_set(
            txn,
            LAST,
            &Last {
                seq: body.seq,
                time: body.time,
                id: body.id(),
            },
        )
        .await?;
        let line = serde_json::json!({ "note": note }).to_string();
        if let Some(path) = &self.file {
            append_line(path, &line).map_err(|e| {
                DbErr::Custom(format!(
                    "cannot append the audit checkpoint to {}: {e}",
                    path.display()
                ))
            })?;
        }
        tracing::info!(
            target: "mama::audit::checkpoint",
            kind = kind.as_str(),
            seq = body.seq,
            hash = %body.hash,
            checkpoint = %line,
            "audit checkpoint"
        );
        Ok(body)
    }

    /// The signed note of a retention prune through `through`, on the prune's
    /// transaction (so the note and the deletion stand or fall together).
    pub async fn prune(&self, txn: &impl ConnectionTrait, through: &Anchor) -> Result<Body, DbErr> {
        let last: Option<Last> = chain::state_get(txn, LAST).await?;
        self.append(txn, last, Kind::Prune, through).await
    }
}

fn append_line(path: &PathBuf, line: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(format!("{line}\n").as_bytes())?;
    f.sync_data()
}

/// One note read back from a checkpoint file.
#[derive(Debug, Clone)]
pub struct Read {
    /// Where it came from: `file:line`.
    pub place: String,
    pub body: Body,
}

/// Reads and checks the signature of every note in `files`. A torn last line (a
/// crash mid-append) is skipped; anything else unreadable is an error naming it.
pub fn read_files(files: &[PathBuf], pk: &VerifyingKey) -> Result<Vec<Read>, String> {
    let mut out = vec![];
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| format!("cannot read the checkpoint file {}: {e}", f.display()))?;
        let lines: Vec<&str> = text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let place = format!("{}:{}", f.display(), i + 1);
            let torn = i + 1 == lines.len(); // no newline after it
            let note = match serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["note"].as_str().map(str::to_string))
            {
                Some(n) => n,
                None if torn => continue,
                None => return Err(format!("checkpoint at {place} is not a note line")),
            };
            let body = open(&note, pk).map_err(|e| format!("checkpoint at {place}: {e}"))?;
            out.push(Read { place, body });
        }
    }
    Ok(out)
}

/// The outcome of checking the database against checkpoints.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Empty when everything agrees; else each finding, first the most telling.
    pub problems: Vec<String>,
    pub checkpoints: usize,
    pub prunes: usize,
    pub newest: Option<Body>,
}

/// Checks that every checkpoint names a previous one that is present, that the
/// database still holds every checkpointed head unchanged, that its pruning
/// anchor is a signed prune, and that the newest checkpoint is recent enough
/// (`max_age`) and not too many events behind the head (`max_events`): beyond
/// that window, events or checkpoints were cut.
pub async fn verify_evidence(
    db: &impl ConnectionTrait,
    notes: &[Read],
    max_age: Duration,
    max_events: i64,
) -> Result<Evidence, DbErr> {
    use audit_event::Column as C;
    use sea_orm::ColumnTrait;
    let mut problems = vec![];
    let mut ev = Evidence {
        problems: vec![],
        checkpoints: notes
            .iter()
            .filter(|n| n.body.kind == Kind::Checkpoint)
            .count(),
        prunes: notes.iter().filter(|n| n.body.kind == Kind::Prune).count(),
        newest: None,
    };
    if notes.is_empty() {
        ev.problems
            .push("the checkpoint file holds no checkpoint: nothing to check against".into());
        return Ok(ev);
    }
    // 1. Each note names a previous one that is in the file (several files from
    //    several instances may be given; order does not matter).
    let ids: std::collections::HashSet<String> = notes.iter().map(|n| n.body.id()).collect();
    let mut firsts = 0;
    for n in notes {
        if n.body.prev == "-" {
            firsts += 1;
            if firsts > 1 {
                problems.push(format!(
                    "checkpoint at {} (seq {}) starts a second checkpoint chain: the database's checkpoint state was reset",
                    n.place, n.body.seq
                ));
            }
        } else if !ids.contains(&n.body.prev) {
            problems.push(format!(
                "checkpoint at {} (seq {}) names a previous checkpoint {} that is not in the file: checkpoints were removed",
                n.place,
                n.body.seq,
                &n.body.prev[..12.min(n.body.prev.len())]
            ));
        }
    }
    // 2. The pruning anchor must be a signed prune.
    let anchor: Anchor = chain::state_get(db, chain::ANCHOR)
        .await?
        .unwrap_or(Anchor {
            seq: 0,
            hash: chain::GENESIS.into(),
        });
    let prunes: Vec<&Read> = notes
        .iter()
        .filter(|n| n.body.kind == Kind::Prune)
        .collect();
    if anchor.seq > 0
        && !prunes
            .iter()
            .any(|p| p.body.seq == anchor.seq && p.body.hash == anchor.hash)
    {
        problems.push(format!(
            "events seq 1..={} are gone and no signed prune covers them (deleted, and the anchor moved?)",
            anchor.seq
        ));
    }
    if let Some(p) = prunes
        .iter()
        .filter(|p| p.body.seq > anchor.seq)
        .max_by_key(|p| p.body.seq)
    {
        problems.push(format!(
            "a signed prune through seq {} ({}) exists, but the database's chain starts after seq {} (restored or rewritten?)",
            p.body.seq, p.place, anchor.seq
        ));
    }
    // 3. Every checkpointed head after the anchor is still there, unchanged.
    let head = chain::head(db).await?;
    let mut cps: Vec<&Read> = notes
        .iter()
        .filter(|n| n.body.kind == Kind::Checkpoint && n.body.seq > anchor.seq)
        .collect();
    cps.sort_by_key(|n| n.body.seq);
    for n in &cps {
        let row = audit_event::Entity::find()
            .filter(C::Seq.eq(n.body.seq))
            .one(db)
            .await?;
        match row {
            None => {
                problems.push(format!(
                    "events seq {}..={} are missing: checkpoint at {} (signed {}) names head seq {} with hash {}, the database ends at seq {}",
                    head.seq + 1,
                    n.body.seq,
                    n.place,
                    n.body.time.format("%Y-%m-%d %H:%M:%S UTC"),
                    n.body.seq,
                    &n.body.hash[..12.min(n.body.hash.len())],
                    head.seq
                ));
                break;
            }
            Some(r) if r.hash.as_deref() != Some(n.body.hash.as_str()) => {
                problems.push(format!(
                    "event id {} (seq {}) differs from checkpoint at {} (signed {}): the chain up to it was rewritten",
                    r.id,
                    n.body.seq,
                    n.place,
                    n.body.time.format("%Y-%m-%d %H:%M:%S UTC")
                ));
                break;
            }
            Some(_) => {}
        }
    }
    // 4. The unprotected tail is bounded.
    let newest = notes
        .iter()
        .max_by_key(|n| (n.body.time, n.body.seq))
        .map(|n| n.body.clone());
    if let Some(nw) = &newest {
        let age = (Utc::now() - nw.time).to_std().unwrap_or_default();
        if age > max_age {
            problems.push(format!(
                "the newest checkpoint (seq {}) was signed {} ago, beyond the allowed window of {}: later checkpoints were cut from the file, or mama stopped writing them; events after seq {} are not covered",
                nw.seq,
                human(age),
                human(max_age),
                nw.seq
            ));
        }
        let max_seq = notes.iter().map(|n| n.body.seq).max().unwrap_or(0);
        if head.seq - max_seq > max_events {
            problems.push(format!(
                "the database has {} events after the newest checkpointed seq {}, more than the allowed {}: checkpoints were cut from the file",
                head.seq - max_seq,
                max_seq,
                max_events
            ));
        }
    }
    ev.problems = problems;
    ev.newest = newest;
    Ok(ev)
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Body {
        Body {
            seq: 42,
            hash: "ab".repeat(32),
            kind: Kind::Checkpoint,
            time: Utc::now(),
            prev: "-".into(),
        }
    }

    #[test]
    fn a_signed_note_opens_with_its_key_and_with_no_other() {
        let k = SigningKey::from_bytes(&[1u8; 32]);
        let note = sign(&k, &body());
        assert!(note.contains("\n\n— mama-audit "), "{note}");
        assert_eq!(open(&note, &k.verifying_key()).unwrap().seq, 42);
        let other = SigningKey::from_bytes(&[2u8; 32]);
        let err = open(&note, &other.verifying_key()).unwrap_err();
        assert!(err.contains("not signed by the expected key"), "{err}");
        // A changed body no longer verifies.
        let forged = note.replace("\n42\n", "\n41\n");
        assert!(
            open(&forged, &k.verifying_key())
                .unwrap_err()
                .contains("invalid")
        );
    }

    #[test]
    fn the_verifier_key_round_trips_and_rejects_a_wrong_id() {
        let pk = SigningKey::from_bytes(&[3u8; 32]).verifying_key();
        let v = vkey(&pk);
        assert!(v.starts_with("mama-audit+"));
        assert_eq!(parse_vkey(&v).unwrap(), pk);
        let bad = v.replacen("mama-audit+", "mama-audit+0", 1);
        assert!(parse_vkey(&bad).is_err());
    }
}
