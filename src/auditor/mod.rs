//! The auditor's pages: `/audit` (the filtered list), one event, the streamed
//! exports and the chain verification. The trail itself (recorder, queries,
//! exports, chain) is `crate::audit`.
mod forms;
mod handlers;
mod views;

crate::route_table! {
    prefix: "";
    // Every role reads the audit trail. The exports come before `/audit/{id}`,
    // which would otherwise claim their paths.
    SignedIn {
        GET "/audit/export.csv" => handlers::export_csv, AuditExport;
        GET "/audit/export.jsonl" => handlers::export_jsonl, AuditExport;
        POST "/audit/verify" => handlers::verify, AuditVerify;
        GET "/audit" => handlers::list, AuditList;
        GET "/audit/{id}" => handlers::view, AuditView;
    }
}

/// The `/audit` pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    register(cfg);
}
