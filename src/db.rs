//! Connection options per backend, and migrations under a PostgreSQL advisory lock.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};

use crate::config::DatabaseUrl;

/// An arbitrary constant: "mama" in ASCII, the key of the migration lock.
const MIGRATION_LOCK_KEY: i64 = 0x6d61_6d61;

/// The file of a SQLite URL (`None` for PostgreSQL and `:memory:`).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// The SQLite file holds encrypted keys, password hashes and the audit trail:
/// create it owner-only (0600) before SQLite does (SQLite gives its `-wal` and
/// `-shm` files the database file's mode), and tighten an existing one.
pub fn make_sqlite_file_private(url: &DatabaseUrl) -> std::io::Result<()> {
    let Some(path) = sqlite_path(url.expose()) else {
        return Ok(());
    };
    if !path.exists() && !url.expose().contains("mode=rwc") {
        return Ok(()); // SQLite will refuse to open it; not ours to create.
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?;
        let mode = std::fs::metadata(&path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the SQLite file was readable by others; setting it to 0600");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// How a pool is sized and tuned (`Settings` gives the server's; the CLI uses
/// [`PoolTuning::small`]).
#[derive(Debug, Clone, Copy)]
pub struct PoolTuning {
    pub max_connections: u32,
    /// SQLite's page cache per pooled connection (KiB). Each pooled connection
    /// keeps its own, and in WAL mode a connection drops all of it whenever
    /// another one has committed since its last read, which under a steady audit
    /// write load is every read: a large cache costs memory and buys nothing then
    /// (measured in the README, "Per-call CPU and memory").
    pub sqlite_cache_kib: u32,
    /// SQLite syncs the WAL on every commit (durable across a power loss), or only
    /// at checkpoints (`NORMAL`: durable across a crash of mama).
    pub synchronous_full: bool,
    /// Prepared statements each connection keeps (least recently used go). Batch
    /// inserts of every length are distinct statements, each holding its SQL and
    /// parameter types; at sqlx's default of 100 that was about 3 MB per
    /// PostgreSQL connection, RSS that climbed for minutes as the pool filled
    /// (README, "Soak").
    pub statement_cache: usize,
}

impl PoolTuning {
    /// A pool of `max_connections` with the defaults (the CLI's commands).
    pub fn small(max_connections: u32) -> Self {
        Self {
            max_connections,
            sqlite_cache_kib: crate::config::DEFAULT_SQLITE_CACHE_KIB,
            synchronous_full: true,
            statement_cache: crate::config::DEFAULT_STATEMENT_CACHE,
        }
    }
}

/// Opens the pool: WAL, a busy timeout and foreign keys on SQLite.
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, PoolTuning::small(max_connections)).await
}

/// [`connect`] tuned by `t`.
pub async fn connect_with(url: &DatabaseUrl, t: PoolTuning) -> Result<DatabaseConnection, DbErr> {
    make_sqlite_file_private(url).map_err(|e| DbErr::Custom(format!("SQLite file: {e}")))?;
    let mut opts = ConnectOptions::new(url.expose().to_string());
    opts.max_connections(t.max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let statements = t.statement_cache;
    if url.is_postgres() {
        opts.map_sqlx_postgres_opts(move |o| o.statement_cache_capacity(statements));
        // A PostgreSQL connection's socket buffers grow to the largest message it
        // has sent or read (an audit batch, a bulk edit) and sqlx never gives that
        // back. Each release returns them to 8 KiB (a no-op when they are that
        // already).
        opts.map_sqlx_postgres_pool_opts(|o| {
            o.after_release(|conn, _| {
                Box::pin(async move {
                    sea_orm::sqlx::Connection::shrink_buffers(conn);
                    Ok(true)
                })
            })
        });
    } else {
        let (cache_kib, full) = (t.sqlite_cache_kib, t.synchronous_full);
        opts.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(if full {
                    sea_orm::sqlx::sqlite::SqliteSynchronous::Full
                } else {
                    sea_orm::sqlx::sqlite::SqliteSynchronous::Normal
                })
                .busy_timeout(BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("cache_size", format!("-{cache_kib}"))
                .statement_cache_capacity(statements)
        });
    }
    Database::connect(opts).await
}

/// One connection to a SQLite file whose commits do not sync the WAL
/// (`synchronous=NORMAL`), for derived data whose loss in a power cut is redone
/// (the audit target index); `None` on PostgreSQL and for an in-memory SQLite,
/// which a second pool would not share.
pub async fn connect_unsynced(
    url: &DatabaseUrl,
    sqlite_cache_kib: u32,
    statement_cache: usize,
) -> Result<Option<DatabaseConnection>, DbErr> {
    if sqlite_path(url.expose()).is_none() {
        return Ok(None);
    }
    let t = PoolTuning {
        max_connections: 1,
        sqlite_cache_kib,
        synchronous_full: false,
        statement_cache,
    };
    Ok(Some(connect_with(url, t).await?))
}

/// Applies pending migrations. On PostgreSQL the whole run holds a session-level
/// advisory lock on one dedicated connection, so instances starting together take
/// turns; SQLite serialises writers by itself.
pub async fn migrate_up(url: &DatabaseUrl) -> Result<(), DbErr> {
    make_sqlite_file_private(url).map_err(|e| DbErr::Custom(format!("SQLite file: {e}")))?;
    with_migration_lock(url, |db| async move { Migrator::up(&db, None).await }).await
}

/// The file that stands for the advisory lock on SQLite (`mama.db.migrate-lock`).
fn sqlite_lock_path(url: &str) -> Option<std::path::PathBuf> {
    let path = sqlite_path(url)?;
    Some(std::path::PathBuf::from(format!(
        "{}.migrate-lock",
        path.display()
    )))
}

/// Runs `f` on a single connection holding the migration lock: a PostgreSQL
/// advisory lock, or on SQLite an exclusive lock on a file beside the database
/// (several processes may start on one file, e.g. in tests).
pub async fn with_migration_lock<F, Fut, T>(url: &DatabaseUrl, f: F) -> Result<T, DbErr>
where
    F: FnOnce(DatabaseConnection) -> Fut,
    Fut: std::future::Future<Output = Result<T, DbErr>>,
{
    let _file_lock = match sqlite_lock_path(url.expose()) {
        None => None,
        Some(path) => Some(
            tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)?;
                file.lock()?;
                Ok(file)
            })
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .map_err(|e| DbErr::Custom(format!("cannot take the migration lock file: {e}")))?,
        ),
    };
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

