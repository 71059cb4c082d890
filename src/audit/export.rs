//! CSV and JSON Lines renderings of audit events, and the streamed export: it pages
//! through the keyset inside the stream, so memory stays flat however many rows.
use actix_web::web::Bytes;
use futures_util::Stream;
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::queries::{AuditFilter, search};
use crate::entities::audit_event;

/// Rows fetched per round trip while streaming.
pub const CHUNK: u64 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::JsonLines => "application/x-ndjson; charset=utf-8",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        }
    }
}

pub const CSV_HEADER: &str = "id,occurred_at,request_id,actor_kind,actor_id,actor_name,action,outcome,http_status,duration_us,client_ip,user_agent,method,path,targets,details,seq,prev_hash,hash\r\n";

fn csv_field(out: &mut String, s: &str) {
    crate::csv::push_field(out, s);
}

fn time(e: &audit_event::Model) -> String {
    e.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// One CSV record (with CRLF).
pub fn csv_row(out: &mut String, e: &audit_event::Model) {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let fields = [
        e.id.to_string(),
        time(e),
        e.request_id.clone(),
        e.actor_kind.clone(),
        opt(&e.actor_id),
        opt(&e.actor_name),
        e.action.clone(),
        e.outcome.clone(),
        e.http_status.map(|s| s.to_string()).unwrap_or_default(),
        e.duration_us.to_string(),
        opt(&e.client_ip),
        opt(&e.user_agent),
        opt(&e.method),
        opt(&e.path),
        e.targets.clone(),
        e.details.clone(),
        e.seq.map(|s| s.to_string()).unwrap_or_default(),
        opt(&e.prev_hash),
        opt(&e.hash),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push_str("\r\n");
}

/// The event as a JSON object (targets and details parsed).
pub fn json(e: &audit_event::Model) -> Value {
    serde_json::json!({
        "id": e.id,
        "occurred_at": time(e),
        "request_id": e.request_id,
        "actor_kind": e.actor_kind,
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "action": e.action,
        "outcome": e.outcome,
        "http_status": e.http_status,
        "duration_us": e.duration_us,
        "client_ip": e.client_ip,
        "user_agent": e.user_agent,
        "method": e.method,
        "path": e.path,
        "targets": serde_json::from_str::<Value>(&e.targets).unwrap_or(Value::String(e.targets.clone())),
        "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::String(e.details.clone())),
        "seq": e.seq,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    })
}

/// Appends one rendered event.
pub fn render(out: &mut String, format: Format, e: &audit_event::Model) {
    match format {
        Format::Csv => csv_row(out, e),
        Format::JsonLines => {
            out.push_str(&json(e).to_string());
            out.push('\n');
        }
    }
}

struct State {
    db: DatabaseConnection,
    filter: AuditFilter,
    format: Format,
    before: Option<i64>,
    header_sent: bool,
    done: bool,
}

/// The filtered events, newest first, rendered chunk by chunk.
pub fn stream(
    db: DatabaseConnection,
    filter: AuditFilter,
    format: Format,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let st = State {
        db,
        filter,
        format,
        before: None,
        header_sent: false,
        done: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        let mut out = String::new();
        if !st.header_sent {
            st.header_sent = true;
            if st.format == Format::Csv {
                out.push_str(CSV_HEADER);
            }
        }
        match search(&st.db, &st.filter, st.before, CHUNK).await {
            Ok(rows) => {
                if (rows.len() as u64) < CHUNK {
                    st.done = true;
                }
                st.before = rows.last().map(|e| e.id);
                for e in &rows {
                    render(&mut out, st.format, e);
                }
                if out.is_empty() {
                    return None;
                }
                Some((Ok(Bytes::from(out)), st))
            }
            Err(e) => {
                // The response has started; the client sees a cut connection
                // rather than a file that looks complete.
                tracing::error!(error = %e, "audit export failed mid-stream");
                st.done = true;
                Some((
                    Err(actix_web::error::ErrorInternalServerError("export failed")),
                    st,
                ))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_are_defused() {
        let mut s = String::new();
        csv_field(&mut s, "a,\"b\"");
        s.push('|');
        csv_field(&mut s, "=HYPERLINK(1)");
        s.push('|');
        csv_field(&mut s, "plain");
        assert_eq!(s, "\"a,\"\"b\"\"\"|'=HYPERLINK(1)|plain");
    }
}
