//! The audit action vocabulary, stored as text. Add variants; never rename one
//! (auditors' saved filters and exports refer to the text).
use serde::Serialize;

macro_rules! actions {
    ($($variant:ident => $text:literal,)*) => {
        /// What an audit event records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum Action { $($variant,)* }

        impl Action {
            /// Every action, in declaration order (grouped by prefix).
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $text,)* }
            }

            pub fn parse(s: &str) -> Option<Action> {
                match s { $($text => Some(Action::$variant),)* _ => None }
            }
        }
    };
}

actions! {
    LoginView => "auth.login.view",
    SessionCheck => "auth.session.check",
    LoginSuccess => "auth.login.success",
    LoginFailure => "auth.login.failure",
    LoginLocked => "auth.login.locked",
    Lockout => "auth.lockout",
    LoginThrottled => "auth.login.throttled",
    LoginBusy => "auth.login.busy",
    Logout => "auth.logout",
    PasswordView => "account.password.view",
    PasswordChange => "account.password.change",
    AccountView => "account.view",
    AccountUpdate => "account.update",
    AdminList => "admin.list",
    AdminView => "admin.view",
    AdminCreate => "admin.create",
    AdminDelete => "admin.delete",
    AdminPasswordReset => "admin.password.reset",
    AdminUnlock => "admin.unlock",
    SecurityAlertKeyReveals => "security.alert.key_reveals",
    UserList => "user.list",
    UsersSyncState => "users.sync_state",
    UserView => "user.view",
    UserCreate => "user.create",
    UserUpdate => "user.update",
    UserDelete => "user.delete",
    UserKeyReveal => "user.key.reveal",
    UserKeyRotate => "user.key.rotate",
    KeysReencrypt => "keys.reencrypt",
    UsersBulkUpdate => "users.bulk_update",
    UsersBulkCreate => "users.bulk_create",
    UsersBulkDelete => "users.bulk_delete",
    UsersImport => "users.import",
    UsersExport => "users.export",
    ServiceList => "service.list",
    ServiceCreate => "service.create",
    ServiceUpdate => "service.update",
    ServiceDelete => "service.delete",
    ModelList => "model.list",
    ModelRefresh => "model.refresh",
    ApiClientList => "api_client.list",
    ApiClientCreate => "api_client.create",
    ApiClientRevoke => "api_client.revoke",
    ApiClientView => "api_client.view",
    ApiKeysLookup => "api.keys.lookup",
    ApiModelsList => "api.models.list",
    ApiAuditList => "api.audit.list",
    ApiDocs => "api.docs",
    AuditList => "audit.list",
    AuditView => "audit.view",
    AuditExport => "audit.export",
    AuditVerify => "audit.verify",
    AuditArchive => "audit.archive",
    SyncView => "sync.view",
    SyncRetry => "sync.retry",
    SyncReconcile => "sync.reconcile",
    LitellmKeyGenerate => "litellm.key.generate",
    LitellmKeyUpdate => "litellm.key.update",
    LitellmKeyDelete => "litellm.key.delete",
    LitellmKeyInfo => "litellm.key.info",
    LitellmKeyList => "litellm.key.list",
    LitellmKeyBlock => "litellm.key.block",
    LitellmKeyUnblock => "litellm.key.unblock",
    SpendRefresh => "spend.refresh",
    LitellmModelsList => "litellm.models.list",
    LitellmKeyDrift => "litellm.key.drift",
    SyncDriftResolve => "sync.drift.resolve",
    HealthReady => "health.ready",
    NotFound => "http.not_found",
    Request => "http.request",
    UsersBulkPreview => "users.bulk_preview",
    UsersBulkCreateView => "users.bulk_create.view",
    UsersBulkCreatePreview => "users.bulk_create.preview",
    ApiUsersList => "api.users.list",
    ApiUserView => "api.user.view",
    ApiUsersCreate => "api.users.create",
    ApiUserUpdate => "api.user.update",
    ApiUserDelete => "api.user.delete",
    ApiUsersBulk => "api.users.bulk",
    ApiUsersBulkPreview => "api.users.bulk_preview",
    ApiBatchView => "api.batch.view",
    ApiServicesList => "api.services.list",
    ApiServiceCreate => "api.service.create",
    ApiServiceUpdate => "api.service.update",
    ApiServiceDelete => "api.service.delete",
    SpecApply => "spec.apply",
    SpecExport => "spec.export",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_text_is_unique_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.as_str()), "duplicate {}", a.as_str());
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
    }
}
