//! `--log-format json`: one JSON object a line with the reference runtime's field names at the
//! top level — `timestamp`, `level`, `message`, `logger`, `requestId`, `sessionId`, and on
//! failures `errorType` and `errorMessage` — so CloudWatch queries written for the Python
//! runtime (`filter sessionId = "…"`, `level = "WARNING"`) work unchanged.
//!
//! The request and session ids come from the enclosing `invocation` span; an event's other
//! fields follow under their own names, `trace_id` and `span_id` among them when traces are
//! exported. Spans must record their fields as JSON
//! ([`tracing_subscriber::fmt::format::JsonFields`], which [`json_layer`] sets up).

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as the reference runtime's JSON log lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceJson;

/// A layer writing [`ReferenceJson`] lines to `writer`.
pub fn json_layer<S, W>(writer: W) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(ReferenceJson)
        .with_writer(writer)
}

impl<S, N> FormatEvent<S, N> for ReferenceJson
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
                .into(),
        );
        line.insert("level".into(), level_name(*metadata.level()).into());
        line.insert("message".into(), Value::String(String::new()));
        line.insert("logger".into(), metadata.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) else {
                    continue;
                };
                for (name, value) in fields {
                    line.insert(reference_name(&name).to_owned(), value);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Python's level names, which the reference's lines carry.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// The reference's name for one of our fields.
fn reference_name(field: &str) -> &str {
    match field {
        "request_id" => "requestId",
        "session_id" => "sessionId",
        "error" => "errorMessage",
        "error_type" => "errorType",
        other => other,
    }
}

/// An event's fields, into the line.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0
            .insert(reference_name(field.name()).to_owned(), value);
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// Log lines written in memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_carry_the_reference_fields_at_the_top_level() {
        let lines = Lines::default();
        let writer = lines.clone();
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(json_layer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invocation", session_id = "s-1", request_id = "r-1");
            let _entered = span.enter();
            tracing::warn!(
                error = %"the model failed",
                error_type = "ModelFailed",
                status = 502u64,
                "invocation failed"
            );
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["level"], "WARNING");
        assert_eq!(line["message"], "invocation failed");
        assert_eq!(line["logger"], module_path!());
        assert_eq!(line["sessionId"], "s-1");
        assert_eq!(line["requestId"], "r-1");
        assert_eq!(line["errorType"], "ModelFailed");
        assert_eq!(line["errorMessage"], "the model failed");
        assert_eq!(line["status"], 502);
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(timestamp).is_ok() && timestamp.ends_with('Z'),
            "{timestamp}"
        );
    }
}
