//! CSV fields for every CSV mama writes (audit export, `mama users export`).

/// One CSV field: quoted when needed, and with a leading `'` when a spreadsheet
/// would take it for a formula (CSV injection: `=`, `+`, `-`, `@`, tab, CR).
pub fn push_field(out: &mut String, s: &str) {
    let guarded;
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{s}");
        guarded.as_str()
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// A field read back from a CSV mama wrote: the `'` that [`push_field`] put in
/// front of a formula-like value is taken off again (`'+1` → `+1`), so an export
/// imports as it was.
pub fn unguard(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => s,
    }
}

/// [`push_field`] into a new string.
pub fn field(s: &str) -> String {
    let mut out = String::new();
    push_field(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_specials_quoted() {
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-2"), "'-2");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("plain"), "plain");
    }

    #[test]
    fn a_guarded_field_reads_back_as_it_was() {
        for s in ["+1", "-2", "@bob", "=x", "plain", "'quoted", "''+"] {
            let written = field(s);
            let unquoted = written.trim_matches('"').replace("\"\"", "\"");
            assert_eq!(unguard(&unquoted), s, "{written}");
        }
    }
}
