//! OpenTelemetry from the binary, configured by the standard variables only: the tutorial's
//! session 1 under a caller's `traceparent`, exported over OTLP/HTTP to a receiver in this test
//! and decoded with the `opentelemetry-proto` types; nothing at all without the variables; a
//! dead collector that costs the invocations nothing.

use std::collections::HashMap;
use std::path::Path;

use crate::support::BINARY;
use crate::support::otlp::{OtlpReceiver, attribute, double_attribute, int_attribute};
use agent_testkit::{Log, ServerProcess};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::json;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const SESSION: &str = "telemetry-session-0001";

fn fixtures() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/tutorial")
        .display()
        .to_string()
}

/// The binary answering from the tutorial's recordings, with `environment` added, its log kept.
fn replay_server(environment: &[(&str, &str)]) -> ServerProcess {
    let fixtures = fixtures();
    ServerProcess::start_with(BINARY, &["--replay", &fixtures], environment, Log::Keep)
}

/// An invocation of session `SESSION` under the caller's span, user "1".
fn invocation(server: &ServerProcess, prompt: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("http://{}/invocations", server.address))
        .header("x-amzn-bedrock-agentcore-runtime-session-id", SESSION)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&json!({"prompt": prompt, "user_id": "1"}))
}

async fn ask(server: &ServerProcess, prompt: &str) -> reqwest::Response {
    invocation(server, prompt).send().await.unwrap()
}

