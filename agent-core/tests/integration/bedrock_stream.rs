//! `BedrockModel::converse_stream` through the real AWS SDK client against wiremock serving
//! ConverseStream bodies as Bedrock frames them (binary event-stream messages with CRCs).

use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use agent_core::replay::event_stream::{EVENT_STREAM_CONTENT_TYPE, encode_stream_body};
use agent_core::replay::frames::{StreamFrame, frames_for};
use agent_core::{
    ContentBlock, ConverseRequest, Message, Model, ModelError, ModelEvent, ModelResponse, Role,
    StopReason, ToolUse, Usage,
};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STREAM_PATH: &str = "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream";

/// The frames of the reference's calculator turn (`bedrock-converse-stream-example.json`).
fn calculator_turn() -> Vec<StreamFrame> {
    let mut frames = vec![StreamFrame::event(
        "messageStart",
        json!({"role": "assistant"}),
    )];
    for piece in ["Maira", "さんですね", "。計算しま", "す。"] {
        frames.push(StreamFrame::event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": piece}}),
        ));
    }
    frames.push(StreamFrame::event(
        "contentBlockStop",
        json!({"contentBlockIndex": 0}),
    ));
    frames.push(StreamFrame::event(
        "contentBlockStart",
        json!({"contentBlockIndex": 1, "start": {"toolUse": {
            "toolUseId": "tooluse_803d28788ff04b14a71405", "name": "calculator"}}}),
    ));
    for piece in ["{\"expressi", "on\": \"2+5\"", "}"] {
        frames.push(StreamFrame::event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": piece}}}),
        ));
    }
    frames.push(StreamFrame::event(
        "contentBlockStop",
        json!({"contentBlockIndex": 1}),
    ));
    frames.push(StreamFrame::event(
        "messageStop",
        json!({"stopReason": "tool_use"}),
    ));
    frames.push(StreamFrame::event(
        "metadata",
        json!({"usage": {"inputTokens": 239, "outputTokens": 20, "totalTokens": 259},
               "metrics": {"latencyMs": 1}}),
    ));
    frames
}

fn calculator_response() -> ModelResponse {
    ModelResponse {
        message: Message {
            role: Role::Assistant,
            content: vec![
                ContentBlock::Text("Mairaさんですね。計算します。".into()),
                ContentBlock::ToolUse(ToolUse {
                    tool_use_id: "tooluse_803d28788ff04b14a71405".into(),
                    name: "calculator".into(),
                    input: json!({"expression": "2+5"}),
                }),
            ],
        },
        stop_reason: StopReason::ToolUse,
        usage: Usage {
            input_tokens: 239,
            output_tokens: 20,
            total_tokens: 259,
        },
    }
}

fn stream_response(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, EVENT_STREAM_CONTENT_TYPE)
}

/// Bedrock answering every ConverseStream call with `response`; the model pointed at it.
async fn bedrock(response: ResponseTemplate) -> (MockServer, BedrockModel) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .respond_with(response)
        .mount(&server)
        .await;
    let model = BedrockModel::for_local_endpoint(&server.uri(), DEFAULT_MODEL_ID).await;
    (server, model)
}

async fn events_of(model: &BedrockModel) -> Vec<Result<ModelEvent, ModelError>> {
    let messages = [Message::user("2+5の答えは?")];
    model
        .converse_stream(ConverseRequest::new("", &messages, &[]))
        .collect()
        .await
}

fn texts(events: &[Result<ModelEvent, ModelError>]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            Ok(ModelEvent::TextDelta(text)) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_turn_yields_its_text_as_it_comes_then_the_same_message_converse_returns() {
    let (server, model) = bedrock(stream_response(encode_stream_body(&calculator_turn()))).await;
    let events = events_of(&model).await;
    assert_eq!(
        texts(&events),
        ["Maira", "さんですね", "。計算しま", "す。"]
    );
    assert_eq!(
        events.last(),
        Some(&Ok(ModelEvent::Completed(calculator_response())))
    );

    let request: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        request["messages"],
        json!([{"role": "user", "content": [{"text": "2+5の答えは?"}]}]),
        "the same body as Converse"
    );
}

#[tokio::test]
async fn tool_input_split_into_single_characters_is_assembled() {
    let response = calculator_response();
    let frames = frames_for(&response, 1);
    let deltas = frames
        .iter()
        .filter(|frame| matches!(frame, StreamFrame::Event { event, .. } if event == "contentBlockDelta"))
        .count();
    assert!(deltas >= 30, "{deltas} deltas");
    let (_server, model) = bedrock(stream_response(encode_stream_body(&frames))).await;
    let events = events_of(&model).await;
    assert_eq!(texts(&events).concat(), "Mairaさんですね。計算します。");
    assert_eq!(events.last(), Some(&Ok(ModelEvent::Completed(response))));
}

#[tokio::test]
async fn throttling_before_the_stream_starts_is_throttled() {
    let refusal = ResponseTemplate::new(429)
        .insert_header("x-amzn-ErrorType", "ThrottlingException")
        .set_body_json(json!({"message": "Too many requests, please wait before trying again."}));
    let (_server, model) = bedrock(refusal).await;
    let events = events_of(&model).await;
    assert!(
        matches!(&events[..], [Err(ModelError::Throttled { message })] if message.contains("Too many requests")),
        "{events:?}"
    );
}

#[tokio::test]
async fn exceptions_inside_the_stream_map_to_the_kinds_of_converse_errors() {
    let cases = [
        ("throttlingException", "Throttled"),
        ("modelStreamErrorException", "Unavailable"),
        ("serviceUnavailableException", "Unavailable"),
        ("validationException", "Rejected"),
    ];
    for (exception, kind) in cases {
        let mut frames = calculator_turn()[..3].to_vec();
        frames.push(StreamFrame::exception(exception, "it went wrong"));
        let (_server, model) = bedrock(stream_response(encode_stream_body(&frames))).await;
        let events = events_of(&model).await;
        assert_eq!(texts(&events), ["Maira", "さんですね"], "{exception}");
        let error = events.last().unwrap().as_ref().unwrap_err();
        assert!(
            format!("{error:?}").starts_with(kind),
            "{exception}: {error:?}"
        );
        assert!(error.to_string().contains("it went wrong"), "{error}");
    }
}

#[tokio::test]
async fn a_stream_cut_in_the_middle_of_a_frame_is_an_error_not_a_short_answer() {
    let body = encode_stream_body(&calculator_turn());
    let cut = body[..body.len() / 2].to_vec();
    let (_server, model) = bedrock(stream_response(cut)).await;
    let events = events_of(&model).await;
    assert!(
        !texts(&events).is_empty(),
        "the whole frames before the cut arrived"
    );
    let last = events.last().unwrap();
    assert!(
        matches!(
            last,
            Err(ModelError::Malformed { .. } | ModelError::Connection { .. })
        ),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_stream_that_ends_without_message_stop_is_malformed() {
    let frames = calculator_turn()[..5].to_vec();
    let (_server, model) = bedrock(stream_response(encode_stream_body(&frames))).await;
    let events = events_of(&model).await;
    assert_eq!(
        events.last(),
        Some(&Err(ModelError::Malformed {
            message: "the stream ended before messageStop".into()
        }))
    );
}
