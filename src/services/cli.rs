//! `mama services list|add|rename|remove`: the catalogue from a shell, through
//! the same functions as the page and the API, audited as the system actor `cli`.
use std::io::Write;

use clap::Subcommand;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::{
    queries,
    service::{self, ServiceError},
};
use crate::{
    audit::{Action, Event, Outcome, insert},
    config::Settings,
};

#[derive(Subcommand, Debug)]
pub enum ServicesAction {
    /// Every service, with its number of users (tab-separated: name, users, description).
    List,
    /// Add a service.
    Add {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Rename a service (its users are re-synced to LiteLLM); --description changes that too.
    Rename {
        name: String,
        new_name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a service no user has (exit 1, naming them, when some do).
    Remove { name: String },
}

/// Runs a `mama services …` command; returns the exit code.
pub async fn run(settings: Settings, action: ServicesAction) -> anyhow::Result<i32> {
    if settings.migrate_on_start {
        crate::db::migrate_up(&settings.database_url).await?;
    }
    let db = crate::db::connect(&settings.database_url, 2).await?;
    run_on(&db, action, &mut std::io::stdout().lock()).await
}

fn refused(out: &mut impl Write, e: &ServiceError) -> anyhow::Result<i32> {
    match e {
        ServiceError::InUse { name, users } => {
            let shown: Vec<&str> = users.iter().take(20).map(String::as_str).collect();
            writeln!(
                out,
                "`{name}` is still used by {} user(s): {}{}; remove it from them first",
                users.len(),
                shown.join(", "),
                if users.len() > 20 { ", …" } else { "" }
            )?;
        }
        other => {
            for (f, m) in other.fields() {
                writeln!(out, "{f}: {m}")?;
            }
        }
    }
    Ok(1)
}

/// A `mama services …` command on `db` (tests call this directly).
pub async fn run_on(
    db: &DatabaseConnection,
    action: ServicesAction,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    match action {
        ServicesAction::List => {
            let list = queries::list(db).await?;
            let ev = Event::system("cli", Action::ServiceList, Outcome::Success);
            insert(db, &ev).await?;
            for s in list {
                writeln!(out, "{}\t{}\t{}", s.name, s.users, s.description)?;
            }
            Ok(0)
        }
        ServicesAction::Add { name, description } => {
            let txn = crate::db::begin_write(db).await?;
            let s = match service::create(&txn, &name, &description).await {
                Ok(s) => s,
                Err(ServiceError::Db(e)) => return Err(e.into()),
                Err(e) => return refused(out, &e),
            };
            let mut ev = Event::system("cli", Action::ServiceCreate, Outcome::Success);
            ev.details = json!({"service_id": s.id, "before": null,
                "after": {"name": s.name, "description": s.description}});
            insert(&txn, &ev).await?;
            txn.commit().await?;
            writeln!(out, "added service {}", s.name)?;
            Ok(0)
        }
        ServicesAction::Rename {
            name,
            new_name,
            description,
        } => {
            let txn = crate::db::begin_write(db).await?;
            let Some(s) = queries::find_by_name(&txn, name.trim()).await? else {
                writeln!(out, "no service named {name:?}")?;
                return Ok(1);
            };
            let description = description.unwrap_or_else(|| s.description.clone());
            let batch_id = crate::crypto::random_id();
            let users = match service::update(&txn, &s, &new_name, &description, &batch_id).await {
                Ok(u) => u,
                Err(ServiceError::Db(e)) => return Err(e.into()),
                Err(e) => return refused(out, &e),
            };
            let mut ev = Event::system("cli", Action::ServiceUpdate, Outcome::Success);
            ev.targets = users.clone();
            ev.details = json!({"service_id": s.id,
                "before": {"name": s.name, "description": s.description},
                "after": {"name": new_name.trim(), "description": description.trim()},
                "batch_id": if users.is_empty() { None } else { Some(&batch_id) }});
            insert(&txn, &ev).await?;
            txn.commit().await?;
            writeln!(
                out,
                "renamed service {} to {}; {} user(s) queued for LiteLLM sync",
                s.name,
                new_name.trim(),
                users.len()
            )?;
            Ok(0)
        }
        ServicesAction::Remove { name } => {
            let txn = crate::db::begin_write(db).await?;
            let Some(s) = queries::find_by_name(&txn, name.trim()).await? else {
                writeln!(out, "no service named {name:?}")?;
                return Ok(1);
            };
            if let Err(e) = service::delete(&txn, &s).await {
                return match e {
                    ServiceError::Db(e) => Err(e.into()),
                    e => refused(out, &e),
                };
            }
            let mut ev = Event::system("cli", Action::ServiceDelete, Outcome::Success);
            ev.details = json!({"service_id": s.id,
                "before": {"name": s.name, "description": s.description}, "after": null});
            insert(&txn, &ev).await?;
            txn.commit().await?;
            writeln!(out, "removed service {}", s.name)?;
            Ok(0)
        }
    }
}
