//! The price of OpenTelemetry: the `agent-server` binary under the same load with export off,
//! and with traces and metrics exported over OTLP/HTTP to a local receiver that takes them and
//! answers at once. Each invocation is a new session, two model turns and a tool call (five
//! spans), answered two ways: from the tutorial's recordings (`--replay`, the runtime's own cost
//! alone), and through `aws-sdk-bedrockruntime` from a local Converse stand-in (the path an
//! invocation takes in production, less Bedrock's own time). Rounds alternate, so a drift in the
//! machine's speed reaches both alike.
//!
//! A third server in each round exports under `OTEL_TRACES_SAMPLER=always_off`, to tell the
//! handling of spans from their recording and export. Beside them, the floor of the
//! OpenTelemetry stack itself: in a fresh process configured by
//! the same variables, five spans shaped like an invocation's (as many attributes, nested the
//! same way, made through the same API, nothing else done) made and exported to the same
//! receiver. What an
//! invocation costs with export on can be no less than its cost off plus this floor.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

use crate::bedrock_path_figures::stand_in_router;
use crate::binary::{Binary, Model};
use crate::load::{client_runtime, invoke_new_sessions_for};
use agent_testkit::serve_on_own_runtime;

const CLIENTS: usize = 8;
const ROUNDS: usize = 5;
const MEASURE: Duration = Duration::from_secs(2);

pub(crate) fn telemetry() {
    println!("OpenTelemetry export: the binary with OTLP export on against off");
    println!(
        "  target: server CPU per invocation with export on at most 1.10× off on the Bedrock path"
    );
    println!("  before, with the tracing bridge: 1.27× (210 – 215 µs off, 266 – 272 µs on)");
    let received = Arc::new(AtomicUsize::new(0));
    let bytes = received.clone();
    let (collector, _collector) = serve_on_own_runtime("collector", move |listener| {
        let answer = move |body: Bytes| {
            bytes.fetch_add(body.len(), Ordering::Relaxed);
            async { Vec::<u8>::new() }
        };
        let router = Router::new()
            .route("/v1/traces", post(answer.clone()))
            .route("/v1/metrics", post(answer));
        async move { axum::serve(listener, router).await }
    });
    let client_runtime = client_runtime();
    let collector = format!("http://{collector}");
    let (stand_in, _stand_in) = serve_on_own_runtime("stand-in", |listener| async move {
        axum::serve(listener, stand_in_router()).await
    });
    let stand_in = format!("http://{stand_in}");
    for model in [Model::Replay, Model::Bedrock(&stand_in)] {
        let (mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
        for round in 1..=ROUNDS {
            let (mut rates, mut cpu) = ([0.0; 3], [0.0; 3]);
            for (slot, export) in [Export::Off, Export::On, Export::Unsampled]
                .into_iter()
                .enumerate()
            {
                let mut server = Binary::start(model, &export.environment(&collector));
                let before = server.cpu();
                let served =
                    client_runtime.block_on(invoke_for(server.address, model, round, slot));
                cpu[slot] = (server.cpu() - before).as_secs_f64() * 1e6 / served as f64;
                rates[slot] = served as f64 / MEASURE.as_secs_f64();
                server.stop();
            }
            let (ratio, cpu_ratio) = (rates[1] / rates[0], cpu[1] / cpu[0]);
            println!(
                "  {} round {round}: export off {:.0} invocations/s ({:.0} µs of server CPU each), on {:.0} ({:.0} µs); CPU on / off {cpu_ratio:.2}, throughput {ratio:.2}; spans made but none sampled {:.0} µs",
                model.label(),
                rates[0],
                cpu[0],
                rates[1],
                cpu[1],
                cpu[2]
            );
            ratios.push(ratio);
            cpu_ratios.push(cpu_ratio);
        }
        ratios.sort_by(f64::total_cmp);
        cpu_ratios.sort_by(f64::total_cmp);
        println!(
            "  {}: median of {ROUNDS} rounds, CPU per invocation on / off {:.2}, throughput on / off {:.2}",
            model.label(),
            cpu_ratios[ROUNDS / 2],
            ratios[ROUNDS / 2]
        );
    }
    let floor = floor_micros(&collector);
    println!(
        "  the stack's own floor: {floor:.1} µs of CPU per invocation's five spans, made and exported (all threads)"
    );
    println!(
        "  the collector received {:.1} MiB of OTLP\n",
        received.load(Ordering::Relaxed) as f64 / 1048576.0
    );
}

/// What the binary is told to export.
#[derive(Clone, Copy)]
enum Export {
    Off,
    /// Traces and metrics to the collector.
    On,
    /// The same, under `OTEL_TRACES_SAMPLER=always_off`: every span is made and handled by the
    /// runtime, none is recorded or exported — what making spans costs apart from export.
    Unsampled,
}

impl Export {
    /// The binary's environment for it, exporting to `collector`.
    fn environment(self, collector: &str) -> Vec<(&'static str, &str)> {
        match self {
            Self::Off => vec![],
            Self::On => vec![("OTEL_EXPORTER_OTLP_ENDPOINT", collector)],
            Self::Unsampled => vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", collector),
                ("OTEL_TRACES_SAMPLER", "always_off"),
            ],
        }
    }
}

