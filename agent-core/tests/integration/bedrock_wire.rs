//! `BedrockModel` through the real AWS SDK client against wiremock standing in for Bedrock.

use std::sync::Arc;
use std::time::Duration;

use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use agent_core::{
    Agent, AgentConfig, ContentBlock, Conversation, ConverseRequest, InferenceConfig, Message,
    Model, ModelError, RetryPolicy, Role, StopReason, ToolResult, ToolSpec, ToolUse, Usage,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONVERSE_PATH: &str = "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse";

fn tool_use_body() -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [
            {"text": "計算します。"},
            {"toolUse": {"toolUseId": "tooluse_calc1", "name": "calculator", "input": {"expression": "2+5"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1021, "outputTokens": 52, "totalTokens": 1073},
        "metrics": {"latencyMs": 1473}
    })
}

fn end_turn_body(text: &str) -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 900}
    })
}

fn calculator_spec() -> ToolSpec {
    ToolSpec {
        name: "calculator".into(),
        description: "evaluates arithmetic".into(),
        input_schema: json!({
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"]
        }),
    }
}

async fn model_for(server: &MockServer) -> BedrockModel {
    BedrockModel::for_local_endpoint(&server.uri(), DEFAULT_MODEL_ID).await
}

/// One user message, no system prompt, no tools.
async fn say_hi(model: &BedrockModel) -> Result<agent_core::ModelResponse, ModelError> {
    let messages = [Message::user("hi")];
    model
        .converse(ConverseRequest::new("", &messages, &[]))
        .await
}

fn history_with_tool_round() -> Vec<Message> {
    vec![
        Message::user("2+5の答えは?"),
        Message {
            role: Role::Assistant,
            content: vec![ContentBlock::ToolUse(ToolUse {
                tool_use_id: "tooluse_1".into(),
                name: "calculator".into(),
                input: json!({"expression": "2+5"}),
            })],
        },
        Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult(ToolResult::success(
                "tooluse_1",
                "Result: 7",
            ))],
        },
    ]
}

#[tokio::test]
async fn sends_the_converse_shape_and_parses_a_tool_use() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex("^/model/.+/converse$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tool_use_body()))
        .expect(1)
        .mount(&server)
        .await;

    let model = model_for(&server).await;
    let messages = history_with_tool_round();
    let tools = [calculator_spec()];
    let response = model
        .converse(ConverseRequest::new(
            "あなたは役立つアシスタントです。",
            &messages,
            &tools,
        ))
        .await
        .unwrap();

    assert_eq!(response.stop_reason, StopReason::ToolUse);
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 1021,
            output_tokens: 52,
            total_tokens: 1073
        }
    );
    let tool_uses: Vec<&ToolUse> = response.message.tool_uses().collect();
    assert_eq!(tool_uses.len(), 1);
    assert_eq!(tool_uses[0].tool_use_id, "tooluse_calc1");
    assert_eq!(tool_uses[0].input, json!({"expression": "2+5"}));
    assert_eq!(response.message.text(), "計算します。");

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(request.url.path(), CONVERSE_PATH);
    assert!(
        request
            .headers
            .get("authorization")
            .is_some_and(|value| value.to_str().unwrap().starts_with("AWS4-HMAC-SHA256")),
        "requests are SigV4-signed like real ones"
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body["system"],
        json!([{"text": "あなたは役立つアシスタントです。"}])
    );
    assert_eq!(body["messages"], serde_json::to_value(&messages).unwrap());
    assert_eq!(
        body["toolConfig"],
        json!({
            "tools": [{"toolSpec": {
                "name": "calculator",
                "description": "evaluates arithmetic",
                "inputSchema": {"json": calculator_spec().input_schema}
            }}],
            "toolChoice": {"auto": {}}
        })
    );
    assert!(
        body.get("inferenceConfig").is_none(),
        "an agent that sets no inference settings sends none: {body}"
    );
}

#[tokio::test]
async fn an_agent_without_a_system_prompt_sends_no_system_block_and_sends_its_inference_settings() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(end_turn_body("ok")))
        .mount(&server)
        .await;
    let inference = InferenceConfig {
        max_tokens: Some(512),
        temperature: Some(0.25),
        top_p: Some(0.5),
        stop_sequences: vec!["###".into()],
    };
    let agent = Agent::builder(Arc::new(model_for(&server).await))
        .inference(inference)
        .config(AgentConfig {
            model_streaming: false,
            ..AgentConfig::default()
        })
        .build();
    agent.invoke(&mut Conversation::new(), "hi").await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert!(body.get("system").is_none(), "{body}");
    assert!(body.get("toolConfig").is_none(), "{body}");
    assert_eq!(
        body["inferenceConfig"],
        json!({"maxTokens": 512, "temperature": 0.25, "topP": 0.5, "stopSequences": ["###"]})
    );
}

#[tokio::test]
async fn a_throttled_call_is_retried_through_the_agent_and_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-amzn-errortype", "ThrottlingException")
                .set_body_json(
                    json!({"message": "Too many requests, please wait before trying again."}),
                ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(end_turn_body("晴れです。")))
        .mount(&server)
        .await;

    let agent = Agent::builder(Arc::new(model_for(&server).await))
        .config(AgentConfig {
            // Converse; ConverseStream has its own suite (bedrock_stream.rs).
            model_streaming: false,
            retry: RetryPolicy {
                max_attempts: 3,
                initial_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
            ..AgentConfig::default()
        })
        .build();
    let mut conversation = Conversation::new();
    let reply = agent.invoke(&mut conversation, "天気は?").await.unwrap();
    assert_eq!(reply.text, "晴れです。");
    assert_eq!(conversation.len(), 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn service_errors_are_sorted_into_model_errors() {
    let cases = [
        (
            ResponseTemplate::new(429)
                .insert_header("x-amzn-errortype", "ThrottlingException")
                .set_body_json(json!({"message": "slow down"})),
            "throttled",
        ),
        (
            ResponseTemplate::new(503)
                .insert_header("x-amzn-errortype", "ServiceUnavailableException")
                .set_body_json(json!({"message": "try later"})),
            "unavailable",
        ),
        (
            ResponseTemplate::new(400)
                .insert_header("x-amzn-errortype", "ValidationException")
                .set_body_json(json!({"message": "bad input"})),
            "rejected",
        ),
        (
            ResponseTemplate::new(400)
                .insert_header("x-amzn-errortype", "ValidationException")
                .set_body_json(json!({"message": "Input is too long for requested model."})),
            "context overflow",
        ),
        (
            ResponseTemplate::new(200).set_body_raw("{not json", "application/json"),
            "malformed",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"stopReason": "end_turn"})),
            "malformed",
        ),
    ];
    for (template, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&server)
            .await;
        let error = say_hi(&model_for(&server).await).await.unwrap_err();
        let kind = match &error {
            ModelError::Throttled { .. } => "throttled",
            ModelError::Unavailable { status: 503, .. } => "unavailable",
            ModelError::Rejected { .. } => "rejected",
            ModelError::Malformed { .. } => "malformed",
            ModelError::ContextOverflow { .. } => "context overflow",
            _ => "other",
        };
        assert_eq!(kind, expected, "{error}");
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let model =
        BedrockModel::for_local_endpoint(&format!("http://{address}"), DEFAULT_MODEL_ID).await;
    let error = say_hi(&model).await.unwrap_err();
    assert!(matches!(error, ModelError::Connection { .. }), "{error:?}");
}
