//! Fetching the model catalogue from LiteLLM (`crate::catalogue` stores it).
use std::sync::Arc;

use super::{client::LiteLlm, worker::NOTICE};
use crate::{catalogue::store, state::SystemNotices};

/// Fetches LiteLLM's models and stores them: seen ones available with `last_seen_at`
/// now, the others kept but marked unavailable. Returns how many are available.
pub async fn refresh(
    client: &LiteLlm,
    db: &sea_orm::DatabaseConnection,
    notices: &Arc<SystemNotices>,
) -> anyhow::Result<usize> {
    let names = match client.models().await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "LiteLLM models could not be fetched");
            // A catalogue key: the banner is translated per page.
            notices.set(NOTICE, Some("notice-litellm-unreachable-models".into()));
            return Err(e.into());
        }
    };
    notices.set(NOTICE, None);
    store(db, &names).await?;
    Ok(names.len())
}
