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
    let table = match read_table(text) {
        Ok(t) => t,
        Err(e) => {
            writeln!(out, "input: {e}")?;
            return Ok(1);
        }
    };
    let mut lines = match parse_lines(&table.id_org) {
        Ok(l) => l,
        Err(e) => {
            writeln!(out, "input: {e}")?;
            return Ok(1);
        }
    };
    service::check_existing(db, &mut lines).await?;
    service::assign_aliases(db, alias_template, &mut lines).await?;
    let mut bad_lines = std::collections::BTreeSet::new();
    for l in lines.iter().filter(|l| l.error.is_some()) {
        bad_lines.insert(l.number);
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
    for e in &table.errors {
        bad_lines.insert(e.line);
        writeln!(
            out,
            "line {}, column {} ({}): {}",
            e.line, e.column, e.name, e.msg
        )?;
    }
    if lines.is_empty() {
        writeln!(out, "no users in the input")?;
        return Ok(1);
    }
    if !bad_lines.is_empty() {
        writeln!(
            out,
            "{} of {} lines have errors; nothing was written",
            bad_lines.len(),
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
    let users = lines
        .iter()
        .map(|l| service::NewUser {
            user_id: l.user_id.clone(),
            organisation: l.organisation.clone(),
            key_alias: l.key_alias.clone(),
            models: models.clone(),
            services: services.clone(),
            extra: String::new(),
            limits: table.limits.get(&l.number).cloned().unwrap_or_default(),
        })
        .collect();
    let created: Vec<String> = service::create_users(&txn, cipher, users, Some(&batch_id))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_iter()
        .map(|u| u.user_id)
        .collect();
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

/// The columns of `mama users export` that import reads back (LiteLLM's names,
/// the rules of the edit dialog and the API: `crate::users::limits`).
pub const LIMIT_COLUMNS: [&str; 6] = [
    "max_budget",
    "budget_duration",
    "rpm_limit",
    "tpm_limit",
    "expires_at",
    "blocked",
];

/// The columns of `mama users export` that import skips: mama's own
/// (`key_hint`, `sync_state`, `updated_at`), LiteLLM's (`spend`), and those
/// `--models`, `--services` and the alias template set for every imported user.
const SKIPPED_COLUMNS: [&str; 7] = [
    "key_hint",
    "key_alias",
    "models",
    "services",
    "sync_state",
    "updated_at",
    "spend",
];

/// A cell import refuses.
#[derive(Debug)]
struct CellError {
    line: usize,
    /// 1-based.
    column: usize,
    name: &'static str,
    msg: crate::i18n::Msg,
}

/// The input read as a table: `user_id,organisation` lines for [`parse_lines`]
/// (same line numbers), and the limits of each line (by line number).
struct Table {
    id_org: String,
    limits: std::collections::HashMap<usize, super::limits::Limits>,
    errors: Vec<CellError>,
}

/// Splits one CSV line (quotes as `crate::csv` writes them); each field loses
/// the formula guard of mama's exports.
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            (false, ',') => cells.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    cells.push(cur);
    cells
        .into_iter()
        .map(|c| crate::csv::unguard(c.trim()).to_string())
        .collect()
}

/// `""`/`false`/`no`/`0` or `true`/`yes`/`1`; anything else is refused (a
/// checkbox's lenient reading would turn a typo into "not blocked").
fn parse_blocked(raw: &str) -> Result<bool, crate::i18n::Msg> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" => Ok(false),
        "true" | "yes" | "1" => Ok(true),
        _ => Err(crate::i18n::Msg::new("err-true-false")),
    }
}

/// Reads `text`: a plain `user_id,organisation` list (header optional) as
/// before, or, when the first line is a header naming more columns, a table
/// such as `mama users export` writes: `user_id`, `organisation` and the
/// [`LIMIT_COLUMNS`] are read (an empty cell is no limit; an expiry without an
/// offset is UTC), the [`SKIPPED_COLUMNS`] are skipped, any other column is refused.
fn read_table(text: &str) -> Result<Table, String> {
    let mut table = Table {
        id_org: String::new(),
        limits: Default::default(),
        errors: vec![],
    };
    let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
    let header = csv_cells(first);
    if !(header.len() > 2 && header[0].eq_ignore_ascii_case("user_id")) {
        table.id_org = text.to_string();
        return Ok(table);
    }
    let mut org = None;
    let mut limit_at: Vec<(usize, &'static str)> = vec![];
    for (i, h) in header.iter().enumerate().skip(1) {
        let h = h.to_ascii_lowercase();
        if h == "organisation" {
            org = Some(i);
        } else if let Some(l) = LIMIT_COLUMNS.iter().find(|c| **c == h) {
            limit_at.push((i, l));
        } else if !SKIPPED_COLUMNS.contains(&h.as_str()) {
            return Err(format!(
                "line 1, column {}: unknown column {h:?} (known: user_id, organisation, {}, {})",
                i + 1,
                LIMIT_COLUMNS.join(", "),
                SKIPPED_COLUMNS.join(", ")
            ));
        }
    }
    let mut id_org = vec!["user_id,organisation".to_string()];
    for (i, raw) in text.lines().enumerate().skip(1) {
        let number = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            id_org.push(String::new());
            continue;
        }
        let cells = csv_cells(raw);
        let cell = |i: usize| cells.get(i).map(String::as_str).unwrap_or("");
        id_org.push(format!(
            "{},{}",
            csv_field(cell(0)),
            csv_field(org.map(cell).unwrap_or(""))
        ));
        let mut l = super::limits::Limits::default();
        for (col, name) in &limit_at {
            let v = cell(*col);
            use super::limits as lim;
            let r = match *name {
                "max_budget" => lim::parse_budget(v).map(|b| l.max_budget = b),
                "budget_duration" => lim::parse_duration(v).map(|d| l.budget_duration = d),
                "rpm_limit" => lim::parse_rate(v).map(|n| l.rpm_limit = n),
                "tpm_limit" => lim::parse_rate(v).map(|n| l.tpm_limit = n),
                "expires_at" => lim::parse_expiry(v, chrono_tz::UTC).map(|t| l.expires_at = t),
                _ => parse_blocked(v).map(|b| l.blocked = b),
            };
            if let Err(m) = r {
                table.errors.push(CellError {
                    line: number,
                    column: col + 1,
                    name,
                    msg: m.field(name),
                });
            }
        }
        table.limits.insert(number, l);
    }
    table.id_org = id_org.join("\n");
    Ok(table)
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
    /// Create the users of a `user_id,organisation` CSV (header optional), or of
    /// a CSV with a header such as `mama users export` writes: its limit columns
    /// (max_budget, budget_duration, rpm_limit, tpm_limit, expires_at, blocked)
    /// are read, `spend` and mama's own columns skipped. Nothing is written when
    /// any line or cell is bad; each error names its line (and column).
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
