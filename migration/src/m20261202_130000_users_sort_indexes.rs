use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// `/users` sorted by models, services, spend, alias, budget or share walks an
/// index and stops after the page (PostgreSQL, 100,000 users: 96–358 ms before,
/// each of them read and sorted every user).
///
/// - `users.model_count` and `users.service_count`: the number of rows of the
///   user in `user_models` / `user_services`, kept exact by the database itself
///   (triggers on insert, delete and a change of `user_id`), so every write path
///   (bulk, dialog, API, CLI, spec apply, cascade deletes) keeps them right.
///   SQLite: row triggers. PostgreSQL: statement triggers with transition
///   tables, one `UPDATE … FROM (… GROUP BY user_id)` per statement, so a bulk
///   add to 10,000 users updates each user once, not once per row trigger call.
///   Backfilled here. Indexed as `(count, user_id)`.
/// - Spend sorts by `COALESCE(spend, 0)`: an expression index with `user_id`.
/// - Alias, budget and share put the users without an alias / a budget last in
///   both directions, which no single index order gives; the list reads them
///   as two index walks (with, then without), each on a partial index: `(key_alias,
///   user_id)` where set and `(user_id)` where not, `(max_budget, user_id)` and
///   the share expression with `user_id` where a budget is set, `(user_id)`
///   where none is.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, columns, partial index predicate)
const INDEXES: [(&str, &str, &str); 8] = [
    ("idx_users_model_count_user_id", "model_count, user_id", ""),
    (
        "idx_users_service_count_user_id",
        "service_count, user_id",
        "",
    ),
    (
        "idx_users_spend_user_id",
        "(COALESCE(spend, 0)), user_id",
        "",
    ),
    (
        "idx_users_alias_set",
        "key_alias, user_id",
        "key_alias IS NOT NULL",
    ),
    ("idx_users_alias_unset", "user_id", "key_alias IS NULL"),
    (
        "idx_users_budget_set",
        "max_budget, user_id",
        "max_budget IS NOT NULL",
    ),
    (
        "idx_users_share_set",
        "(CASE WHEN max_budget > 0 THEN COALESCE(spend, 0) / max_budget END), user_id",
        "max_budget IS NOT NULL",
    ),
    ("idx_users_budget_unset", "user_id", "max_budget IS NULL"),
];

const BACKFILL: &str = "UPDATE users SET \
     model_count = (SELECT COUNT(*) FROM user_models um WHERE um.user_id = users.id), \
     service_count = (SELECT COUNT(*) FROM user_services us WHERE us.user_id = users.id)";

/// (grant table, count column)
const COUNTED: [(&str, &str); 2] = [
    ("user_models", "model_count"),
    ("user_services", "service_count"),
];

fn sqlite_up() -> Vec<String> {
    let mut v = vec![
        "ALTER TABLE users ADD COLUMN model_count integer NOT NULL DEFAULT 0".to_string(),
        "ALTER TABLE users ADD COLUMN service_count integer NOT NULL DEFAULT 0".to_string(),
        BACKFILL.to_string(),
    ];
    for (t, c) in COUNTED {
        v.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {t}_count_insert AFTER INSERT ON {t} BEGIN \
             UPDATE users SET {c} = {c} + 1 WHERE id = new.user_id; END"
        ));
        v.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {t}_count_delete AFTER DELETE ON {t} BEGIN \
             UPDATE users SET {c} = {c} - 1 WHERE id = old.user_id; END"
        ));
        v.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {t}_count_update AFTER UPDATE OF user_id ON {t} \
             WHEN old.user_id IS NOT new.user_id BEGIN \
             UPDATE users SET {c} = {c} - 1 WHERE id = old.user_id; \
             UPDATE users SET {c} = {c} + 1 WHERE id = new.user_id; END"
        ));
    }
    v
}

fn postgres_up() -> Vec<String> {
    let mut v = vec![
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS model_count integer NOT NULL DEFAULT 0"
            .to_string(),
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS service_count integer NOT NULL DEFAULT 0"
            .to_string(),
        BACKFILL.to_string(),
    ];
    for (t, c) in COUNTED {
        // One function per table and event: the change per user of the
        // statement's rows, applied in one UPDATE.
        let delta = |sql: &str| {
            format!(
                "UPDATE users u SET {c} = u.{c} + d.n \
                 FROM ({sql}) d WHERE u.id = d.user_id AND d.n <> 0"
            )
        };
        let bodies = [
            (
                "insert",
                "INSERT",
                "REFERENCING NEW TABLE AS new_rows",
                delta("SELECT user_id, COUNT(*) AS n FROM new_rows GROUP BY user_id"),
            ),
            (
                "delete",
                "DELETE",
                "REFERENCING OLD TABLE AS old_rows",
                delta("SELECT user_id, -COUNT(*) AS n FROM old_rows GROUP BY user_id"),
            ),
            (
                "update",
                "UPDATE",
                "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
                delta(
                    "SELECT user_id, SUM(n) AS n FROM (\
                     SELECT user_id, 1 AS n FROM new_rows \
                     UNION ALL SELECT user_id, -1 AS n FROM old_rows) x GROUP BY user_id",
                ),
            ),
        ];
        for (what, event, referencing, body) in bodies {
            v.push(format!(
                "CREATE OR REPLACE FUNCTION {t}_count_{what}() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$"
            ));
            v.push(format!("DROP TRIGGER IF EXISTS {t}_count_{what} ON {t}"));
            v.push(format!(
                "CREATE TRIGGER {t}_count_{what} AFTER {event} ON {t} {referencing} \
                 FOR EACH STATEMENT EXECUTE FUNCTION {t}_count_{what}()"
            ));
        }
    }
    v
}

fn sqlite_down() -> Vec<String> {
    let mut v = vec![];
    for (t, _) in COUNTED {
        for what in ["insert", "delete", "update"] {
            v.push(format!("DROP TRIGGER IF EXISTS {t}_count_{what}"));
        }
    }
    v
}

fn postgres_down() -> Vec<String> {
    let mut v = vec![];
    for (t, _) in COUNTED {
        for what in ["insert", "delete", "update"] {
            v.push(format!("DROP TRIGGER IF EXISTS {t}_count_{what} ON {t}"));
            v.push(format!("DROP FUNCTION IF EXISTS {t}_count_{what}()"));
        }
    }
    v
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let mut sql = match backend {
            DbBackend::Sqlite => sqlite_up(),
            DbBackend::Postgres => postgres_up(),
            other => return Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
        };
        for (name, cols, partial) in INDEXES {
            let mut s = format!("CREATE INDEX IF NOT EXISTS {name} ON users ({cols})");
            if !partial.is_empty() {
                s.push_str(" WHERE ");
                s.push_str(partial);
            }
            sql.push(s);
        }
        if backend == DbBackend::Postgres {
            sql.push("ANALYZE users".into());
        }
        for s in sql {
            db.execute_unprepared(&s).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let mut sql = match db.get_database_backend() {
            DbBackend::Sqlite => sqlite_down(),
            _ => postgres_down(),
        };
        for (name, _, _) in INDEXES {
            sql.push(format!("DROP INDEX IF EXISTS {name}"));
        }
        sql.push("ALTER TABLE users DROP COLUMN service_count".into());
        sql.push("ALTER TABLE users DROP COLUMN model_count".into());
        for s in sql {
            db.execute_unprepared(&s).await?;
        }
        Ok(())
    }
}
