//! `mama audit generate|bench`: synthetic events and the timing of the auditor's
//! queries on them (dev tools: not in the production image).
use std::time::Instant;

use chrono::{Duration, Utc};
use clap::Subcommand;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    audit::{chain, export, queries},
    config::Settings,
    entities::audit_event,
};

#[derive(Subcommand, Debug)]
pub enum AuditDevCommand {
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
pub async fn run(cmd: AuditDevCommand, settings: Settings) -> anyhow::Result<i32> {
    let db = crate::db::connect(&settings.database_url, 4).await?;
    match cmd {
        AuditDevCommand::Generate {
            events,
            users,
            days,
            sql,
        } => {
            let t = Instant::now();
            if sql {
                generate_sql(&db, events, users.max(1), days.max(1)).await?;
            } else {
                let keys = chain::AuditKeys::from_secrets(&settings.secrets);
                generate(&db, &keys, events, users.max(1), days.max(1)).await?;
            }
            let s = t.elapsed().as_secs_f64();
            println!(
                "generated {events} events in {s:.1} s ({:.0} events/s)",
                events as f64 / s
            );
            Ok(0)
        }
        AuditDevCommand::Bench { user, action } => {
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
        txn.commit().await?;
        done += k;
        if done % report_every < BATCH {
            eprintln!("  {done} / {n}");
        }
    }
    // Sealed: the indexer's own passes index them (one run each).
    while crate::audit::indexer::index_pending(db, 20_000, usize::MAX).await? > 0 {}
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), (SELECT max(id) FROM audit_events))",
        )
        .await?;
        db.execute_unprepared("ANALYZE audit_events").await?;
        db.execute_unprepared("ANALYZE audit_target_chunks").await?;
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
        // h: a cheap per-row hash; the event's position g decides its time. The
        // hot user is in ~15 % of events, ahead of the other (sorted targets).
        let hot = format!("((g * 40503) % 100 < 15 AND (g * 7919) % {users} <> 0)");
        let select = if pg {
            format!(
                "SELECT {start_id} + g, timestamptz '{start_s}+00' + (g * {step}) * interval '1 microsecond', \
                 md5(g::text), 'admin', '1', 'admin' || (g % 20), \
                 (ARRAY[{actions}])[1 + ((g * 2654435761) % 10)::int], \
                 CASE WHEN g % 20 = 0 THEN 'denied' ELSE 'success' END, 200, 500 + g % 5000, \
                 '10.0.0.1', 'bench', 'GET', '/users', 1 + {hot}::int, \
                 '[' || CASE WHEN {hot} THEN '\"u000000\",' ELSE '' END || \
                 '\"u' || lpad(((g * 7919) % {users})::text, 6, '0') || '\"]', \
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
                 '10.0.0.1', 'bench', 'GET', '/users', 1 + ({hot}), \
                 '[' || CASE WHEN {hot} THEN '\"u000000\",' ELSE '' END || \
                 '\"u' || printf('%06d', (g * 7919) % {users}) || '\"]', \
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
        // Unsealed, so the indexer would not take them: runs written here.
        let events: Vec<(i64, String)> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::Id)
            .column(audit_event::Column::Targets)
            .filter(audit_event::Column::Id.between(start_id + lo as i64, start_id + hi as i64))
            .order_by_asc(audit_event::Column::Id)
            .into_tuple()
            .all(&txn)
            .await?;
        let events: Vec<(i64, i64, Vec<String>)> = events
            .into_iter()
            .map(|(id, t)| (id, 0, serde_json::from_str(&t).unwrap_or_default()))
            .collect();
        crate::audit::indexer::write_runs(&txn, &events).await?;
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
        db.execute_unprepared("ANALYZE audit_target_chunks").await?;
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
