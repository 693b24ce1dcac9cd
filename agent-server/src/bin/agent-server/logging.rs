//! The binary's logs: stderr through one writer thread, text or the reference runtime's JSON,
//! and OpenTelemetry's providers when the environment names an endpoint.

use std::io::{BufWriter, IsTerminal};

use agent_server::observability::Telemetry;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Log lines queued for the writer thread at most; a full queue makes the logging thread wait.
/// The queue is allocated whole at start-up: the default, 128,000 lines, held 5 MiB for good.
const LOG_QUEUE_LINES: usize = 8_192;

/// How much the log writer gathers before one `write` to stderr, at most.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// Logs to stderr in `format`, filtered by `RUST_LOG`, and — when the environment names an OTLP
/// endpoint — installs the providers that export traces and metrics to it.
///
/// Lines are formatted on the thread that logs them and written by one writer thread, which
/// drains every line queued before it writes them out together: a container's stderr is a
/// pipe, and a `write` and a reader wake-up per line on the invocation threads cost the binary
/// a good part of its throughput (`cargo bench … -- logging`). No line is dropped: when the
/// queue is full, the logging thread waits, as it would on a full pipe. The returned guard
/// writes out what is queued when it is dropped; a process killed outright loses only the
/// lines of its last moment that were still queued.
pub(crate) fn init_logging(format: LogFormat) -> anyhow::Result<(Option<Telemetry>, WorkerGuard)> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (stderr, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(BufWriter::with_capacity(
            LOG_BUFFER_BYTES,
            std::io::stderr(),
        ));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(stderr)
            .boxed(),
        LogFormat::Json => agent_server::observability::json_layer(stderr).boxed(),
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .init();
    // After the log, so what the OpenTelemetry SDK reports of itself is logged.
    let telemetry = Telemetry::from_env()?;
    if let Some(telemetry) = &telemetry {
        telemetry.install();
    }
    Ok((telemetry, guard))
}
