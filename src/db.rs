//! Connection options per backend, and migrations under a PostgreSQL advisory lock.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};

use crate::config::DatabaseUrl;

/// An arbitrary constant: "mama" in ASCII, the key of the migration lock.
const MIGRATION_LOCK_KEY: i64 = 0x6d61_6d61;

/// Opens the pool: WAL, a busy timeout and foreign keys on SQLite.
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.expose().to_string());
    opts.max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if !url.is_postgres() {
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    Database::connect(opts).await
}

/// Applies pending migrations. On PostgreSQL the whole run holds a session-level
/// advisory lock on one dedicated connection, so instances starting together take
/// turns; SQLite serialises writers by itself.
pub async fn migrate_up(url: &DatabaseUrl) -> Result<(), DbErr> {
    with_migration_lock(url, |db| async move { Migrator::up(&db, None).await }).await
}

/// Runs `f` on a single connection holding the migration lock (PostgreSQL).
pub async fn with_migration_lock<F, Fut, T>(url: &DatabaseUrl, f: F) -> Result<T, DbErr>
where
    F: FnOnce(DatabaseConnection) -> Fut,
    Fut: std::future::Future<Output = Result<T, DbErr>>,
{
    let db = connect(url, 1).await?;
    if url.is_postgres() {
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"),
        ))
        .await?;
    }
    let result = f(db.clone()).await;
    if url.is_postgres() {
        let _ = db
            .execute_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"),
            ))
            .await;
    }
    let _ = db.close().await;
    result
}
