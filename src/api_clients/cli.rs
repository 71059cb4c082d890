//! `mama api-client create|revoke|list`. Each change is audited as the system
//! actor `cli`, in the same transaction as the change.
use clap::Subcommand;

use super::{Scope, queries, service};
use crate::{
    audit::{Action, Event, Outcome, insert},
    config::Settings,
    db,
};

#[derive(Subcommand, Debug)]
pub enum ApiClientAction {
    /// Create a client; its token is printed alone on the last line (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// keys:read, models:read, audit:read, users:write or services:write; repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Requests per minute (default: MAMA_API_RATE_LIMIT_PER_MINUTE).
        #[arg(long)]
        rate_limit: Option<i32>,
    },
    /// Revoke a client by name; its token stops working at once.
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// List clients (never their tokens).
    List,
}

pub async fn run(settings: &Settings, action: ApiClientAction) -> anyhow::Result<()> {
    if settings.migrate_on_start {
        db::migrate_up(&settings.database_url).await?;
    }
    let conn = db::connect(&settings.database_url, 2).await?;
    match action {
        ApiClientAction::Create {
            name,
            scopes,
            rate_limit,
        } => {
            let name = name.trim().to_string();
            if let Some(why) = service::check_name(&name) {
                anyhow::bail!("--name: {why}");
            }
            let mut parsed = vec![];
            for s in scopes.iter().flat_map(|s| s.split(',')).map(str::trim) {
                parsed.push(Scope::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--scope: unknown scope {s:?} (use keys:read, models:read, audit:read, users:write or services:write)"
                    )
                })?);
            }
            if let Some(n) = rate_limit
                && !(1..=service::RATE_LIMIT_MAX).contains(&n)
            {
                anyhow::bail!("--rate-limit: from 1 to {}", service::RATE_LIMIT_MAX);
            }
            if queries::find_by_name(&conn, &name).await?.is_some() {
                anyhow::bail!("--name: an API client named {name:?} already exists");
            }
            let txn = crate::db::begin_write(&conn).await?;
            let (client, token) = service::create_client(
                &txn,
                service::NewClient {
                    name,
                    scopes: parsed,
                    rate_limit_per_minute: rate_limit,
                    created_by: Some("cli".into()),
                },
            )
            .await?;
            let mut ev = Event::system("cli", Action::ApiClientCreate, Outcome::Success);
            ev.details = serde_json::json!({"api_client_id": client.id, "after": service::describe(&client)});
            insert(&txn, &ev).await?;
            txn.commit().await?;
            println!(
                "Created API client {:?} (id {}) with scopes: {}.",
                client.name, client.id, client.scopes
            );
            println!("Copy the token now; it is not shown again:");
            println!("{}", token.0);
        }
        ApiClientAction::Revoke { name } => {
            let client = queries::find_by_name(&conn, name.trim())
                .await?
                .ok_or_else(|| anyhow::anyhow!("--name: no API client named {name:?}"))?;
            let txn = crate::db::begin_write(&conn).await?;
            let changed = service::revoke_client(&txn, client.id).await?;
            let after = queries::find(&txn, client.id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the client disappeared"))?;
            let mut ev = Event::system("cli", Action::ApiClientRevoke, Outcome::Success);
            ev.details = serde_json::json!({"api_client_id": client.id, "changed": changed,
                "before": service::describe(&client), "after": service::describe(&after)});
            insert(&txn, &ev).await?;
            txn.commit().await?;
            if changed {
                println!("Revoked API client {:?}.", client.name);
            } else {
                println!("API client {:?} was already revoked.", client.name);
            }
        }
        ApiClientAction::List => {
            let clients = queries::list(&conn).await?;
            let mut ev = Event::system("cli", Action::ApiClientList, Outcome::Success);
            ev.details = serde_json::json!({"count": clients.len()});
            insert(&conn, &ev).await?;
            for c in clients {
                println!(
                    "{}\t{}\t{}\tmama_…{}\t{}",
                    c.id,
                    c.name,
                    c.scopes,
                    c.token_hint,
                    if c.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
    }
    Ok(())
}
