use sea_orm_migration::prelude::*;

/// From here on the `audit_targets` index is filled by a background indexer up to
/// a watermark (the last indexed chain `seq`), no longer inline with each event.
/// Every event that exists now was indexed inline, so the watermark starts at the
/// chain's head; unsealed events get a seq later and are indexed again harmlessly
/// (the indexer ignores rows it already has).
#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "audit.targets.indexed_seq";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let now = match m.get_database_backend() {
            sea_orm::DbBackend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            _ => "CURRENT_TIMESTAMP",
        };
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO app_state (name, value, updated_at) \
                 SELECT '{NAME}', CAST(COALESCE(MAX(seq), 0) AS TEXT), {now} FROM audit_events \
                 WHERE NOT EXISTS (SELECT 1 FROM app_state WHERE name = '{NAME}')"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(&format!("DELETE FROM app_state WHERE name = '{NAME}'"))
            .await?;
        Ok(())
    }
}
