//! `mama audit …`: verify the chain, archive and prune old events (only with a
//! retention period), generate synthetic events and time the queries on them.
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::Subcommand;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::{Action, Event, Outcome, chain, checkpoint, export, queries};
use crate::{
    config::Settings,
    entities::{audit_event, audit_target},
};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Seal pending events, walk the keyed hash chain; exit 1 naming the first bad
    /// event. With `--checkpoints`, also check the database against the signed
    /// checkpoints kept outside it: exit 3 naming a missing or rewritten range, an
    /// unsigned prune or a stale file; exit 4 when the file itself is unreadable,
    /// forged or signed by another key.
    Verify {
        /// Checkpoint files (MAMA_AUDIT_CHECKPOINT_FILE of each instance, or notes
        /// collected from the logs, one JSON line each). May be repeated.
        #[arg(long = "checkpoints", value_name = "FILE")]
        checkpoints: Vec<std::path::PathBuf>,
        /// The verifier key printed by `mama audit public-key`, or a file holding
        /// it. Default: derived from MAMA_AUDIT_SIGNING_KEY.
        #[arg(long, value_name = "KEY|FILE")]
        public_key: Option<String>,
        /// Allowed age of the newest checkpoint in seconds (default: twice
        /// MAMA_AUDIT_CHECKPOINT_INTERVAL_SECS).
        #[arg(long)]
        max_age: Option<u64>,
        /// Allowed events after the newest checkpoint (default: twice
        /// MAMA_AUDIT_CHECKPOINT_EVERY).
        #[arg(long)]
        max_events: Option<i64>,
    },
    /// Print the verifier key of the checkpoints (from MAMA_AUDIT_SIGNING_KEY),
    /// alone on the last line.
    PublicKey,
    /// Write a signed checkpoint of the chain head now.
    Checkpoint,
    /// Write events older than the retention period (MAMA_AUDIT_RETENTION_DAYS) to
    /// a JSON Lines file, then delete them from the database. Without a retention
    /// period nothing is ever deleted (the archive is still written).
    Archive {
        /// Where to write the archive (must not exist).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Archive only events before this date (YYYY-MM-DD); the retention
        /// period still bounds what may be deleted.
        #[arg(long)]
        before: Option<NaiveDate>,
    },
    /// Insert synthetic, sealed events fast (for benchmarks).
    Generate {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Distinct target users (u000000 …; u000000 is in ~15 % of events).
        #[arg(long, default_value_t = 10_000)]
        users: u64,
        /// Spread the events over this many days up to now.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Generate inside the database with one INSERT … SELECT (orders of
        /// magnitude faster). The events are left unsealed: for query benchmarks.
        #[arg(long)]
        sql: bool,
    },
    /// Time the auditor's queries and the export on the current database.
    Bench {
        /// The target user of the filtered query.
        #[arg(long, default_value = "u000000")]
        user: String,
        #[arg(long, default_value = "user.update")]
        action: String,
    },
}

/// Runs the command; returns the process exit code.
pub async fn run(cmd: AuditCommand, settings: Settings) -> anyhow::Result<i32> {
    let keys = chain::AuditKeys::from_secrets(&settings.secrets);
    let signer = checkpoint::Checkpointer::from_settings(&settings);
    if let AuditCommand::PublicKey = cmd {
        println!("{}", checkpoint::vkey(&signer.public_key()));
        return Ok(0);
    }
    let db = crate::db::connect(&settings.database_url, 4).await?;
    match cmd {
        AuditCommand::PublicKey => Ok(0),
        AuditCommand::Checkpoint => {
            chain::seal_all(&db, &keys).await?;
            let b = signer.now(&db).await?;
            println!("checkpoint of seq {} ({}) written", b.seq, b.hash);
            Ok(0)
        }
        AuditCommand::Verify {
            checkpoints,
            public_key,
            max_age,
            max_events,
        } => {
            verify(
                &db,
                &keys,
                &signer,
                &settings,
                &checkpoints,
                public_key.as_deref(),
                max_age,
                max_events,
            )
            .await
        }
        AuditCommand::Archive { out, before } => {
            archive(
                &db,
                &keys,
                &signer,
                settings.audit_retention_days,
                &out,
                before,
            )
            .await
        }
        AuditCommand::Generate {
            events,
            users,
            days,
            sql,
        } => {
            let t = Instant::now();
            if sql {
                generate_sql(&db, events, users.max(1), days.max(1)).await?;
            } else {
                generate(&db, &keys, events, users.max(1), days.max(1)).await?;
            }
            let s = t.elapsed().as_secs_f64();
            println!(
                "generated {events} events in {s:.1} s ({:.0} events/s)",
                events as f64 / s
            );
            Ok(0)
        }
        AuditCommand::Bench { user, action } => {
            bench(&db, &user, &action).await?;
            Ok(0)
        }
    }
}

