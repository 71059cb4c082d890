use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The `audit_targets` index ("who read user X") grouped in runs.
///
/// Keyed by `(user_id, event_id)`, every lookup's 100 index rows landed on 100
/// random leaf pages of one ever-growing B-tree, and a database writes a touched
/// page whole (SQLite to its WAL, PostgreSQL after each checkpoint): measured,
/// the indexer doubled the lookup's CPU per call on SQLite (README, "Lookup
/// benchmark from outside"). Now the key leads with a run: the indexer fills the
/// newest run, in chain order, until it holds `RUN_ROWS` rows (about 250 pages),
/// then starts the next, so its writes stay within a few hundred pages however
/// large the trail grows. `audit_target_runs` keeps, per run, its event-id range,
/// the highest event id of it and every older run (`ceiling`, for stopping a
/// search early), its highest chain position (`max_seq`, for the archive) and
/// its row count. A search by user probes the runs newest first and stops as
/// soon as its page is full (`audit::queries`). On SQLite the table is
/// `WITHOUT ROWID`: the key is the whole row, one B-tree instead of a table and
/// its index.
///
/// Rows already indexed move into runs of `RUN_ROWS` in chain order; those of
/// unsealed events are left to the indexer (searches read them from the events
/// until then).
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows per run of the target index (the indexer starts a new run past it).
pub const RUN_ROWS: i64 = 32_768;

/// Fills `audit_target_runs` from `audit_targets` (also `audit::indexer::rebuild_runs`).
pub const RUNS_FROM_TARGETS: &str = "INSERT INTO audit_target_runs \
     (run, min_event_id, max_event_id, ceiling_event_id, max_seq, row_count) \
     SELECT run, lo, hi, MAX(hi) OVER (ORDER BY run), top, n FROM \
     (SELECT t.run, MIN(t.event_id) AS lo, MAX(t.event_id) AS hi, \
     COALESCE(MAX(e.seq), 0) AS top, COUNT(*) AS n FROM audit_targets t \
     JOIN audit_events e ON e.id = t.event_id GROUP BY t.run) AS r";

fn up_sql(backend: DbBackend) -> Vec<String> {
    let sqlite = backend == DbBackend::Sqlite;
    let without_rowid = if sqlite { " WITHOUT ROWID" } else { "" };
    let mut sql = vec![
        format!(
            "CREATE TABLE audit_targets_new (run BIGINT NOT NULL, user_id VARCHAR(128) NOT NULL, \
             event_id BIGINT NOT NULL, PRIMARY KEY (run, user_id, event_id), \
             CONSTRAINT fk_audit_targets_event FOREIGN KEY (event_id) REFERENCES audit_events (id) \
             ON DELETE CASCADE){without_rowid}"
        ),
        format!(
            "INSERT INTO audit_targets_new (run, user_id, event_id) \
             SELECT (ROW_NUMBER() OVER (ORDER BY e.seq, t.user_id) - 1) / {RUN_ROWS}, \
             t.user_id, t.event_id FROM audit_targets t \
             JOIN audit_events e ON e.id = t.event_id WHERE e.seq IS NOT NULL ORDER BY 1, 2, 3"
        ),
        "CREATE TABLE audit_target_runs (run BIGINT NOT NULL PRIMARY KEY, \
         min_event_id BIGINT NOT NULL, max_event_id BIGINT NOT NULL, \
         ceiling_event_id BIGINT NOT NULL, max_seq BIGINT NOT NULL, row_count BIGINT NOT NULL)"
            .to_string(),
        RUNS_FROM_TARGETS.replace("audit_targets", "audit_targets_new"),
        "DROP TABLE audit_targets".to_string(),
        "ALTER TABLE audit_targets_new RENAME TO audit_targets".to_string(),
        "CREATE INDEX idx_audit_targets_event_id ON audit_targets (event_id)".to_string(),
    ];
    if !sqlite {
        sql.push(
            "ALTER TABLE audit_targets RENAME CONSTRAINT audit_targets_new_pkey TO audit_targets_pkey"
                .to_string(),
        );
    }
    sql
}

fn down_sql() -> Vec<String> {
    vec![
        "CREATE TABLE audit_targets_old (user_id VARCHAR(128) NOT NULL, event_id BIGINT NOT NULL, \
         PRIMARY KEY (user_id, event_id), \
         CONSTRAINT fk_audit_targets_event FOREIGN KEY (event_id) REFERENCES audit_events (id) \
         ON DELETE CASCADE)"
            .to_string(),
        "INSERT INTO audit_targets_old (user_id, event_id) \
         SELECT DISTINCT user_id, event_id FROM audit_targets"
            .to_string(),
        "DROP TABLE audit_targets".to_string(),
        "DROP TABLE audit_target_runs".to_string(),
        "ALTER TABLE audit_targets_old RENAME TO audit_targets".to_string(),
        "CREATE INDEX idx_audit_targets_event_id ON audit_targets (event_id)".to_string(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        crate::execute_all(m, up_sql(backend)).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(m, down_sql()).await
    }
}
