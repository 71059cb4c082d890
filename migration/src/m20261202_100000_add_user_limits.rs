use sea_orm_migration::{prelude::*, schema::*};

/// Per-user limits that travel to LiteLLM with the key (LiteLLM's own field
/// names), the key's blocked flag and expiry, and what the spend refresh last
/// read from LiteLLM (`spend`, `last_active_at`, `spend_refreshed_at`; NULL until
/// the first refresh saw the key).
#[derive(DeriveMigrationName)]
pub struct Migration;

fn columns() -> Vec<ColumnDef> {
    vec![
        double_null(Users::MaxBudget),
        string_len_null(Users::BudgetDuration, 8),
        big_integer_null(Users::RpmLimit),
        big_integer_null(Users::TpmLimit),
        timestamp_with_time_zone_null(Users::ExpiresAt),
        boolean(Users::Blocked).default(false).to_owned(),
        double_null(Users::Spend),
        timestamp_with_time_zone_null(Users::LastActiveAt),
        timestamp_with_time_zone_null(Users::SpendRefreshedAt),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One alteration per statement: SQLite rejects several.
        for mut c in columns() {
            m.alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(&mut c)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for c in [
            Users::SpendRefreshedAt,
            Users::LastActiveAt,
            Users::Spend,
            Users::Blocked,
            Users::ExpiresAt,
            Users::TpmLimit,
            Users::RpmLimit,
            Users::BudgetDuration,
            Users::MaxBudget,
        ] {
            m.alter_table(Table::alter().table(Users::Table).drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    MaxBudget,
    BudgetDuration,
    RpmLimit,
    TpmLimit,
    ExpiresAt,
    Blocked,
    Spend,
    LastActiveAt,
    SpendRefreshedAt,
}
