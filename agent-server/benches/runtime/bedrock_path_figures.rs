//! The Bedrock path's CPU against the SDK's own: the server answering the tutorial's calculator
//! question through `aws-sdk-bedrockruntime` (two Converse calls and a tool call per invocation,
//! a new session each) against a bare loop of SDK `converse` calls sending the same two
//! requests, both to the same minimal local Converse stand-in.
//!
//! A third loop calls `BedrockModel::converse` with the same two conversations in this crate's
//! types, to tell what the model adapter adds to the SDK from what the rest of the server does.
//!
//! Each side runs on its own runtime with named threads, and only those threads' CPU is counted
//! (`/proc/self/task/*/schedstat`), so the stand-in and the load generator are left out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agent_core::bedrock::to_document;
use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use agent_core::session::SessionId;
use agent_core::{
    AgentConfig, ContentBlock, ConverseRequest, Message, Model, Role, ToolResult, ToolSpec, ToolUse,
};
use agent_server::AgentCoreApp;
use agent_server::tutorial::TutorialEntrypoint;
use agent_server::tutorial::{SYSTEM_PROMPT, personalised_prompt};
use agent_tools::{Clock, tutorial_tools};
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::types as sdk;
use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use serde_json::json;

use crate::instant_model::{EXPECTED_ANSWER, entrypoint, memory_store};
use crate::load::{client_runtime, in_parallel_for, invoke_new_sessions_for};
use crate::process_stats::thread_cpu;
use agent_testkit::serve_on_own_runtime;

const CLIENTS: usize = 8;
const MEASURE: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 5;
const PROMPT: &str = "2+5の答えは?";

