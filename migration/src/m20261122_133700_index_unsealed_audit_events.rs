use sea_orm_migration::prelude::*;

/// A partial index of the events the chain sealer has yet to seal, so finding
/// them stays instant with millions of sealed events (same SQL on SQLite and
/// PostgreSQL).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_audit_events_unsealed ON audit_events (id) WHERE seq IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_audit_events_unsealed")
            .await?;
        Ok(())
    }
}
