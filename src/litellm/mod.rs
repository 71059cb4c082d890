//! Everything about the LiteLLM proxy: mama-made keys, the outbox of changes
//! LiteLLM must learn of, (and, built on these: the typed client, the sync worker,
//! the model catalogue, reconcile).
pub mod keys;
pub mod outbox;
