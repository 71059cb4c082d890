//! The `audit_targets` index ("who read user X"), filled off the request path.
//!
//! An event row carries its targets (the `targets` column); requests never write
//! `audit_targets`. A background task in every instance indexes sealed events in
//! chain order (`seq`) up to a watermark kept in `app_state`, in large batches
//! whose rows are sorted by key. The watermark and the rows it covers commit in
//! one transaction, under a lock (a PostgreSQL advisory lock; SQLite's single
//! writer), so any number of instances can run it, and a restart resumes where it
//! stopped.
//!
//! The key leads with a run: the indexer fills the newest run, in chain order,
//! until it holds `RUN_ROWS` rows, then starts the next. A batch's rows land in
//! the newest run's pages (a few hundred), not on one random leaf page of the
//! whole index each, which a database writes whole. `audit_target_runs` keeps
//! each run's event-id range and ceiling for the searches (`queries::search`) and
//! its highest seq for the archive, written in the same transaction. Runs are
//! not merged: a search costs one index seek per run it probes.
//!
//! Why `seq` and not the event id: ids are handed out before commit, so on
//! PostgreSQL a smaller id can become visible after a larger one; seqs are given
//! by the sealer under its lock, so they become visible in order and a watermark
//! on them never skips an event.
//!
//! Queries by user stay exact by reading the unindexed tail too: the events with
//! no seq yet or a seq above the watermark (see `queries::search`).
use std::time::Duration;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, sea_query::OnConflict,
};

use super::chain::{state_get, state_set};
use crate::entities::{audit_event, audit_target_run};

/// `app_state` name of the watermark: every event with `seq <=` it is indexed.
pub const INDEXED_SEQ: &str = "audit.targets.indexed_seq";
/// Key of the indexer's advisory lock on PostgreSQL ("atix").
const INDEX_LOCK_KEY: i64 = 0x6174_6978;
/// The pause after a pass that found work, before the next one.
const PAUSE_BETWEEN_PASSES: Duration = Duration::from_millis(5);
/// Most index rows per INSERT on SQLite (see [`insert_rows`]).
const ROWS_PER_STATEMENT: usize = 256;
/// Most index rows per INSERT on PostgreSQL.
const ROWS_PER_STATEMENT_PG: usize = 1024;
// `insert_sql` keeps one statement per power of two up to the larger bound.
const _: () = assert!(
    ROWS_PER_STATEMENT.is_power_of_two()
        && ROWS_PER_STATEMENT_PG.is_power_of_two()
        && ROWS_PER_STATEMENT <= ROWS_PER_STATEMENT_PG
);
/// Rows per run of the index (about 250 pages of 4 KiB).
pub const RUN_ROWS: i64 = migration::AUDIT_TARGET_RUN_ROWS;

/// The watermark (0 when nothing was ever indexed).
pub async fn indexed_seq(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(state_get::<i64>(db, INDEXED_SEQ).await?.unwrap_or(0))
}

/// Indexes the next sealed events after the watermark, at most `max_events`
/// events or about `max_rows` index rows; returns how many events.
///
/// The events are read, parsed and sorted into rows before the write lock is
/// taken (on SQLite the lock the group-commit writer needs for every batch of
/// lookups); under it the pass only checks that nobody indexed meanwhile (the
/// watermark and the newest run are as read), then inserts.
pub async fn index_pending(
    db: &DatabaseConnection,
    max_events: u64,
    max_rows: usize,
) -> Result<u64, DbErr> {
    match index_pass(db, max_events, max_rows, Conflicts::Fail).await {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            // Nothing indexes an event twice (the watermark is checked under the
            // lock), but a row already there must not stop the indexer: the pass
            // rolled back and is done again, skipping such rows.
            tracing::warn!(error = %e, "an index row was already stored; indexing the pass again, skipping such rows");
            index_pass(db, max_events, max_rows, Conflicts::Skip).await
        }
        done => done,
    }
}

