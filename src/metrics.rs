//! `/metrics` in the Prometheus text format: request counters kept by the audit
//! middleware, and gauges read from the database at scrape time. Counts only —
//! no user IDs, no secrets — so it is served without a login, like `/healthz`.
use std::{
    collections::HashMap,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Statement,
};

/// The route groups requests are timed by (the route tables' access groups, and
/// `other` for health, metrics, static files and unknown paths).
pub const GROUPS: [&str; 6] = [
    "public",
    "api",
    "signed_in",
    "manager",
    "super_admin",
    "other",
];
/// Upper bounds (seconds) of the request latency buckets.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Upper bounds of the audit batch size buckets.
const BATCH_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 5000.0,
];

/// A Prometheus histogram with up to 16 fixed buckets (plus +Inf).
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; 16],
    count: AtomicU64,
    /// Sum of the observations, in millionths.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, bounds: &[f64], v: f64) {
        if let Some(i) = bounds.iter().position(|b| v <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((v * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cum = 0;
        for (i, b) in bounds.iter().enumerate() {
            cum += self.buckets[i].load(Ordering::Relaxed);
            out.push_str(&format!("{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}\n"));
        }
        let count = self.count.load(Ordering::Relaxed);
        out.push_str(&format!(
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}\n"
        ));
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        out.push_str(&format!("{name}_sum{} {sum}\n", braces(labels)));
        out.push_str(&format!("{name}_count{} {count}\n", braces(labels)));
    }
}

/// Counters for this process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Request latency by route group (indexes of [`GROUPS`]).
    latency: [Histogram; 6],
    /// Route name (its audit action) → index of its group, set once at start.
    route_groups: OnceLock<HashMap<&'static str, usize>>,
    audit_batch_sizes: Histogram,
    /// Due jobs this instance claimed from another instance whose lease expired.
    lease_takeovers: AtomicU64,
    /// Runs of this instance that ended after their job was taken over.
    lease_lost: AtomicU64,
    /// Requests by status class: 1xx … 5xx.
    requests: [AtomicU64; 5],
    audit_failures: AtomicU64,
    /// The group-commit writer's transactions, their events, failures, largest.
    audit_batches: AtomicU64,
    audit_batched_events: AtomicU64,
    audit_failed_batches: AtomicU64,
    audit_largest_batch: AtomicU64,
    /// The lookup cache: users answered from memory, read from the database,
    /// times a change elsewhere emptied it, and its entries now.
    lookup_cache_hits: AtomicU64,
    lookup_cache_misses: AtomicU64,
    lookup_cache_resets: AtomicU64,
    lookup_cache_entries: AtomicU64,
    lookup_cache_bytes: AtomicU64,
}

