//! Queries over `sync_jobs` (claiming, finishing, retrying, status counts) and the
//! users' desired LiteLLM state.
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use super::{
    client::KeySpec,
    outbox,
    sync_state::{JobState, SyncState},
};
use crate::db::stmt;
use crate::entities::{service, sync_job, user, user_model, user_service};

fn due(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(sync_job::Column::State.eq(JobState::Pending))
                .add(sync_job::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(sync_job::Column::State.eq(JobState::Running))
                .add(sync_job::Column::LeaseUntil.lt(now)),
        )
}

/// Claims up to `want` due jobs for `owner` with a lease. Each claim is a
/// conditional UPDATE, so two instances never both win the same job. At most one
/// job per user is claimed, and none for a user whose job is still leased, so one
/// user's changes reach LiteLLM in order. Also answers how many of the claimed
/// jobs were taken over from an owner whose lease had expired.
pub async fn claim(
    conn: &impl ConnectionTrait,
    owner: &str,
    want: usize,
    lease: std::time::Duration,
) -> Result<(Vec<sync_job::Model>, u64), DbErr> {
    let now = Utc::now();
    let candidates = sync_job::Entity::find()
        .filter(due(now))
        .order_by_asc(sync_job::Column::Id)
        .limit((want * 4) as u64)
        .all(conn)
        .await?;
    if candidates.is_empty() {
        return Ok((vec![], 0));
    }
    let mut took_over = 0;
    let refs: Vec<String> = candidates.iter().map(|j| j.user_ref.clone()).collect();
    let busy: Vec<String> = sync_job::Entity::find()
        .select_only()
        .column(sync_job::Column::UserRef)
        .filter(sync_job::Column::State.eq(JobState::Running))
        .filter(sync_job::Column::LeaseUntil.gte(now))
        .filter(sync_job::Column::UserRef.is_in(refs))
        .into_tuple()
        .all(conn)
        .await?;
    let mut taken: std::collections::HashSet<String> = busy.into_iter().collect();
    let lease_until = now + ChronoDuration::from_std(lease).unwrap_or(ChronoDuration::seconds(60));
    let mut out = vec![];
    for j in candidates {
        if out.len() >= want {
            break;
        }
        if !taken.insert(j.user_ref.clone()) {
            continue;
        }
        // The claim counts the attempt, so a job re-claimed after a crash knows
        // it may already have reached LiteLLM.
        let res = sync_job::Entity::update_many()
            .col_expr(sync_job::Column::State, Expr::value(JobState::Running))
            .col_expr(sync_job::Column::Attempts, Expr::value(j.attempts + 1))
            .col_expr(sync_job::Column::LeaseOwner, Expr::value(owner))
            .col_expr(sync_job::Column::LeaseUntil, Expr::value(lease_until))
            .col_expr(sync_job::Column::UpdatedAt, Expr::value(now))
            .filter(sync_job::Column::Id.eq(j.id))
            .filter(sync_job::Column::Attempts.eq(j.attempts))
            .filter(due(now))
            .exec(conn)
            .await?;
        if res.rows_affected == 1 {
            if j.state == JobState::Running.as_str() {
                // Its owner's lease ran out (the instance died or hung): ours now.
                tracing::warn!(job = j.id, user = %j.user_ref, previous_owner = ?j.lease_owner, "took over a sync job whose lease expired");
                took_over += 1;
            }
            out.push(sync_job::Model {
                state: JobState::Running.into(),
                attempts: j.attempts + 1,
                lease_owner: Some(owner.to_string()),
                lease_until: Some(lease_until),
                ..j
            });
        }
    }
    Ok((out, took_over))
}

/// The run of `job` by `owner` still holds its lease: the job is running, owned
/// by `owner`, at the attempt this run claimed (the fencing token: every claim,
/// takeovers included, counts one more attempt). A lease that ran out but was
/// not taken over is still held: nobody else can have the job, and the
/// conditional UPDATE that uses this either wins or loses against a takeover.
fn held_by(job: &sync_job::Model, owner: &str) -> Condition {
    Condition::all()
        .add(sync_job::Column::Id.eq(job.id))
        .add(sync_job::Column::State.eq(JobState::Running))
        .add(sync_job::Column::LeaseOwner.eq(owner))
        .add(sync_job::Column::Attempts.eq(job.attempts))
}