/// What an index row that is already stored does to a pass.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Conflicts {
    /// Fails it: a plain INSERT. On PostgreSQL `ON CONFLICT DO NOTHING` costs
    /// each row a speculative insertion, measured at about three times a plain
    /// row (100 passes of 1,024 rows: 0.9–1.0 s against 0.06–0.6 s); it was
    /// three quarters of PostgreSQL's time on the lookup bench.
    Fail,
    /// Skips it (`ON CONFLICT DO NOTHING`).
    Skip,
}

async fn index_pass(
    db: &DatabaseConnection,
    max_events: u64,
    max_rows: usize,
    conflicts: Conflicts,
) -> Result<u64, DbErr> {
    let mark = indexed_seq(db).await?;
    // Nothing new sealed: no write transaction (on SQLite it would take the
    // database's write lock every interval for nothing).
    if head_seq(db).await? <= mark {
        return Ok(0);
    }
    let newest = newest_run(db).await?;
    let Some(pass) = plan(db, mark, newest.clone(), max_events, max_rows).await? else {
        return Ok(0);
    };
    let txn = crate::db::begin_write(db).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({INDEX_LOCK_KEY})"))
            .await?;
    }
    if indexed_seq(&txn).await? != mark || newest_run(&txn).await? != newest {
        // Another instance indexed these meanwhile; the next pass starts after it.
        txn.commit().await?;
        return Ok(0);
    }
    insert_rows(&txn, pass.rows, conflicts).await?;
    store_runs(&txn, pass.runs).await?;
    state_set(&txn, INDEXED_SEQ, &pass.last_seq).await?;
    txn.commit().await?;
    Ok(pass.events)
}

/// What one pass writes: its rows (sorted), the runs they land in, and the
/// watermark after it.
struct Pass {
    rows: Vec<(i64, String, i64)>,
    runs: std::collections::BTreeMap<i64, audit_target_run::Model>,
    last_seq: i64,
    events: u64,
}

/// The newest run of the index, if any.
async fn newest_run(db: &impl ConnectionTrait) -> Result<Option<audit_target_run::Model>, DbErr> {
    audit_target_run::Entity::find()
        .order_by_desc(audit_target_run::Column::Run)
        .one(db)
        .await
}

/// Reads the sealed events after `mark` and lays out their index rows after
/// the `newest` run (`None` when there are none).
async fn plan(
    db: &impl ConnectionTrait,
    mark: i64,
    newest: Option<audit_target_run::Model>,
    max_events: u64,
    max_rows: usize,
) -> Result<Option<Pass>, DbErr> {
    use audit_event::Column as C;
    let events: Vec<(i64, i64, String)> = audit_event::Entity::find()
        .select_only()
        .column(C::Id)
        .column(C::Seq)
        .column(C::Targets)
        .filter(C::Seq.gt(mark))
        .order_by_asc(C::Seq)
        .limit(max_events)
        .into_tuple()
        .all(db)
        .await?;
    let Some(&(_, mut last_seq, _)) = events.first() else {
        return Ok(None);
    };
    let mut run = newest.as_ref().map_or(0, |r| r.run);
    let mut rows: Vec<(i64, String, i64)> = Vec::new();
    // The runs this pass writes to, from the newest stored one on, as they will
    // be after it (their ceilings are set by `store_runs`).
    let mut runs: std::collections::BTreeMap<i64, audit_target_run::Model> =
        newest.into_iter().map(|r| (r.run, r)).collect();
    let mut taken = 0u64;
    for (id, seq, targets) in &events {
        if !rows.is_empty() && rows.len() >= max_rows {
            break;
        }
        let targets = super::event::stored_targets(targets);
        if !targets.is_empty() {
            if runs.get(&run).is_some_and(|r| r.row_count >= RUN_ROWS) {
                run += 1;
            }
            let n = targets.len() as i64;
            rows.extend(
                targets
                    .into_iter()
                    .map(|u| (run, super::event::truncate(&u, 128), *id)),
            );
            let g = runs.entry(run).or_insert(audit_target_run::Model {
                run,
                min_event_id: *id,
                max_event_id: *id,
                ceiling_event_id: 0,
                max_seq: *seq,
                row_count: 0,
            });
            g.min_event_id = g.min_event_id.min(*id);
            g.max_event_id = g.max_event_id.max(*id);
            g.max_seq = g.max_seq.max(*seq);
            g.row_count += n;
        }
        last_seq = *seq;
        taken += 1;
    }
    rows.sort_unstable();
    rows.dedup();
    Ok(Some(Pass {
        rows,
        runs,
        last_seq,
        events: taken,
    }))
}

