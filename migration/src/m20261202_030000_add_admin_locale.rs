use sea_orm_migration::prelude::*;

/// Each admin's language (`ko`, `en`) and time zone (IANA name); NULL follows the
/// browser and the installation's defaults.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One alteration per statement: SQLite rejects several.
        m.alter_table(
            Table::alter()
                .table(Admins::Table)
                .add_column(ColumnDef::new(Admins::Language).string_len(8).null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Admins::Table)
                .add_column(ColumnDef::new(Admins::TimeZone).string_len(64).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Admins::Table)
                .drop_column(Admins::TimeZone)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Admins::Table)
                .drop_column(Admins::Language)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Admins {
    Table,
    Language,
    TimeZone,
}