/// The job is done; the user is `synced` unless another of its jobs is still open.
/// Returns `false`, writing nothing, when this run lost its lease (another run
/// took the job over): the result belongs to the new holder.
pub async fn finish(
    conn: &impl ConnectionTrait,
    job: &sync_job::Model,
    owner: &str,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let held = sync_job::Entity::update_many()
        .col_expr(sync_job::Column::State, Expr::value(JobState::Done))
        .col_expr(
            sync_job::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            sync_job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            sync_job::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(sync_job::Column::FinishedAt, Expr::value(now))
        .col_expr(sync_job::Column::UpdatedAt, Expr::value(now))
        .filter(held_by(job, owner))
        .exec(conn)
        .await?
        .rows_affected
        == 1;
    if !held {
        return Ok(false);
    }
    // A block job sends only `blocked`: it answers no upsert.
    if job.operation != outbox::Op::Delete.as_str() && job.operation != outbox::Op::Block.as_str() {
        // Older failed upserts of this user are answered by this one.
        sync_job::Entity::update_many()
            .col_expr(sync_job::Column::State, Expr::value(JobState::Done))
            .col_expr(sync_job::Column::FinishedAt, Expr::value(now))
            .col_expr(sync_job::Column::UpdatedAt, Expr::value(now))
            .filter(sync_job::Column::UserRef.eq(&job.user_ref))
            .filter(sync_job::Column::State.eq(JobState::Failed))
            .filter(sync_job::Column::Operation.eq(outbox::Op::Upsert.as_str()))
            .filter(sync_job::Column::Id.lt(job.id))
            .exec(conn)
            .await?;
    }
    let b = conn.get_database_backend();
    conn.execute_raw(stmt(
        b,
        "UPDATE users SET sync_state = ?, sync_error = NULL, synced_at = ? \
         WHERE user_id = ? AND NOT EXISTS (SELECT 1 FROM sync_jobs j \
         WHERE j.user_ref = ? AND j.state IN (?, ?, ?) AND j.id <> ?)",
        vec![
            SyncState::Synced.into(),
            now.into(),
            job.user_ref.clone().into(),
            job.user_ref.clone().into(),
            JobState::Pending.into(),
            JobState::Running.into(),
            JobState::Failed.into(),
            job.id.into(),
        ],
    ))
    .await?;
    Ok(true)
}

/// The job failed (its attempt was counted when it was claimed). Retryable: back to `pending` at `next_attempt_at` (the user
/// stays pending and shows the error). Otherwise `failed`, and so is the user.
/// Returns `false`, writing nothing, when this run lost its lease (see [`finish`]).
pub async fn fail(
    conn: &impl ConnectionTrait,
    job: &sync_job::Model,
    owner: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let state = if retry_at.is_some() {
        JobState::Pending
    } else {
        JobState::Failed
    };
    let held = sync_job::Entity::update_many()
        .col_expr(sync_job::Column::State, Expr::value(state))
        .col_expr(
            sync_job::Column::NextAttemptAt,
            Expr::value(retry_at.unwrap_or(now)),
        )
        .col_expr(
            sync_job::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            sync_job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(sync_job::Column::LastError, Expr::value(error))
        .col_expr(sync_job::Column::UpdatedAt, Expr::value(now))
        .filter(held_by(job, owner))
        .exec(conn)
        .await?
        .rows_affected
        == 1;
    if !held {
        return Ok(false);
    }
    let user_state = if retry_at.is_some() {
        SyncState::Pending
    } else {
        SyncState::Failed
    };
    user::Entity::update_many()
        .col_expr(user::Column::SyncState, Expr::value(user_state))
        .col_expr(user::Column::SyncError, Expr::value(error))
        .filter(user::Column::UserId.eq(&job.user_ref))
        .exec(conn)
        .await?;
    Ok(true)
}

/// Gives back every job `owner` holds (a stopping instance): due now, no lease,
/// so another instance claims them at once. The attempt counted at the claim is
/// kept: the job may have reached LiteLLM, so its next run takes the
/// update-then-generate path. Returns how many jobs were released.
pub async fn release(conn: &impl ConnectionTrait, owner: &str) -> Result<u64, DbErr> {
    let now = Utc::now();
    let res = sync_job::Entity::update_many()
        .col_expr(sync_job::Column::State, Expr::value(JobState::Pending))
        .col_expr(sync_job::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            sync_job::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            sync_job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(sync_job::Column::UpdatedAt, Expr::value(now))
        .filter(sync_job::Column::LeaseOwner.eq(owner))
        .filter(sync_job::Column::State.eq(JobState::Running))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Puts failed jobs (of these users, or all) back in the queue, due now. The
/// attempt count is kept: a retried job never takes the one-call creation path.
pub async fn retry_failed(
    conn: &impl ConnectionTrait,
    user_refs: Option<&[String]>,
) -> Result<Vec<String>, DbErr> {
    let mut q = sync_job::Entity::find().filter(sync_job::Column::State.eq(JobState::Failed));
    if let Some(r) = user_refs {
        q = q.filter(sync_job::Column::UserRef.is_in(r.iter().cloned()));
    }
    let jobs = q.all(conn).await?;
    let mut users: Vec<String> = jobs.iter().map(|j| j.user_ref.clone()).collect();
    users.sort();
    users.dedup();
    let now = Utc::now();
    for chunk in jobs.chunks(500) {
        sync_job::Entity::update_many()
            .col_expr(sync_job::Column::State, Expr::value(JobState::Pending))
            .col_expr(sync_job::Column::NextAttemptAt, Expr::value(now))
            .col_expr(sync_job::Column::UpdatedAt, Expr::value(now))
            .filter(sync_job::Column::Id.is_in(chunk.iter().map(|j| j.id)))
            .exec(conn)
            .await?;
    }
    for chunk in users.chunks(500) {
        user::Entity::update_many()
            .col_expr(user::Column::SyncState, Expr::value(SyncState::Pending))
            .filter(user::Column::UserId.is_in(chunk.iter().cloned()))
            .exec(conn)
            .await?;
    }
    Ok(users)
}

/// The user's desired state in LiteLLM, or `None` when the user no longer exists.
pub async fn desired(
    conn: &impl ConnectionTrait,
    user_ref: &str,
) -> Result<Option<(user::Model, KeySpec)>, DbErr> {
    let Some(u) = user::Entity::find()
        .filter(user::Column::UserId.eq(user_ref))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let spec = spec_of(conn, &u).await?;
    Ok(Some((u, spec)))
}

/// What LiteLLM should hold for `u`.
pub async fn spec_of(conn: &impl ConnectionTrait, u: &user::Model) -> Result<KeySpec, DbErr> {
    let mut models: Vec<String> = user_model::Entity::find()
        .select_only()
        .column(user_model::Column::Model)
        .filter(user_model::Column::UserId.eq(u.id))
        .into_tuple()
        .all(conn)
        .await?;
    models.sort();
    let service_ids: Vec<i32> = user_service::Entity::find()
        .select_only()
        .column(user_service::Column::ServiceId)
        .filter(user_service::Column::UserId.eq(u.id))
        .into_tuple()
        .all(conn)
        .await?;
    let mut services: Vec<String> = if service_ids.is_empty() {
        vec![]
    } else {
        service::Entity::find()
            .select_only()
            .column(service::Column::Name)
            .filter(service::Column::Id.is_in(service_ids))
            .into_tuple()
            .all(conn)
            .await?
    };
    services.sort();
    Ok(super::spec(u, models, services))
}

/// Counts for the /sync page.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub pending: u64,
    pub due: u64,
    pub running: u64,
    pub failed: u64,
    pub done_last_minute: u64,
    pub done_total: u64,
    pub last_error: Option<(String, String, DateTime<Utc>)>,
    pub oldest_pending: Option<DateTime<Utc>>,
}

pub async fn status(conn: &impl ConnectionTrait) -> Result<Status, DbErr> {
    let now = Utc::now();
    let count = |state: JobState| {
        sync_job::Entity::find()
            .filter(sync_job::Column::State.eq(state))
            .count(conn)
    };
    let pending = count(JobState::Pending).await?;
    let running = count(JobState::Running).await?;
    let failed = count(JobState::Failed).await?;
    let done_total = count(JobState::Done).await?;
    let due = sync_job::Entity::find()
        .filter(sync_job::Column::State.eq(JobState::Pending))
        .filter(sync_job::Column::NextAttemptAt.lte(now))
        .count(conn)
        .await?;
    let done_last_minute = sync_job::Entity::find()
        .filter(sync_job::Column::State.eq(JobState::Done))
        .filter(sync_job::Column::FinishedAt.gte(now - ChronoDuration::seconds(60)))
        .count(conn)
        .await?;
    let last = sync_job::Entity::find()
        .filter(sync_job::Column::LastError.is_not_null())
        .filter(sync_job::Column::State.ne(JobState::Done))
        .order_by_desc(sync_job::Column::UpdatedAt)
        .one(conn)
        .await?;
    let oldest = sync_job::Entity::find()
        .filter(sync_job::Column::State.is_in([JobState::Pending, JobState::Running]))
        .order_by_asc(sync_job::Column::CreatedAt)
        .one(conn)
        .await?;
    Ok(Status {
        pending,
        due,
        running,
        failed,
        done_last_minute,
        done_total,
        last_error: last.map(|j| (j.user_ref, j.last_error.unwrap_or_default(), j.updated_at)),
        oldest_pending: oldest.map(|j| j.created_at),
    })
}

/// Progress of one bulk change (`batch_id`).
#[derive(Debug, Clone, FromQueryResult)]
pub struct BatchProgress {
    pub batch_id: String,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
}

/// The most recent batches with open or recently finished jobs.
pub async fn batches(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<BatchProgress>, DbErr> {
    let b = conn.get_database_backend();
    BatchProgress::find_by_statement(stmt(
        b,
        "SELECT batch_id, COUNT(*) AS total, \
         SUM(CASE WHEN state = ? THEN 1 ELSE 0 END) AS done, \
         SUM(CASE WHEN state = ? THEN 1 ELSE 0 END) AS failed \
         FROM sync_jobs WHERE batch_id IS NOT NULL GROUP BY batch_id \
         ORDER BY MAX(id) DESC LIMIT ?",
        vec![
            JobState::Done.into(),
            JobState::Failed.into(),
            (limit as i64).into(),
        ],
    ))
    .all(conn)
    .await
}

/// Progress of the batch `batch_id`, or `None` when it has no jobs.
pub async fn batch(
    conn: &impl ConnectionTrait,
    batch_id: &str,
) -> Result<Option<BatchProgress>, DbErr> {
    let b = conn.get_database_backend();
    BatchProgress::find_by_statement(stmt(
        b,
        "SELECT batch_id, COUNT(*) AS total, \
         SUM(CASE WHEN state = ? THEN 1 ELSE 0 END) AS done, \
         SUM(CASE WHEN state = ? THEN 1 ELSE 0 END) AS failed \
         FROM sync_jobs WHERE batch_id = ? GROUP BY batch_id",
        vec![
            JobState::Done.into(),
            JobState::Failed.into(),
            batch_id.into(),
        ],
    ))
    .one(conn)
    .await
}

/// The failed jobs of a batch (at most `limit`).
pub async fn batch_failures(
    conn: &impl ConnectionTrait,
    batch_id: &str,
    limit: u64,
) -> Result<Vec<sync_job::Model>, DbErr> {
    sync_job::Entity::find()
        .filter(sync_job::Column::BatchId.eq(batch_id))
        .filter(sync_job::Column::State.eq(JobState::Failed))
        .order_by_asc(sync_job::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Jobs that failed for good, newest first.
pub async fn failed_jobs(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<sync_job::Model>, DbErr> {
    sync_job::Entity::find()
        .filter(sync_job::Column::State.eq(JobState::Failed))
        .order_by_desc(sync_job::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Open jobs of one user (pending or running).
pub async fn open_jobs_of(
    conn: &impl ConnectionTrait,
    user_ref: &str,
) -> Result<Vec<sync_job::Model>, DbErr> {
    sync_job::Entity::find()
        .filter(sync_job::Column::UserRef.eq(user_ref))
        .filter(sync_job::Column::State.is_in([JobState::Pending, JobState::Running]))
        .all(conn)
        .await
}

/// True when `job` is the first job ever queued for its user (so the key has
/// never been sent to LiteLLM by an earlier job).
pub async fn is_first_job_of_user(
    conn: &impl ConnectionTrait,
    job: &sync_job::Model,
) -> Result<bool, DbErr> {
    let earlier = sync_job::Entity::find()
        .filter(sync_job::Column::UserRef.eq(&job.user_ref))
        .filter(sync_job::Column::Id.lt(job.id))
        .count(conn)
        .await?;
    Ok(earlier == 0)
}
