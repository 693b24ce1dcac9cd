//! Structured output: the model made to call one tool whose schema is the output type's, its
//! answer checked and corrected once, then taken or refused — on a model that records what it
//! was asked, and through the real AWS SDK against wiremock, reading `toolChoice` off the wire.

use std::sync::{Arc, Mutex};

use agent_core::scripted::{text_response, tool_use_response};
use agent_core::{
    Agent, AgentConfig, AgentError, ContentBlock, Conversation, ConverseRequest, Message, Model,
    ModelError, ModelResponse, Role, ToolSpec,
};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

/// What the tutorial's answer is, as a value.
#[derive(Debug, PartialEq, Deserialize, schemars::JsonSchema)]
struct Sum {
    /// The numbers added.
    terms: Vec<i64>,
    /// Their sum.
    total: i64,
}

/// One request as the model saw it: messages, tools offered, the tool forced.
type Seen = (Vec<Message>, Vec<ToolSpec>, Option<String>);

/// A model that answers from a list, recording each request's messages, tools and forced tool.
struct Recording {
    answers: Mutex<Vec<ModelResponse>>,
    seen: Mutex<Vec<Seen>>,
}

impl Recording {
    fn new(answers: Vec<ModelResponse>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers.into_iter().rev().collect()),
            seen: Mutex::default(),
        })
    }
}

#[async_trait]
impl Model for Recording {
    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        self.seen.lock().unwrap().push((
            request.messages.to_vec(),
            request.tools.to_vec(),
            request.forced_tool.map(str::to_owned),
        ));
        Ok(self.answers.lock().unwrap().pop().expect("an answer left"))
    }
}

impl std::fmt::Display for Recording {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "recording".into() };
        formatter.write_str(&text)
    }
}

fn agent(model: Arc<dyn Model>) -> Agent {
    let config = AgentConfig {
        model_streaming: false,
        ..AgentConfig::default()
    };
    Agent::builder(model).config(config).build()
}

fn answer(input: Value) -> ModelResponse {
    tool_use_response(&[("tooluse_out", "Sum", input)])
}

#[tokio::test]
async fn a_wrong_answer_is_corrected_once_and_the_turn_keeps_the_accepted_json() {
    let model = Recording::new(vec![
        answer(json!({"terms": [2, 5]})),
        answer(json!({"terms": [2, 5], "total": 7})),
    ]);
    let agent = agent(model.clone());
    let mut conversation = Conversation::new();
    let sum: Sum = agent
        .structured_output_into(&mut conversation, "2+5?")
        .await
        .unwrap();
    assert_eq!(
        sum,
        Sum {
            terms: vec![2, 5],
            total: 7
        }
    );

    let seen = model.seen.lock().unwrap();
    let (first, tools, forced) = &seen[0];
    assert_eq!(first, &[Message::user("2+5?")]);
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].name, "Sum");
    assert_eq!(tools[0].input_schema["required"], json!(["terms", "total"]));
    assert_eq!(forced.as_deref(), Some("Sum"));
    // The correction is the tool's error result, naming what is missing.
    let (second, _, _) = &seen[1];
    let ContentBlock::ToolResult(result) = &second.last().unwrap().content[0] else {
        panic!("a tool result: {second:?}");
    };
    assert!(result.text().contains("total"), "{}", result.text());
    assert_eq!(second.len(), 3);

    assert_eq!(
        conversation.messages(),
        [
            Message::user("2+5?"),
            Message::assistant(json!({"terms": [2, 5], "total": 7}).to_string()),
        ]
    );
    assert_eq!(conversation.messages()[1].role, Role::Assistant);
}

#[tokio::test]
async fn two_wrong_answers_fail_naming_the_field_and_leave_the_conversation_as_it_was() {
    let model = Recording::new(vec![
        answer(json!({"terms": [2, 5], "total": "seven"})),
        text_response("It is seven."),
    ]);
    let agent = agent(model.clone());
    let mut conversation = Conversation::new();
    conversation.push(Message::user("earlier"));
    conversation.push(Message::assistant("earlier answer"));
    let error = agent
        .structured_output_into::<Sum>(&mut conversation, "2+5?")
        .await
        .unwrap_err();
    assert!(matches!(error, AgentError::StructuredOutput(_)), "{error}");
    assert!(
        error.to_string().contains("without calling `Sum`"),
        "{error}"
    );
    let seen = model.seen.lock().unwrap();
    let ContentBlock::ToolResult(result) = &seen[1].0.last().unwrap().content[0] else {
        panic!("a tool result");
    };
    assert!(
        result.text().contains("/total"),
        "names the field: {}",
        result.text()
    );
    assert_eq!(conversation.len(), 2, "nothing of the failed turn kept");
}

#[cfg(feature = "bedrock")]
#[tokio::test]
async fn bedrock_receives_the_forced_tool_choice() {
    use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex("/converse$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "tooluse_1", "name": "Sum", "input": {"terms": [7, 34], "total": 41}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
            "metrics": {"latencyMs": 900}
        })))
        .mount(&server)
        .await;
    let model = BedrockModel::for_local_endpoint(&server.uri(), DEFAULT_MODEL_ID).await;
    let agent = agent(Arc::new(model));
    let mut conversation = Conversation::new();
    let sum: Sum = agent
        .structured_output_into(&mut conversation, "7+34?")
        .await
        .unwrap();
    assert_eq!(sum.total, 41);
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "Sum"}})
    );
    assert_eq!(body["toolConfig"]["tools"][0]["toolSpec"]["name"], "Sum");
    assert_eq!(
        body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["total"]["type"],
        "integer"
    );
}
