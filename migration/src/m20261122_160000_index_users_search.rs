use sea_orm_migration::prelude::*;

/// Trigram indexes for the users search (case-insensitive substring of ID or
/// organisation), so a search reads the matching rows instead of scanning all.
///
/// Both backends keep a `users_search` table beside `users` (ID, user ID and
/// organisation), maintained by triggers, and index that. A separate table
/// because bulk edits bump `users.updated_at` (an indexed column), which
/// re-inserts the row into every index of `users`: trigram indexes on `users`
/// itself made the bulk add of a model to 10,000 users 0.5–1.9 s slower on
/// PostgreSQL. Only creating, renaming and deleting users touch `users_search`.
///
/// - SQLite: an FTS5 `trigram` table (external content over `users`). mama
///   queries it with a phrase `MATCH`, a substring match for needles of three
///   characters or more.
/// - PostgreSQL: a plain table with `pg_trgm` GIN indexes, used by `ILIKE
///   '%…%'`, built with `fastupdate = off`: a pending list of bulk-inserted
///   rows made the planner scan the table until the next vacuum (140 ms
///   instead of 19 ms after seeding 100,000 users). `pg_trgm` is a trusted
///   extension (the database owner may create it); where it cannot be created
///   the migration warns and goes on, and the search scans the narrow table.
#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE IF NOT EXISTS users_search USING fts5(\
     user_id, organisation, content='users', content_rowid='id', tokenize='trigram')",
    "INSERT INTO users_search(users_search) VALUES ('rebuild')",
    "CREATE TRIGGER IF NOT EXISTS users_search_insert AFTER INSERT ON users BEGIN \
     INSERT INTO users_search(rowid, user_id, organisation) VALUES (new.id, new.user_id, new.organisation); \
     END",
    "CREATE TRIGGER IF NOT EXISTS users_search_delete AFTER DELETE ON users BEGIN \
     INSERT INTO users_search(users_search, rowid, user_id, organisation) \
     VALUES ('delete', old.id, old.user_id, old.organisation); \
     END",
    "CREATE TRIGGER IF NOT EXISTS users_search_update AFTER UPDATE OF user_id, organisation ON users BEGIN \
     INSERT INTO users_search(users_search, rowid, user_id, organisation) \
     VALUES ('delete', old.id, old.user_id, old.organisation); \
     INSERT INTO users_search(rowid, user_id, organisation) VALUES (new.id, new.user_id, new.organisation); \
     END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS users_search_update",
    "DROP TRIGGER IF EXISTS users_search_delete",
    "DROP TRIGGER IF EXISTS users_search_insert",
    "DROP TABLE IF EXISTS users_search",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS users_search (\
       id integer PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, \
       user_id varchar(128) NOT NULL, \
       organisation varchar(128) NOT NULL)",
    "INSERT INTO users_search (id, user_id, organisation) \
     SELECT id, user_id, organisation FROM users ON CONFLICT (id) DO NOTHING",
    "CREATE OR REPLACE FUNCTION users_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'INSERT' THEN \
         INSERT INTO users_search (id, user_id, organisation) VALUES (NEW.id, NEW.user_id, NEW.organisation); \
       ELSE \
         UPDATE users_search SET user_id = NEW.user_id, organisation = NEW.organisation WHERE id = NEW.id; \
       END IF; \
       RETURN NULL; \
     END $$",
    "DROP TRIGGER IF EXISTS users_search_insert ON users",
    "CREATE TRIGGER users_search_insert AFTER INSERT ON users \
     FOR EACH ROW EXECUTE FUNCTION users_search_sync()",
    "DROP TRIGGER IF EXISTS users_search_update ON users",
    "CREATE TRIGGER users_search_update AFTER UPDATE OF user_id, organisation ON users \
     FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.organisation IS DISTINCT FROM NEW.organisation) \
     EXECUTE FUNCTION users_search_sync()",
    "DO $$ BEGIN \
       CREATE EXTENSION IF NOT EXISTS pg_trgm; \
     EXCEPTION WHEN OTHERS THEN \
       RAISE WARNING 'pg_trgm is not available (%): the users search will scan users_search', SQLERRM; \
     END $$",
    "DO $$ BEGIN \
       IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
         CREATE INDEX IF NOT EXISTS idx_users_search_user_id_trgm ON users_search USING gin (user_id gin_trgm_ops) WITH (fastupdate = off); \
         CREATE INDEX IF NOT EXISTS idx_users_search_organisation_trgm ON users_search USING gin (organisation gin_trgm_ops) WITH (fastupdate = off); \
       END IF; \
     END $$",
    "ANALYZE users_search",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS users_search_update ON users",
    "DROP TRIGGER IF EXISTS users_search_insert ON users",
    "DROP FUNCTION IF EXISTS users_search_sync()",
    "DROP TABLE IF EXISTS users_search",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(m, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(m, SQLITE_DOWN, POSTGRES_DOWN).await
    }
}
