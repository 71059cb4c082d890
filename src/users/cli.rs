//! `mama users import|export`: the operators' commands (`seed` is a dev tool:
//! `crate::devtools::users`). Each is audited with
//! the system actor `cli`, and import queues its sync jobs like the UI does.
use std::io::Write;

use clap::Subcommand;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::{
    forms::{parse_lines, parse_models, parse_services},
    queries::{self},
    service,
};
use crate::{
    audit::{Action, Event, Outcome, insert},
    config::Settings,
    crypto::KeyCipher,
    entities::user,
};

/// Runs a `mama users …` command; returns the process exit code.
pub async fn run(settings: Settings, action: UsersAction) -> anyhow::Result<i32> {
    if settings.migrate_on_start {
        crate::db::migrate_up(&settings.database_url).await?;
    }
    let db = crate::db::connect(&settings.database_url, 4).await?;
    let cipher = KeyCipher::from_secrets(&settings.secrets);
    let mut out = std::io::stdout().lock();
    match action {
        UsersAction::Import {
            file,
            models,
            services,
            dry_run,
            create_services,
        } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("cannot read {}: {e}", file.display());
                    return Ok(2);
                }
            };
            let alias = settings.key_alias_template.as_str();
            import_with(
                &db,
                &cipher,
                &text,
                &models,
                &services,
                alias,
                dry_run,
                create_services,
                &mut out,
            )
            .await
        }
        UsersAction::Export => export(&db, &mut out).await.map(|_| 0),
    }
}

/// Validates `text` like the create-many page; creates every user in one
/// transaction, or nothing when any line (or option) is bad. Returns the exit code.
pub async fn import(
    db: &DatabaseConnection,
    cipher: &KeyCipher,
    text: &str,
    models: &str,
    services: &str,
    dry_run: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    import_with(db, cipher, text, models, services, "", dry_run, false, out).await
}

