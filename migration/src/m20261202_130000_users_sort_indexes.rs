use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// `/users` sorted by models, services, spend, alias, budget or share walks an
/// index and stops after the page (PostgreSQL, 100,000 users: 96–358 ms before,
/// each of them read and sorted every user).
///
/// - `user_grant_counts`: per user (same `id`, a copy of `user_id` for the
///   tie-break) the number of its rows in `user_models` / `user_services`, kept
///   exact by the database itself (triggers on insert, delete and a change of
///   `user_id` there, on insert and rename of users; deleted with the user), so
///   every write path (bulk, dialog, API, CLI, spec apply, cascade deletes)
///   keeps them right. A narrow table of its own, not columns of `users`: a
///   count changes on every grant edit, and a changed indexed column of `users`
///   re-inserts the row into each of its ~15 indexes (PostgreSQL, bulk add of a
///   model to 10,000 users: +1.25 s measured), here into three. SQLite: row
///   triggers. PostgreSQL: statement triggers with transition tables, one
///   `UPDATE … FROM (… GROUP BY user_id)` per statement. Backfilled here.
///   Indexed as `(count, user_id)`.
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
const INDEXES: [(&str, &str, &str); 6] = [
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

const COUNTS_TABLE: &str = "CREATE TABLE IF NOT EXISTS user_grant_counts (\
     id integer PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, \
     user_id varchar(128) NOT NULL, \
     model_count integer NOT NULL DEFAULT 0, \
     service_count integer NOT NULL DEFAULT 0)";

const BACKFILL: &str = "INSERT INTO user_grant_counts (id, user_id, model_count, service_count) \
     SELECT id, user_id, \
     (SELECT COUNT(*) FROM user_models um WHERE um.user_id = users.id), \
     (SELECT COUNT(*) FROM user_services us WHERE us.user_id = users.id) FROM users";

const COUNT_INDEXES: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS idx_user_grant_counts_models ON user_grant_counts (model_count, user_id)",
    "CREATE INDEX IF NOT EXISTS idx_user_grant_counts_services ON user_grant_counts (service_count, user_id)",
];

/// (grant table, count column)
const COUNTED: [(&str, &str); 2] = [
    ("user_models", "model_count"),
    ("user_services", "service_count"),
];

fn sqlite_up() -> Vec<String> {
    let mut v = vec![COUNTS_TABLE.to_string(), BACKFILL.to_string()];
    v.push(
        "CREATE TRIGGER IF NOT EXISTS user_grant_counts_user_insert AFTER INSERT ON users BEGIN \
         INSERT INTO user_grant_counts (id, user_id) VALUES (new.id, new.user_id); END"
            .into(),
    );
    v.push(
        "CREATE TRIGGER IF NOT EXISTS user_grant_counts_user_rename AFTER UPDATE OF user_id ON users \
         WHEN old.user_id IS NOT new.user_id BEGIN \
         UPDATE user_grant_counts SET user_id = new.user_id WHERE id = new.id; END"
            .into(),
    );
    for (t, c) in COUNTED {
        v.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {t}_count_insert AFTER INSERT ON {t} BEGIN \
             UPDATE user_grant_counts SET {c} = {c} + 1 WHERE id = new.user_id; END"
        ));
        v.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {t}_count_delete AFTER DELETE ON {t} BEGIN \
             UPDATE user_grant_counts SET {c} = {c} - 1 WHERE id = old.user_id; END"
        ));
        v.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {t}_count_update AFTER UPDATE OF user_id ON {t} \
             WHEN old.user_id IS NOT new.user_id BEGIN \
             UPDATE user_grant_counts SET {c} = {c} - 1 WHERE id = old.user_id; \
             UPDATE user_grant_counts SET {c} = {c} + 1 WHERE id = new.user_id; END"
        ));
    }
    v
}

fn postgres_up() -> Vec<String> {
    let mut v = vec![COUNTS_TABLE.to_string(), BACKFILL.to_string()];
    v.push(
        "CREATE OR REPLACE FUNCTION user_grant_counts_user_insert() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO user_grant_counts (id, user_id) SELECT id, user_id FROM new_rows; \
         RETURN NULL; END $$"
            .into(),
    );
    v.push("DROP TRIGGER IF EXISTS user_grant_counts_user_insert ON users".into());
    v.push(
        "CREATE TRIGGER user_grant_counts_user_insert AFTER INSERT ON users \
         REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT \
         EXECUTE FUNCTION user_grant_counts_user_insert()"
            .into(),
    );
    v.push(
        "CREATE OR REPLACE FUNCTION user_grant_counts_user_rename() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
         UPDATE user_grant_counts SET user_id = NEW.user_id WHERE id = NEW.id; \
         RETURN NULL; END $$"
            .into(),
    );
    v.push("DROP TRIGGER IF EXISTS user_grant_counts_user_rename ON users".into());
    v.push(
        "CREATE TRIGGER user_grant_counts_user_rename AFTER UPDATE OF user_id ON users \
         FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id) \
         EXECUTE FUNCTION user_grant_counts_user_rename()"
            .into(),
    );
    for (t, c) in COUNTED {
        // One function per table and event: the change per user of the
        // statement's rows, applied in one UPDATE.
        let delta = |sql: &str| {
            format!(
                "UPDATE user_grant_counts g SET {c} = g.{c} + d.n \
                 FROM ({sql}) d WHERE g.id = d.user_id AND d.n <> 0"
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
    let mut v = vec![
        "DROP TRIGGER IF EXISTS user_grant_counts_user_insert".to_string(),
        "DROP TRIGGER IF EXISTS user_grant_counts_user_rename".to_string(),
    ];
    for (t, _) in COUNTED {
        for what in ["insert", "delete", "update"] {
            v.push(format!("DROP TRIGGER IF EXISTS {t}_count_{what}"));
        }
    }
    v
}

fn postgres_down() -> Vec<String> {
    let mut v = vec![];
    for what in ["insert", "rename"] {
        v.push(format!(
            "DROP TRIGGER IF EXISTS user_grant_counts_user_{what} ON users"
        ));
        v.push(format!(
            "DROP FUNCTION IF EXISTS user_grant_counts_user_{what}()"
        ));
    }
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
        sql.extend(COUNT_INDEXES.iter().map(|s| String::from(*s)));
        if backend == DbBackend::Postgres {
            sql.push("ANALYZE users".into());
            sql.push("ANALYZE user_grant_counts".into());
        }
        crate::execute_all(m, sql).await
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
        sql.push("DROP TABLE IF EXISTS user_grant_counts".into());
        crate::execute_all(m, sql).await
    }
}
