//! `/metrics` in the Prometheus text format: request counters kept by the audit
//! middleware, and gauges read from the database at scrape time. Counts only —
//! no user IDs, no secrets — so it is served without a login, like `/healthz`.
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{ConnectionTrait, DbErr, Statement};

/// Counters for this process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by status class: 1xx … 5xx.
    requests: [AtomicU64; 5],
    audit_failures: AtomicU64,
    /// The group-commit writer's transactions, their events, failures, largest.
    audit_batches: AtomicU64,
    audit_batched_events: AtomicU64,
    audit_failed_batches: AtomicU64,
    audit_largest_batch: AtomicU64,
}

impl Metrics {
    pub fn record_status(&self, status: u16) {
        let i = (status / 100).clamp(1, 5) as usize - 1;
        self.requests[i].fetch_add(1, Ordering::Relaxed);
    }
    pub fn record_audit_failure(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }
    /// One group commit of `events` events, committed (`ok`) or rolled back.
    pub fn record_audit_batch(&self, events: usize, ok: bool) {
        self.audit_batches.fetch_add(1, Ordering::Relaxed);
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

/// The Prometheus text: `m`'s counters and gauges read from `db` (served by
/// `health::metrics`).
pub async fn render(m: &Metrics, db: &impl ConnectionTrait) -> String {
    let mut out = String::new();
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
    let mut up = 1;
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
    out
}