/// [`import`], giving new users the alias `alias_template` makes (see
/// `MAMA_KEY_ALIAS_TEMPLATE`); with `create_services` the services of `--services`
/// the catalogue lacks are added in the same transaction as the users.
#[allow(clippy::too_many_arguments)]
pub async fn import_with(
    db: &DatabaseConnection,
    cipher: &KeyCipher,
    text: &str,
    models: &str,
    services: &str,
    alias_template: &str,
    dry_run: bool,
    create_services: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let models = match parse_models(&[models.to_string()]) {
        Ok(m) => m,
        Err(e) => {
            writeln!(out, "--models: {e}")?;
            return Ok(1);
        }
    };
    let services = match parse_services(&[services.to_string()]) {
        Ok(s) => s,
        Err(e) => {
            writeln!(out, "--services: {e}")?;
            return Ok(1);
        }
    };
    let known: std::collections::BTreeSet<String> = queries::services(db)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let missing: Vec<String> = services
        .iter()
        .filter(|s| !known.contains(*s))
        .cloned()
        .collect();
    if !missing.is_empty() && !create_services {
        if let Err(e) = service::service_ids_by_name(db, &services).await {
            writeln!(out, "--services: {e} (or pass --create-services)")?;
        }
        return Ok(1);
    }
    let mut lines = match parse_lines(text) {
        Ok(l) => l,
        Err(e) => {
            writeln!(out, "input: {e}")?;
            return Ok(1);
        }
    };
    service::check_existing(db, &mut lines).await?;
    service::assign_aliases(db, alias_template, &mut lines).await?;
    let bad: Vec<_> = lines.iter().filter(|l| l.error.is_some()).collect();
    for l in &bad {
        writeln!(
            out,
            "line {}: {}",
            l.number,
            l.error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        )?;
    }
    if lines.is_empty() {
        writeln!(out, "no users in the input")?;
        return Ok(1);
    }
    if !bad.is_empty() {
        writeln!(
            out,
            "{} of {} lines have errors; nothing was written",
            bad.len(),
            lines.len()
        )?;
        return Ok(1);
    }
    if dry_run {
        if !missing.is_empty() {
            writeln!(
                out,
                "services {} would be created (dry run)",
                missing.join(", ")
            )?;
        }
        writeln!(out, "{} users would be created (dry run)", lines.len())?;
        return Ok(0);
    }
    let batch_id = crate::crypto::random_id();
    let txn = crate::db::begin_write(db).await?;
    service::add_services(&txn, &missing).await?;
    for name in &missing {
        writeln!(out, "created service {name}")?;
    }
    let created = service::create_many(
        &txn,
        cipher,
        &lines,
        &models,
        &services,
        &Default::default(),
        &batch_id,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut ev = Event::system("cli", Action::UsersImport, Outcome::Success);
    ev.targets = created.clone();
    ev.details = serde_json::json!({
        "batch_id": batch_id,
        "after": {"count": created.len(), "models": models, "services": services,
                  "created_services": missing},
    });
    insert(&txn, &ev).await?;
    txn.commit().await?;
    writeln!(
        out,
        "created {} users; LiteLLM sync queued (batch {batch_id})",
        created.len()
    )?;
    Ok(0)
}

fn csv_field(s: &str) -> String {
    crate::csv::field(s)
}

/// Writes every user as CSV (never the key: its last 4 characters only).
pub async fn export(db: &DatabaseConnection, out: &mut impl Write) -> anyhow::Result<usize> {
    writeln!(
        out,
        "user_id,organisation,key_hint,key_alias,models,services,sync_state,updated_at,\
         max_budget,budget_duration,rpm_limit,tpm_limit,expires_at,blocked,spend"
    )?;
    let mut ids = vec![];
    let mut after = String::new();
    loop {
        let page = user::Entity::find()
            .from_raw_sql(queries::stmt(
                db.get_database_backend(),
                "SELECT * FROM users WHERE user_id > ? ORDER BY user_id LIMIT 1000",
                vec![after.clone().into()],
            ))
            .all(db)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.user_id.clone();
        let pids: Vec<i32> = page.iter().map(|u| u.id).collect();
        let mut models = queries::models_of(db, &pids).await?;
        let mut services = queries::services_of(db, &pids).await?;
        for u in page {
            let m: Vec<String> = models
                .remove(&u.id)
                .unwrap_or_default()
                .into_iter()
                .collect();
            let s: Vec<String> = services
                .remove(&u.id)
                .unwrap_or_default()
                .into_iter()
                .collect();
            writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                csv_field(&u.user_id),
                csv_field(&u.organisation),
                csv_field(&u.key_hint),
                csv_field(u.key_alias.as_deref().unwrap_or("")),
                csv_field(&m.join(";")),
                csv_field(&s.join(";")),
                csv_field(&u.sync_state),
                u.updated_at.to_rfc3339(),
                // LiteLLM's names and units (USD, per minute); empty: none.
                u.max_budget.map(|v| v.to_string()).unwrap_or_default(),
                u.budget_duration.as_deref().unwrap_or(""),
                u.rpm_limit.map(|v| v.to_string()).unwrap_or_default(),
                u.tpm_limit.map(|v| v.to_string()).unwrap_or_default(),
                u.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                u.blocked,
                u.spend.map(|v| v.to_string()).unwrap_or_default(),
            )?;
            ids.push(u.user_id);
        }
    }
    let mut ev = Event::system("cli", Action::UsersExport, Outcome::Success);
    ev.details = serde_json::json!({"count": ids.len()});
    let n = ids.len();
    ev.targets = ids;
    let txn = crate::db::begin_write(db).await?;
    insert(&txn, &ev).await?;
    txn.commit().await?;
    Ok(n)
}

#[derive(Subcommand, Debug)]
pub enum UsersAction {
    /// Create the users of a `user_id,organisation` CSV (header optional). Nothing is
    /// written when any line is bad; per-line errors are printed.
    Import {
        file: std::path::PathBuf,
        /// Models for every new user, comma-separated.
        #[arg(long, default_value = "")]
        models: String,
        /// Services (names from the catalogue) for every new user, comma-separated.
        #[arg(long, default_value = "")]
        services: String,
        /// Only validate; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Add the services named in --services that the catalogue lacks (in the
        /// same transaction as the users).
        #[arg(long)]
        create_services: bool,
    },
    /// Write every user (never the key) as CSV to standard output.
    Export,
}
