//! `mama audit …`: verify the chain, archive and prune old events (only with a
//! retention period). Generating synthetic events and timing the queries on them
//! are dev tools (`crate::devtools::audit`).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::Subcommand;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Action, Event, Outcome, chain, checkpoint, export};
use crate::{config::Settings, entities::audit_event};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Seal pending events, walk the keyed hash chain; exit 1 naming the first bad
    /// event. With `--checkpoints`, also check the database against the signed
    /// checkpoints kept outside it: exit 3 naming a missing or rewritten range, an
    /// unsigned prune or a stale file; exit 4 when the file itself is unreadable,
    /// forged or signed by another key.
    Verify {
        /// Checkpoint files (MAMA_AUDIT_CHECKPOINT_FILE of each instance, or notes
        /// collected from the logs, one JSON line each). May be repeated.
        #[arg(long = "checkpoints", value_name = "FILE")]
        checkpoints: Vec<std::path::PathBuf>,
        /// The verifier key printed by `mama audit public-key`, or a file holding
        /// it. Default: derived from MAMA_AUDIT_SIGNING_KEY.
        #[arg(long, value_name = "KEY|FILE")]
        public_key: Option<String>,
        /// Allowed age of the newest checkpoint in seconds (default: twice
        /// MAMA_AUDIT_CHECKPOINT_INTERVAL_SECS).
        #[arg(long)]
        max_age: Option<u64>,
        /// Allowed events after the newest checkpoint (default: twice
        /// MAMA_AUDIT_CHECKPOINT_EVERY).
        #[arg(long)]
        max_events: Option<i64>,
    },
    /// Print the verifier key of the checkpoints (from MAMA_AUDIT_SIGNING_KEY),
    /// alone on the last line.
    PublicKey,
    /// Write a signed checkpoint of the chain head now.
    Checkpoint,
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
    let keys = chain::AuditKeys::from_secrets(&settings.secrets);
    let signer = checkpoint::Checkpointer::from_settings(&settings);
    if let AuditCommand::PublicKey = cmd {
        println!("{}", checkpoint::vkey(&signer.public_key()));
        return Ok(0);
    }
    let db = crate::db::connect(&settings.database_url, 4).await?;
    match cmd {
        AuditCommand::PublicKey => Ok(0),
        AuditCommand::Checkpoint => {
            chain::seal_all(&db, &keys).await?;
            let b = signer.now(&db).await?;
            println!("checkpoint of seq {} ({}) written", b.seq, b.hash);
            Ok(0)
        }
        AuditCommand::Verify {
            checkpoints,
            public_key,
            max_age,
            max_events,
        } => {
            verify(
                &db,
                &keys,
                &signer,
                &settings,
                &checkpoints,
                public_key.as_deref(),
                max_age,
                max_events,
            )
            .await
        }
        AuditCommand::Archive { out, before } => {
            archive(
                &db,
                &keys,
                &signer,
                settings.audit_retention_days,
                &out,
                before,
            )
            .await
        }
    }
}

/// Archives (always) and prunes (only with a retention period) the oldest events.
async fn archive(
    db: &DatabaseConnection,
    keys: &chain::AuditKeys,
    signer: &checkpoint::Checkpointer,
    retention_days: Option<u32>,
    out: &std::path::Path,
    before: Option<NaiveDate>,
) -> anyhow::Result<i32> {
    use std::io::Write;
    chain::seal_all(db, keys).await?;
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
    super::indexer::prune(&txn, anchor.seq, last.seq).await?;
    for chunk in ids.chunks(1000) {
        audit_event::Entity::delete_many()
            .filter(audit_event::Column::Id.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    chain::set_anchor(&txn, last.seq, &last.hash).await?;
    // The prune is itself a signed checkpoint, outside the database: without it a
    // moved anchor is indistinguishable from deleted evidence.
    signer.prune(&txn, &last).await?;
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

/// `mama audit verify [--checkpoints FILE …]`: returns the exit code.
#[allow(clippy::too_many_arguments)]
async fn verify(
    db: &DatabaseConnection,
    keys: &chain::AuditKeys,
    signer: &checkpoint::Checkpointer,
    settings: &Settings,
    files: &[std::path::PathBuf],
    public_key: Option<&str>,
    max_age: Option<u64>,
    max_events: Option<i64>,
) -> anyhow::Result<i32> {
    // The evidence is read first: a forged or unreadable file is reported as such.
    let notes = if files.is_empty() {
        None
    } else {
        let pk = match public_key {
            None => signer.public_key(),
            Some(p) => {
                let text = if std::path::Path::new(p).is_file() {
                    std::fs::read_to_string(p)?
                } else {
                    p.to_string()
                };
                match checkpoint::parse_vkey(text.lines().last().unwrap_or_default()) {
                    Ok(pk) => pk,
                    Err(e) => {
                        eprintln!("--public-key: {e}");
                        return Ok(2);
                    }
                }
            }
        };
        match checkpoint::read_files(files, &pk) {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("checkpoint evidence REJECTED: {e}");
                let mut ev = Event::system("cli", Action::AuditVerify, Outcome::Error);
                ev.details = serde_json::json!({"checkpoints": "rejected", "problem": e});
                super::insert(db, &ev).await?;
                return Ok(4);
            }
        }
    };
    let report = chain::verify(db, keys).await?;
    let evidence = match &notes {
        None => None,
        Some(n) => Some(
            checkpoint::verify_evidence(
                db,
                n,
                std::time::Duration::from_secs(
                    max_age.unwrap_or(2 * settings.audit_checkpoint_interval.as_secs()),
                ),
                max_events.unwrap_or(2 * settings.audit_checkpoint_every),
            )
            .await?,
        ),
    };
    let evidence_ok = evidence.as_ref().is_none_or(|e| e.problems.is_empty());
    let mut ev = Event::system(
        "cli",
        Action::AuditVerify,
        if report.ok && evidence_ok {
            Outcome::Success
        } else {
            Outcome::Error
        },
    );
    ev.details = serde_json::to_value(&report)?;
    if let Some(e) = &evidence {
        ev.details["checkpoints"] = serde_json::json!({
            "checkpoints": e.checkpoints, "prunes": e.prunes, "problems": e.problems,
            "newest_seq": e.newest.as_ref().map(|n| n.seq),
        });
    }
    super::insert(db, &ev).await?;
    if !report.ok {
        eprintln!("{}", report.summary());
    }
    if let Some(e) = &evidence {
        for p in &e.problems {
            eprintln!("checkpoints: {p}");
        }
    }
    if !report.ok {
        return Ok(1);
    }
    if !evidence_ok {
        return Ok(3);
    }
    println!("{}", report.summary());
    if let Some(e) = &evidence {
        println!(
            "checked against {} signed checkpoints and {} signed prunes (newest: seq {} at {})",
            e.checkpoints,
            e.prunes,
            e.newest.as_ref().map_or(0, |n| n.seq),
            e.newest
                .as_ref()
                .map_or_else(String::new, |n| n.time.to_rfc3339())
        );
    }
    Ok(0)
}
