//! The agent's streaming form: the same loop reporting text, tool calls and results as they
//! happen, leaving the same history as `invoke`; a reader that goes away stops it; a failed model
//! turn is retried only while nothing of it has reached the client; silence times out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::{
    Agent, AgentConfig, AgentError, AgentEvent, Conversation, ConverseRequest, Model, ModelError,
    ModelEvent, ModelEvents, ModelResponse, NoEvents, RetryPolicy, Tool, ToolError, ToolOutput,
    ToolResultStatus, ToolSpec,
};
use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;

fn config() -> AgentConfig {
    AgentConfig {
        model_streaming: true,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        },
        model_timeout: Duration::from_secs(5),
        ..AgentConfig::default()
    }
}

/// Answers `Result: 7` whatever it is asked.
struct Calculator;

#[async_trait]
impl Tool for Calculator {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "calculator".into(),
            description: "adds".into(),
            input_schema: json!({"type": "object", "properties": {"expression": {"type": "string"}}}),
        }
    }

    async fn call(
        &self,
        _input: serde_json::Value,
        _context: &agent_core::ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text("Result: 7"))
    }
}

fn agent(model: Arc<dyn Model>) -> Agent {
    Agent::builder(model)
        .tool(Arc::new(Calculator))
        .unwrap()
        .config(config())
        .build()
}

fn calculator_turn() -> ScriptedModel {
    ScriptedModel::sequence(vec![
        Ok(tool_use_response(&[(
            "t1",
            "calculator",
            json!({"expression": "2+5"}),
        )])),
        Ok(text_response("7 です。")),
    ])
}

/// Runs the streaming form, collecting every event.
async fn stream(
    agent: &Agent,
    conversation: &mut Conversation,
) -> (Result<String, AgentError>, Vec<AgentEvent>) {
    let (mut sender, mut receiver) = mpsc::channel(4);
    let collect = async {
        let mut events = Vec::new();
        while let Some(event) = receiver.recv().await {
            events.push(event);
        }
        events
    };
    let run = async {
        let outcome = agent
            .invoke_streaming(conversation, "2+5?", &mut sender)
            .await;
        drop(sender);
        outcome.map(|reply| reply.text)
    };
    tokio::join!(run, collect)
}

#[tokio::test]
async fn the_streaming_form_reports_each_step_and_leaves_the_same_history_as_invoke() {
    let mut streamed = Conversation::new();
    let (reply, events) = stream(&agent(Arc::new(calculator_turn())), &mut streamed).await;
    assert_eq!(reply.unwrap(), "7 です。");
    let [
        AgentEvent::ToolUse(tool_use),
        AgentEvent::ToolResult { name, result },
        AgentEvent::TextDelta(text),
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(
        (tool_use.name.as_str(), &tool_use.input),
        ("calculator", &json!({"expression": "2+5"}))
    );
    assert_eq!(
        (name.as_str(), result.status, result.text()),
        ("calculator", ToolResultStatus::Success, "Result: 7".into())
    );
    assert_eq!(text, "7 です。");

    let mut plain = Conversation::new();
    agent(Arc::new(calculator_turn()))
        .invoke(&mut plain, "2+5?")
        .await
        .unwrap();
    assert_eq!(streamed, plain);
    assert_eq!(streamed.len(), 4);
}

#[tokio::test]
async fn a_reader_that_goes_away_stops_the_invocation_and_leaves_the_history_as_it_was() {
    let agent = agent(Arc::new(calculator_turn()));
    let mut conversation = Conversation::from(vec![agent_core::Message::user("before")]);
    let before = conversation.clone();
    let (mut sender, receiver) = mpsc::channel(4);
    drop(receiver);
    let outcome = agent
        .invoke_streaming(&mut conversation, "2+5?", &mut sender)
        .await;
    assert_eq!(outcome.unwrap_err(), AgentError::Disconnected);
    assert_eq!(conversation, before);
}

/// Streams "partial" and then fails with `error` on its first `failures` calls; then answers.
struct FailsMidStream {
    failures: u32,
    error: ModelError,
    calls: AtomicU32,
}

#[async_trait]
impl Model for FailsMidStream {
    async fn converse(&self, _request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        unreachable!("this agent streams")
    }

    fn converse_stream<'a>(&'a self, _request: ConverseRequest<'a>) -> ModelEvents<'a> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call < self.failures {
            stream::iter([
                Ok(ModelEvent::TextDelta("partial".into())),
                Err(self.error.clone()),
            ])
            .boxed()
        } else {
            let answer = text_response("whole");
            stream::iter([
                Ok(ModelEvent::TextDelta("whole".into())),
                Ok(ModelEvent::Completed(answer)),
            ])
            .boxed()
        }
    }
}

