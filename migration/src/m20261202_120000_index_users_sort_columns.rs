use sea_orm_migration::prelude::*;

/// `/users` sorts by `(column, user_id)`; an index on the column alone leaves
/// PostgreSQL sorting whole groups of equal values (three sync states; users
/// imported together share an `updated_at`), and the key hint had no index, so
/// each sort without a search read and sorted all users (PostgreSQL, 100,000
/// users: 45–150 ms). Indexes on `(column, user_id)` let a page walk the sort
/// order and stop. They replace the single-column ones, so a bulk edit, which
/// rewrites `updated_at` and `sync_state`, maintains no more indexes than before
/// except the key hint's, which changes only with the key.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (new index, its columns, the single-column index it replaces)
const INDEXES: [(&str, &str, Option<&str>); 4] = [
    (
        "idx_users_organisation_user_id",
        "organisation, user_id",
        Some("idx_users_organisation"),
    ),
    (
        "idx_users_sync_state_user_id",
        "sync_state, user_id",
        Some("idx_users_sync_state"),
    ),
    (
        "idx_users_updated_at_user_id",
        "updated_at, user_id",
        Some("idx_users_updated_at"),
    ),
    ("idx_users_key_hint_user_id", "key_hint, user_id", None),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for (name, cols, replaces) in INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON users ({cols})"
            ))
            .await?;
            if let Some(old) = replaces {
                db.execute_unprepared(&format!("DROP INDEX IF EXISTS {old}"))
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for (name, cols, replaces) in INDEXES {
            if let Some(old) = replaces {
                let col = cols.split(',').next().unwrap_or(cols);
                db.execute_unprepared(&format!(
                    "CREATE INDEX IF NOT EXISTS {old} ON users ({col})"
                ))
                .await?;
            }
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
