//! Group commit of audit events: one writer per instance.
//!
//! Reads (lookups, pages) hand their event to the writer and wait. The writer
//! takes every event that is waiting (up to a bounded batch), stores them with
//! multi-row INSERTs in one transaction, commits once (one fsync for the whole
//! batch), and only then tells each request whether its event is stored. A
//! request answers only after that; if the batch fails, every request in it
//! answers 503 and no key leaves mama.
//!
//! At low load nothing waits: a lone event is committed at once, and the events
//! that arrive while a commit runs form the next batch. An optional extra wait
//! (`MAMA_AUDIT_BATCH_WAIT_US`, default 0) trades latency for bigger batches.
//!
//! On SQLite the writer also seals its events as it stores them (ids, chain
//! positions and links, [`super::chain::insert_sealed`]), in the same
//! transaction; on PostgreSQL the sealer does, later.
//!
//! Writes that must commit together with their event (user edits) do not come
//! here: they call [`super::insert`] in their own transaction.
use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};

use super::{Event, chain::AuditKeys};
use crate::metrics::Metrics;

/// The largest batch a writer may be configured with.
pub const MAX_BATCH_LIMIT: usize = 5_000;
/// The longest extra wait a writer may be configured with.
pub const MAX_WAIT_LIMIT: Duration = Duration::from_millis(10);
/// Events that may wait for the writer before `store` itself waits (backpressure).
const QUEUE: usize = 8_192;

/// Why an event was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the audit batch could not be committed: {0}")]
    Batch(String),
    #[error("the audit writer is not running")]
    Stopped,
}

struct Job {
    /// `None`: a flush marker, answered once everything queued before it committed.
    event: Option<Event>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle requests use to store their event.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Starts the writer task on the current runtime.
    /// Its batches are counted in `metrics`.
    pub fn spawn(
        db: DatabaseConnection,
        keys: AuditKeys,
        max_batch: usize,
        wait: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let max_batch = max_batch.clamp(1, MAX_BATCH_LIMIT);
        let wait = wait.min(MAX_WAIT_LIMIT);
        tokio::spawn(run(db, keys, rx, max_batch, wait, metrics));
        AuditWriter { tx }
    }

    /// Stores `event` durably: returns once the batch holding it has committed.
    pub async fn store(&self, event: Event) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job {
                event: Some(event),
                done,
            })
            .await
            .map_err(|_| StoreError::Stopped)?;
        wait.await.map_err(|_| StoreError::Stopped)?
    }

    /// Returns once every event handed to the writer before this call is
    /// committed (or its batch failed): a stopping instance calls it last.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job { event: None, done })
            .await
            .map_err(|_| StoreError::Stopped)?;
        wait.await.map_err(|_| StoreError::Stopped)?
    }
}

async fn run(
    db: DatabaseConnection,
    keys: AuditKeys,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    wait: Duration,
    metrics: Arc<Metrics>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if !wait.is_zero() && batch.len() < max_batch {
            let deadline = tokio::time::Instant::now() + wait;
            while batch.len() < max_batch {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    _ => break,
                }
            }
        }
        let events = batch.iter().filter(|j| j.event.is_some()).count();
        let result = if events == 0 {
            Ok(())
        } else {
            commit(&db, &keys, &batch).await
        };
        if events > 0 {
            metrics.record_audit_batch(events, result.is_ok());
        }
        match &result {
            Ok(()) => {}
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "audit batch failed; its requests answer 503");
            }
        }
        for job in batch.drain(..) {
            let _ = job.done.send(result.clone());
        }
    }
}

async fn commit(
    db: &DatabaseConnection,
    keys: &AuditKeys,
    batch: &[Job],
) -> Result<(), StoreError> {
    let err = |e: sea_orm::DbErr| StoreError::Batch(e.to_string());
    let events: Vec<&Event> = batch.iter().filter_map(|j| j.event.as_ref()).collect();
    let txn = crate::db::begin_write(db).await.map_err(err)?;
    if !super::chain::insert_sealed(&txn, keys, &events)
        .await
        .map_err(err)?
    {
        super::event::insert_many(&txn, &events)
            .await
            .map_err(err)?;
    }
    txn.commit().await.map_err(err)
}
