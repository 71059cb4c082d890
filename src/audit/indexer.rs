//! The target index ("who read user X"), filled off the request path.
//!
//! An event row carries its targets (the `targets` column); requests never write
//! the index. A background task in every instance indexes sealed events in
//! chain order (`seq`) up to a watermark kept in `app_state`. The watermark and
//! the rows it covers commit in one transaction, under a lock (a PostgreSQL
//! advisory lock; SQLite's single writer), so any number of instances can run
//! it, and a restart resumes where it stopped.
//!
//! The index is a sequence of runs, each a stretch of the chain whose (user,
//! event) pairs are stored sorted by user and cut into chunks of a few hundred
//! pairs (`audit_target_chunks`, encoded by [`super::chunk`]). A pass writes one
//! run whole: it fills the newest run up to `RUN_ROWS` pairs, rewriting it with
//! the new pairs merged in when it was not full, or starts the next. In a busy
//! trail the indexer waits until a run's worth is pending, so each run is
//! written once; in a quiet one it indexes what is there after at most
//! `max_wait` ([`spawn_indexer`]). `audit_target_runs` keeps each run's
//! event-id range and ceiling for the searches (`queries::search`, one index
//! seek per run) and its highest seq for the archive, written in the same
//! transaction. Runs are not merged.
//!
//! Why `seq` and not the event id: ids are handed out before commit, so on
//! PostgreSQL a smaller id can become visible after a larger one; seqs are given
//! by the sealer under its lock, so they become visible in order and a watermark
//! on them never skips an event.
//!
//! Queries by user stay exact by reading the unindexed tail too: the events with
//! no seq yet or a seq above the watermark (see `queries::search`).
use std::time::{Duration, Instant};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::OnConflict,
};

use super::chain::{state_get, state_set};
use super::chunk;
use crate::db::{exec, query_all, query_row};
use crate::entities::{audit_event, audit_target_run};

/// `app_state` name of the watermark: every event with `seq <=` it is indexed.
pub const INDEXED_SEQ: &str = "audit.targets.indexed_seq";
/// Key of the indexer's advisory lock on PostgreSQL ("atix").
const INDEX_LOCK_KEY: i64 = 0x6174_6978;
/// The pause after a pass that found work, before the next one.
const PAUSE_BETWEEN_PASSES: Duration = Duration::from_millis(5);
/// Most chunks per INSERT (a run of `RUN_ROWS` lookup pairs is ~150 chunks).
const CHUNKS_PER_STATEMENT: usize = 64;
/// Pairs per run of the index: a pass never writes more than one run.
pub const RUN_ROWS: i64 = migration::AUDIT_TARGET_RUN_ROWS;

/// The watermark (0 when nothing was ever indexed).
pub async fn indexed_seq(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(state_get::<i64>(db, INDEXED_SEQ).await?.unwrap_or(0))
}

/// Indexes the next sealed events after the watermark into one run, at most
/// `max_events` events or about `max_rows` new pairs; returns how many events.
pub async fn index_pending(
    db: &DatabaseConnection,
    max_events: u64,
    max_rows: usize,
) -> Result<u64, DbErr> {
    index_pending_in_runs_of(db, max_events, max_rows, RUN_ROWS).await
}

