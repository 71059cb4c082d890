//! Every sentence the users pages say about what happened or will happen, in one
//! place (so translation has one file to go through): counts with correct plurals,
//! no internal identifiers.

/// "1 user", "3 users".
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub fn users(n: usize) -> String {
    count(n, "user", "users")
}

/// "has" / "have" for `n` subjects.
fn has(n: usize) -> &'static str {
    if n == 1 { "has" } else { "have" }
}

/// One effect of a bulk action, with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `value` given to `n` users; `had` already had it.
    Added {
        value: String,
        n: usize,
        had: usize,
    },
    /// `value` taken from `n` users; `lacking` did not have it.
    Removed {
        value: String,
        n: usize,
        lacking: usize,
    },
    /// Nothing to remove: the selection holds no `what` at all.
    NothingToRemove {
        what: &'static str,
    },
    Organisation {
        org: String,
        n: usize,
        already: usize,
    },
    Alias {
        n: usize,
        already: usize,
        taken: usize,
    },
    Rotated {
        n: usize,
    },
    Deleted {
        n: usize,
    },
    NotFound {
        n: usize,
    },
    /// A limit (LiteLLM's name) set to `value` (`None`: cleared) on `n` users.
    Limit {
        field: &'static str,
        value: Option<String>,
        n: usize,
        already: usize,
    },
    Blocked {
        blocked: bool,
        n: usize,
        already: usize,
    },
}

impl Effect {
    /// What the preview says will happen.
    pub fn preview(&self) -> String {
        match self {
            Effect::Added { value, n: 0, had } => {
                format!("{} already {} {value}.", users(*had), has(*had))
            }
            Effect::Removed {
                value,
                n: 0,
                lacking,
            } => format!(
                "{} {} not have {value}.",
                users(*lacking),
                if *lacking == 1 { "does" } else { "do" }
            ),
            Effect::Added { value, n, had } => {
                let mut s = format!("Add {value} to {}.", users(*n));
                if *had > 0 {
                    s.push_str(&format!(" {} already {} it.", users(*had), has(*had)));
                }
                s
            }
            Effect::Removed { value, n, lacking } => {
                let mut s = format!("Remove {value} from {}.", users(*n));
                if *lacking > 0 {
                    s.push_str(&format!(
                        " {} {} not have it.",
                        users(*lacking),
                        if *lacking == 1 { "does" } else { "do" }
                    ));
                }
                s
            }
            Effect::NothingToRemove { what } => {
                format!("No {what}s to remove: the selected users have none.")
            }
            Effect::Organisation { org, n, already } => {
                let mut s = format!("Set the organisation of {} to “{org}”.", users(*n));
                if *already > 0 {
                    s.push_str(&format!(
                        " {} already {} it.",
                        users(*already),
                        has(*already)
                    ));
                }
                s
            }
            Effect::Alias { n, already, taken } => {
                let mut s = format!("Give {} a key alias.", users(*n));
                if *already > 0 {
                    s.push_str(&format!(
                        " {} already {} one.",
                        users(*already),
                        has(*already)
                    ));
                }
                if *taken > 0 {
                    s.push_str(&format!(
                        " {} cannot get one: the alias is taken.",
                        users(*taken)
                    ));
                }
                s
            }
            Effect::Rotated { n } => format!(
                "Give {} a new key. The old keys stop working once LiteLLM is updated.",
                users(*n)
            ),
            Effect::Deleted { n } => format!("Delete {} and their keys.", users(*n)),
            Effect::Limit {
                field,
                value,
                n,
                already,
            } => {
                let mut s = match value {
                    Some(v) => format!("Set {field} to {v} for {}.", users(*n)),
                    None => format!("Clear {field} of {}.", users(*n)),
                };
                if *already > 0 {
                    s.push_str(&format!(
                        " {} already {} it.",
                        users(*already),
                        has(*already)
                    ));
                }
                s
            }
            Effect::Blocked {
                blocked,
                n,
                already,
            } => {
                let mut s = format!(
                    "{} the keys of {}.",
                    if *blocked { "Block" } else { "Unblock" },
                    users(*n)
                );
                if *already > 0 {
                    s.push_str(&format!(
                        " {} already {} it.",
                        users(*already),
                        has(*already)
                    ));
                }
                s
            }
            Effect::NotFound { n } => format!(
                "{} selected no longer {}; skipped.",
                users(*n),
                if *n == 1 { "exists" } else { "exist" }
            ),
        }
    }

