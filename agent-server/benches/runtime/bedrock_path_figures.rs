//! The Bedrock path's CPU against the SDK's own: the server answering the tutorial's calculator
//! question through `aws-sdk-bedrockruntime` (two Converse calls and a tool call per invocation,
//! a new session each) against a bare loop of SDK `converse` calls sending the same two
//! requests, both to the same minimal local Converse stand-in.
//!
//! Each side runs on its own runtime with named threads, and only those threads' CPU is counted
//! (`/proc/self/task/*/schedstat`), so the stand-in and the load generator are left out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_core::bedrock::to_document;
use agent_core::{AgentConfig, BedrockModel, DEFAULT_MODEL_ID, SessionId};
use agent_server::tutorial::{SYSTEM_PROMPT, personalised_prompt};
use agent_server::{AgentCoreApp, SESSION_ID_HEADER, TutorialEntrypoint};
use agent_tools::{Clock, tutorial_tools};
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::types as sdk;
use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use serde_json::json;

use crate::{EXPECTED_ANSWER, entrypoint, memory_store, run_in_background_named, thread_cpu};

const CLIENTS: usize = 8;
const MEASURE: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 5;
const PROMPT: &str = "2+5の答えは?";

pub fn bedrock_path() {
    println!("The Bedrock path: CPU per Converse call, the server against a bare SDK loop");
    println!("  target: the server at most 1.25x the SDK's own CPU per call");
    let (stand_in, _stand_in) = run_in_background_named("stand-in", |listener| async move {
        axum::serve(listener, stand_in_router()).await
    });
    let endpoint = format!("http://{stand_in}");
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let server_endpoint = endpoint.clone();
    let (server, _server) = run_in_background_named("server", move |listener| async move {
        let model = BedrockModel::for_local_endpoint(&server_endpoint, DEFAULT_MODEL_ID).await;
        let config = AgentConfig {
            model_streaming: false,
            ..AgentConfig::default()
        };
        let entrypoint = TutorialEntrypoint::with_model(
            Arc::new(model),
            Clock::Local,
            config,
            Arc::new(memory_store(10_000_000)),
        );
        AgentCoreApp::new(entrypoint)
            .serve(listener, std::future::pending())
            .await
    });
    let sdk_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sdk-loop")
        .enable_all()
        .build()
        .unwrap();
    // The two sides take turns, so a drift in the machine's speed reaches both alike.
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let before = thread_cpu("server");
        let invocations = client_runtime.block_on(invoke_for(server, round, MEASURE));
        let per_invocation = micros(thread_cpu("server") - before) / invocations as f64;
        let before = thread_cpu("sdk-loop");
        let calls = sdk_runtime.block_on(converse_for(&endpoint, MEASURE));
        let per_call = micros(thread_cpu("sdk-loop") - before) / calls as f64;
        let ratio = per_invocation / 2.0 / per_call;
        println!(
            "  round {round}: server {per_invocation:.0} µs per invocation ({invocations}), {:.0} µs per Converse call; bare SDK loop {per_call:.0} µs per call ({calls}); ratio {ratio:.2}",
            per_invocation / 2.0
        );
        ratios.push(ratio);
    }
    let (instant, _instant) = run_in_background_named("instant", |listener| {
        AgentCoreApp::new(entrypoint(Arc::new(memory_store(10_000_000))))
            .serve(listener, std::future::pending())
    });
    let before = thread_cpu("instant");
    let invocations = client_runtime.block_on(invoke_for(instant, 0, MEASURE));
    println!(
        "  the same server on an instant in-process model: {:.0} µs per invocation (the runtime's own share)",
        micros(thread_cpu("instant") - before) / invocations as f64
    );
    ratios.sort_by(f64::total_cmp);
    println!(
        "  server per call / SDK per call, median of {ROUNDS}: {:.2}\n",
        ratios[ratios.len() / 2]
    );
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// A Converse stand-in that answers the tutorial's calculator turn: a request without a tool
/// result gets a calculator tool use, one with a tool result gets the answer.
pub(crate) fn stand_in_router() -> Router {
    let asks = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"text": "Mairaさん、2+5を計算します。"},
            {"toolUse": {"toolUseId": "tooluse_bench", "name": "calculator",
                         "input": {"expression": "2+5"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1185, "outputTokens": 71, "totalTokens": 1256},
        "metrics": {"latencyMs": 1}
    })
    .to_string();
    let answers = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"text": "Mairaさん、2+5の答えは7です。"}
        ]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1270, "outputTokens": 20, "totalTokens": 1290},
        "metrics": {"latencyMs": 1}
    })
    .to_string();
    let finder = memchr::memmem::Finder::new(b"\"toolResult\"").into_owned();
    Router::new().route(
        "/model/{model}/converse",
        post(move |body: Bytes| {
            let reply = if finder.find(&body).is_some() {
                answers.clone()
            } else {
                asks.clone()
            };
            async move { ([("content-type", "application/json")], reply) }
        }),
    )
}