/// [`index_pending`] with runs of `run_rows` pairs (tests make many runs).
///
/// The events are read, the newest run (when it is to grow) decoded, and the
/// run's chunks encoded before the write lock is taken (on SQLite the lock the
/// group-commit writer needs for every batch of lookups); under it the pass
/// only checks that nobody indexed meanwhile (the watermark and the newest run
/// are as read), then replaces the run's chunks.
pub async fn index_pending_in_runs_of(
    db: &DatabaseConnection,
    max_events: u64,
    max_rows: usize,
    run_rows: i64,
) -> Result<u64, DbErr> {
    let mark = indexed_seq(db).await?;
    // Nothing new sealed: no write transaction (on SQLite it would take the
    // database's write lock every interval for nothing).
    if head_seq(db).await? <= mark {
        return Ok(0);
    }
    let newest = newest_run(db).await?;
    let Some(pass) = plan(db, mark, newest.as_ref(), max_events, max_rows, run_rows).await? else {
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
    if let Some((run, chunks)) = pass.run {
        // Nothing the indexer writes lies past the newest run; a chunk that does
        // (a hand-made repair) must not make the pass fail for ever.
        exec(
            &txn,
            "DELETE FROM audit_target_chunks WHERE run > ?",
            vec![run.run.into()],
        )
        .await?;
        exec(
            &txn,
            "DELETE FROM audit_target_runs WHERE run > ?",
            vec![run.run.into()],
        )
        .await?;
        store_run(&txn, run, chunks).await?;
    }
    state_set(&txn, INDEXED_SEQ, &pass.last_seq).await?;
    txn.commit().await?;
    Ok(pass.events)
}

/// What one pass writes: the run it fills (its row and all its chunks; `None`
/// when the events named nobody) and the watermark after it.
struct Pass {
    run: Option<(audit_target_run::Model, Vec<chunk::Chunk>)>,
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

/// Reads the sealed events after `mark` and lays out the run they go to: the
/// `newest` one grown when it holds fewer than `run_rows` pairs, else a new one
/// (`None` when no event is pending).
///
/// The events are read [`EVENT_PAGE`] at a time, and only until the run is full:
/// a lagging indexer once read all `max_events` (2,000) pending events with their
/// targets, ~2.8 MB on the lookup bench, to use the first ~330.
async fn plan(
    db: &impl ConnectionTrait,
    mark: i64,
    newest: Option<&audit_target_run::Model>,
    max_events: u64,
    max_rows: usize,
    run_rows: i64,
) -> Result<Option<Pass>, DbErr> {
    let mut asked = EVENT_PAGE.min(max_events);
    let mut events = pending_page(db, mark, asked).await?;
    let Some(&(_, mut last_seq, _)) = events.first() else {
        return Ok(None);
    };
    // The run these events go to: the newest, grown while it holds fewer than
    // `run_rows` pairs, else the next.
    let (number, mut pairs, mut max_seq) = match newest {
        Some(n) if n.row_count < run_rows => (n.run, run_pairs(db, n.run).await?, n.max_seq),
        _ => (newest.map_or(0, |n| n.run + 1), Vec::new(), 0),
    };
    let ceiling = newest.map_or(i64::MIN, |n| n.ceiling_event_id);
    let held = pairs.len();
    // The pairs this pass may add: to the run's size, and at most `max_rows`.
    let room = usize::try_from(run_rows)
        .unwrap_or(0)
        .saturating_sub(held)
        .min(max_rows);
    // What a full run adds, and a little for the event that passes the bound.
    pairs.reserve(room.saturating_add(128).min(1 << 20));
    let (mut added, mut taken) = (0usize, 0u64);
    'pages: loop {
        let got = events.len() as u64;
        for (id, seq, targets) in &events {
            if taken > 0 && added >= room {
                break 'pages;
            }
            let targets = super::event::stored_targets(targets);
            if !targets.is_empty() {
                added += targets.len();
                max_seq = max_seq.max(*seq);
                pairs.extend(pairs_of(*id, &targets));
            }
            last_seq = *seq;
            taken += 1;
        }
        if got < asked || taken >= max_events {
            break;
        }
        asked = EVENT_PAGE.min(max_events - taken);
        events = pending_page(db, last_seq, asked).await?;
    }
    let run = (added > 0).then(|| lay_out(number, pairs, ceiling, max_seq));
    Ok(Some(Pass {
        run,
        last_seq,
        events: taken,
    }))
}

/// How many pending events [`plan`] reads at a time (~360 KB of targets for
/// lookups of 100 users).
const EVENT_PAGE: u64 = 256;

/// The next `limit` sealed events after `seq`: their ids, seqs and stored
/// targets, in seq order.
async fn pending_page(
    db: &impl ConnectionTrait,
    seq: i64,
    limit: u64,
) -> Result<Vec<(i64, i64, String)>, DbErr> {
    use audit_event::Column as C;
    audit_event::Entity::find()
        .select_only()
        .column(C::Id)
        .column(C::Seq)
        .column(C::Targets)
        .filter(C::Seq.gt(seq))
        .order_by_asc(C::Seq)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// The index's pairs of event `id` naming `targets` (IDs clipped as stored).
fn pairs_of(id: i64, targets: &[String]) -> impl Iterator<Item = (String, i64)> + '_ {
    targets
        .iter()
        .map(move |u| (super::event::truncate(u, 128), id))
}

/// Run `run` holding `pairs` (sorted and deduplicated here) and encoded, after
/// runs whose ceiling is `ceiling`.
fn lay_out(
    run: i64,
    mut pairs: Vec<(String, i64)>,
    ceiling: i64,
    max_seq: i64,
) -> (audit_target_run::Model, Vec<chunk::Chunk>) {
    pairs.sort_unstable();
    pairs.dedup();
    (
        run_row(run, &pairs, ceiling, max_seq),
        chunk::encode(&pairs),
    )
}

/// The row of run `run` holding `pairs`, after runs whose ceiling is `ceiling`.
fn run_row(
    run: i64,
    pairs: &[(String, i64)],
    ceiling: i64,
    max_seq: i64,
) -> audit_target_run::Model {
    let (min, max) = pairs.iter().fold((i64::MAX, i64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    audit_target_run::Model {
        run,
        min_event_id: min,
        max_event_id: max,
        ceiling_event_id: ceiling.max(max),
        max_seq,
        row_count: pairs.len() as i64,
    }
}

/// Every (user, event) pair of a run, sorted.
async fn run_pairs(db: &impl ConnectionTrait, run: i64) -> Result<Vec<(String, i64)>, DbErr> {
    let mut pairs = Vec::new();
    for bytes in run_chunks(db, run).await? {
        for (user, events) in chunk::decode(&bytes) {
            pairs.extend(events.into_iter().map(|e| (user.clone(), e)));
        }
    }
    Ok(pairs)
}

/// The encoded chunks of a run, in key order.
async fn run_chunks(db: &impl ConnectionTrait, run: i64) -> Result<Vec<Vec<u8>>, DbErr> {
    let rows = query_all(
        db,
        "SELECT pairs FROM audit_target_chunks WHERE run = ? ORDER BY first_user",
        vec![run.into()],
    )
    .await?;
    rows.iter().map(|r| r.try_get_by_index(0)).collect()
}

/// Replaces a run's chunks and stores its row (under the indexer's lock).
async fn store_run(
    txn: &impl ConnectionTrait,
    run: audit_target_run::Model,
    chunks: Vec<chunk::Chunk>,
) -> Result<(), DbErr> {
    use audit_target_run::Column as R;
    exec(
        txn,
        "DELETE FROM audit_target_chunks WHERE run = ?",
        vec![run.run.into()],
    )
    .await?;
    let mut chunks = chunks.into_iter();
    for len in crate::db::pow2_lengths(chunks.len(), CHUNKS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(len * 3);
        for c in chunks.by_ref().take(len) {
            values.extend([run.run.into(), c.first_user.into(), c.pairs.into()]);
        }
        exec(txn, insert_sql(len), values).await?;
    }
    let model: audit_target_run::ActiveModel = run.into();
    audit_target_run::Entity::insert(model)
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

/// `INSERT … VALUES (?, ?, ?), …` for `len` chunks (a power of two up to
/// [`CHUNKS_PER_STATEMENT`]), written once per length.
fn insert_sql(len: usize) -> &'static str {
    const LENGTHS: usize = CHUNKS_PER_STATEMENT.trailing_zeros() as usize + 1;
    static SQL: [std::sync::OnceLock<String>; LENGTHS] =
        [const { std::sync::OnceLock::new() }; LENGTHS];
    debug_assert!(len.is_power_of_two() && len <= CHUNKS_PER_STATEMENT);
    SQL[len.trailing_zeros() as usize].get_or_init(|| {
        format!(
            "INSERT INTO audit_target_chunks (run, first_user, pairs) VALUES {}",
            vec!["(?, ?, ?)"; len].join(", ")
        )
    })
}

/// Writes runs for `events` (id, seq, targets) after every stored run, around
/// the indexer: the bench seeders' events, which the indexer would otherwise
/// take one pass per run. Leaves the watermark alone.
pub async fn write_runs(
    txn: &impl ConnectionTrait,
    events: &[(i64, i64, Vec<String>)],
) -> Result<(), DbErr> {
    let newest = newest_run(txn).await?;
    let mut ceiling = newest.as_ref().map_or(i64::MIN, |n| n.ceiling_event_id);
    let mut next = newest.map_or(0, |n| n.run + 1);
    let mut rest = events;
    while !rest.is_empty() {
        let mut n = 0;
        let mut rows = 0i64;
        while n < rest.len() && rows < RUN_ROWS {
            rows += rest[n].2.len() as i64;
            n += 1;
        }
        let (these, later) = rest.split_at(n);
        rest = later;
        let pairs: Vec<(String, i64)> = these
            .iter()
            .flat_map(|(id, _, ts)| pairs_of(*id, ts))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let max_seq = these.iter().map(|e| e.1).max().unwrap_or(0);
        let (run, chunks) = lay_out(next, pairs, ceiling, max_seq);
        ceiling = run.ceiling_event_id;
        store_run(txn, run, chunks).await?;
        next += 1;
    }
    Ok(())
}

/// Deletes the index entries of the events at chain positions `after < seq <=
/// through` (the stretch `mama audit archive` prunes), before the events go.
/// Runs hold chain positions in order: a run whose highest seq is within the
/// stretch goes whole; a run reaching past it, and starting at or below the
/// stretch's highest event id, is rewritten without those events. Runs emptied
/// are dropped.
pub async fn prune(txn: &impl ConnectionTrait, after: i64, through: i64) -> Result<(), DbErr> {
    use audit_target_run::Column as R;
    // Under the indexer's lock: a pass rewriting the same run meanwhile would
    // otherwise fail on the chunks this inserts (SQLite's one writer does it
    // already).
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({INDEX_LOCK_KEY})"))
            .await?;
    }
    exec(
        txn,
        "DELETE FROM audit_target_chunks WHERE run IN \
         (SELECT run FROM audit_target_runs WHERE max_seq <= ?)",
        vec![through.into()],
    )
    .await?;
    audit_target_run::Entity::delete_many()
        .filter(R::MaxSeq.lte(through))
        .exec(txn)
        .await?;
    let top: Option<i64> = query_row(
        txn,
        "SELECT MAX(id) FROM audit_events WHERE seq > ? AND seq <= ?",
        vec![after.into(), through.into()],
    )
    .await?
    .map(|r| r.try_get_by_index(0))
    .transpose()?
    .flatten();
    let Some(top) = top else {
        return Ok(());
    };
    let cut = audit_target_run::Entity::find()
        .filter(R::MinEventId.lte(top))
        .all(txn)
        .await?;
    for run in cut {
        let gone: std::collections::HashSet<i64> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::Id)
            .filter(audit_event::Column::Seq.gt(after))
            .filter(audit_event::Column::Seq.lte(through))
            .filter(audit_event::Column::Id.between(run.min_event_id, run.max_event_id))
            .into_tuple::<i64>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        if gone.is_empty() {
            continue;
        }
        let mut pairs = run_pairs(txn, run.run).await?;
        pairs.retain(|p| !gone.contains(&p.1));
        if pairs.is_empty() {
            exec(
                txn,
                "DELETE FROM audit_target_chunks WHERE run = ?",
                vec![run.run.into()],
            )
            .await?;
            audit_target_run::Entity::delete_by_id(run.run)
                .exec(txn)
                .await?;
            continue;
        }
        let (rewritten, chunks) = lay_out(run.run, pairs, run.ceiling_event_id, run.max_seq);
        store_run(txn, rewritten, chunks).await?;
    }
    Ok(())
}

/// Recomputes every run's row from its chunks (after chunks were moved around
/// the indexer). A run's highest seq is taken over its event-id range: never
/// below the truth, so the archive only ever rewrites a run it could drop.
pub async fn rebuild_runs(db: &DatabaseConnection) -> Result<(), DbErr> {
    use crate::entities::audit_target_chunk::Column as K;
    let txn = crate::db::begin_write(db).await?;
    let numbers: Vec<i64> = crate::entities::audit_target_chunk::Entity::find()
        .select_only()
        .column(K::Run)
        .distinct()
        .order_by_asc(K::Run)
        .into_tuple()
        .all(&txn)
        .await?;
    txn.execute_unprepared("DELETE FROM audit_target_runs")
        .await?;
    let mut ceiling = i64::MIN;
    for number in numbers {
        let pairs = run_pairs(&txn, number).await?;
        let mut m = run_row(number, &pairs, ceiling, 0);
        ceiling = m.ceiling_event_id;
        m.max_seq = query_row(
            &txn,
            "SELECT COALESCE(MAX(seq), 0) FROM audit_events WHERE id BETWEEN ? AND ?",
            vec![m.min_event_id.into(), m.max_event_id.into()],
        )
        .await?
        .map(|r| r.try_get_by_index(0))
        .transpose()?
        .unwrap_or(0);
        let am: audit_target_run::ActiveModel = m.into();
        audit_target_run::Entity::insert(am)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}

/// A run as a search by user sees it: its number, its ceiling (the highest
/// event id of it and every older run) and the one chunk that can hold the
/// user (`None` when every chunk of the run starts after the user).
pub struct UserChunk {
    pub run: i64,
    pub ceiling: i64,
    pub pairs: Option<Vec<u8>>,
}

/// The `limit` newest runs older than `older_than` whose event-id range meets
/// `(low, before)`, newest first, each with the chunk that can hold `user`: one
/// statement, one backward seek of the chunks' key per run.
pub async fn user_chunks(
    db: &impl ConnectionTrait,
    user: &str,
    older_than: i64,
    before: Option<i64>,
    low: Option<i64>,
    limit: u64,
) -> Result<Vec<UserChunk>, DbErr> {
    // The chunks' order is bytewise (Rust's `str` order); on PostgreSQL the
    // column is in the "C" collation (migration `audit_target_chunks`).
    let sql = format!(
        "SELECT r.run, r.ceiling_event_id, (SELECT c.pairs FROM audit_target_chunks c \
         WHERE c.run = r.run AND c.first_user <= ? ORDER BY c.first_user DESC LIMIT 1) \
         FROM audit_target_runs r WHERE r.run < ? AND r.min_event_id < ? AND r.max_event_id > ? \
         ORDER BY r.run DESC LIMIT {limit}"
    );
    let rows = query_all(
        db,
        &sql,
        vec![
            user.into(),
            older_than.into(),
            before.unwrap_or(i64::MAX).into(),
            low.unwrap_or(i64::MIN).into(),
        ],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UserChunk {
                run: r.try_get_by_index(0)?,
                ceiling: r.try_get_by_index(1)?,
                pairs: r.try_get_by_index(2)?,
            })
        })
        .collect()
}

