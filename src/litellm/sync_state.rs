//! The sync vocabularies, stored as text: a `sync_jobs` row's `state` and a user's
//! `sync_state`. Add variants; never rename one (dashboards, `/metrics` labels and
//! the REST API's `sync_state` field show the text).
//!
//! Two enums in one place rather than one: a job is `running` or `done`, a user is
//! `synced`; a single enum would let a job be "synced".

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant,)* }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for String {
            fn from(s: $name) -> String {
                s.as_str().to_string()
            }
        }

        impl From<$name> for sea_orm::Value {
            fn from(s: $name) -> sea_orm::Value {
                s.as_str().into()
            }
        }
    };
}

vocabulary! {
    /// Where a `sync_jobs` row stands.
    JobState {
        Pending => "pending",
        Running => "running",
        Done => "done",
        Failed => "failed",
    }
}

vocabulary! {
    /// Where a user's LiteLLM key stands (`users.sync_state`).
    SyncState {
        Pending => "pending",
        Synced => "synced",
        Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_state_text_is_unique_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for s in JobState::ALL {
            assert!(seen.insert(s.as_str()), "duplicate {s}");
            assert_eq!(JobState::parse(s.as_str()), Some(*s));
        }
        assert_eq!(JobState::parse("synced"), None);
    }

    #[test]
    fn every_user_sync_state_text_is_unique_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for s in SyncState::ALL {
            assert!(seen.insert(s.as_str()), "duplicate {s}");
            assert_eq!(SyncState::parse(s.as_str()), Some(*s));
        }
        assert_eq!(SyncState::parse("running"), None);
    }
}