/// A small deterministic PRNG (xorshift64*): the generator needs speed, not quality.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Inserts `n` sealed events after the current head, oldest first, with explicit
/// ids (the PostgreSQL sequence is moved past them afterwards).
pub async fn generate(
    db: &DatabaseConnection,
    keys: &chain::AuditKeys,
    n: u64,
    users: u64,
    days: i64,
) -> anyhow::Result<()> {
    // Seal what is pending first, so the synthetic events extend a sealed chain.
    chain::seal_all(db, keys).await?;
    let last = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .limit(1)
        .one(db)
        .await?;
    let mut id = last.as_ref().map_or(0, |e| e.id);
    let head = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.is_not_null())
        .order_by_desc(audit_event::Column::Seq)
        .limit(1)
        .one(db)
        .await?;
    let (mut seq, mut prev) = match head {
        Some(h) => (h.seq.unwrap_or(0), h.hash.unwrap_or_default()),
        None => (0, chain::GENESIS.to_string()),
    };
    let actions: Vec<&str> = [
        "user.list",
        "user.view",
        "user.update",
        "users.bulk_update",
        "user.create",
        "user.key.reveal",
        "api.keys.lookup",
        "audit.list",
        "litellm.key.update",
        "auth.login.success",
    ]
    .to_vec();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Utc::now() - Duration::days(days);
    let step_us = (days * 86_400_000_000) / n.max(1) as i64;
    const BATCH: u64 = 1000;
    let mut done = 0u64;
    let report_every = (n / 20).max(BATCH);
    while done < n {
        let k = BATCH.min(n - done);
        let mut rows = Vec::with_capacity(k as usize);
        let mut targets = Vec::with_capacity(k as usize * 2);
        for i in 0..k {
            id += 1;
            seq += 1;
            let at = start + Duration::microseconds(step_us * (done + i) as i64);
            let action = actions[rng.below(actions.len() as u64) as usize];
            let nt = 1 + rng.below(3);
            let mut ts: Vec<String> = (0..nt)
                .map(|_| format!("u{:06}", rng.below(users)))
                .collect();
            // One "hot" user (a team account) is in ~15 % of events, so a filter
            // on one user can be paged 10,000 events deep.
            if rng.below(100) < 15 {
                ts.push("u000000".into());
            }
            ts.sort();
            ts.dedup();
            let details = if action.ends_with("update") {
                serde_json::json!({"before": {"models": ["gpt-4o"], "organisation": "org-a"},
                                   "after": {"models": ["gpt-4o", "claude"], "organisation": "org-a"}})
            } else {
                serde_json::json!({"count": nt})
            };
            let m = audit_event::Model {
                id,
                occurred_at: at,
                request_id: format!("{:016x}{:016x}", rng.next(), rng.next()),
                actor_kind: "admin".into(),
                actor_id: Some("1".into()),
                actor_name: Some(format!("admin{}", rng.below(20))),
                action: action.to_string(),
                outcome: if rng.below(20) == 0 {
                    "denied"
                } else {
                    "success"
                }
                .into(),
                http_status: Some(200),
                duration_us: 500 + rng.below(5000) as i64,
                client_ip: Some("10.0.0.1".into()),
                user_agent: Some("bench".into()),
                method: Some("GET".into()),
                path: Some("/users".into()),
                target_count: ts.len() as i32,
                targets: serde_json::to_string(&ts)?,
                details: details.to_string(),
                seq: None,
                prev_hash: None,
                hash: None,
                link_key: None,
            };
            let hash = keys.current_link(&prev, &m, seq);
            for t in &ts {
                targets.push(audit_target::ActiveModel {
                    user_id: Set(t.clone()),
                    event_id: Set(id),
                });
            }
            let mut am: audit_event::ActiveModel = m.into();
            am.seq = Set(Some(seq));
            am.prev_hash = Set(Some(prev.clone()));
            am.hash = Set(Some(hash.clone()));
            am.link_key = Set(Some(keys.current_id().to_string()));
            am.id = Set(id);
            rows.push(am);
            prev = hash;
        }
        let txn = crate::db::begin_write(db).await?;
        audit_event::Entity::insert_many(rows).exec(&txn).await?;
        audit_target::Entity::insert_many(targets)
            .exec(&txn)
            .await?;
        txn.commit().await?;
        done += k;
        if done % report_every < BATCH {
            eprintln!("  {done} / {n}");
        }
    }
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), (SELECT max(id) FROM audit_events))",
        )
        .await?;
        db.execute_unprepared("ANALYZE audit_events").await?;
        db.execute_unprepared("ANALYZE audit_targets").await?;
    } else {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

/// The same distribution as [`generate`], produced by the database itself, in
/// chunks of a million rows. Unsealed; PostgreSQL or SQLite.
pub async fn generate_sql(
    db: &DatabaseConnection,
    n: u64,
    users: u64,
    days: i64,
) -> anyhow::Result<()> {
    let pg = db.get_database_backend() == DbBackend::Postgres;
    let actions = "'user.list','user.view','user.update','users.bulk_update','user.create','user.key.reveal','api.keys.lookup','audit.list','litellm.key.update','auth.login.success'";
    let span_us = days * 86_400_000_000;
    let start_id: i64 = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .limit(1)
        .one(db)
        .await?
        .map_or(0, |e| e.id);
    let start = Utc::now() - Duration::days(days);
    let start_s = start.format("%Y-%m-%d %H:%M:%S").to_string();
    const CHUNK: u64 = 1_000_000;
    let mut done = 0u64;
    while done < n {
        let k = CHUNK.min(n - done);
        let (lo, hi) = (done + 1, done + k);
        // h: a cheap per-row hash; the event's position g decides its time.
        let select = if pg {
            format!(
                "SELECT {start_id} + g, timestamptz '{start_s}+00' + (g * {step}) * interval '1 microsecond', \
                 md5(g::text), 'admin', '1', 'admin' || (g % 20), \
                 (ARRAY[{actions}])[1 + ((g * 2654435761) % 10)::int], \
                 CASE WHEN g % 20 = 0 THEN 'denied' ELSE 'success' END, 200, 500 + g % 5000, \
                 '10.0.0.1', 'bench', 'GET', '/users', 1, \
                 '[\"u' || lpad(((g * 7919) % {users})::text, 6, '0') || '\"]', \
                 '{{\"count\":1}}' \
                 FROM generate_series({lo}::bigint, {hi}::bigint) AS g",
                step = span_us / n as i64,
            )
        } else {
            format!(
                "WITH RECURSIVE s(g) AS (SELECT {lo} UNION ALL SELECT g + 1 FROM s WHERE g < {hi}) \
                 SELECT {start_id} + g, \
                 strftime('%Y-%m-%dT%H:%M:%f', '{start_s}', '+' || ((g * {step}) / 1000000.0) || ' seconds') || '+00:00', \
                 printf('%016x%016x', g * 2654435761, g), 'admin', '1', 'admin' || (g % 20), \
                 json_extract('[{actions_json}]', '$[' || ((g * 2654435761) % 10) || ']'), \
                 CASE WHEN g % 20 = 0 THEN 'denied' ELSE 'success' END, 200, 500 + g % 5000, \
                 '10.0.0.1', 'bench', 'GET', '/users', 1, \
                 '[\"u' || printf('%06d', (g * 7919) % {users}) || '\"]', \
                 '{{\"count\":1}}' FROM s",
                step = span_us / n as i64,
                actions_json = actions.replace('\'', "\""),
            )
        };
        let txn = crate::db::begin_write(db).await?;
        txn.execute_unprepared(&format!(
            "INSERT INTO audit_events (id, occurred_at, request_id, actor_kind, actor_id, actor_name, \
             action, outcome, http_status, duration_us, client_ip, user_agent, method, path, \
             target_count, targets, details) {select}"
        ))
        .await?;
        let (a, b) = (start_id + lo as i64, start_id + hi as i64);
        let user = if pg {
            format!("'u' || lpad(((id * 7919) % {users})::text, 6, '0')")
        } else {
            format!("'u' || printf('%06d', (id * 7919) % {users})")
        };
        txn.execute_unprepared(&format!(
            "INSERT INTO audit_targets (user_id, event_id) SELECT {user}, id FROM audit_events \
             WHERE id BETWEEN {a} AND {b}"
        ))
        .await?;
        // The hot user, in ~15 % of events.
        txn.execute_unprepared(&format!(
            "INSERT INTO audit_targets (user_id, event_id) SELECT 'u000000', id FROM audit_events \
             WHERE id BETWEEN {a} AND {b} AND (id * 40503) % 100 < 15 AND (id * 7919) % {users} <> 0"
        ))
        .await?;
        txn.commit().await?;
        done += k;
        eprintln!("  {done} / {n}");
    }
    if pg {
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), (SELECT max(id) FROM audit_events))",
        )
        .await?;
        db.execute_unprepared("ANALYZE audit_events").await?;
        db.execute_unprepared("ANALYZE audit_targets").await?;
    } else {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

async fn time_page(
    db: &DatabaseConnection,
    f: &queries::AuditFilter,
    before: Option<i64>,
) -> anyhow::Result<(f64, usize, Option<i64>)> {
    let t = Instant::now();
    let rows = queries::search(db, f, before, 100).await?;
    Ok((
        t.elapsed().as_secs_f64() * 1000.0,
        rows.len(),
        rows.last().map(|e| e.id),
    ))
}

/// Prints the timings the README reports.
pub async fn bench(db: &DatabaseConnection, user: &str, action: &str) -> anyhow::Result<()> {
    let total = sea_orm::PaginatorTrait::count(audit_event::Entity::find(), db).await?;
    println!("backend {:?}, {total} events", db.get_database_backend());
    let since = Utc::now() - Duration::days(30);
    let cases: Vec<(&str, queries::AuditFilter)> = vec![
        (
            "user + action + 30 days",
            queries::AuditFilter {
                since: Some(since),
                actions: vec![action.to_string()],
                target_user: Some(user.to_string()),
                ..Default::default()
            },
        ),
        (
            "user",
            queries::AuditFilter {
                target_user: Some(user.to_string()),
                ..Default::default()
            },
        ),
        (
            "action + 30 days",
            queries::AuditFilter {
                since: Some(since),
                actions: vec![action.to_string()],
                ..Default::default()
            },
        ),
        ("no filter", queries::AuditFilter::default()),
    ];
    for (name, f) in &cases {
        // Warm up once, then take the best of three (the numbers are for a warm cache).
        let _ = time_page(db, f, None).await?;
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..3 {
            let (ms, k, _) = time_page(db, f, None).await?;
            best = best.min(ms);
            n = k;
        }
        println!("first page   [{name}]: {best:.2} ms ({n} rows)");
        // Walk 100 pages of 100 to find the cursor 10,000 events deep, then time that page.
        let mut before = None;
        let mut depth = 0;
        for _ in 0..100 {
            let (_, k, last) = time_page(db, f, before).await?;
            depth += k;
            if last.is_none() {
                break;
            }
            before = last;
        }
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..3 {
            let (ms, k, _) = time_page(db, f, before).await?;
            best = best.min(ms);
            n = k;
        }
        println!("page at {depth} deep [{name}]: {best:.2} ms ({n} rows)");
    }
    // Export throughput: stream (and render to CSV) up to 1,000,000 events.
    use futures_util::StreamExt;
    let t = Instant::now();
    let mut s = Box::pin(export::stream(
        db.clone(),
        queries::AuditFilter::default(),
        export::Format::Csv,
    ));
    let (mut bytes, mut chunks) = (0usize, 0u64);
    while let Some(b) = s.next().await {
        bytes += b.map_err(|e| anyhow::anyhow!("{e}"))?.len();
        chunks += 1;
        if chunks * export::CHUNK >= 1_000_000 {
            break;
        }
    }
    let rows = (chunks * export::CHUNK).min(total);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "export CSV: {rows} events, {:.1} MB in {secs:.2} s = {:.0} events/s",
        bytes as f64 / 1e6,
        rows as f64 / secs
    );
    Ok(())
}

