use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The target index ("who read user X") as chunks of pairs instead of a row per
/// pair.
///
/// A row per (user, event) pair cost every lookup of 100 IDs 100 B-tree inserts
/// and about 19 KB of PostgreSQL WAL, and measured as the bound of the lookup's
/// throughput on both databases (README, "Runs of 3 Dec 2026 (eleventh
/// session)"). `audit_target_chunks` holds a run's pairs sorted by user and cut
/// into rows of about 1,800 bytes, keyed by the run and the chunk's first user;
/// the encoding is `audit::chunk`'s. `audit_target_runs` keeps its meaning, its
/// `row_count` counting pairs.
///
/// The rows cannot be converted in SQL (the encoding is the application's), so
/// the index is emptied both ways, with its watermark: the indexer rebuilds it
/// from the events, which carry their targets, and searches read the events not
/// yet indexed directly until it has caught up (`audit::queries::search`).
#[derive(DeriveMigrationName)]
pub struct Migration;

/// `app_state` name of the indexer's watermark (`audit::indexer::INDEXED_SEQ`).
const WATERMARK: &str = "DELETE FROM app_state WHERE name = 'audit.targets.indexed_seq'";

fn up_sql(backend: DbBackend) -> Vec<String> {
    // The chunks are cut in bytewise order (Rust's `str` order), which SQLite's
    // default collation keeps; PostgreSQL's would follow the locale.
    let (bytes, collate) = if backend == DbBackend::Postgres {
        ("BYTEA", " COLLATE \"C\"")
    } else {
        ("BLOB", "")
    };
    vec![
        format!(
            "CREATE TABLE audit_target_chunks (run BIGINT NOT NULL, \
             first_user VARCHAR(128){collate} NOT NULL, pairs {bytes} NOT NULL, \
             PRIMARY KEY (run, first_user))"
        ),
        "DROP TABLE audit_targets".into(),
        "DELETE FROM audit_target_runs".into(),
        WATERMARK.into(),
    ]
}

fn down_sql(backend: DbBackend) -> Vec<String> {
    let without_rowid = if backend == DbBackend::Sqlite {
        " WITHOUT ROWID"
    } else {
        ""
    };
    vec![
        format!(
            "CREATE TABLE audit_targets (run BIGINT NOT NULL, user_id VARCHAR(128) NOT NULL, \
             event_id BIGINT NOT NULL, PRIMARY KEY (run, user_id, event_id)){without_rowid}"
        ),
        "DROP TABLE audit_target_chunks".into(),
        "DELETE FROM audit_target_runs".into(),
        WATERMARK.into(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(m, up_sql(m.get_database_backend())).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(m, down_sql(m.get_database_backend())).await
    }
}