/// Inserts index rows (sorted, consumed): multi-row INSERTs of power-of-two
/// lengths ([`crate::db::pow2_lengths`]) written as SQL once per length and
/// bound directly. SeaORM's `insert_many` built an expression tree and cloned
/// every value per row, about 7 % of a lookup's instructions (callgrind); one
/// JSON array unpacked by SQLite's `json_each` cost more still (its `->>`
/// re-parses each element).
async fn insert_rows(
    txn: &impl ConnectionTrait,
    rows: Vec<(i64, String, i64)>,
    conflicts: Conflicts,
) -> Result<(), DbErr> {
    let max = match txn.get_database_backend() {
        // A statement's bound values are copied in one go; PostgreSQL pays a
        // round trip per statement, SQLite a hand-off to its connection thread.
        DbBackend::Postgres => ROWS_PER_STATEMENT_PG,
        _ => ROWS_PER_STATEMENT,
    };
    let mut rows = rows.into_iter();
    for len in crate::db::pow2_lengths(rows.len(), max) {
        let mut values = Vec::with_capacity(len * 3);
        for (run, user, event) in rows.by_ref().take(len) {
            values.extend([run.into(), user.into(), event.into()]);
        }
        crate::db::exec(txn, insert_sql(len, conflicts), values).await?;
    }
    Ok(())
}

/// `INSERT … VALUES (?, ?, ?), …` for `len` rows (a power of two up to
/// [`ROWS_PER_STATEMENT_PG`]), with `ON CONFLICT DO NOTHING` when `conflicts`
/// skips, written once per length.
fn insert_sql(len: usize, conflicts: Conflicts) -> &'static str {
    const LENGTHS: usize = ROWS_PER_STATEMENT_PG.trailing_zeros() as usize + 1;
    static SQL: [[std::sync::OnceLock<String>; LENGTHS]; 2] =
        [const { [const { std::sync::OnceLock::new() }; LENGTHS] }; 2];
    debug_assert!(len.is_power_of_two() && len <= ROWS_PER_STATEMENT_PG);
    let skip = conflicts == Conflicts::Skip;
    SQL[usize::from(skip)][len.trailing_zeros() as usize].get_or_init(|| {
        format!(
            "INSERT INTO audit_targets (run, user_id, event_id) VALUES {}{}",
            vec!["(?, ?, ?)"; len].join(", "),
            if skip {
                " ON CONFLICT (run, user_id, event_id) DO NOTHING"
            } else {
                ""
            }
        )
    })
}

