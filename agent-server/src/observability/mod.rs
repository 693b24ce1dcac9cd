//! What the runtime tells its operators: OpenTelemetry traces and metrics over OTLP
//! ([`Telemetry`], installed by a binary), the caller's trace continued into each invocation and
//! the invocation metrics, and log lines in the reference runtime's JSON form ([`json_layer`]).

pub(crate) mod invocation_metrics;
mod log_format;
mod telemetry;
pub(crate) mod trace_context;

pub use log_format::{ReferenceJson, json_layer};
pub use telemetry::{Telemetry, TelemetryError};
