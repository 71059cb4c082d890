//! Services: the catalogue of internal services admins grant to users
//! (create, rename, delete when unused).
pub mod cli;
pub mod forms;
mod handlers;
pub mod queries;
pub mod service;

crate::route_table! {
    prefix: "";
    Manager {
        GET "/services" => handlers::list, ServiceList;
        POST "/services" => handlers::create, ServiceCreate;
        POST "/services/{id}/rename" => handlers::rename, ServiceUpdate;
        POST "/services/{id}/delete" => handlers::delete, ServiceDelete;
    }
}

/// `/services…`: the catalogue of services and its edits.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    register(cfg);
}
