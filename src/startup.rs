//! `Application::build(Settings)`: connect, migrate, seed, wire the scopes, bind.
use std::{net::TcpListener, sync::Arc};

use actix_session::{
    SessionMiddleware, config::CookieContentSecurity, storage::CookieSessionStore,
};
use actix_web::{
    App, HttpRequest, HttpServer,
    cookie::{Key, SameSite},
    dev::Server,
    middleware::from_fn,
    web,
};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

use crate::{
    admins, api, api_clients, audit,
    config::Settings,
    crypto::KeyCipher,
    db,
    error::AppError,
    health,
    state::{AppData, SystemNotices},
    users, web as ui,
};

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    pub db: DatabaseConnection,
    /// Raised when the instance stops; the background loops listen to it.
    stop: crate::shutdown::Trigger,
    /// The sync worker (answers how many leases it released when stopped).
    worker: Option<tokio::task::JoinHandle<u64>>,
    /// The loops that end when `stop` is raised (purgers, spend and model refreshers).
    loops: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
    /// Raised after the audit writer's last flush: the sealer's last pass.
    seal_stop: crate::shutdown::Trigger,
    sealer: tokio::task::JoinHandle<()>,
    indexer: tokio::task::JoinHandle<()>,
    writer: audit::AuditWriter,
    shutdown_timeout: std::time::Duration,
}