    /// What the flash says happened.
    pub fn done(&self) -> String {
        match self {
            Effect::Added { value, n: 0, had } => {
                format!("{} already had {value}.", users(*had))
            }
            Effect::Removed {
                value,
                n: 0,
                lacking,
            } => format!("{} did not have {value}.", users(*lacking)),
            Effect::Added { value, n, had } => {
                let mut s = format!("Added {value} to {}.", users(*n));
                if *had > 0 {
                    s.push_str(&format!(" {} already had it.", users_count_only(*had)));
                }
                s
            }
            Effect::Removed { value, n, lacking } => {
                let mut s = format!("Removed {value} from {}.", users(*n));
                if *lacking > 0 {
                    s.push_str(&format!(" {} did not have it.", users_count_only(*lacking)));
                }
                s
            }
            Effect::NothingToRemove { what } => {
                format!("Nothing changed: the selected users had no {what}s.")
            }
            Effect::Organisation { org, n, already } => {
                let mut s = format!("Set the organisation of {} to “{org}”.", users(*n));
                if *already > 0 {
                    s.push_str(&format!(" {} already had it.", users_count_only(*already)));
                }
                s
            }
            Effect::Alias { n, already, taken } => {
                let mut s = format!("Gave {} a key alias.", users(*n));
                if *already > 0 {
                    s.push_str(&format!(" {} already had one.", users_count_only(*already)));
                }
                if *taken > 0 {
                    s.push_str(&format!(
                        " {} got none: the alias was taken.",
                        users_count_only(*taken)
                    ));
                }
                s
            }
            Effect::Rotated { n } => format!("Gave {} a new key.", users(*n)),
            Effect::Deleted { n } => format!("Deleted {} and their keys.", users(*n)),
            Effect::Limit {
                field, value, n, ..
            } => match value {
                Some(v) => format!("Set {field} to {v} for {}.", users(*n)),
                None => format!("Cleared {field} of {}.", users(*n)),
            },
            Effect::Blocked { blocked, n, .. } => format!(
                "{} the keys of {}.",
                if *blocked { "Blocked" } else { "Unblocked" },
                users(*n)
            ),
            Effect::NotFound { n } => format!(
                "{} no longer {} and {} skipped.",
                users(*n),
                if *n == 1 { "exists" } else { "exist" },
                if *n == 1 { "was" } else { "were" }
            ),
        }
    }
}

/// "2" — the second sentence names the users already ("Added x to 3 users. 2 already had it.").
fn users_count_only(n: usize) -> String {
    n.to_string()
}

/// Link text for following a change's sync.
pub const FOLLOW_SYNC: &str = "Follow the sync";

/// After a bulk action: the effects, and whether LiteLLM will be told.
pub fn bulk_done(effects: &[Effect], changed: usize, queued: bool) -> String {
    let mut s = if changed == 0 {
        "Nothing changed.".to_string()
    } else {
        String::new()
    };
    for e in effects {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&e.done());
    }
    if queued && changed > 0 {
        s.push_str(" LiteLLM is being updated.");
    }
    s
}

/// After create-many.
pub fn created(n: usize, skipped_lines: usize) -> String {
    let mut s = format!("Created {}.", users(n));
    if skipped_lines > 0 {
        s.push_str(&format!(
            " Skipped {} with errors.",
            count(skipped_lines, "line", "lines")
        ));
    }
    s.push_str(" LiteLLM is being updated.");
    s
}

/// After saving one user in the dialog.
pub fn saved(user_id: &str) -> String {
    format!("Saved {user_id}. LiteLLM is being updated.")
}

/// Create-many refuses all lines because some are bad.
pub fn lines_have_errors(bad: usize) -> String {
    format!(
        "{} {} errors, so nothing was created. Fix {}, or choose “create the valid lines only”.",
        count(bad, "line", "lines"),
        has(bad),
        if bad == 1 { "it" } else { "them" }
    )
}

/// The confirm box of a bulk delete.
pub fn confirm_delete(n: usize) -> String {
    format!("Type {n} to confirm deleting {}.", users(n))
}

// ---- The same sentences as catalogue messages (what the pages show, in the
// admin's language). The English functions above stay for the CLI and logs.

use crate::i18n::{Lang, Msg};

