//! Everything about the LiteLLM proxy: mama-made keys, the outbox of changes
//! LiteLLM must learn of, the typed client, the sync worker, the model catalogue,
//! reconcile, and the `/sync` and `/models` pages.
pub mod cli;
pub mod client;
pub mod drift;
mod handlers;
pub mod keys;
pub mod models;
pub mod outbox;
pub mod queries;
pub mod reconcile;
pub mod spend;
pub mod sync_state;
pub mod worker;

use std::sync::Arc;

use actix_web::web;
use serde_json::json;
use tokio::sync::Notify;

use crate::{entities::user, shutdown::Stop, state::AppData};

pub use client::{KeySpec, LiteLlm, LlmError};

/// The `metadata.managed_by` marker on every key mama makes.
pub const MANAGED_BY: &str = "mama";

/// The key LiteLLM should hold for `u`, given its sorted models and service names.
pub fn spec(u: &user::Model, models: Vec<String>, services: Vec<String>) -> KeySpec {
    KeySpec {
        key_alias: u.key_alias.clone(),
        models,
        user_id: u.user_id.clone(),
        metadata: json!({
            "organisation": u.organisation,
            "services": services,
            "extra": u.extra,
            "managed_by": MANAGED_BY,
        }),
        max_budget: u.max_budget,
        budget_duration: u.budget_duration.clone(),
        rpm_limit: u.rpm_limit,
        tpm_limit: u.tpm_limit,
        expires_at: u.expires_at,
        blocked: u.blocked,
    }
}

/// The client, when LiteLLM is configured.
pub fn client(data: &AppData) -> Option<LiteLlm> {
    let s = data.settings.litellm.as_ref()?;
    match LiteLlm::new(s, data.db.clone()) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the LiteLLM client");
            None
        }
    }
}

/// The tasks [`start`] spawned.
#[derive(Default)]
pub struct Started {
    /// The sync worker; answers how many leases it released when stopped.
    pub worker: Option<tokio::task::JoinHandle<u64>>,
    /// The spend and model refreshers.
    pub loops: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

/// Starts the sync worker, the spend refresher and the model refresher (when
/// LiteLLM is configured), or raises the "not configured" banner. Called once by
/// `Application::build`. All end when `stop` is raised; the worker's handle
/// (when it runs) answers how many leases it released, after at most `grace`
/// for the jobs in flight.
pub fn start(data: &web::Data<AppData>, stop: Stop, grace: std::time::Duration) -> Started {
    let Some(client) = client(data) else {
        data.notices.set(
            worker::NOTICE,
            // A catalogue key: the banner is translated per page.
            Some("notice-litellm-unconfigured".into()),
        );
        return Started::default();
    };
    let sync = data.settings.sync.clone();
    let worker = sync.worker_enabled.then(|| {
        let w = Arc::new(worker::Worker::new(
            data.db.clone(),
            client.clone(),
            data.cipher.clone(),
            sync.clone(),
            data.notices.clone(),
            Arc::new(Notify::new()),
            data.metrics.clone(),
        ));
        tokio::spawn(w.run(stop.clone(), grace))
    });
    let mut loops = vec![];
    if !sync.spend_refresh.is_zero() {
        loops.push((
            "spend refresher",
            tokio::spawn(spend::run_until_stopped(
                client.clone(),
                data.db.clone(),
                sync.spend_refresh,
                stop.clone(),
            )),
        ));
    }
    let (db, notices) = (data.db.clone(), data.notices.clone());
    let mut stop = stop;
    let models = tokio::spawn(async move {
        let every = sync.models_refresh.max(std::time::Duration::from_secs(1));
        loop {
            // Cut at the stop like the spend refresher: the catalogue is
            // LiteLLM's and read again at the next start.
            let pass = tokio::select! {
                r = models::refresh(&client, &db, &notices) => r,
                _ = stop.stopped() => return,
            };
            if let Err(e) = pass {
                tracing::warn!(error = %e, "model catalogue refresh failed; keeping the last known list");
            }
            if stop.sleep(every).await {
                return;
            }
        }
    });
    loops.push(("model refresher", models));
    Started { worker, loops }
}

crate::route_table! {
    prefix: "";
    Manager {
        GET "/sync" => handlers::sync_page, SyncView;
        GET "/sync/status" => handlers::sync_status, SyncView;
        POST "/sync/retry" => handlers::retry_all, SyncRetry;
        GET "/sync/reconcile" => handlers::reconcile_page, SyncReconcile;
        POST "/sync/reconcile" => handlers::reconcile_repair, SyncReconcile;
        POST "/sync/drift/{id}/overwrite" => handlers::drift_overwrite, SyncDriftResolve;
        GET "/models" => handlers::models_page, ModelList;
        POST "/models/refresh" => handlers::models_refresh, ModelRefresh;
    }
}

/// `/sync…` and `/models…`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    register(cfg);
}
