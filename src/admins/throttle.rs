//! Counters in `login_throttle`, bumped atomically before the slow work they guard.
//!
//! One row per key, a fixed window that starts at the row's first event
//! (`updated_at` holds the window start for counter rows) and an optional block:
//!
//! | key | counts | window |
//! | --- | --- | --- |
//! | `ADDRESS` (bare) | failed logins from an address (exponential back-off) | 1 h |
//! | `acct:ID@ADDRESS` | attempts on one account from one address (lockout) | `MAMA_LOGIN_LOCKOUT_SECS` |
//! | `acct:ID` | attempts on one account from addresses it never logged in from | 1 h |
//! | `seen:ID@ADDRESS` | a successful login (the account's usual addresses) | 30 days |
//! | `reveal:ID` | keys an admin revealed | 1 h |
//!
//! [`bump`] is one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so parallel
//! requests each get their own count: the 6th of 64 parallel guesses sees 6.
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

pub const ADDRESS_WINDOW: Duration = Duration::hours(1);
pub const ACCOUNT_WINDOW: Duration = Duration::hours(1);
pub const KNOWN_ADDRESS_DAYS: i64 = 30;

pub fn pair_key(admin_id: i32, ip: &str) -> String {
    format!("acct:{admin_id}@{ip}")
}
pub fn account_key(admin_id: i32) -> String {
    format!("acct:{admin_id}")
}
pub fn seen_key(admin_id: i32, ip: &str) -> String {
    format!("seen:{admin_id}@{ip}")
}
pub fn reveal_key(admin_id: i32) -> String {
    format!("reveal:{admin_id}")
}

/// `$n` placeholders work on both backends (sqlx binds `$n` on SQLite too).
fn stmt(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

/// A counter after one more event: the count including it, and the block in force
/// before it (if any).
#[derive(Debug, Clone, Copy)]
pub struct Count {
    pub n: i32,
    pub blocked_until: Option<DateTime<Utc>>,
}

/// Counts one event under `key`; a window older than `window` starts again at 1
/// unless the row's block (a lockout) still runs.
pub async fn bump(db: &impl ConnectionTrait, key: &str, window: Duration) -> Result<Count, DbErr> {
    let now = Utc::now();
    // A window starts again only when it is over and no block is in force.
    let sql = "INSERT INTO login_throttle (client_ip, failures, blocked_until, updated_at) \
               VALUES ($1, 1, NULL, $2) \
               ON CONFLICT (client_ip) DO UPDATE SET \
               failures = CASE WHEN login_throttle.updated_at < $3 AND (login_throttle.blocked_until IS NULL OR login_throttle.blocked_until < $2) THEN 1 ELSE login_throttle.failures + 1 END, \
               blocked_until = CASE WHEN login_throttle.updated_at < $3 AND (login_throttle.blocked_until IS NULL OR login_throttle.blocked_until < $2) THEN NULL ELSE login_throttle.blocked_until END, \
               updated_at = CASE WHEN login_throttle.updated_at < $3 AND (login_throttle.blocked_until IS NULL OR login_throttle.blocked_until < $2) THEN $2 ELSE login_throttle.updated_at END \
               RETURNING failures, blocked_until";
    let row = db
        .query_one_raw(stmt(
            db,
            sql,
            vec![key.into(), now.into(), (now - window).into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("throttle row {key}")))?;
    Ok(Count {
        n: row.try_get("", "failures")?,
        blocked_until: row.try_get("", "blocked_until")?,
    })
}

/// Takes back `by` events (never below 0), e.g. a reservation that checked nothing.
pub async fn take_back(db: &impl ConnectionTrait, key: &str, by: i32) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db,
        "UPDATE login_throttle SET failures = CASE WHEN failures > $2 THEN failures - $2 ELSE 0 END \
         WHERE client_ip = $1",
        vec![key.into(), by.into()],
    ))
    .await?;
    Ok(())
}

/// Sets (or with `None` lifts) the block on `key`.
pub async fn block(
    db: &impl ConnectionTrait,
    key: &str,
    until: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db,
        "UPDATE login_throttle SET blocked_until = $2 WHERE client_ip = $1",
        vec![key.into(), until.into()],
    ))
    .await?;
    Ok(())
}

/// The current count under `key` if its window (of `window`) is still open.
pub async fn current(db: &impl ConnectionTrait, key: &str, window: Duration) -> Result<i32, DbErr> {
    let row = db
        .query_one_raw(stmt(
            db,
            "SELECT failures FROM login_throttle WHERE client_ip = $1 AND updated_at >= $2",
            vec![key.into(), (Utc::now() - window).into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get("", "failures")?,
        None => 0,
    })
}

pub async fn forget(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db,
        "DELETE FROM login_throttle WHERE client_ip = $1",
        vec![key.into()],
    ))
    .await?;
    Ok(())
}

/// Marks `key` as seen now (a fresh window of one).
pub async fn touch(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    forget(db, key).await?;
    bump(db, key, Duration::days(KNOWN_ADDRESS_DAYS)).await?;
    Ok(())
}

/// Clears every lockout of an account (`mama admin unlock`); returns rows removed.
pub async fn unlock_account(db: &impl ConnectionTrait, admin_id: i32) -> Result<u64, DbErr> {
    let r = db
        .execute_raw(stmt(
            db,
            "DELETE FROM login_throttle WHERE client_ip = $1 OR client_ip LIKE $2",
            vec![
                account_key(admin_id).into(),
                format!("acct:{admin_id}@%").into(),
            ],
        ))
        .await?;
    Ok(r.rows_affected())
}

/// Locked addresses of an account and its count from unknown addresses.
pub async fn account_state(db: &impl ConnectionTrait, admin_id: i32) -> Result<(u64, i32), DbErr> {
    let row = db
        .query_one_raw(stmt(
            db,
            "SELECT COUNT(*) AS n FROM login_throttle WHERE client_ip LIKE $1 AND blocked_until > $2",
            vec![format!("acct:{admin_id}@%").into(), Utc::now().into()],
        ))
        .await?;
    let locked: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    let unknown = current(db, &account_key(admin_id), ACCOUNT_WINDOW).await?;
    Ok((locked as u64, unknown))
}

/// Deletes rows whose window and block are over; returns how many.
pub async fn purge(db: &impl ConnectionTrait, lockout: std::time::Duration) -> Result<u64, DbErr> {
    let now = Utc::now();
    let short = now
        - Duration::from_std(lockout)
            .unwrap_or(Duration::minutes(15))
            .max(ADDRESS_WINDOW);
    let long = now - Duration::days(KNOWN_ADDRESS_DAYS);
    let r = db
        .execute_raw(stmt(
            db,
            "DELETE FROM login_throttle WHERE \
             (blocked_until IS NULL OR blocked_until < $1) AND \
             ((client_ip LIKE 'seen:%' AND updated_at < $2) OR \
              (client_ip NOT LIKE 'seen:%' AND updated_at < $3))",
            vec![now.into(), long.into(), short.into()],
        ))
        .await?;
    Ok(r.rows_affected())
}