impl Application {
    /// Connects, migrates (unless disabled), seeds the super admin once, binds.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        if settings.migrate_on_start {
            db::migrate_up(&settings.database_url).await?;
        }
        let conn = db::connect_with(
            &settings.database_url,
            db::PoolTuning {
                max_connections: settings.db_max_connections,
                sqlite_cache_kib: settings.sqlite_cache_kib,
                synchronous_full: settings.sqlite_synchronous_full,
                statement_cache: settings.db_statement_cache,
            },
        )
        .await?;
        let secrets = &settings.secrets;
        db::with_migration_lock(&settings.database_url, |c| async move {
            admins::seed::seed_super_admin(&c, secrets)
                .await
                .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))
        })
        .await?;
        admins::password::warm_up();
        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        tracing::info!(address = %listener.local_addr()?, database = %settings.database_url.redacted(), "mama listening");
        let data = web::Data::new(AppData {
            db: conn.clone(),
            cipher: KeyCipher::from_secrets(&settings.secrets),
            notices: Arc::new(SystemNotices::default()),
            metrics: Arc::new(crate::metrics::Metrics::default()),
            settings: Arc::new(settings),
        });
        data.metrics.set_route_groups(
            route_table()
                .iter()
                .map(|r| (r.action.as_str(), r.access.metric_group())),
        );
        let (stop, listener_stop) = crate::shutdown::channel();
        let shutdown_timeout = data.settings.shutdown_timeout;
        // Jobs in flight get part of the budget; the leases of the rest are
        // released at once so another instance continues them.
        let started = crate::litellm::start(&data, listener_stop.clone(), shutdown_timeout * 2 / 5);
        let worker = started.worker;
        let mut loops = started.loops;
        let (seal_stop, sealer_stop) = crate::shutdown::channel();
        let sealer = audit::chain::spawn_sealer(
            conn.clone(),
            audit::chain::AuditKeys::from_secrets(&data.settings.secrets),
            audit::checkpoint::Checkpointer::from_settings(&data.settings),
            data.settings.audit_seal_interval,
            sealer_stop,
        );
        loops.push((
            "session purger",
            admins::spawn_purger(conn.clone(), data.settings.clone(), listener_stop.clone()),
        ));
        loops.push((
            "idempotency purger",
            api::spawn_idempotency_purger(
                conn.clone(),
                &data.settings.security,
                listener_stop.clone(),
            ),
        ));
        // On SQLite the indexer has a connection of its own whose commits do not
        // sync the WAL: the index is derived from the sealed events and its
        // watermark commits with its rows, so a commit lost to a power cut is
        // redone; each is made durable by the next audit batch's sync anyway.
        // Its pass then holds the write lock the audit batches need for its
        // inserts only, not for an fsync as well.
        let index_db = db::connect_unsynced(
            &data.settings.database_url,
            data.settings.sqlite_cache_kib,
            data.settings.db_statement_cache,
        )
        .await?
        .unwrap_or_else(|| conn.clone());
        let indexer = audit::indexer::spawn_indexer(
            index_db,
            audit::indexer::Pace {
                every: data.settings.audit_index_interval,
                max_wait: data.settings.audit_index_max_wait,
                max_events: data.settings.audit_index_batch_events,
                max_rows: data.settings.audit_index_batch_rows,
            },
            listener_stop.clone(),
        );
        let writer = audit::AuditWriter::spawn(
            conn.clone(),
            audit::chain::AuditKeys::from_secrets(&data.settings.secrets),
            data.settings.audit_batch_max,
            data.settings.audit_batch_wait,
            data.metrics.clone(),
        );
        // The key lookup's answers, checked against the read generation per call.
        let lookup_cache = std::sync::Arc::new(api::lookup_cache::LookupCache::new(
            data.settings.lookup_cache_users,
            data.metrics.clone(),
        ));
        if let Some(every) = data.settings.lookup_cache_preload {
            loops.push((
                "lookup cache preloader",
                api::lookup_cache::spawn_preloader(
                    conn.clone(),
                    data.cipher.clone(),
                    lookup_cache.clone(),
                    every,
                    listener_stop,
                ),
            ));
        }
        let server = build_server(listener, data, writer.clone(), lookup_cache)?;
        Ok(Application {
            port,
            server,
            db: conn,
            stop,
            worker,
            loops,
            seal_stop,
            sealer,
            indexer,
            writer,
            shutdown_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped (tests: until the runtime ends).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Serves until SIGTERM or SIGINT, then stops gracefully within
    /// `MAMA_SHUTDOWN_TIMEOUT_SECONDS`: the listener closes, requests in flight are
    /// answered, the sync worker claims nothing more and releases its leases
    /// (after a short grace for the jobs it is running), the indexer, the model
    /// and spend refreshers and the session and idempotency purgers stop between
    /// passes, the audit writer's last batch is committed, and then the chain
    /// sealer makes its last pass (so every event is sealed) and stops. Each wait
    /// is bounded by the same deadline.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let Application {
            server,
            stop,
            worker,
            loops,
            seal_stop,
            sealer,
            indexer,
            writer,
            shutdown_timeout,
            ..
        } = self;
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let signal = tokio::select! {
            r = &mut server => return r.map_err(std::io::Error::other)?,
            s = crate::shutdown::signal() => s,
        };
        let started = tokio::time::Instant::now();
        let deadline = started + shutdown_timeout;
        tracing::info!(
            signal,
            timeout_secs = shutdown_timeout.as_secs(),
            "stopping: no new requests, finishing those in flight"
        );
        stop.stop();
        let (http, released) = tokio::join!(
            async {
                handle.stop(true).await;
                tokio::time::timeout_at(deadline, &mut server).await.is_ok()
            },
            async {
                match worker {
                    Some(w) => tokio::time::timeout_at(deadline, w)
                        .await
                        .ok()
                        .and_then(Result::ok),
                    None => Some(0),
                }
            }
        );
        let _ = tokio::time::timeout_at(deadline, indexer).await;
        let ended = futures_util::future::join_all(loops.into_iter().map(|(name, h)| async move {
            let ended = tokio::time::timeout_at(deadline, h).await.is_ok();
            if !ended {
                tracing::warn!(task = name, "did not stop within the shutdown timeout");
            }
            ended
        }))
        .await;
        let loops_stopped = ended.iter().filter(|e| **e).count();
        let flushed = matches!(
            tokio::time::timeout_at(deadline, writer.flush()).await,
            Ok(Ok(()))
        );
        // Last: everything above may have written audit events; the sealer's
        // last pass seals them.
        seal_stop.stop();
        let sealed = tokio::time::timeout_at(deadline, sealer).await.is_ok();
        tracing::info!(
            signal,
            ms = started.elapsed().as_millis() as u64,
            requests_finished = http,
            leases_released = released,
            loops_stopped,
            audit_flushed = flushed,
            audit_sealed = sealed,
            "stopped"
        );
        Ok(())
    }
}

fn bad_request(msg: String) -> actix_web::Error {
    AppError::BadRequest(msg).into()
}