/// How long a write waits for SQLite's lock, in this process's write gate and
/// then in SQLite's own busy handler.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: it
/// takes the write lock up front instead of failing with SQLITE_BUSY when a read
/// inside it is later upgraded to a write while another connection has committed.
/// PostgreSQL ignores the mode.
///
/// On SQLite it first takes this process's write gate for the database file, so
/// the instance's own writers (the audit writer, the sealer, the indexer, edits)
/// queue in order and are woken the moment the lock is free. Without it they met
/// in SQLite's busy handler, which polls by sleeping 1, 2, 5 … up to 100 ms:
/// the lock sat idle while a writer slept, and the lookups waiting on the audit
/// batch paid for it in their tail (see the README). Another process on the same
/// file still meets the busy handler.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let gate = match write_gate(db) {
        None => None,
        Some(gate) => Some(
            tokio::time::timeout(BUSY_TIMEOUT, gate.lock_owned())
                .await
                .map_err(|_| {
                    DbErr::Custom(format!(
                        "no write lock on the database after {} s: another write of this instance held it",
                        BUSY_TIMEOUT.as_secs()
                    ))
                })?,
        ),
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTxn { txn, _gate: gate })
}

/// This process's write gate for `db`'s SQLite file (`None` on PostgreSQL, whose
/// writers do not share one lock). Pools on the same file share one gate.
fn write_gate(db: &DatabaseConnection) -> Option<std::sync::Arc<tokio::sync::Mutex<()>>> {
    use std::{
        collections::HashMap,
        path::PathBuf,
        sync::{Arc, LazyLock, Mutex, Weak},
    };
    type Gates = Mutex<HashMap<PathBuf, Weak<tokio::sync::Mutex<()>>>>;
    static GATES: LazyLock<Gates> = LazyLock::new(Default::default);
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    let mut gates = GATES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(gate) = gates.get(&file).and_then(Weak::upgrade) {
        return Some(gate);
    }
    gates.retain(|_, g| g.strong_count() > 0);
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    gates.insert(file, Arc::downgrade(&gate));
    Some(gate)
}