impl Effect {
    /// What the preview says will happen, one message per sentence.
    pub fn preview_msgs(&self) -> Vec<Msg> {
        self.msgs(true)
    }
    /// What the flash says happened.
    pub fn done_msgs(&self) -> Vec<Msg> {
        self.msgs(false)
    }
    fn msgs(&self, preview: bool) -> Vec<Msg> {
        let k = |p: &'static str, d: &'static str| Msg::new(if preview { p } else { d });
        let mut out = vec![];
        match self {
            Effect::Added { value, n: 0, had } => out.push(
                k("bulk-p-already-have", "bulk-d-already-had")
                    .arg("value", value)
                    .num("count", *had),
            ),
            Effect::Removed {
                value,
                n: 0,
                lacking,
            } => out.push(
                k("bulk-p-not-have", "bulk-d-did-not-have")
                    .arg("value", value)
                    .num("count", *lacking),
            ),
            Effect::Added { value, n, had } => {
                out.push(
                    k("bulk-p-add", "bulk-d-added")
                        .arg("value", value)
                        .num("count", *n),
                );
                if *had > 0 {
                    out.push(k("bulk-p-had-it", "bulk-d-had-it").num("count", *had));
                }
            }
            Effect::Removed { value, n, lacking } => {
                out.push(
                    k("bulk-p-remove", "bulk-d-removed")
                        .arg("value", value)
                        .num("count", *n),
                );
                if *lacking > 0 {
                    out.push(k("bulk-p-lacked-it", "bulk-d-lacked-it").num("count", *lacking));
                }
            }
            Effect::NothingToRemove { what } => out.push(
                k("bulk-p-nothing-to-remove", "bulk-d-nothing-to-remove").key_arg(
                    "what",
                    if *what == "model" {
                        "nav-models"
                    } else {
                        "nav-services"
                    },
                ),
            ),
            Effect::Organisation { org, n, already } => {
                out.push(
                    k("bulk-p-org", "bulk-d-org")
                        .arg("org", org)
                        .num("count", *n),
                );
                if *already > 0 {
                    out.push(k("bulk-p-had-it", "bulk-d-had-it").num("count", *already));
                }
            }
            Effect::Alias { n, already, taken } => {
                out.push(k("bulk-p-alias", "bulk-d-alias").num("count", *n));
                if *already > 0 {
                    out.push(k("bulk-p-had-one", "bulk-d-had-one").num("count", *already));
                }
                if *taken > 0 {
                    out.push(k("bulk-p-alias-taken", "bulk-d-alias-taken").num("count", *taken));
                }
            }
            Effect::Rotated { n } => {
                out.push(k("bulk-p-rotate", "bulk-d-rotated").num("count", *n))
            }
            Effect::Deleted { n } => {
                out.push(k("bulk-p-delete", "bulk-d-deleted").num("count", *n))
            }
            Effect::NotFound { n } => {
                out.push(k("bulk-p-not-found", "bulk-d-not-found").num("count", *n))
            }
            Effect::Limit {
                field,
                value,
                n,
                already,
            } => {
                let m = match value {
                    Some(v) => k("bulk-p-limit-set", "bulk-d-limit-set").arg("value", v),
                    None => k("bulk-p-limit-clear", "bulk-d-limit-clear"),
                };
                out.push(
                    m.key_arg("field", crate::i18n::field_key(field))
                        .num("count", *n),
                );
                if *already > 0 {
                    out.push(k("bulk-p-had-it", "bulk-d-had-it").num("count", *already));
                }
            }
            Effect::Blocked {
                blocked,
                n,
                already,
            } => {
                out.push(
                    if *blocked {
                        k("bulk-p-block", "bulk-d-blocked")
                    } else {
                        k("bulk-p-unblock", "bulk-d-unblocked")
                    }
                    .num("count", *n),
                );
                if *already > 0 {
                    out.push(k("bulk-p-had-it", "bulk-d-had-it").num("count", *already));
                }
            }
        }
        out
    }
}

/// Sentences rendered in `lang` and joined (a flash or a preview line).
pub fn render(msgs: &[Msg], lang: Lang) -> String {
    msgs.iter()
        .map(|m| m.render(lang))
        .collect::<Vec<_>>()
        .join(" ")
}

/// After a bulk action, in `lang` (a flash shown to the same admin next).
pub fn bulk_done_msg(effects: &[Effect], changed: usize, queued: bool, lang: Lang) -> Msg {
    let mut all = vec![];
    if changed == 0 {
        all.push(Msg::new("bulk-nothing-changed"));
    }
    for e in effects {
        all.extend(e.done_msgs());
    }
    if queued && changed > 0 {
        all.push(Msg::new("users-litellm-updating"));
    }
    Msg::new("text").arg("text", render(&all, lang))
}

/// After create-many, in `lang`.
pub fn created_msg(n: usize, skipped_lines: usize, lang: Lang) -> Msg {
    let mut all = vec![Msg::new("users-created").num("count", n)];
    if skipped_lines > 0 {
        all.push(Msg::new("users-skipped-lines").num("count", skipped_lines));
    }
    all.push(Msg::new("users-litellm-updating"));
    Msg::new("text").arg("text", render(&all, lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_use_the_singular_for_one_and_the_plural_otherwise() {
        assert_eq!(users(0), "0 users");
        assert_eq!(users(1), "1 user");
        assert_eq!(users(2), "2 users");
    }

    #[test]
    fn a_bulk_add_reads_as_a_sentence_a_person_would_write() {
        let e = Effect::Added {
            value: "gpt-4o-mini".into(),
            n: 3,
            had: 2,
        };
        assert_eq!(e.done(), "Added gpt-4o-mini to 3 users. 2 already had it.");
        assert_eq!(
            e.preview(),
            "Add gpt-4o-mini to 3 users. 2 users already have it."
        );
        let one = Effect::Added {
            value: "m".into(),
            n: 1,
            had: 1,
        };
        assert_eq!(one.preview(), "Add m to 1 user. 1 user already has it.");
        assert_eq!(
            bulk_done(&[e], 3, true),
            "Added gpt-4o-mini to 3 users. 2 already had it. LiteLLM is being updated."
        );
        assert_eq!(
            created(1, 1),
            "Created 1 user. Skipped 1 line with errors. LiteLLM is being updated."
        );
    }
}
