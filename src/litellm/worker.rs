//! The sync worker: claims due jobs with a lease, runs up to `concurrency` of them
//! at once against LiteLLM, retries with exponential backoff and jitter.
//!
//! Every operation is idempotent, so a job run twice (an instance killed after the
//! call but before marking it done) has the effect of one run: an upsert sends
//! the user's *current* complete state (`/key/update` replaces lists; on 404 the
//! key is created with `/key/generate`), and deleting a key LiteLLM no longer
//! has is success.
use std::{sync::Arc, time::Duration};

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, Semaphore};

use super::{
    client::{CallCtx, LiteLlm, LlmError},
    drift,
    outbox::Op,
    queries,
};
use crate::{
    config::SyncSettings, crypto::KeyCipher, entities::sync_job, shutdown::Stop,
    state::SystemNotices,
};

/// The notice topic for LiteLLM's health.
pub const NOTICE: &str = "litellm";

/// Runs jobs. One per process; several processes may share a database.
pub struct Worker {
    pub id: String,
    db: DatabaseConnection,
    client: LiteLlm,
    cipher: KeyCipher,
    settings: SyncSettings,
    notices: Arc<SystemNotices>,
    wake: Arc<Notify>,
    metrics: Arc<crate::metrics::Metrics>,
}

#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Bad(String),
    /// LiteLLM's key was changed outside mama: the write is held for an admin.
    #[error(
        "LiteLLM's key was changed outside mama ({0}); the write is held until an admin decides on /sync/reconcile"
    )]
    Drift(String),
}

impl Worker {
    pub fn new(
        db: DatabaseConnection,
        client: LiteLlm,
        cipher: KeyCipher,
        settings: SyncSettings,
        notices: Arc<SystemNotices>,
        wake: Arc<Notify>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Worker {
            id: format!("w-{}", &crate::crypto::random_id()[..12]),
            db,
            client,
            cipher,
            settings,
            notices,
            wake,
            metrics,
        }
    }