/// A transaction begun by [`begin_write`]: it holds the write gate until it is
/// committed, rolled back or dropped (the transaction is rolled back first).
pub struct WriteTxn {
    txn: sea_orm::DatabaseTransaction,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// The transaction itself, for what takes one by type (a savepoint, say).
impl std::ops::Deref for WriteTxn {
    type Target = sea_orm::DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// A statement written with `?` placeholders, for either backend (PostgreSQL
/// gets `$1, $2, …`). Only for SQL mama writes itself; values are always bound.
pub fn stmt(backend: sea_orm::DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = if backend == sea_orm::DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    } else {
        sql.to_string()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Runs `sql` (with `?` placeholders) on either backend; the rows it touched.
pub async fn exec(
    db: &impl sea_orm::ConnectionTrait,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<u64, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    Ok(db
        .execute_raw(stmt(backend, sql, values))
        .await?
        .rows_affected())
}

/// The first row of `sql` (with `?` placeholders) on either backend, if any.
pub async fn query_row(
    db: &impl sea_orm::ConnectionTrait,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    db.query_one_raw(stmt(backend, sql, values)).await
}

/// Every row of `sql` (with `?` placeholders) on either backend.
pub async fn query_all(
    db: &impl sea_orm::ConnectionTrait,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    db.query_all_raw(stmt(backend, sql, values)).await
}

/// The one row `select` matches, for a select by a primary or unique key, read
/// without `LIMIT`: SeaORM's `.one()` binds `LIMIT ?`, and SQLite re-prepares a
/// statement whose LIMIT is a bound parameter on every run (its planner
/// specialises on the value), about 100,000 instructions each time; on the
/// lookup path that was the API client's token, the indexer's and sealer's
/// state, every call or pass.
pub async fn by_key<E: sea_orm::EntityTrait>(
    select: sea_orm::Select<E>,
    db: &impl sea_orm::ConnectionTrait,
) -> Result<Option<E::Model>, sea_orm::DbErr> {
    Ok(select.all(db).await?.into_iter().next())
}

/// The lengths to cut `n` items into: powers of two, at most `max` (a power of
/// two), largest first: 100 rows go as 64 + 32 + 4.
///
/// Every length of a multi-row INSERT is a statement of its own, which the
/// database parses and plans and each connection's statement cache keeps (a
/// 5,000-row INSERT cost SQLite about 2 million instructions to parse, every
/// pass of the target indexer). Cut this way, any batch uses at most
/// `log2(max) + 1` shapes, all of which stay prepared.
pub fn pow2_lengths(mut n: usize, max: usize) -> impl Iterator<Item = usize> {
    debug_assert!(max.is_power_of_two());
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let len = if n >= max {
            max
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        n -= len;
        Some(len)
    })
}

/// `items` (not empty) with its last item repeated up to the next power of two:
/// an `IN (…)` list of any length then takes one of a few prepared shapes (see
/// [`pow2_lengths`]); a repeated value changes nothing an `IN` matches.
pub fn pow2_padded<T: Clone>(items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    if let Some(last) = items.last() {
        v.resize(items.len().next_power_of_two(), last.clone());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_take_power_of_two_shapes_and_keep_every_item_in_order() {
        for len in [0usize, 1, 2, 3, 7, 100, 511, 512, 513, 1300, 5000] {
            let items: Vec<usize> = (0..len).collect();
            let mut rest = items.as_slice();
            let chunks: Vec<&[usize]> = pow2_lengths(len, 512)
                .map(|n| {
                    let (chunk, tail) = rest.split_at(n);
                    rest = tail;
                    chunk
                })
                .collect();
            assert!(
                chunks
                    .iter()
                    .all(|c| c.len().is_power_of_two() && c.len() <= 512)
            );
            assert_eq!(chunks.concat(), items, "len {len}");
            assert!(chunks.windows(2).all(|w| w[0].len() >= w[1].len()));
        }
        let lens: Vec<usize> = pow2_lengths(100, 512).collect();
        assert_eq!(lens, [64, 32, 4]);
        assert_eq!(pow2_padded(&[1, 2, 3]), [1, 2, 3, 3]);
        assert_eq!(pow2_padded(&[1, 2]), [1, 2]);
        assert!(pow2_padded::<u8>(&[]).is_empty());
    }
}