/// The HTTP server with every route and middleware.
pub fn build_server(
    listener: TcpListener,
    data: web::Data<AppData>,
    writer: audit::AuditWriter,
    lookup_cache: std::sync::Arc<api::lookup_cache::LookupCache>,
) -> std::io::Result<Server> {
    let writer = web::Data::new(writer);
    let lookup_cache = web::Data::from(lookup_cache);
    let key = Key::from(data.settings.secrets.session_key.expose_secret());
    let secure = data.settings.secure_cookies;
    let api_limiter = web::Data::new(api::RateLimiter::default());
    let quiet_polls = web::Data::new(audit::QuietPolls::default());
    let sec = &data.settings.security;
    let hasher = web::Data::new(admins::password::Hasher::new(
        sec.hash_permits,
        sec.hash_wait,
    ));
    let anonymous = web::Data::new(ui::anon_limit::AnonymousLimiter::new(
        sec.anonymous_per_minute,
        sec.trusted_proxies.clone(),
    ));
    // Requests in flight may take most of the shutdown budget; the rest is for
    // the worker's leases and the last audit batch.
    let shutdown_secs = data
        .settings
        .shutdown_timeout
        .as_secs()
        .saturating_sub(1)
        .max(1);
    let in_flight = web::Data::new(ui::in_flight::InFlight::new(
        data.settings.api_max_in_flight,
    ));
    let compression = web::Data::new(ui::compress::Compression {
        min_bytes: data.settings.compress_min_bytes,
    });
    let server = HttpServer::new(move || {
        let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name("mama_session".into())
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Strict)
            .cookie_content_security(CookieContentSecurity::Private)
            .build();
        App::new()
            .app_data(data.clone())
            .app_data(api_limiter.clone())
            .app_data(quiet_polls.clone())
            .app_data(hasher.clone())
            .app_data(anonymous.clone())
            .app_data(compression.clone())
            .app_data(in_flight.clone())
            .app_data(writer.clone())
            .app_data(lookup_cache.clone())
            .app_data(web::FormConfig::default().limit(4 << 20))
            .app_data(web::PayloadConfig::new(4 << 20))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| bad_request(format!("bad query string: {e}"))),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
            .app_data(
                web::JsonConfig::default()
                    .limit(4 << 20)
                    .error_handler(|e, _| bad_request(format!("bad JSON body: {e}"))),
            )
            // The last `wrap` runs first: headers, the API's in-flight limit,
            // compression, session, error rendering, then the audit recorder,
            // innermost, so it sees every routed request's final status (and error
            // rendering sees its request ID).
            .wrap(from_fn(audit::audit_middleware))
            .wrap(from_fn(crate::error::render_errors))
            .wrap(from_fn(ui::anon_limit::anonymous_limit))
            .wrap(session)
            .wrap(from_fn(ui::compress::compress))
            .wrap(from_fn(ui::in_flight::limit))
            .wrap(ui::headers::security_headers(secure))
            .service(ui::assets::serve)
            .configure(health::routes)
            .configure(admins::routes)
            .configure(users::routes)
            .configure(crate::services::routes)
            .configure(crate::auditor::routes)
            .configure(crate::litellm::routes)
            .configure(api_clients::routes)
            .configure(api::routes)
            .route("/", web::get().to(home))
            .default_service(web::to(not_found))
    })
    // Each write goes out at once; without this a keep-alive client waits for
    // its delayed ACK (Nagle) on every call.
    .tcp_nodelay(true)
    // A body is written once this much of it is buffered (actix's default is
    // 32 KiB). With `LookupBody`'s 7 KiB pieces a connection's write buffer,
    // which it keeps between answers, stays at the 8 KiB actix starts it with
    // (32 KiB with 12 KiB pieces under 16 KiB: 3 MB more at 128 connections;
    // README, sixteenth session).
    .h1_write_buffer_size(api::lookup_cache::WRITE_MARK_BYTES)
    // `Application::run_until_signal` handles SIGTERM/SIGINT (actix's own handler
    // would stop the server but not the worker, the indexer or the writer).
    .disable_signals()
    .shutdown_timeout(shutdown_secs)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Every feature's route table, in the order `build_server` mounts them (health,
/// metrics and static assets are not audited and not listed).
pub fn route_table() -> Vec<ui::routes::Route> {
    [
        admins::ROUTES,
        users::ROUTES,
        crate::services::ROUTES,
        crate::auditor::ROUTES,
        crate::litellm::ROUTES,
        api_clients::ROUTES,
        api::ROUTES,
    ]
    .concat()
}

async fn home() -> actix_web::HttpResponse {
    ui::see_other("/users")
}

/// Not found. A logged-in admin's language preference applies here too: the
/// guard (tried, never required) puts it in the request for the error page.
async fn not_found(
    _req: HttpRequest,
    _admin: Option<crate::web::CurrentAdmin>,
) -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}