    /// Runs until `stop` is raised, then ends cleanly: claims nothing more, gives
    /// the jobs in flight up to `grace` to finish, cancels the rest and releases
    /// every lease it still holds at once (another instance takes those jobs
    /// without waiting for the lease to expire). Returns how many it released.
    pub async fn run(self: Arc<Self>, mut stop: Stop, grace: Duration) -> u64 {
        let sem = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut running = tokio::task::JoinSet::new();
        tracing::info!(worker = %self.id, concurrency = self.settings.concurrency, "sync worker started");
        while !stop.is_stopped() {
            // Wait until at least one slot is free, then fill the free slots.
            tokio::select! {
                p = sem.clone().acquire_owned() => drop(p),
                _ = stop.stopped() => break,
            }
            while running.try_join_next().is_some() {}
            let free = sem.available_permits();
            let jobs = match queries::claim(&self.db, &self.id, free, self.settings.lease).await {
                Ok((j, took_over)) => {
                    if took_over > 0 {
                        self.metrics.record_takeovers(took_over);
                    }
                    j
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming sync jobs failed");
                    stop.sleep(self.settings.poll_interval).await;
                    continue;
                }
            };
            let full = jobs.len() >= free;
            for job in jobs {
                let permit = match sem.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                };
                let me = self.clone();
                running.spawn(async move {
                    me.run_one(job).await;
                    drop(permit);
                });
            }
            if !full {
                tokio::select! {
                    _ = tokio::time::timeout(self.settings.poll_interval, self.wake.notified()) => {}
                    _ = stop.stopped() => {}
                }
            }
        }
        let in_flight = running.len();
        let drained = tokio::time::timeout(grace, async {
            while running.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !drained {
            running.abort_all();
            while running.join_next().await.is_some() {}
        }
        let released = match queries::release(&self.db, &self.id).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(worker = %self.id, error = %e, "could not release the sync leases; they expire on their own");
                0
            }
        };
        tracing::info!(worker = %self.id, in_flight, drained, released, "sync worker stopped");
        released
    }

    async fn run_one(&self, job: sync_job::Model) {
        let result = self.perform(&job).await;
        // The job's result and the user's state change together (a kill between
        // them must not leave a done job with a pending user).
        let txn = match crate::db::begin_write(&self.db).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(job = job.id, error = %e, "could not record a sync job's result");
                return;
            }
        };
        let stored = match &result {
            Ok(()) => {
                self.notices.set(NOTICE, None);
                queries::finish(&txn, &job, &self.id).await
            }
            Err(e) => {
                let msg = e.to_string();
                let retry = match e {
                    JobError::Llm(l) => l.is_retryable(),
                    JobError::Db(_) => true,
                    JobError::Bad(_) | JobError::Drift(_) => false,
                };
                if let JobError::Llm(LlmError::Transport(t)) = e {
                    tracing::warn!(error = %t, "LiteLLM is unreachable");
                    // A catalogue key: the banner is translated per page.
                    self.notices
                        .set(NOTICE, Some("notice-litellm-unreachable".into()));
                }
                let at = retry.then(|| Utc::now() + self.backoff(job.attempts - 1));
                tracing::warn!(job = job.id, user = %job.user_ref, op = %job.operation, attempt = job.attempts, retry = retry, error = %msg, "sync job failed");
                queries::fail(&txn, &job, &self.id, &msg, at).await
            }
        };
        let stored = match stored {
            Ok(true) => txn.commit().await,
            Ok(false) => {
                // Another run holds the job now (this lease ran out and was
                // taken over): its result, not this one, is the job's.
                let _ = txn.rollback().await;
                self.metrics.record_lease_lost();
                tracing::warn!(job = job.id, user = %job.user_ref, worker = %self.id, attempt = job.attempts, ok = result.is_ok(), "lost the lease of a sync job to a takeover; its result is not recorded");
                return;
            }
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            // The lease expires and another run picks the job up again (idempotent).
            tracing::error!(job = job.id, error = %e, "could not record a sync job's result");
        }
    }

    /// Who a call is about, signed with this worker's ID.
    fn ctx(&self, user_ref: &str, alias: Option<&str>, job_id: Option<i64>) -> CallCtx {
        CallCtx {
            worker: Some(self.id.clone()),
            ..CallCtx::user(user_ref, alias, job_id)
        }
    }

    /// `base * 2^attempts`, capped, then a random point in its upper half.
    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let base = self.settings.base_backoff.as_millis() as u64;
        let cap = self.settings.max_backoff.as_millis() as u64;
        let exp = base
            .saturating_mul(1u64 << attempts.clamp(0, 30))
            .min(cap)
            .max(1);
        let mut b = [0u8; 8];
        rand::fill(&mut b);
        let jitter = u64::from_le_bytes(b) % (exp / 2 + 1);
        chrono::Duration::milliseconds((exp / 2 + jitter) as i64)
    }

    async fn perform(&self, job: &sync_job::Model) -> Result<(), JobError> {
        let op = Op::parse(&job.operation)
            .ok_or_else(|| JobError::Bad(format!("unknown operation {:?}", job.operation)))?;
        let payload: serde_json::Value = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Bad(format!("bad payload: {e}")))?;
        let hash_in = |k: &str| {
            payload
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| JobError::Bad(format!("payload lacks {k}")))
        };
        match op {
            Op::Upsert => {
                let force = payload.get("force").and_then(|v| v.as_bool()) == Some(true);
                self.upsert(job, force).await
            }
            Op::Block => {
                let Some((u, spec)) = queries::desired(&self.db, &job.user_ref).await? else {
                    return Ok(()); // deleted since
                };
                let ctx = self.ctx(&u.user_id, spec.key_alias.as_deref(), Some(job.id));
                // Only `blocked` changes: mama's record of the key follows, so a
                // later (un)block made in LiteLLM itself is seen as drift.
                let record = drift::state_of(&self.db, &u.user_id, &u.key_sha256).await?;
                let state = drift::with_blocked(record.as_ref(), u.blocked);
                if let Some(s) = &state {
                    drift::mark_sending(&self.db, &u.user_id, &u.key_sha256, s).await?;
                }
                match self
                    .client
                    .set_blocked(&u.key_sha256, u.blocked, &ctx)
                    .await
                {
                    Ok(()) => {
                        if let Some(s) = &state {
                            drift::mark_sent(&self.db, &u.user_id, &u.key_sha256, s).await?;
                        }
                        Ok(())
                    }
                    // Not in LiteLLM yet (its first sync failed or waits): create
                    // it with everything, `blocked` included.
                    Err(e) if e.is_not_found() || e.status() == Some(400) => {
                        let full = drift::owned_of_spec(&spec);
                        drift::mark_sending(&self.db, &u.user_id, &u.key_sha256, &full).await?;
                        self.ensure(&u, &spec, &ctx).await?;
                        drift::mark_sent(&self.db, &u.user_id, &u.key_sha256, &full).await?;
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Op::Delete => {
                let h = hash_in("key_sha256")?;
                let ctx = self.ctx(&job.user_ref, None, Some(job.id));
                Ok(self.client.delete(&[h], &ctx).await?)
            }
            Op::Rotate => {
                // The old key still holds the alias (unique in LiteLLM), so: create the
                // new key without it, delete the old key, then give the new one the
                // alias. Each step is safe to repeat after a crash.
                let old = hash_in("old_key_sha256")?;
                let Some((u, spec)) = queries::desired(&self.db, &job.user_ref).await? else {
                    let ctx = self.ctx(&job.user_ref, None, Some(job.id));
                    return Ok(self.client.delete(&[old], &ctx).await?);
                };
                let ctx = self.ctx(&u.user_id, spec.key_alias.as_deref(), Some(job.id));
                if old != u.key_sha256 {
                    let bare = super::KeySpec {
                        key_alias: None,
                        ..spec.clone()
                    };
                    self.ensure(&u, &bare, &ctx).await?;
                    self.client.delete(&[old], &ctx).await?;
                }
                let state = drift::owned_of_spec(&spec);
                drift::mark_sending(&self.db, &u.user_id, &u.key_sha256, &state).await?;
                self.ensure(&u, &spec, &ctx).await?;
                drift::mark_sent(&self.db, &u.user_id, &u.key_sha256, &state).await?;
                Ok(())
            }
        }
    }

    /// Makes LiteLLM's key match the user's current state, unless the key was
    /// changed behind mama's back (see [`drift`]); `force` (an admin chose to
    /// overwrite) skips that check.
    async fn upsert(&self, job: &sync_job::Model, force: bool) -> Result<(), JobError> {
        let Some((u, spec)) = queries::desired(&self.db, &job.user_ref).await? else {
            return Ok(()); // deleted since; its delete job removes the key
        };
        let ctx = self.ctx(&u.user_id, spec.key_alias.as_deref(), Some(job.id));
        let desired = drift::owned_of_spec(&spec);
        // A brand-new key (never synced, first claim of the user's first job) cannot
        // be in LiteLLM yet: create it in one call. Any doubt (a re-claim after a
        // crash, an earlier job) takes the update-then-generate path.
        if job.attempts == 1
            && u.synced_at.is_none()
            && queries::is_first_job_of_user(&self.db, job).await?
        {
            let key = self
                .cipher
                .decrypt(&u.user_id, &u.key_ciphertext, &u.key_sha256)
                .map_err(|e| JobError::Bad(format!("{e}")))?;
            drift::mark_sending(&self.db, &u.user_id, &u.key_sha256, &desired).await?;
            self.client.generate(&key, &spec, &ctx).await?;
            drift::mark_sent(&self.db, &u.user_id, &u.key_sha256, &desired).await?;
            return Ok(());
        }
        let record = drift::state_of(&self.db, &u.user_id, &u.key_sha256).await?;
        let mut converged = false;
        if !force
            && record.is_some()
            && let Some(row) = self.client.info(&u.key_sha256, &ctx).await?
        {
            let current = drift::owned_of_row(&row);
            match drift::judge(record.as_ref(), &current, &desired) {
                // Nothing differs that mama did not cause or does not want: an
                // open drift of this key (if any) is over.
                drift::Verdict::Clean => converged = true,
                drift::Verdict::Drift { fields, expected } => {
                    let txn = crate::db::begin_write(&self.db).await?;
                    drift::record(
                        &txn,
                        &u.user_id,
                        &u.key_sha256,
                        &fields,
                        &expected,
                        &current,
                        Some(job.id),
                    )
                    .await?;
                    txn.commit().await?;
                    tracing::warn!(user = %u.user_id, fields = %fields.join(","), "LiteLLM's key was changed outside mama; write held");
                    return Err(JobError::Drift(fields.join(", ")));
                }
            }
        }
        drift::mark_sending(&self.db, &u.user_id, &u.key_sha256, &desired).await?;
        self.ensure(&u, &spec, &ctx).await?;
        drift::mark_sent(&self.db, &u.user_id, &u.key_sha256, &desired).await?;
        if force || converged {
            let how = if force { "overwritten" } else { "converged" };
            drift::resolve(&self.db, std::slice::from_ref(&u.user_id), how).await?;
        }
        Ok(())
    }

    /// `/key/update` with the full spec; when LiteLLM does not know the key,
    /// `/key/generate` with mama's key value.
    async fn ensure(
        &self,
        u: &crate::entities::user::Model,
        spec: &super::KeySpec,
        ctx: &CallCtx,
    ) -> Result<(), JobError> {
        match self.client.update(&u.key_sha256, spec, ctx).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => {
                let key = self
                    .cipher
                    .decrypt(&u.user_id, &u.key_ciphertext, &u.key_sha256)
                    .map_err(|e| JobError::Bad(format!("{e}")))?;
                self.client.generate(&key, spec, ctx).await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Retries an idle wait: used by tests and tools that want to know when the queue
/// has drained.
pub async fn wait_until_idle(db: &DatabaseConnection, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match queries::status(db).await {
            Ok(s) if s.pending == 0 && s.running == 0 => return true,
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
