//! The roles an admin account can have. The guards check them, so they live
//! with the guards; `admins` manages accounts and re-exports [`Role`].
use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages admin accounts, and everything an admin does.
    SuperAdmin,
    /// Manages users, services, models and API clients.
    Admin,
    /// Reads the audit trail; changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::SuperAdmin, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Role::SuperAdmin => "Super admin",
            Role::Admin => "Admin",
            Role::Auditor => "Auditor",
        }
    }
}