/// `CLIENTS` clients invoking the server for `duration`, each invocation on a new session;
/// returns how many got the expected answer (anything else stops the bench).
async fn invoke_for(server: SocketAddr, round: usize, duration: Duration) -> usize {
    let url = format!("http://{server}/invocations");
    let client = reqwest::Client::new();
    let started = Instant::now();
    let served = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (client, url, served) = (client.clone(), url.clone(), served.clone());
            tokio::spawn(async move {
                let body = json!({"prompt": PROMPT, "user_id": "1"}).to_string();
                let mut count = 0;
                while started.elapsed() < duration {
                    count += 1;
                    let response = client
                        .post(&url)
                        .header(
                            SESSION_ID_HEADER,
                            format!("bedrock-path-{round}-{n}-{count:08}"),
                        )
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let answer = response.bytes().await.unwrap();
                    assert!(
                        status == 200 && answer == EXPECTED_ANSWER.as_bytes(),
                        "{status}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                    served.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    served.load(Ordering::Relaxed)
}

/// `CLIENTS` tasks calling SDK `converse` for `duration`, alternating the tutorial invocation's
/// two requests (each built once, cloned per call as an application would build it); returns
/// the number of calls.
async fn converse_for(endpoint: &str, duration: Duration) -> usize {
    let client = sdk_client(endpoint).await;
    let tools = tool_config();
    let (first, second) = tutorial_requests();
    let started = Instant::now();
    let calls = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, calls, tools) = (client.clone(), calls.clone(), tools.clone());
            let requests = [first.clone(), second.clone()];
            tokio::spawn(async move {
                while started.elapsed() < duration {
                    for messages in &requests {
                        converse(&client, messages.clone(), tools.clone()).await;
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    calls.load(Ordering::Relaxed)
}

/// One SDK Converse call with the tutorial's system prompt and tools.
async fn converse(client: &Client, messages: Vec<sdk::Message>, tools: sdk::ToolConfiguration) {
    let output = client
        .converse()
        .model_id(DEFAULT_MODEL_ID)
        .set_messages(Some(messages))
        .system(sdk::SystemContentBlock::Text(SYSTEM_PROMPT.into()))
        .tool_config(tools)
        .send()
        .await
        .unwrap();
    assert!(output.output.is_some());
}

/// An SDK client for the stand-in, configured as an application would for a local endpoint:
/// a region, static credentials, no retries.
async fn sdk_client(endpoint: &str) -> Client {
    let credentials = aws_sdk_bedrockruntime::config::Credentials::new(
        "local-stand-in",
        "local-stand-in",
        None,
        None,
        "bench",
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await;
    let config = aws_sdk_bedrockruntime::config::Builder::from(&config)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

/// The tutorial's tools as the SDK takes them, built once.
fn tool_config() -> sdk::ToolConfiguration {
    let tools = tutorial_tools(Clock::Local)
        .iter()
        .map(|tool| {
            let spec = tool.spec();
            sdk::Tool::ToolSpec(
                sdk::ToolSpecification::builder()
                    .name(spec.name)
                    .description(spec.description)
                    .input_schema(sdk::ToolInputSchema::Json(to_document(&spec.input_schema)))
                    .build()
                    .unwrap(),
            )
        })
        .collect();
    sdk::ToolConfiguration::builder()
        .set_tools(Some(tools))
        .build()
        .unwrap()
}

/// The two requests of a tutorial invocation: the prompt, then the prompt, the tool use and its
/// result.
fn tutorial_requests() -> (Vec<sdk::Message>, Vec<sdk::Message>) {
    let session = SessionId::parse("bedrock-path-sdk-loop-0000000000000001").unwrap();
    let prompt = sdk::Message::builder()
        .role(sdk::ConversationRole::User)
        .content(sdk::ContentBlock::Text(personalised_prompt(
            "Maira", PROMPT, &session,
        )))
        .build()
        .unwrap();
    let tool_use = sdk::Message::builder()
        .role(sdk::ConversationRole::Assistant)
        .content(sdk::ContentBlock::Text(
            "Mairaさん、2+5を計算します。".into(),
        ))
        .content(sdk::ContentBlock::ToolUse(
            sdk::ToolUseBlock::builder()
                .tool_use_id("tooluse_bench")
                .name("calculator")
                .input(to_document(&json!({"expression": "2+5"})))
                .build()
                .unwrap(),
        ))
        .build()
        .unwrap();
    let result = sdk::Message::builder()
        .role(sdk::ConversationRole::User)
        .content(sdk::ContentBlock::ToolResult(
            sdk::ToolResultBlock::builder()
                .tool_use_id("tooluse_bench")
                .content(sdk::ToolResultContentBlock::Text("7".into()))
                .status(sdk::ToolResultStatus::Success)
                .build()
                .unwrap(),
        ))
        .build()
        .unwrap();
    (vec![prompt.clone()], vec![prompt, tool_use, result])
}
