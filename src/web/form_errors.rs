//! Field-level messages for a re-rendered form.
use std::collections::BTreeMap;

/// Field name → the first message about it.
#[derive(Debug, Clone, Default)]
pub struct FormErrors(BTreeMap<String, String>);

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map(String::as_str).unwrap_or("")
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
    /// The validator crate's errors, with the messages set on each rule.
    pub fn from_validator(errs: &validator::ValidationErrors) -> Self {
        let mut out = FormErrors::default();
        for (field, list) in errs.field_errors() {
            if let Some(first) = list.first() {
                let msg = first
                    .message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| format!("{field} is not valid"));
                out.add(field.as_ref(), msg);
            }
        }
        out
    }
    /// For the audit event's details (messages only, never values).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
}