/// Every event the index lists for `user`, newest first.
pub async fn indexed_events(db: &impl ConnectionTrait, user: &str) -> Result<Vec<i64>, DbErr> {
    let mut ids: Vec<i64> = user_chunks(db, user, i64::MAX, None, None, i64::MAX as u64)
        .await?
        .into_iter()
        .filter_map(|c| c.pairs)
        .flat_map(|p| chunk::events_of(&p, user))
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    Ok(ids)
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

/// The sealed events above the watermark, counting at most `max_events` of
/// them, and the targets they name: what a pass would index now.
async fn pending(db: &impl ConnectionTrait, max_events: u64) -> Result<(i64, i64), DbErr> {
    let mark = indexed_seq(db).await?;
    let row = query_row(
        db,
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(target_count), 0) FROM \
             (SELECT target_count FROM audit_events WHERE seq > ? ORDER BY seq LIMIT {max_events}) p"
        ),
        vec![mark.into()],
    )
    .await?;
    match row {
        Some(r) => Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)),
        None => Ok((0, 0)),
    }
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

/// How the background indexer paces itself.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// The sleep when there is nothing to do.
    pub every: Duration,
    /// How long pending events may wait for a run's worth to gather: a run
    /// rewritten for every few events would cost its whole size each time.
    pub max_wait: Duration,
    pub max_events: u64,
    pub max_rows: usize,
}

