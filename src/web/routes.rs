//! Route tables: each feature's `mod.rs` lists its whole URL surface in one
//! [`route_table!`](crate::route_table!), grouped by who may use it. The macro
//! registers the routes (each named after its audit action, with the group's
//! guard wrapped once per route) and exports the same table as data, so tests
//! walk the real table.
use actix_web::{
    HttpMessage,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};

use super::{CurrentAdmin, Role};
use crate::{audit::Action, error::AppError};

/// Who may use a group of routes. The guard runs before the handler's extractors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (login, API docs).
    Public,
    /// A bearer token: the `api_token` guard checks it (and counts it against the
    /// client's quota) before the handler runs; handlers check their scope.
    ApiToken,
    /// Any logged-in admin, whatever the role.
    SignedIn,
    /// Super admins and admins (users, services, models, sync, API clients).
    Manager,
    /// Super admins only (admin accounts).
    SuperAdmin,
}

impl Access {
    /// The group's name in `/metrics` (one of `metrics::GROUPS`).
    pub fn metric_group(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::ApiToken => "api",
            Access::SignedIn => "signed_in",
            Access::Manager => "manager",
            Access::SuperAdmin => "super_admin",
        }
    }
    /// Whether `role` passes this guard (`Public` and `ApiToken` have no role).
    pub fn admits(self, role: Role) -> bool {
        match self {
            Access::Public | Access::ApiToken | Access::SignedIn => true,
            Access::Manager => matches!(role, Role::SuperAdmin | Role::Admin),
            Access::SuperAdmin => role == Role::SuperAdmin,
        }
    }
}

/// One row of a route table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// The full path, scope prefix included (`/api/v1/keys/lookup`).
    pub path: &'static str,
    /// The audit action, also the route's name: a request refused before its
    /// handler ran is still recorded under it.
    pub action: Action,
    pub access: Access,
}

async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    access: Access,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let admin = match req.extract::<CurrentAdmin>().await {
        Ok(a) => a,
        Err(e) => return Ok(req.error_response(e)),
    };
    if !access.admits(admin.role) {
        return Ok(req.error_response(AppError::Forbidden));
    }
    // The handler's own `CurrentAdmin` reuses this one (no second lookup).
    req.extensions_mut().insert(admin);
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The `SignedIn` guard (wrapped by [`route_table!`](crate::route_table!)).
pub async fn signed_in(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(req, next, Access::SignedIn).await
}

/// The `Manager` guard (wrapped by [`route_table!`](crate::route_table!)).
pub async fn manager(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(req, next, Access::Manager).await
}

/// The `SuperAdmin` guard (wrapped by [`route_table!`](crate::route_table!)).
pub async fn super_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(req, next, Access::SuperAdmin).await
}

/// A feature's route table:
///
/// ```ignore
/// route_table! {
///     prefix: "";
///     Manager {
///         GET "/services" => handlers::list, ServiceList;
///         POST "/services" => handlers::create, ServiceCreate;
///     }
/// }
/// ```
///
/// defines `pub const ROUTES: &[Route]` (paths with `prefix`) and
/// `fn register(cfg)`, which adds the routes (paths without `prefix`, for the
/// feature to mount in its scope) in table order: put fixed paths before the
/// `{param}` paths that would claim them.
#[macro_export]
macro_rules! route_table {
    (prefix: $prefix:literal; $( $access:ident { $( $method:ident $path:literal => $handler:path, $action:ident; )* } )*) => {
        /// This feature's routes, in registration order.
        pub const ROUTES: &[$crate::web::routes::Route] = &[
            $( $( $crate::web::routes::Route {
                method: stringify!($method),
                path: concat!($prefix, $path),
                action: $crate::audit::Action::$action,
                access: $crate::web::routes::Access::$access,
            }, )* )*
        ];

        fn register(cfg: &mut actix_web::web::ServiceConfig) {
            $( $(
                cfg.service($crate::route_table!(@guard $access,
                    actix_web::web::resource($path)
                        .name($crate::audit::Action::$action.as_str())
                        .guard(actix_web::guard::Method(actix_web::http::Method::$method))
                        .to($handler)));
            )* )*
        }
    };
    (@guard Public, $r:expr) => { $r };
    // The token guard belongs to the API, which sits above `web`: it is the
    // `api_token` in scope where the table is written (`api/mod.rs`), so this
    // low module names nothing above it.
    (@guard ApiToken, $r:expr) => {
        $r.wrap(actix_web::middleware::from_fn(api_token))
    };
    (@guard SignedIn, $r:expr) => {
        $r.wrap(actix_web::middleware::from_fn($crate::web::routes::signed_in))
    };
    (@guard Manager, $r:expr) => {
        $r.wrap(actix_web::middleware::from_fn($crate::web::routes::manager))
    };
    (@guard SuperAdmin, $r:expr) => {
        $r.wrap(actix_web::middleware::from_fn($crate::web::routes::super_admin))
    };
}

/// Lets [`CurrentAdmin`] reuse what a guard resolved.
pub(crate) fn cached(req: &actix_web::HttpRequest) -> Option<CurrentAdmin> {
    use actix_web::HttpMessage;
    req.extensions().get::<CurrentAdmin>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_super_admins_pass_the_super_admin_guard_and_auditors_no_manager_guard() {
        assert!(Access::SuperAdmin.admits(Role::SuperAdmin));
        assert!(!Access::SuperAdmin.admits(Role::Admin));
        assert!(Access::Manager.admits(Role::Admin));
        assert!(!Access::Manager.admits(Role::Auditor));
        assert!(Access::SignedIn.admits(Role::Auditor));
    }
}
