//! Field-level messages for a re-rendered form, as catalogue keys translated when
//! the page is rendered (the field's own name included).
use std::collections::BTreeMap;

use crate::i18n::{Arg, Msg};

static NONE: Msg = Msg {
    key: std::borrow::Cow::Borrowed(""),
    args: Vec::new(),
};

/// Field name → the first message about it.
#[derive(Debug, Clone, Default)]
pub struct FormErrors(BTreeMap<String, Msg>);

impl FormErrors {
    /// Records `message` for `field` (the first one wins). A message without a
    /// `field` argument gets one: the field's translated name.
    pub fn add(&mut self, field: &str, message: impl Into<Msg>) {
        let mut msg = message.into();
        if !msg.args.iter().any(|(n, _)| n == "field") {
            msg = msg.field(field);
        }
        self.0.entry(field.to_string()).or_insert(msg);
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }
    /// The message about `field` (an empty one when there is none).
    pub fn get(&self, field: &str) -> &Msg {
        self.0.get(field).unwrap_or(&NONE)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// ` aria-invalid="true"` for a field with an error (render with `|safe`), else
    /// nothing: Pico CSS paints `aria-invalid="false"` green, which would be noise.
    pub fn aria(&self, field: &str) -> &'static str {
        if self.has(field) {
            " aria-invalid=\"true\""
        } else {
            ""
        }
    }
    pub fn fields(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
    /// The validator crate's errors: the `message` set on each rule is a catalogue
    /// key; the rule's numeric parameters (`min`, `max`) become arguments.
    pub fn from_validator(errs: &validator::ValidationErrors) -> Self {
        let mut out = FormErrors::default();
        for (field, list) in errs.field_errors() {
            if let Some(first) = list.first() {
                let key = first
                    .message
                    .clone()
                    .unwrap_or(std::borrow::Cow::Borrowed("err-invalid"));
                let mut msg = Msg::from(key.into_owned());
                for (name, value) in &first.params {
                    if let Some(n) = value.as_i64() {
                        msg.args.push((name.clone(), Arg::Num(n)));
                    }
                }
                out.add(field.as_ref(), msg);
            }
        }
        out
    }
    /// For the audit event's details: field → message key (never values).
    pub fn to_json(&self) -> serde_json::Value {
        let keys: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(f, m)| (f.as_str(), m.key.as_ref()))
            .collect();
        serde_json::to_value(keys).unwrap_or_default()
    }
}
