use sea_orm_migration::prelude::*;

/// A counter that every change to what the key lookup answers moves forward, so
/// an instance may keep lookup answers in memory and know, with one
/// primary-key read, whether they are still current (`api::lookup_cache`).
///
/// `read_generation` holds one row (`id = 1`). Triggers on `users`,
/// `user_models`, `user_services` and `services` (insert, update, delete) raise
/// `n` in the same transaction as the change, so the new number becomes
/// visible exactly when the change does, whichever process wrote it (an
/// instance, another instance, the CLI, an operator's SQL).
///
/// - SQLite: one row trigger per table and operation. SQLite has one writer at
///   a time, so the counter row cannot deadlock; a 10,000-row bulk edit raises
///   it 10,000 times in memory within its transaction.
/// - PostgreSQL: deferred constraint triggers, which run at commit, and raise
///   the counter once per transaction (a transaction-local setting remembers
///   it). Taking the counter row's lock at commit, after every other row lock of
///   the transaction, keeps lock order the same in every transaction: writers
///   queue on it for the duration of a commit but cannot deadlock on it. The
///   counter is raised under that lock, so its values follow commit order.
#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 4] = ["users", "user_models", "user_services", "services"];
const OPS: [&str; 3] = ["insert", "update", "delete"];

fn sqlite_up() -> Vec<String> {
    let mut sql = vec![
        "CREATE TABLE IF NOT EXISTS read_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL)"
            .to_string(),
        "INSERT OR IGNORE INTO read_generation (id, n) VALUES (1, 1)".to_string(),
    ];
    for t in TABLES {
        for op in OPS {
            sql.push(format!(
                "CREATE TRIGGER IF NOT EXISTS read_generation_{t}_{op} AFTER {} ON {t} BEGIN \
                 UPDATE read_generation SET n = n + 1 WHERE id = 1; END",
                op.to_uppercase()
            ));
        }
    }
    sql
}

fn sqlite_down() -> Vec<String> {
    let mut sql = vec![];
    for t in TABLES {
        for op in OPS {
            sql.push(format!("DROP TRIGGER IF EXISTS read_generation_{t}_{op}"));
        }
    }
    sql.push("DROP TABLE IF EXISTS read_generation".to_string());
    sql
}

fn postgres_up() -> Vec<String> {
    let mut sql = vec![
        "CREATE TABLE IF NOT EXISTS read_generation (id integer PRIMARY KEY CHECK (id = 1), n bigint NOT NULL)"
            .to_string(),
        "INSERT INTO read_generation (id, n) VALUES (1, 1) ON CONFLICT (id) DO NOTHING".to_string(),
        "CREATE OR REPLACE FUNCTION read_generation_raise() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF current_setting('mama.read_generation_raised', true) IS DISTINCT FROM 'yes' THEN \
             UPDATE read_generation SET n = n + 1 WHERE id = 1; \
             PERFORM set_config('mama.read_generation_raised', 'yes', true); \
           END IF; \
           RETURN NULL; \
         END $$"
            .to_string(),
    ];
    for t in TABLES {
        sql.push(format!("DROP TRIGGER IF EXISTS read_generation_{t} ON {t}"));
        sql.push(format!(
            "CREATE CONSTRAINT TRIGGER read_generation_{t} AFTER INSERT OR UPDATE OR DELETE ON {t} \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION read_generation_raise()"
        ));
    }
    sql
}

fn postgres_down() -> Vec<String> {
    let mut sql = vec![];
    for t in TABLES {
        sql.push(format!("DROP TRIGGER IF EXISTS read_generation_{t} ON {t}"));
    }
    sql.push("DROP FUNCTION IF EXISTS read_generation_raise()".to_string());
    sql.push("DROP TABLE IF EXISTS read_generation".to_string());
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(m, sqlite_up(), postgres_up()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(m, sqlite_down(), postgres_down()).await
    }
}