/// Archives (always) and prunes (only with a retention period) the oldest events.
async fn archive(
    db: &DatabaseConnection,
    keys: &chain::AuditKeys,
    signer: &checkpoint::Checkpointer,
    retention_days: Option<u32>,
    out: &std::path::Path,
    before: Option<NaiveDate>,
) -> anyhow::Result<i32> {
    use std::io::Write;
    chain::seal_all(db, keys).await?;
    let retention_cut = retention_days.map(|d| Utc::now() - Duration::days(d as i64));
    let asked: Option<DateTime<Utc>> = before
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    let cut = match (asked, retention_cut) {
        (Some(a), Some(r)) => a.min(r),
        (Some(a), None) => a,
        (None, Some(r)) => r,
        (None, None) => {
            eprintln!("give --before DATE, or set MAMA_AUDIT_RETENTION_DAYS");
            return Ok(2);
        }
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    // The archived range is a prefix of the chain: walk by seq while events are
    // older than the cut, so the anchor left behind is exact.
    let anchor: chain::Anchor =
        chain::state_get(db, chain::ANCHOR)
            .await?
            .unwrap_or(chain::Anchor {
                seq: 0,
                hash: chain::GENESIS.into(),
            });
    let mut last = anchor.clone();
    let mut count = 0u64;
    'walk: loop {
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(last.seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(2000)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        for e in rows {
            if e.occurred_at >= cut {
                break 'walk;
            }
            writeln!(w, "{}", export::json(&e))?;
            count += 1;
            last = chain::Anchor {
                seq: e.seq.unwrap_or_default(),
                hash: e.hash.clone().unwrap_or_default(),
            };
        }
    }
    w.flush()?;
    w.get_ref().sync_all()?;
    println!(
        "archived {count} events (seq {}..{}) to {}",
        anchor.seq + 1,
        last.seq,
        out.display()
    );
    let Some(_) = retention_days else {
        println!("MAMA_AUDIT_RETENTION_DAYS is not set: nothing deleted");
        return Ok(0);
    };
    if count == 0 {
        return Ok(0);
    }
    let txn = crate::db::begin_write(db).await?;
    let ids: Vec<i64> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Id)
        .filter(audit_event::Column::Seq.lte(last.seq))
        .filter(audit_event::Column::Seq.gt(anchor.seq))
        .into_tuple()
        .all(&txn)
        .await?;
    for chunk in ids.chunks(1000) {
        audit_target::Entity::delete_many()
            .filter(audit_target::Column::EventId.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
        audit_event::Entity::delete_many()
            .filter(audit_event::Column::Id.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    chain::set_anchor(&txn, last.seq, &last.hash).await?;
    // The prune is itself a signed checkpoint, outside the database: without it a
    // moved anchor is indistinguishable from deleted evidence.
    signer.prune(&txn, &last).await?;
    let mut ev = Event::system("cli", Action::AuditArchive, Outcome::Success);
    ev.details = serde_json::json!({"archived": count, "pruned_through_seq": last.seq,
        "before": cut.to_rfc3339(), "file": out.display().to_string()});
    super::insert(&txn, &ev).await?;
    txn.commit().await?;
    println!(
        "pruned {} events; the chain now starts after seq {}",
        ids.len(),
        last.seq
    );
    Ok(0)
}

/// `mama audit verify [--checkpoints FILE …]`: returns the exit code.
#[allow(clippy::too_many_arguments)]
async fn verify(
    db: &DatabaseConnection,
    keys: &chain::AuditKeys,
    signer: &checkpoint::Checkpointer,
    settings: &Settings,
    files: &[std::path::PathBuf],
    public_key: Option<&str>,
    max_age: Option<u64>,
    max_events: Option<i64>,
) -> anyhow::Result<i32> {
    // The evidence is read first: a forged or unreadable file is reported as such.
    let notes = if files.is_empty() {
        None
    } else {
        let pk = match public_key {
            None => signer.public_key(),
            Some(p) => {
                let text = if std::path::Path::new(p).is_file() {
                    std::fs::read_to_string(p)?
                } else {
                    p.to_string()
                };
                match checkpoint::parse_vkey(text.lines().last().unwrap_or_default()) {
                    Ok(pk) => pk,
                    Err(e) => {
                        eprintln!("--public-key: {e}");
                        return Ok(2);
                    }
                }
            }
        };
        match checkpoint::read_files(files, &pk) {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("checkpoint evidence REJECTED: {e}");
                let mut ev = Event::system("cli", Action::AuditVerify, Outcome::Error);
                ev.details = serde_json::json!({"checkpoints": "rejected", "problem": e});
                super::insert(db, &ev).await?;
                return Ok(4);
            }
        }
    };
    let report = chain::verify(db, keys).await?;
    let evidence = match &notes {
        None => None,
        Some(n) => Some(
            checkpoint::verify_evidence(
                db,
                n,
                std::time::Duration::from_secs(
                    max_age.unwrap_or(2 * settings.audit_checkpoint_interval.as_secs()),
                ),
                max_events.unwrap_or(2 * settings.audit_checkpoint_every),
            )
            .await?,
        ),
    };
    let evidence_ok = evidence.as_ref().is_none_or(|e| e.problems.is_empty());
    let mut ev = Event::system(
        "cli",
        Action::AuditVerify,
        if report.ok && evidence_ok {
            Outcome::Success
        } else {
            Outcome::Error
        },
    );
    ev.details = serde_json::to_value(&report)?;
    if let Some(e) = &evidence {
        ev.details["checkpoints"] = serde_json::json!({
            "checkpoints": e.checkpoints, "prunes": e.prunes, "problems": e.problems,
            "newest_seq": e.newest.as_ref().map(|n| n.seq),
        });
    }
    super::insert(db, &ev).await?;
    if !report.ok {
        eprintln!("{}", report.summary());
    }
    if let Some(e) = &evidence {
        for p in &e.problems {
            eprintln!("checkpoints: {p}");
        }
    }
    if !report.ok {
        return Ok(1);
    }
    if !evidence_ok {
        return Ok(3);
    }
    println!("{}", report.summary());
    if let Some(e) = &evidence {
        println!(
            "checked against {} signed checkpoints and {} signed prunes (newest: seq {} at {})",
            e.checkpoints,
            e.prunes,
            e.newest.as_ref().map_or(0, |n| n.seq),
            e.newest
                .as_ref()
                .map_or_else(String::new, |n| n.time.to_rfc3339())
        );
    }
    Ok(0)
}
