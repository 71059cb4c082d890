//! `mama admin list | unlock USERNAME | reset-password USERNAME`: the operator's
//! way back in when every super admin is locked out or has lost its password.
//! Each command is audited as the system actor `cli`, in the same transaction as
//! its change.
use clap::Subcommand;
use secrecy::SecretString;

use super::{forms::normalise_username, password, queries, throttle};
use crate::{
    audit::{Action, Event, Outcome, insert},
    config::Settings,
    db,
};

#[derive(Subcommand, Debug)]
pub enum AdminAction {
    /// List admin accounts with their role and lockout state (never a hash).
    List,
    /// Lift every lockout of an account (all addresses and its hourly cap).
    Unlock { username: String },
    /// Set a one-time password (printed alone on the last line), force a change at
    /// the next login, end the account's sessions and lift its lockouts.
    ResetPassword { username: String },
}

pub async fn run(settings: &Settings, action: AdminAction) -> anyhow::Result<()> {
    if settings.migrate_on_start {
        db::migrate_up(&settings.database_url).await?;
    }
    let conn = db::connect(&settings.database_url, 2).await?;
    match action {
        AdminAction::List => {
            let txn = db::begin_write(&conn).await?;
            let admins = queries::list(&txn).await?;
            println!(
                "{:<32} {:<12} {:<8} {:<15} {:<24}",
                "username", "role", "locked", "unknown_1h", "last_login_at"
            );
            for a in &admins {
                let (locked, unknown) = throttle::account_state(&txn, a.id).await?;
                let capped = unknown >= settings.security.login_account_hourly_cap;
                let locked = match (locked, capped) {
                    (0, false) => "no".to_string(),
                    (n, false) => format!("{n} addr"),
                    (n, true) => format!("{n}+cap"),
                };
                println!(
                    "{:<32} {:<12} {:<8} {:<15} {:<24}",
                    a.username,
                    a.role,
                    locked,
                    unknown,
                    a.last_login_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "never".into())
                );
            }
            let mut ev = Event::system("cli", Action::AdminList, Outcome::Success);
            ev.details = serde_json::json!({"count": admins.len()});
            insert(&txn, &ev).await?;
            txn.commit().await?;
        }
        AdminAction::Unlock { username } => {
            let username = normalise_username(&username);
            let txn = db::begin_write(&conn).await?;
            let Some(a) = queries::find_by_username(&txn, &username).await? else {
                anyhow::bail!("USERNAME: no admin account named {username:?}");
            };
            let rows = throttle::unlock_account(&txn, a.id).await?;
            queries::clear_lock(&txn, a.id).await?;
            let mut ev = Event::system("cli", Action::AdminUnlock, Outcome::Success);
            ev.details = serde_json::json!({"username": a.username, "throttle_rows_cleared": rows});
            insert(&txn, &ev).await?;
            txn.commit().await?;
            println!(
                "Unlocked {:?} ({rows} lockout counters cleared).",
                a.username
            );
        }
        AdminAction::ResetPassword { username } => {
            let username = normalise_username(&username);
            let Some(a) = queries::find_by_username(&conn, &username).await? else {
                anyhow::bail!("USERNAME: no admin account named {username:?}");
            };
            let one_time = crate::crypto::random_token();
            let hash = password::hash(SecretString::from(one_time.clone())).await?;
            let txn = db::begin_write(&conn).await?;
            queries::set_password(&txn, a.id, hash, true).await?;
            let ended = queries::end_all_sessions(&txn, a.id).await?;
            let rows = throttle::unlock_account(&txn, a.id).await?;
            let mut ev = Event::system("cli", Action::AdminPasswordReset, Outcome::Success);
            ev.details = serde_json::json!({
                "username": a.username,
                "sessions_ended": ended,
                "throttle_rows_cleared": rows,
                "after": {"must_change_password": true, "unlocked": true},
            });
            insert(&txn, &ev).await?;
            txn.commit().await?;
            println!(
                "Reset the password of {:?}: {ended} session(s) ended; a new password must be chosen at the next login.",
                a.username
            );
            println!("One-time password (shown once):");
            println!("{one_time}");
        }
    }
    Ok(())
}
