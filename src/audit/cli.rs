//! `mama audit …`: verify the chain, archive and prune old events (only with a
//! retention period). Generating synthetic events and timing the queries on them
//! are dev tools (`crate::devtools::audit`).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::Subcommand;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Action, Event, Outcome, chain, export};
use crate::{
    config::Settings,
    entities::{audit_event, audit_target},
};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Seal pending events, walk the hash chain; exit 1 naming the first bad event.
    Verify,
    /// Write events older than the retention period (MAMA_AUDIT_RETENTION_DAYS) to
    /// a JSON Lines file, then delete them from the database. Without a retention
    /// period nothing is ever deleted (the archive is still written).
    Archive {
        /// Where to write the archive (must not exist).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Archive only events before this date (YYYY-MM-DD); the retention
        /// period still bounds what may be deleted.
        #[arg(long)]
        before: Option<NaiveDate>,
    },
}

/// Runs the command; returns the process exit code.
pub async fn run(cmd: AuditCommand, settings: Settings) -> anyhow::Result<i32> {
    let db = crate::db::connect(&settings.database_url, 4).await?;
    match cmd {
        AuditCommand::Verify => {
            let report = chain::verify(&db).await?;
            let mut ev = Event::system(
                "cli",
                Action::AuditVerify,
                if report.ok {
                    Outcome::Success
                } else {
                    Outcome::Error
                },
            );
            ev.details = serde_json::to_value(&report)?;
            super::insert(&db, &ev).await?;
            if report.ok {
                println!("{}", report.summary());
                Ok(0)
            } else {
                eprintln!("{}", report.summary());
                Ok(1)
            }
        }
        AuditCommand::Archive { out, before } => {
            archive(&db, settings.audit_retention_days, &out, before).await
        }
    }
}

/// Archives (always) and prunes (only with a retention period) the oldest events.
async fn archive(
    db: &DatabaseConnection,
    retention_days: Option<u32>,
    out: &std::path::Path,
    before: Option<NaiveDate>,
) -> anyhow::Result<i32> {
    use std::io::Write;
    chain::seal_all(db).await?;
    let retention_cut = retention_days.map(|d| Utc::now() - Duration::days(d as i64));
    let asked: Option<DateTime<Utc>> = before
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    let cut = match (asked, retention_cut) {
        (Some(a), Some(r)) => a.min(r),
        (Some(a), None) => a,
        (None, Some(r)) => r,
        (None, None) => {
            eprintln!("give --before DATE, or set MAMA_AUDIT_RETENTION_DAYS");
            return Ok(2);
        }
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    // The archived range is a prefix of the chain: walk by seq while events are
    // older than the cut, so the anchor left behind is exact.
    let anchor: chain::Anchor =
        chain::state_get(db, chain::ANCHOR)
            .await?
            .unwrap_or(chain::Anchor {
                seq: 0,
                hash: chain::GENESIS.into(),
            });
    let mut last = anchor.clone();
    let mut count = 0u64;
    'walk: loop {
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(last.seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(2000)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        for e in rows {
            if e.occurred_at >= cut {
                break 'walk;
            }
            writeln!(w, "{}", export::json(&e))?;
            count += 1;
            last = chain::Anchor {
                seq: e.seq.unwrap_or_default(),
                hash: e.hash.clone().unwrap_or_default(),
            };
        }
    }
    w.flush()?;
    w.get_ref().sync_all()?;
    println!(
        "archived {count} events (seq {}..{}) to {}",
        anchor.seq + 1,
        last.seq,
        out.display()
    );
    let Some(_) = retention_days else {
        println!("MAMA_AUDIT_RETENTION_DAYS is not set: nothing deleted");
        return Ok(0);
    };
    if count == 0 {
        return Ok(0);
    }
    let txn = crate::db::begin_write(db).await?;
    let ids: Vec<i64> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Id)
        .filter(audit_event::Column::Seq.lte(last.seq))
        .filter(audit_event::Column::Seq.gt(anchor.seq))
        .into_tuple()
        .all(&txn)
        .await?;
    for chunk in ids.chunks(1000) {
        audit_target::Entity::delete_many()
            .filter(audit_target::Column::EventId.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
        audit_event::Entity::delete_many()
            .filter(audit_event::Column::Id.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    chain::set_anchor(&txn, last.seq, &last.hash).await?;
    let mut ev = Event::system("cli", Action::AuditArchive, Outcome::Success);
    ev.details = serde_json::json!({"archived": count, "pruned_through_seq": last.seq,
        "before": cut.to_rfc3339(), "file": out.display().to_string()});
    super::insert(&txn, &ev).await?;
    txn.commit().await?;
    println!(
        "pruned {} events; the chain now starts after seq {}",
        ids.len(),
        last.seq
    );
    Ok(0)
}