/// `CLIENTS` clients asking `model`'s question on a new session each time, for `MEASURE`;
/// returns how many were answered 200.
async fn invoke_for(server: SocketAddr, model: Model<'_>, round: usize, slot: usize) -> usize {
    let sessions = format!("otel-{round}-{slot}");
    invoke_new_sessions_for(
        server,
        CLIENTS,
        MEASURE,
        model.prompt(),
        &sessions,
        None,
        None,
    )
    .await
}

/// The floor, from a fresh process exporting to `collector`: µs of CPU per invocation's spans.
fn floor_micros(collector: &str) -> f64 {
    const INVOCATIONS: usize = 100_000;
    let output = Command::new(std::env::current_exe().unwrap())
        .env("BENCH_TELEMETRY_FLOOR", INVOCATIONS.to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
        .env_remove("OTEL_SDK_DISABLED")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("the floor child printed {text:?}"))
}

/// In a fresh process: `count` invocations' worth of spans, made as the binary makes them
/// (through the `opentelemetry` API, from the providers `Telemetry` installs), exported and
/// flushed; prints µs of process CPU (every thread) per invocation.
pub(crate) fn floor_child(count: usize) {
    use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
    use opentelemetry::{Context, KeyValue, global};

    let telemetry = agent_server::observability::Telemetry::from_env()
        .unwrap()
        .expect("an OTLP endpoint is set");
    telemetry.install();
    let tracer = global::tracer("bench");
    let started = process_cpu();
    for n in 0..count {
        let child =
            |parent: &Context, name: &'static str, kind: SpanKind, attributes: Vec<KeyValue>| {
                let span = tracer
                    .span_builder(name)
                    .with_kind(kind)
                    .start_with_context(&tracer, parent);
                let cx = parent.with_span(span);
                cx.span().set_attributes(attributes);
                cx
            };
        let request = child(
            &Context::new(),
            "POST /invocations",
            SpanKind::Server,
            vec![
                KeyValue::new("http.route", "/invocations"),
                KeyValue::new("session_id", n.to_string()),
                KeyValue::new("request_id", n.to_string()),
            ],
        );
        let genai = |operation: &'static str| {
            vec![
                KeyValue::new("gen_ai.operation.name", operation),
                KeyValue::new("gen_ai.provider.name", "aws.bedrock"),
                KeyValue::new("gen_ai.system", "aws.bedrock"),
                KeyValue::new("gen_ai.request.model", "model"),
            ]
        };
        let answered = |cx: &Context, input: i64, output: i64| {
            cx.span().set_attributes([
                KeyValue::new("gen_ai.usage.input_tokens", input),
                KeyValue::new("gen_ai.usage.output_tokens", output),
                KeyValue::new("gen_ai.response.finish_reasons", "end_turn"),
            ]);
        };
        let mut agent_attributes = genai("invoke_agent");
        agent_attributes.push(KeyValue::new("gen_ai.agent.name", "tutorial"));
        let agent = child(
            &request,
            "invoke_agent tutorial",
            SpanKind::Internal,
            agent_attributes,
        );
        for _ in 0..2 {
            let chat = child(&agent, "chat model", SpanKind::Client, genai("chat"));
            answered(&chat, 1185, 71);
            chat.span()
                .set_attribute(KeyValue::new("gen_ai.request.attempts", 1_i64));
            chat.span().end();
        }
        let tool = child(
            &agent,
            "execute_tool weather",
            SpanKind::Internal,
            vec![
                KeyValue::new("gen_ai.operation.name", "execute_tool"),
                KeyValue::new("gen_ai.tool.name", "weather"),
                KeyValue::new("gen_ai.tool.call.id", n.to_string()),
                KeyValue::new("gen_ai.tool.type", "function"),
            ],
        );
        tool.span()
            .set_attribute(KeyValue::new("gen_ai.tool.status", "success"));
        tool.span().end();
        answered(&agent, 2455, 91);
        agent.span().end();
        request
            .span()
            .set_attribute(KeyValue::new("http.response.status_code", 200_i64));
        request.span().end();
    }
    telemetry.shutdown();
    let spent = process_cpu() - started;
    println!("{:.2}", spent.as_secs_f64() * 1e6 / count as f64);
}

/// CPU this process has spent, every thread, from `/proc/self/stat` (in clock ticks of 10 ms).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&field| fields.get(field)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}
