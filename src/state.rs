//! What every handler and worker shares: the database, settings, the key cipher,
//! system notices and counters. A low module on purpose — features, workers and
//! `startup` import it; it imports nothing of theirs, so no cycle runs through it.
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{config::Settings, crypto::KeyCipher, metrics::Metrics};

/// Shared by every handler.
pub struct AppData {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub cipher: KeyCipher,
    /// Banners every page shows (e.g. "LiteLLM is not configured").
    pub notices: Arc<SystemNotices>,
    pub metrics: Arc<Metrics>,
}

/// Process-wide conditions admins must see on every page, keyed by topic.
#[derive(Debug, Default)]
pub struct SystemNotices(std::sync::RwLock<std::collections::BTreeMap<&'static str, String>>);

impl SystemNotices {
    /// Sets (`Some`) or clears (`None`) the notice about `topic`.
    pub fn set(&self, topic: &'static str, text: Option<String>) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        match text {
            Some(t) => map.insert(topic, t),
            None => map.remove(topic),
        };
    }
    pub fn list(&self) -> Vec<String> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