/// Whether a pass is due: a run's worth of pairs is pending, or events have
/// waited `max_wait` (`waiting` is when this indexer first saw them).
async fn due(
    db: &impl ConnectionTrait,
    pace: &Pace,
    waiting: &mut Option<Instant>,
) -> Result<bool, DbErr> {
    if pace.max_wait.is_zero() {
        return Ok(true);
    }
    let (events, rows) = pending(db, pace.max_events).await?;
    if events == 0 {
        *waiting = None;
        return Ok(false);
    }
    let since = *waiting.get_or_insert_with(Instant::now);
    Ok(rows >= RUN_ROWS || events as u64 >= pace.max_events || since.elapsed() >= pace.max_wait)
}

/// The background indexer every instance runs: after each pass that found work
/// it goes on at once, otherwise it sleeps `pace.every`.
pub fn spawn_indexer(
    db: DatabaseConnection,
    pace: Pace,
    mut stop: crate::shutdown::Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failing = false;
        let mut waiting = None;
        loop {
            let pass = async {
                if !due(&db, &pace, &mut waiting).await? {
                    return Ok(0);
                }
                waiting = None;
                index_pending(&db, pace.max_events, pace.max_rows).await
            };
            match pass.await {
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
            if stop.sleep(pace.every).await {
                return;
            }
        }
    })
}
