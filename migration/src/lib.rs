//! mama's schema, one change per file. This crate never depends on the mama crate.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_admins;
mod m20261122_000002_create_admin_sessions;
mod m20261122_000003_create_login_throttle;
mod m20261122_000004_create_app_state;
mod m20261122_000005_create_users;
mod m20261122_000006_create_services;
mod m20261122_000007_create_user_models;
mod m20261122_000008_create_user_services;
mod m20261122_000009_create_models;
mod m20261122_000010_create_api_clients;
mod m20261122_000011_create_sync_jobs;
mod m20261122_000012_create_audit_events;
mod m20261122_000013_create_audit_targets;
mod m20261122_133700_index_unsealed_audit_events;
mod m20261122_160000_index_users_search;
mod m20261202_024800_add_audit_link_key;
mod m20261202_030000_add_admin_locale;
mod m20261202_030000_audit_targets_watermark;
mod m20261202_040000_create_idempotency_keys;
mod m20261202_100000_add_user_limits;
mod m20261202_110000_create_api_rate_windows;
mod m20261202_110100_create_key_sync_states;
mod m20261202_110200_create_sync_drifts;
mod m20261202_120000_index_users_sort_columns;
mod m20261202_130000_users_sort_indexes;
mod m20261202_140000_create_read_generation;
mod m20261202_150000_audit_targets_runs;
mod m20261203_010000_audit_targets_without_event_key;
mod m20261203_120000_audit_target_chunks;

pub use m20261202_150000_audit_targets_runs::RUN_ROWS as AUDIT_TARGET_RUN_ROWS;

/// The ordered list of migrations.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_admins::Migration),
            Box::new(m20261122_000002_create_admin_sessions::Migration),
            Box::new(m20261122_000003_create_login_throttle::Migration),
            Box::new(m20261122_000004_create_app_state::Migration),
            Box::new(m20261122_000005_create_users::Migration),
            Box::new(m20261122_000006_create_services::Migration),
            Box::new(m20261122_000007_create_user_models::Migration),
            Box::new(m20261122_000008_create_user_services::Migration),
            Box::new(m20261122_000009_create_models::Migration),
            Box::new(m20261122_000010_create_api_clients::Migration),
            Box::new(m20261122_000011_create_sync_jobs::Migration),
            Box::new(m20261122_000012_create_audit_events::Migration),
            Box::new(m20261122_000013_create_audit_targets::Migration),
            Box::new(m20261122_133700_index_unsealed_audit_events::Migration),
            Box::new(m20261122_160000_index_users_search::Migration),
            Box::new(m20261202_024800_add_audit_link_key::Migration),
            Box::new(m20261202_030000_audit_targets_watermark::Migration),
            Box::new(m20261202_040000_create_idempotency_keys::Migration),
            Box::new(m20261202_030000_add_admin_locale::Migration),
            Box::new(m20261202_100000_add_user_limits::Migration),
            Box::new(m20261202_110000_create_api_rate_windows::Migration),
            Box::new(m20261202_110100_create_key_sync_states::Migration),
            Box::new(m20261202_110200_create_sync_drifts::Migration),
            Box::new(m20261202_120000_index_users_sort_columns::Migration),
            Box::new(m20261202_130000_users_sort_indexes::Migration),
            Box::new(m20261202_140000_create_read_generation::Migration),
            Box::new(m20261202_150000_audit_targets_runs::Migration),
            Box::new(m20261203_010000_audit_targets_without_event_key::Migration),
            Box::new(m20261203_120000_audit_target_chunks::Migration),
        ]
    }
}

/// Creates a plain (non-unique) index; the name is derived from table and columns.
pub(crate) fn index<T: Iden + Clone + 'static>(table: T, cols: &[T]) -> IndexCreateStatement {
    let name = format!(
        "idx_{}_{}",
        table.to_string(),
        cols.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("_")
    );
    let mut stmt = Index::create();
    stmt.name(name).table(table).if_not_exists();
    for c in cols {
        stmt.col(c.clone());
    }
    stmt.to_owned()
}

/// Runs `sql` in order on the migration's connection; an error names the statement.
pub(crate) async fn execute_all<S: AsRef<str>>(
    m: &SchemaManager<'_>,
    sql: impl IntoIterator<Item = S>,
) -> Result<(), DbErr> {
    let db = m.get_connection();
    for s in sql {
        let s = s.as_ref();
        db.execute_unprepared(s)
            .await
            .map_err(|e| DbErr::Migration(format!("{s}: {e}")))?;
    }
    Ok(())
}

/// [`execute_all`] with the statements for the connection's backend.
pub(crate) async fn execute_for_backend<S: AsRef<str>>(
    m: &SchemaManager<'_>,
    sqlite: impl IntoIterator<Item = S>,
    postgres: impl IntoIterator<Item = S>,
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::DbBackend;
    match m.get_database_backend() {
        DbBackend::Sqlite => execute_all(m, sqlite).await,
        DbBackend::Postgres => execute_all(m, postgres).await,
        other => Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
    }
}
