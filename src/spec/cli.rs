//! `mama apply FILE [--dry-run] [--prune]` and `mama export --format yaml`.
//! Both are audited as the system actor `cli`.
use std::{collections::BTreeSet, io::Write, path::Path};

use sea_orm::DatabaseConnection;

use super::{parse, plan, to_yaml};
use crate::{
    audit::{Action, Event, Outcome, insert},
    config::Settings,
    crypto::KeyCipher,
};

/// `apply --dry-run` exit code when the spec differs from the state (0 when not).
pub const EXIT_DIFFERS: i32 = 2;
/// Exit code of a spec that does not validate or cannot be read.
pub const EXIT_INVALID: i32 = 1;

async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    if settings.migrate_on_start {
        crate::db::migrate_up(&settings.database_url).await?;
    }
    Ok(crate::db::connect(&settings.database_url, 4).await?)
}

/// Runs `mama apply`; returns the exit code.
pub async fn apply(
    settings: Settings,
    file: &Path,
    dry_run: bool,
    prune: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            writeln!(out, "{}: cannot read: {e}", file.display())?;
            return Ok(EXIT_INVALID);
        }
    };
    let db = connect(&settings).await?;
    let cipher = KeyCipher::new(&settings.secrets.encryption_key);
    apply_text(
        &db,
        &cipher,
        &file.display().to_string(),
        &text,
        dry_run,
        prune,
        out,
    )
    .await
}

/// `mama apply` on a spec's text (tests call this directly).
pub async fn apply_text(
    db: &DatabaseConnection,
    cipher: &KeyCipher,
    name: &str,
    text: &str,
    dry_run: bool,
    prune: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    // Validate completely before anything is written. Without --prune, services
    // already in the database stay and may be named by users.
    let known: BTreeSet<String> = if prune {
        BTreeSet::new()
    } else {
        crate::services::queries::all(db)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect()
    };
    let wanted = match parse(text, &known) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                writeln!(out, "{name}:{e}")?;
            }
            writeln!(
                out,
                "{} error(s) in {name}; nothing was written",
                errors.len()
            )?;
            return Ok(EXIT_INVALID);
        }
    };
    let txn = crate::db::begin_write(db).await?;
    let current = plan::current(&txn).await?;
    let p = plan::diff(&current.spec, &wanted, prune);
    write!(out, "{}", plan::render(&p))?;
    if dry_run {
        drop(txn);
        writeln!(
            out,
            "{}",
            if p.is_empty() {
                "no difference (dry run)"
            } else {
                "differences found (dry run): nothing was written"
            }
        )?;
        return Ok(if p.is_empty() { 0 } else { EXIT_DIFFERS });
    }
    if p.is_empty() {
        drop(txn);
        writeln!(out, "nothing to apply")?;
        return Ok(0);
    }
    let batch_id = crate::crypto::random_id();
    let details = plan::apply(&txn, cipher, &current, &p, &batch_id).await?;
    let mut ev = Event::system("cli", Action::SpecApply, Outcome::Success);
    ev.targets = p
        .create_users
        .iter()
        .map(|u| u.user_id.clone())
        .chain(p.change_users.iter().map(|(_, w)| w.user_id.clone()))
        .chain(p.delete_users.iter().cloned())
        .collect();
    ev.details = serde_json::json!({"file": name, "prune": prune, "changes": details});
    insert(&txn, &ev).await?;
    txn.commit().await?;
    writeln!(out, "applied; LiteLLM sync queued (batch {batch_id})")?;
    writeln!(out, "{batch_id}")?;
    Ok(0)
}

/// Runs `mama export --format yaml`: the state as a spec on standard output.
pub async fn export(settings: Settings, out: &mut impl Write) -> anyhow::Result<i32> {
    let db = connect(&settings).await?;
    export_to(&db, out).await?;
    Ok(0)
}

/// Writes the state as a spec (tests call this directly).
pub async fn export_to(db: &DatabaseConnection, out: &mut impl Write) -> anyhow::Result<usize> {
    let current = plan::current(db).await?;
    let mut ev = Event::system("cli", Action::SpecExport, Outcome::Success);
    ev.details = serde_json::json!({
        "format": "yaml",
        "users": current.spec.users.len(),
        "services": current.spec.services.len(),
    });
    ev.targets = current
        .spec
        .users
        .iter()
        .map(|u| u.user_id.clone())
        .collect();
    // Recorded before the state leaves mama.
    let txn = crate::db::begin_write(db).await?;
    insert(&txn, &ev).await?;
    txn.commit().await?;
    out.write_all(to_yaml(&current.spec)?.as_bytes())?;
    Ok(current.spec.users.len())
}
