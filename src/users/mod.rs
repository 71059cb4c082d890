//! Users: the admins' main page — search, sort, page, select, bulk edits,
//! create-many, the edit dialog and the key reveal.
pub mod bulk;
pub mod cli;
pub mod forms;
mod handlers;
pub mod limits;
pub mod messages;
pub mod queries;
pub mod reencrypt;
pub mod service;
pub mod views;

crate::route_table! {
    prefix: "";
    // Their handlers check the role themselves: auditors land on /users after
    // login and are sent on to /audit; a refused bulk apply is recorded as the
    // update or delete its form asked for.
    SignedIn {
        GET "/users" => handlers::list, UserList;
        POST "/users/bulk/apply" => handlers::bulk_apply, UsersBulkUpdate;
    }
    // The fixed `/users/…` paths come before `/users/{user_id}`.
    Manager {
        GET "/users/sync-state" => handlers::sync_state, UsersSyncState;
        POST "/users/bulk/preview" => handlers::bulk_preview, UsersBulkPreview;
        GET "/users/bulk/create" => handlers::create_form, UsersBulkCreateView;
        POST "/users/bulk/create/preview" => handlers::create_preview, UsersBulkCreatePreview;
        POST "/users/bulk/create" => handlers::create_apply, UsersBulkCreate;
        GET "/users/{user_id}" => handlers::view, UserView;
        POST "/users/{user_id}" => handlers::update, UserUpdate;
        POST "/users/{user_id}/reveal" => handlers::reveal, UserKeyReveal;
    }
}

/// `/users…`: the list, bulk edits, create-many, the edit dialog, key reveal.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    register(cfg);
}