impl Metrics {
    /// Tells which route (by name) belongs to which group (a name of [`GROUPS`]).
    pub fn set_route_groups(&self, routes: impl IntoIterator<Item = (&'static str, &'static str)>) {
        let map = routes
            .into_iter()
            .filter_map(|(name, g)| GROUPS.iter().position(|x| *x == g).map(|i| (name, i)))
            .collect();
        let _ = self.route_groups.set(map);
    }
    /// One answered request of the route named `route` (its path for unnamed ones).
    pub fn observe_request(&self, route: Option<&str>, path: &str, took: Duration) {
        let other = GROUPS.len() - 1;
        let i = route
            .and_then(|r| self.route_groups.get().and_then(|m| m.get(r).copied()))
            .unwrap_or(if path.starts_with("/api/") { 1 } else { other });
        self.latency[i].observe(&LATENCY_BUCKETS, took.as_secs_f64());
    }
    /// `n` jobs claimed over another instance's expired lease.
    pub fn record_takeovers(&self, n: u64) {
        self.lease_takeovers.fetch_add(n, Ordering::Relaxed);
    }
    /// A run ended holding no lease any more (its result was not recorded).
    pub fn record_lease_lost(&self) {
        self.lease_lost.fetch_add(1, Ordering::Relaxed);
    }
    pub fn record_status(&self, status: u16) {
        let i = (status / 100).clamp(1, 5) as usize - 1;
        self.requests[i].fetch_add(1, Ordering::Relaxed);
    }
    pub fn record_audit_failure(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }
    pub fn record_lookup_cache(&self, hits: u64, misses: u64) {
        self.lookup_cache_hits.fetch_add(hits, Ordering::Relaxed);
        self.lookup_cache_misses
            .fetch_add(misses, Ordering::Relaxed);
    }
    pub fn record_lookup_cache_reset(&self) {
        self.lookup_cache_resets.fetch_add(1, Ordering::Relaxed);
    }
    /// The lookup cache now holds `n` answers of `bytes` in all.
    pub fn set_lookup_cache_entries(&self, n: usize, bytes: usize) {
        self.lookup_cache_entries.store(n as u64, Ordering::Relaxed);
        self.lookup_cache_bytes
            .store(bytes as u64, Ordering::Relaxed);
    }
    /// One group commit of `events` events, committed (`ok`) or rolled back.
    pub fn record_audit_batch(&self, events: usize, ok: bool) {
        self.audit_batches.fetch_add(1, Ordering::Relaxed);
        self.audit_batch_sizes
            .observe(&BATCH_BUCKETS, events as f64);
        self.audit_largest_batch
            .fetch_max(events as u64, Ordering::Relaxed);
        if ok {
            self.audit_batched_events
                .fetch_add(events as u64, Ordering::Relaxed);
        } else {
            self.audit_failed_batches.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn grouped(db: &impl ConnectionTrait, sql: &str) -> Result<Vec<(String, i64)>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_string(),
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get_by_index::<String>(0)?,
                r.try_get_by_index::<i64>(1)?,
            ))
        })
        .collect()
}

/// Sync jobs due now, and the age of the oldest due one (0 when none).
async fn sync_queue(db: &impl ConnectionTrait) -> Result<(u64, f64), DbErr> {
    use crate::entities::sync_job::{Column as C, Entity};
    let now = chrono::Utc::now();
    let due = || {
        Entity::find()
            .filter(C::State.eq("pending"))
            .filter(C::NextAttemptAt.lte(now))
    };
    let n = due().count(db).await?;
    let oldest = due().order_by_asc(C::NextAttemptAt).one(db).await?;
    let age = oldest
        .map(|j| (now - j.next_attempt_at).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    Ok((n, age))
}

/// (open connections, idle ones, the maximum) of the pool.
fn pool_usage(db: &DatabaseConnection) -> (u32, usize, u32) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
        _ => {
            let p = db.get_sqlite_connection_pool();
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
    }
}