/// Stores the runs a pass wrote to (under the indexer's lock), each with its
/// ceiling: the highest event id of it and every older run. The first is the
/// newest stored run, whose ceiling already covers the runs before it.
async fn store_runs(
    txn: &impl ConnectionTrait,
    runs: std::collections::BTreeMap<i64, audit_target_run::Model>,
) -> Result<(), DbErr> {
    use audit_target_run::Column as R;
    if runs.is_empty() {
        return Ok(());
    }
    let mut ceiling = i64::MIN;
    let models: Vec<audit_target_run::ActiveModel> = runs
        .into_values()
        .map(|mut m| {
            ceiling = ceiling.max(m.ceiling_event_id).max(m.max_event_id);
            m.ceiling_event_id = ceiling;
            m.into()
        })
        .collect();
    audit_target_run::Entity::insert_many(models)
        .on_conflict(
            OnConflict::column(R::Run)
                .update_columns([
                    R::MinEventId,
                    R::MaxEventId,
                    R::CeilingEventId,
                    R::MaxSeq,
                    R::RowCount,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Deletes the index rows of the events at chain positions `after < seq <=
/// through` (the stretch `mama audit archive` prunes), before the events go. The
/// index has no foreign key to the events (migration
/// `audit_targets_without_event_key`), so nothing else removes them. Runs hold
/// chain positions in order: a run whose highest seq is within the stretch goes
/// whole, by the key's prefix; a run reaching past it, and starting at or below
/// the stretch's highest event id, loses only those events' rows (a scan of
/// that run). Runs emptied are dropped.
pub async fn prune(txn: &impl ConnectionTrait, after: i64, through: i64) -> Result<(), DbErr> {
    use crate::db::exec;
    exec(
        txn,
        "DELETE FROM audit_targets WHERE run IN \
         (SELECT run FROM audit_target_runs WHERE max_seq <= ?)",
        vec![through.into()],
    )
    .await?;
    exec(
        txn,
        "DELETE FROM audit_targets WHERE run IN (SELECT run FROM audit_target_runs \
         WHERE max_seq > ? AND min_event_id <= \
         (SELECT MAX(id) FROM audit_events WHERE seq > ? AND seq <= ?)) \
         AND event_id IN (SELECT id FROM audit_events WHERE seq > ? AND seq <= ?)",
        vec![
            through.into(),
            after.into(),
            through.into(),
            after.into(),
            through.into(),
        ],
    )
    .await?;
    audit_target_run::Entity::delete_many()
        .filter(audit_target_run::Column::MaxSeq.lte(through))
        .exec(txn)
        .await?;
    Ok(())
}

/// Recomputes every run's row from the index itself (after rows were written
/// around the indexer, as the bench seeders do).
pub async fn rebuild_runs(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    txn.execute_unprepared("DELETE FROM audit_target_runs")
        .await?;
    txn.execute_unprepared(migration::AUDIT_TARGET_RUNS_FROM_TARGETS)
        .await?;
    txn.commit().await
}

/// How many events the index does not cover yet: those not sealed, and those
/// sealed above the watermark. Three index probes.
pub async fn lag(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    use audit_event::Column as C;
    let mark = indexed_seq(db).await?;
    let unsealed = audit_event::Entity::find()
        .filter(C::Seq.is_null())
        .count(db)
        .await? as i64;
    Ok(unsealed + (head_seq(db).await? - mark).max(0))
}

/// The highest sealed seq (0 when none): one probe of the seq index.
async fn head_seq(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let head: Option<Option<i64>> = audit_event::Entity::find()
        .select_only()
        .column_as(audit_event::Column::Seq.max(), "m")
        .into_tuple()
        // One row; `.one()` would bind a LIMIT (see `db::by_key`).
        .all(db)
        .await?
        .into_iter()
        .next();
    Ok(head.flatten().unwrap_or(0))
}

/// The background indexer every instance runs: after each pass that found work
/// it goes on at once, otherwise it sleeps `every`.
pub fn spawn_indexer(
    db: DatabaseConnection,
    every: Duration,
    max_events: u64,
    max_rows: usize,
    mut stop: crate::shutdown::Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            match index_pending(&db, max_events, max_rows).await {
                Ok(n) => {
                    failing = false;
                    if n > 0 && !stop.is_stopped() {
                        // Let other writers take the write lock in between. This
                        // instance's writers queue at the write gate (`db::begin_write`)
                        // ahead of the next pass; another process's writer polls from
                        // SQLite's busy handler and would miss a gap of a task yield.
                        tokio::time::sleep(PAUSE_BETWEEN_PASSES).await;
                        continue;
                    }
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::error!(error = %e, "audit target indexer failed; will retry");
                }
                Err(_) => {}
            }
            if stop.sleep(every).await {
                return;
            }
        }
    })
}