impl std::fmt::Display for FailsMidStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "fails mid-stream".into() };
        formatter.write_str(&text)
    }
}

fn fails_once() -> Arc<FailsMidStream> {
    Arc::new(FailsMidStream {
        failures: 1,
        error: ModelError::Throttled {
            message: "slow down".into(),
        },
        calls: AtomicU32::new(0),
    })
}

#[tokio::test]
async fn a_turn_that_failed_after_text_reached_the_client_is_not_retried() {
    let model = fails_once();
    let mut conversation = Conversation::new();
    let (outcome, events) = stream(&agent(model.clone()), &mut conversation).await;
    assert!(
        matches!(outcome, Err(AgentError::Throttled { attempts: 1, .. })),
        "{outcome:?}"
    );
    assert_eq!(events, [AgentEvent::TextDelta("partial".into())]);
    assert_eq!(model.calls.load(Ordering::SeqCst), 1);
    assert!(conversation.is_empty(), "rolled back");
}

#[tokio::test]
async fn a_turn_that_failed_before_anything_reached_a_client_is_retried() {
    let model = fails_once();
    let mut conversation = Conversation::new();
    let reply = agent(model.clone())
        .invoke_streaming(&mut conversation, "hi", &mut NoEvents)
        .await
        .unwrap();
    assert_eq!(reply.text, "whole");
    assert_eq!(model.calls.load(Ordering::SeqCst), 2);
}

/// Sends one delta, then nothing ever again.
struct FallsSilent;

#[async_trait]
impl Model for FallsSilent {
    async fn converse(&self, _request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        unreachable!("this agent streams")
    }

    fn converse_stream<'a>(&'a self, _request: ConverseRequest<'a>) -> ModelEvents<'a> {
        stream::iter([Ok(ModelEvent::TextDelta("and then".into()))])
            .chain(stream::pending())
            .boxed()
    }
}

impl std::fmt::Display for FallsSilent {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "falls silent".into() };
        formatter.write_str(&text)
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_falls_silent_times_out() {
    let mut conversation = Conversation::new();
    let (outcome, events) = stream(&agent(Arc::new(FallsSilent)), &mut conversation).await;
    assert_eq!(
        outcome.unwrap_err(),
        AgentError::Timeout(Duration::from_secs(5))
    );
    assert_eq!(events, [AgentEvent::TextDelta("and then".into())]);
    assert!(conversation.is_empty());
}

/// Streams as many deltas as it is asked for, counting them.
struct Endless(Arc<AtomicU32>);

#[async_trait]
impl Model for Endless {
    async fn converse(&self, _request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        unreachable!("this agent streams")
    }

    fn converse_stream<'a>(&'a self, _request: ConverseRequest<'a>) -> ModelEvents<'a> {
        let pulled = self.0.clone();
        stream::repeat_with(move || {
            let n = pulled.fetch_add(1, Ordering::SeqCst);
            if n < 1_000 {
                Ok(ModelEvent::TextDelta(format!("{n} ")))
            } else {
                Ok(ModelEvent::Completed(text_response("done")))
            }
        })
        .boxed()
    }
}

impl std::fmt::Display for Endless {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "endless".into() };
        formatter.write_str(&text)
    }
}

#[tokio::test(start_paused = true)]
async fn a_reader_that_does_not_read_holds_the_model_stream_back() {
    let pulled = Arc::new(AtomicU32::new(0));
    let agent = Arc::new(agent(Arc::new(Endless(pulled.clone()))));
    let (mut sender, mut receiver) = mpsc::channel(2);
    let running = tokio::spawn({
        let agent = agent.clone();
        async move {
            let mut conversation = Conversation::new();
            agent
                .invoke_streaming(&mut conversation, "go", &mut sender)
                .await
                .map(|reply| reply.text)
        }
    });
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!running.is_finished());
    let held = pulled.load(Ordering::SeqCst);
    assert!(
        held <= 4,
        "the model was read {held} deltas ahead of the reader"
    );

    let mut read = 0;
    while receiver.recv().await.is_some() {
        read += 1;
    }
    assert_eq!(read, 1_000);
    assert_eq!(running.await.unwrap().unwrap(), "done");
}
