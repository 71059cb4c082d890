use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The `audit_targets` index without its foreign key to `audit_events` and
/// without the index on `event_id` that served the key's cascade.
///
/// Every index row paid for both: a lookup of its event's primary key (the
/// constraint's check) and an insert into a second B-tree, about as much as the
/// row's own insert (measured on SQLite: a pass of 5,000 sorted rows 17–20 ms
/// with both, 9 ms without; README, "Lookup benchmark from outside"). On SQLite
/// that pass holds the write lock the lookups' group commit waits for. Rows are
/// only ever written by the indexer for events it has just read, and only
/// `mama audit archive` deletes events: it now deletes their index rows itself,
/// by run (`audit::indexer::prune`). Searches use the primary key `(run, user_id,
/// event_id)`, never `event_id` alone.
#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_REBUILD: [&str; 4] = [
    "CREATE TABLE audit_targets_new (run BIGINT NOT NULL, user_id VARCHAR(128) NOT NULL, \
     event_id BIGINT NOT NULL, PRIMARY KEY (run, user_id, event_id)) WITHOUT ROWID",
    "INSERT INTO audit_targets_new (run, user_id, event_id) \
     SELECT run, user_id, event_id FROM audit_targets ORDER BY run, user_id, event_id",
    "DROP TABLE audit_targets",
    "ALTER TABLE audit_targets_new RENAME TO audit_targets",
];

const SQLITE_RESTORE: [&str; 5] = [
    "CREATE TABLE audit_targets_new (run BIGINT NOT NULL, user_id VARCHAR(128) NOT NULL, \
     event_id BIGINT NOT NULL, PRIMARY KEY (run, user_id, event_id), \
     CONSTRAINT fk_audit_targets_event FOREIGN KEY (event_id) REFERENCES audit_events (id) \
     ON DELETE CASCADE) WITHOUT ROWID",
    "INSERT INTO audit_targets_new (run, user_id, event_id) \
     SELECT t.run, t.user_id, t.event_id FROM audit_targets t \
     WHERE EXISTS (SELECT 1 FROM audit_events e WHERE e.id = t.event_id)",
    "DROP TABLE audit_targets",
    "ALTER TABLE audit_targets_new RENAME TO audit_targets",
    "CREATE INDEX idx_audit_targets_event_id ON audit_targets (event_id)",
];

const POSTGRES_UP: [&str; 2] = [
    "ALTER TABLE audit_targets DROP CONSTRAINT IF EXISTS fk_audit_targets_event",
    "DROP INDEX IF EXISTS idx_audit_targets_event_id",
];

const POSTGRES_DOWN: [&str; 3] = [
    "DELETE FROM audit_targets t WHERE NOT EXISTS \
     (SELECT 1 FROM audit_events e WHERE e.id = t.event_id)",
    "ALTER TABLE audit_targets ADD CONSTRAINT fk_audit_targets_event FOREIGN KEY (event_id) \
     REFERENCES audit_events (id) ON DELETE CASCADE",
    "CREATE INDEX idx_audit_targets_event_id ON audit_targets (event_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        match m.get_database_backend() {
            DbBackend::Sqlite => crate::execute_all(m, SQLITE_REBUILD).await,
            _ => crate::execute_all(m, POSTGRES_UP).await,
        }
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        match m.get_database_backend() {
            DbBackend::Sqlite => crate::execute_all(m, SQLITE_RESTORE).await,
            _ => crate::execute_all(m, POSTGRES_DOWN).await,
        }
    }
}