/// The same over server-sent events: the invocation runs on a task of its own.
async fn ask_streaming(server: &ServerProcess, prompt: &str) -> (reqwest::StatusCode, String) {
    let response = invocation(server, prompt)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn attr(span: &Span, key: &str) -> Option<String> {
    attribute(&span.attributes, key)
}

/// A numeric attribute, decoded with its OTLP type: `None` unless it is an integer.
fn int_attr(span: &Span, key: &str) -> Option<i64> {
    int_attribute(&span.attributes, key)
}

fn named<'a>(spans: &'a [Span], prefix: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|span| span.name.starts_with(prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_session_is_traced_from_the_callers_span_to_each_model_and_tool_call() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = receiver.endpoint();
    let mut server = replay_server(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    assert!(
        server
            .startup_line
            .contains("telemetry=otlp traces and metrics"),
        "{}",
        server.startup_line
    );
    let threads = server.thread_names();
    assert!(
        threads
            .iter()
            .any(|name| name.starts_with("OpenTelemetry.T")),
        "a batch exporter thread runs: {threads:?}"
    );
    for prompt in ["外の天気はどうですか?", "2+5の答えは?"] {
        assert_eq!(ask(&server, prompt).await.status(), 200);
    }
    // The last over server-sent events, its turn run on a task of its own.
    let (status, events) = ask_streaming(&server, "それに 34 を足すとどうなりますか?").await;
    assert_eq!(status, 200);
    assert!(events.contains("41"), "{events}");
    let logged = server.log_line("invocation finished").await;
    assert!(logged.contains(&format!("trace_id={TRACE_ID}")), "{logged}");
    assert!(server.terminate().success(), "a graceful stop");

    // Everything queued was flushed by the graceful stop.
    let spans = receiver.spans();
    assert_eq!(receiver.service_names()[0], "agent-server");
    let by_id: HashMap<Vec<u8>, &Span> = spans
        .iter()
        .map(|span| (span.span_id.clone(), span))
        .collect();
    let parent_of = |span: &Span| by_id.get(&span.parent_span_id).copied();

    let requests = named(&spans, "POST /invocations");
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(hex(&request.trace_id), TRACE_ID, "the caller's trace");
        assert_eq!(
            hex(&request.parent_span_id),
            CALLER_SPAN,
            "the caller's span"
        );
        assert_eq!(int_attr(request, "http.response.status_code"), Some(200));
        assert_eq!(request.kind, SpanKind::Server as i32);
        assert_eq!(attr(request, "http.route").as_deref(), Some("/invocations"));
        assert_eq!(attr(request, "session_id").as_deref(), Some(SESSION));
        assert!(attr(request, "request_id").is_some_and(|id| !id.is_empty()));
    }
    let agents = named(&spans, "invoke_agent tutorial");
    assert_eq!(agents.len(), 3);
    for agent in &agents {
        assert!(parent_of(agent).is_some_and(|parent| parent.name == "POST /invocations"));
        assert_eq!(agent.kind, SpanKind::Internal as i32);
        assert_eq!(
            attr(agent, "gen_ai.operation.name").as_deref(),
            Some("invoke_agent")
        );
        assert_eq!(
            attr(agent, "gen_ai.agent.name").as_deref(),
            Some("tutorial")
        );
        assert_eq!(
            attr(agent, "gen_ai.provider.name").as_deref(),
            Some("aws.bedrock")
        );
        assert_eq!(
            attr(agent, "gen_ai.request.model").as_deref(),
            Some("us.anthropic.claude-sonnet-4-20250514-v1:0")
        );
        let input = int_attr(agent, "gen_ai.usage.input_tokens").expect("an integer");
        assert!(input > 0, "summed usage");
        assert!(int_attr(agent, "gen_ai.usage.output_tokens").is_some_and(|tokens| tokens > 0));
        assert_eq!(
            attr(agent, "gen_ai.response.finish_reasons").as_deref(),
            Some("end_turn")
        );
    }
    let chats = named(&spans, "chat ");
    assert_eq!(chats.len(), 6, "a tool round and an answer per invocation");
    for chat in &chats {
        assert_eq!(chat.name, "chat us.anthropic.claude-sonnet-4-20250514-v1:0");
        assert!(parent_of(chat).is_some_and(|parent| parent.name == "invoke_agent tutorial"));
        assert_eq!(chat.kind, SpanKind::Client as i32);
        assert_eq!(
            attr(chat, "gen_ai.provider.name").as_deref(),
            Some("aws.bedrock")
        );
        assert_eq!(attr(chat, "gen_ai.operation.name").as_deref(), Some("chat"));
        assert_eq!(int_attr(chat, "gen_ai.request.attempts"), Some(1));
        assert!(int_attr(chat, "gen_ai.usage.input_tokens").is_some_and(|tokens| tokens > 0));
        assert!(int_attr(chat, "gen_ai.usage.output_tokens").is_some_and(|tokens| tokens > 0));
        assert!(
            double_attribute(&chat.attributes, "gen_ai.server.time_to_first_token")
                .is_some_and(|seconds| seconds >= 0.0),
            "streamed"
        );
    }
    let finish: Vec<String> = chats
        .iter()
        .filter_map(|chat| attr(chat, "gen_ai.response.finish_reasons"))
        .collect();
    assert_eq!(
        finish.iter().filter(|reason| *reason == "tool_use").count(),
        3
    );
    let tools: Vec<(String, String)> = named(&spans, "execute_tool ")
        .iter()
        .map(|tool| {
            assert!(parent_of(tool).is_some_and(|parent| parent.name == "invoke_agent tutorial"));
            assert_eq!(
                attr(tool, "gen_ai.operation.name").as_deref(),
                Some("execute_tool")
            );
            assert!(attr(tool, "gen_ai.tool.call.id").is_some_and(|id| id.starts_with("tooluse")));
            assert_eq!(attr(tool, "gen_ai.tool.type").as_deref(), Some("function"));
            (
                attr(tool, "gen_ai.tool.name").unwrap(),
                attr(tool, "gen_ai.tool.status").unwrap(),
            )
        })
        .collect();
    assert_eq!(tools.len(), 3);
    assert!(tools.contains(&("weather".into(), "success".into())));
    assert!(tools.contains(&("calculator".into(), "success".into())));

    for span in &spans {
        assert_eq!(hex(&span.trace_id), TRACE_ID, "{}", span.name);
        assert_eq!(
            attr(span, "session.id").as_deref(),
            Some(SESSION),
            "{}",
            span.name
        );
        assert!(
            attr(span, "gen_ai.input.messages").is_none()
                && attr(span, "gen_ai.tool.call.arguments").is_none(),
            "no message content unless asked for: {}",
            span.name
        );
    }
    let tools = named(&spans, "execute_tool ");
    for span in agents.iter().chain(&chats).chain(&tools) {
        assert_eq!(
            attr(span, "enduser.id").as_deref(),
            Some("1"),
            "{}",
            span.name
        );
    }

    let metrics = receiver.metric_names();
    for name in [
        "agentcore.invocations",
        "agentcore.invocation.duration",
        "agentcore.invocations.in_flight",
        "agentcore.sessions.live",
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
    ] {
        assert!(
            metrics.iter().any(|metric| metric == name),
            "{name}: {metrics:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_variables_nothing_is_exported_and_no_exporter_runs() {
    let fixtures = fixtures();
    let server = ServerProcess::start(BINARY, &["--replay", &fixtures]);
    assert!(
        server.startup_line.contains("telemetry=off"),
        "{}",
        server.startup_line
    );
    assert_eq!(ask(&server, "外の天気はどうですか?").await.status(), 200);
    let threads = server.thread_names();
    assert!(
        !threads.iter().any(|name| name.starts_with("OpenTelemetry")),
        "{threads:?}"
    );
    let disabled = replay_server(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_SDK_DISABLED", "true"),
    ]);
    assert!(
        disabled.startup_line.contains("telemetry=off"),
        "{}",
        disabled.startup_line
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_collector_costs_the_invocations_nothing() {
    // A collector that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            connections.push(connection);
        }
    });
    let mut server = replay_server(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
    ]);
    // Each invocation makes four spans and more than a queue's worth go out in all.
    for n in 0..40 {
        let response = reqwest::Client::new()
            .post(format!("http://{}/invocations", server.address))
            .header(
                "x-amzn-bedrock-agentcore-runtime-session-id",
                format!("dead-collector-{n:04}"),
            )
            .json(&json!({"prompt": "外の天気はどうですか?", "user_id": "1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "invocation {n}");
    }
    let ping = reqwest::get(format!("http://{}/ping", server.address))
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    assert!(
        server.terminate().success(),
        "the stop gives up on the export and exits"
    );
    // Spans past the small queue were dropped, not waited for, and counted.
    let dropped = server.log_line("dropped_span_count=").await;
    let count: u64 = dropped
        .split("dropped_span_count=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{dropped}"));
    assert!(count > 0, "{dropped}");
    held.abort();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_content_is_recorded_only_when_the_operator_opts_in() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = receiver.endpoint();
    let mut server = replay_server(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{endpoint}/v1/traces"),
        ),
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true"),
        ("OTEL_SERVICE_NAME", "weather-agent"),
    ]);
    assert!(
        server.startup_line.contains("telemetry=otlp traces"),
        "{}",
        server.startup_line
    );
    assert_eq!(ask(&server, "外の天気はどうですか?").await.status(), 200);
    assert!(server.terminate().success());
    let spans = receiver.spans();
    assert_eq!(receiver.service_names()[0], "weather-agent");
    let agent = named(&spans, "invoke_agent")[0];
    assert!(
        attr(agent, "gen_ai.input.messages").is_some_and(|prompt| prompt.contains("外の天気")),
        "the prompt"
    );
    assert!(attr(agent, "gen_ai.output.messages").is_some_and(|answer| answer.contains("晴れ")));
    let tool = named(&spans, "execute_tool weather")[0];
    assert_eq!(
        attr(tool, "gen_ai.tool.call.result").as_deref(),
        Some("sunny")
    );
    assert!(
        receiver.metric_names().is_empty(),
        "traces only were asked for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_go_over_grpc_when_the_protocol_says_so() {
    let receiver = OtlpReceiver::start_grpc().await;
    let endpoint = receiver.endpoint();
    let mut server = replay_server(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert_eq!(ask(&server, "外の天気はどうですか?").await.status(), 200);
    assert!(server.terminate().success());
    let spans = receiver.spans();
    assert_eq!(named(&spans, "invoke_agent tutorial").len(), 1);
    assert_eq!(named(&spans, "chat ").len(), 2);
    assert!(spans.iter().all(|span| hex(&span.trace_id) == TRACE_ID));
}