pub(crate) fn bedrock_path() {
    println!("The Bedrock path: CPU per Converse call, the server against a bare SDK loop");
    println!("  target: the server at most 1.25x the SDK's own CPU per call");
    let (stand_in, _stand_in) = serve_on_own_runtime("stand-in", |listener| async move {
        axum::serve(listener, stand_in_router()).await
    });
    let endpoint = format!("http://{stand_in}");
    let client_runtime = client_runtime();

    let server_endpoint = endpoint.clone();
    let (server, _server) = serve_on_own_runtime("server", move |listener| async move {
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
        let before = thread_cpu("sdk-loop");
        let model_calls = sdk_runtime.block_on(model_converse_for(&endpoint, MEASURE));
        let per_model_call = micros(thread_cpu("sdk-loop") - before) / model_calls as f64;
        let ratio = per_invocation / 2.0 / per_call;
        println!(
            "  round {round}: server {per_invocation:.0} µs per invocation ({invocations}), {:.0} µs per Converse call; bare SDK loop {per_call:.0} µs per call ({calls}); BedrockModel loop {per_model_call:.0} µs per call; ratio {ratio:.2}",
            per_invocation / 2.0
        );
        ratios.push(ratio);
    }
    let (instant, _instant) = serve_on_own_runtime("instant", |listener| {
        AgentCoreApp::new(entrypoint(Arc::new(memory_store(10_000_000))))
            .serve(listener, std::future::pending())
    });
    let before = thread_cpu("instant");
    let invocations = client_runtime.block_on(invoke_for(instant, 0, MEASURE));
    println!(
        "  the same server on an instant in-process model: {:.0} µs per invocation (the runtime's own share)",
        micros(thread_cpu("instant") - before) / invocations as f64
    );
    let bare_endpoint = endpoint.clone();
    let (bare, _bare) = serve_on_own_runtime("bare-server", move |listener| async move {
        let client = sdk_client(&bare_endpoint).await;
        axum::serve(listener, bare_sdk_router(client)).await
    });
    let before = thread_cpu("bare-server");
    let invocations = client_runtime.block_on(invoke_for(bare, 0, MEASURE));
    println!(
        "  a bare axum handler making the same two SDK calls under the same load: {:.0} µs per invocation (what any server here spends)",
        micros(thread_cpu("bare-server") - before) / invocations as f64
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

/// `CLIENTS` clients invoking `server` for `duration`, each invocation on a new session;
/// returns how many got the expected answer (anything else stops the bench).
async fn invoke_for(server: SocketAddr, round: usize, duration: Duration) -> usize {
    let sessions = format!("bedrock-path-{round}");
    invoke_new_sessions_for(
        server,
        CLIENTS,
        duration,
        PROMPT,
        &sessions,
        Some(EXPECTED_ANSWER),
        None,
    )
    .await
}

/// `CLIENTS` tasks calling SDK `converse` for `duration`, alternating the tutorial invocation's
/// two requests (each built once, cloned per call as an application would build it); returns
/// the number of calls.
async fn converse_for(endpoint: &str, duration: Duration) -> usize {
    let client = sdk_client(endpoint).await;
    let tools = tool_config();
    let (first, second) = tutorial_requests();
    let requests = Arc::new([first, second]);
    in_parallel_for(CLIENTS, duration, move || {
        let (client, tools, requests) = (client.clone(), tools.clone(), requests.clone());
        async move {
            for messages in requests.iter() {
                converse(&client, messages.clone(), tools.clone()).await;
            }
            requests.len()
        }
    })
    .await
}

/// An axum handler doing only what the bare SDK loop does, per request: the tutorial
/// invocation's two Converse calls, then the expected answer — no session, agent, tool or
/// validation. Under the same clients as the server, it shows what serving HTTP while calling
/// the SDK costs on this machine by itself.
fn bare_sdk_router(client: Client) -> Router {
    let tools = tool_config();
    let (first, second) = tutorial_requests();
    let requests = Arc::new([first, second]);
    Router::new().route(
        "/invocations",
        post(move |_body: Bytes| {
            let (client, tools, requests) = (client.clone(), tools.clone(), requests.clone());
            async move {
                for messages in requests.iter() {
                    converse(&client, messages.clone(), tools.clone()).await;
                }
                EXPECTED_ANSWER
            }
        }),
    )
}

/// `CLIENTS` tasks calling `BedrockModel::converse` for `duration` with the tutorial
/// invocation's two conversations and tools, as the agent loop does; returns the number of
/// calls.
async fn model_converse_for(endpoint: &str, duration: Duration) -> usize {
    let model = Arc::new(BedrockModel::for_local_endpoint(endpoint, DEFAULT_MODEL_ID).await);
    let tools: Arc<Vec<ToolSpec>> = Arc::new(
        tutorial_tools(Clock::Local)
            .iter()
            .map(|tool| tool.spec())
            .collect(),
    );
    let (first, second) = tutorial_conversations();
    let conversations = Arc::new([first, second]);
    in_parallel_for(CLIENTS, duration, move || {
        let (model, tools, conversations) = (model.clone(), tools.clone(), conversations.clone());
        async move {
            for messages in conversations.iter() {
                let request = ConverseRequest::new(SYSTEM_PROMPT, messages, &tools);
                model.converse(request).await.unwrap();
            }
            conversations.len()
        }
    })
    .await
}

/// The two conversations of a tutorial invocation in this crate's types: the prompt, then the
/// prompt, the tool use and its result.
fn tutorial_conversations() -> (Vec<Message>, Vec<Message>) {
    let session = SessionId::parse("bedrock-path-sdk-loop-0000000000000001").unwrap();
    let prompt = Message::user(personalised_prompt("Maira", PROMPT, &session));
    let tool_use = Message {
        role: Role::Assistant,
        content: vec![
            ContentBlock::Text("Mairaさん、2+5を計算します。".into()),
            ContentBlock::ToolUse(ToolUse {
                tool_use_id: "tooluse_bench".into(),
                name: "calculator".into(),
                input: json!({"expression": "2+5"}),
            }),
        ],
    };
    let result = Message {
        role: Role::User,
        content: vec![ContentBlock::ToolResult(ToolResult::success(
            "tooluse_bench",
            "7",
        ))],
    };
    (vec![prompt.clone()], vec![prompt, tool_use, result])
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