/// What the process's allocator holds, by kind, in bytes. The binary chooses the
/// allocator, so it installs the probe ([`set_allocator_probe`]); tests and the
/// library's other users have none.
pub type AllocatorProbe = fn() -> Vec<(&'static str, u64)>;

static ALLOCATOR_PROBE: std::sync::OnceLock<AllocatorProbe> = std::sync::OnceLock::new();

/// Installs the allocator's probe (once; later calls are ignored).
pub fn set_allocator_probe(probe: AllocatorProbe) {
    let _ = ALLOCATOR_PROBE.set(probe);
}

/// The process's resident memory from `/proc/self/status`, by kind (anonymous,
/// file-backed, shared memory), in bytes; empty where there is no such file.
fn resident() -> Vec<(&'static str, u64)> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    [
        ("anon", "RssAnon:"),
        ("file", "RssFile:"),
        ("shmem", "RssShmem:"),
        ("peak", "VmHWM:"),
    ]
    .into_iter()
    .filter_map(|(kind, field)| {
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kib: u64 = line[field.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some((kind, kib * 1024))
    })
    .collect()
}

/// Memory gauges: resident memory and, where the binary installed a probe, the
/// allocator's own figures.
fn render_memory(out: &mut String) {
    out.push_str("# HELP mama_resident_memory_bytes Resident memory of this process by kind (peak: the highest total since start).\n# TYPE mama_resident_memory_bytes gauge\n");
    for (kind, bytes) in resident() {
        out.push_str(&format!(
            "mama_resident_memory_bytes{{kind=\"{kind}\"}} {bytes}\n"
        ));
    }
    if let Some(probe) = ALLOCATOR_PROBE.get() {
        out.push_str("# HELP mama_allocator_bytes What Rust's allocator holds (allocated: live objects; active: their pages; resident: its pages in memory, free ones not yet returned included; metadata: its own; retained: address space kept unmapped).\n# TYPE mama_allocator_bytes gauge\n");
        for (kind, bytes) in probe() {
            out.push_str(&format!(
                "mama_allocator_bytes{{kind=\"{kind}\"}} {bytes}\n"
            ));
        }
    }
}

/// The Prometheus text: `m`'s counters and gauges read from `db` (served by
/// `health::metrics`).
pub async fn render(m: &Metrics, db: &DatabaseConnection) -> String {
    let mut out = String::new();
    out.push_str("# HELP mama_http_request_duration_seconds Time from a request's arrival to its answer, by route group.\n# TYPE mama_http_request_duration_seconds histogram\n");
    for (i, g) in GROUPS.iter().enumerate() {
        m.latency[i].render(
            &mut out,
            "mama_http_request_duration_seconds",
            &format!("group=\"{g}\""),
            &LATENCY_BUCKETS,
        );
    }
    out.push_str("# HELP mama_audit_batch_size Events per group commit of the audit writer.\n# TYPE mama_audit_batch_size histogram\n");
    m.audit_batch_sizes
        .render(&mut out, "mama_audit_batch_size", "", &BATCH_BUCKETS);
    out.push_str(&format!(
        "# HELP mama_sync_lease_takeovers_total Sync jobs this instance claimed after another instance's lease expired.\n# TYPE mama_sync_lease_takeovers_total counter\nmama_sync_lease_takeovers_total {}\n",
        m.lease_takeovers.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "# HELP mama_sync_lease_lost_total Sync job runs of this instance whose lease was taken over before they ended (their result was not recorded).\n# TYPE mama_sync_lease_lost_total counter\nmama_sync_lease_lost_total {}\n",
        m.lease_lost.load(Ordering::Relaxed)
    ));
    let (open, idle, max) = pool_usage(db);
    out.push_str(&format!(
        "# HELP mama_db_pool_connections Database connections of this instance's pool, by state.\n# TYPE mama_db_pool_connections gauge\nmama_db_pool_connections{{state=\"in_use\"}} {}\nmama_db_pool_connections{{state=\"idle\"}} {idle}\n# HELP mama_db_pool_max_connections The pool's limit (MAMA_DB_MAX_CONNECTIONS).\n# TYPE mama_db_pool_max_connections gauge\nmama_db_pool_max_connections {max}\n",
        (open as usize).saturating_sub(idle)
    ));
    let mut queue_ok = true;
    match sync_queue(db).await {
        Ok((due, age)) => out.push_str(&format!(
            "# HELP mama_sync_queue_due Sync jobs due now (pending, their time come).\n# TYPE mama_sync_queue_due gauge\nmama_sync_queue_due {due}\n# HELP mama_sync_oldest_due_age_seconds How long the oldest due sync job has waited past its time.\n# TYPE mama_sync_oldest_due_age_seconds gauge\nmama_sync_oldest_due_age_seconds {age}\n"
        )),
        Err(e) => {
            queue_ok = false;
            tracing::warn!(error = %e, "metrics query failed");
        }
    }
    out.push_str("# HELP mama_http_requests_total HTTP responses by status class.\n# TYPE mama_http_requests_total counter\n");
    for (i, c) in m.requests.iter().enumerate() {
        out.push_str(&format!(
            "mama_http_requests_total{{class=\"{}xx\"}} {}\n",
            i + 1,
            c.load(Ordering::Relaxed)
        ));
    }
    out.push_str("# HELP mama_audit_store_failures_total Requests answered 503 because their audit event could not be stored.\n# TYPE mama_audit_store_failures_total counter\n");
    out.push_str(&format!(
        "mama_audit_store_failures_total {}\n",
        m.audit_failures.load(Ordering::Relaxed)
    ));
    for (name, kind, help, value) in [
        (
            "mama_audit_batches_total",
            "counter",
            "Group-commit transactions of audit events.",
            &m.audit_batches,
        ),
        (
            "mama_audit_batched_events_total",
            "counter",
            "Audit events stored by the group-commit writer.",
            &m.audit_batched_events,
        ),
        (
            "mama_audit_failed_batches_total",
            "counter",
            "Group commits that failed (their requests answered 503).",
            &m.audit_failed_batches,
        ),
        (
            "mama_audit_largest_batch",
            "gauge",
            "Most events committed in one group commit since start.",
            &m.audit_largest_batch,
        ),
        (
            "mama_lookup_cache_hits_total",
            "counter",
            "Users of key lookups answered from this instance's memory.",
            &m.lookup_cache_hits,
        ),
        (
            "mama_lookup_cache_misses_total",
            "counter",
            "Users of key lookups read from the database.",
            &m.lookup_cache_misses,
        ),
        (
            "mama_lookup_cache_resets_total",
            "counter",
            "Times a change to users, models or services emptied the lookup cache.",
            &m.lookup_cache_resets,
        ),
        (
            "mama_lookup_cache_entries",
            "gauge",
            "Users whose lookup answer this instance holds in memory.",
            &m.lookup_cache_entries,
        ),
        (
            "mama_lookup_cache_bytes",
            "gauge",
            "Bytes the cached lookup answers hold (values, keys and their headers; the hash table's slots not included).",
            &m.lookup_cache_bytes,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
            value.load(Ordering::Relaxed)
        ));
    }
    let gauges = [
        (
            "mama_users",
            "Users by sync state.",
            "state",
            "SELECT sync_state, COUNT(*) FROM users GROUP BY sync_state",
        ),
        (
            "mama_sync_jobs",
            "Sync jobs by state.",
            "state",
            "SELECT state, COUNT(*) FROM sync_jobs GROUP BY state",
        ),
    ];
    let mut up = i32::from(queue_ok);
    for (name, help, label, sql) in gauges {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        match grouped(db, sql).await {
            Ok(rows) => {
                for (value, count) in rows {
                    out.push_str(&format!(
                        "{name}{{{label}=\"{}\"}} {count}\n",
                        value.replace(['"', '\\', '\n'], "_")
                    ));
                }
            }
            Err(e) => {
                up = 0;
                tracing::warn!(error = %e, "metrics query failed");
            }
        }
    }
    out.push_str(&format!("# HELP mama_database_up Whether the database answered the metrics queries.\n# TYPE mama_database_up gauge\nmama_database_up {up}\n"));
    render_memory(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocator_probe_the_binary_installs_is_rendered_by_kind() {
        let mut before = String::new();
        render_memory(&mut before);
        assert!(
            before.contains("mama_resident_memory_bytes{kind=\"anon\"}"),
            "{before}"
        );
        set_allocator_probe(|| vec![("allocated", 7), ("resident", 11)]);
        let mut out = String::new();
        render_memory(&mut out);
        assert!(out.contains("# TYPE mama_allocator_bytes gauge\n"), "{out}");
        assert!(
            out.contains("mama_allocator_bytes{kind=\"allocated\"} 7\n"),
            "{out}"
        );
        assert!(
            out.contains("mama_allocator_bytes{kind=\"resident\"} 11\n"),
            "{out}"
        );
    }
}
