//! The agent loop against a scripted model: tool rounds, limits, retries and rollback.

use std::sync::Arc;
use std::time::Duration;

use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::{
    Agent, AgentConfig, AgentError, ContentBlock, Conversation, Message, ModelError, ModelResponse,
    RetryPolicy, Role, SlidingWindow, StopReason, Tool, ToolContext, ToolError, ToolOutput,
    ToolResultStatus, ToolSpec,
};
use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

/// A tool that waits, then answers with its name: shows whether tools run concurrently.
struct Slow(&'static str);

#[async_trait]
impl Tool for Slow {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.0.into(),
            description: "waits a second".into(),
            input_schema: json!({"type": "object", "properties": {}}),
        }
    }

    async fn call(&self, _input: Value, _context: &ToolContext) -> Result<ToolOutput, ToolError> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(ToolOutput::text(self.0))
    }
}

fn fast_config() -> AgentConfig {
    AgentConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        },
        ..AgentConfig::default()
    }
}

fn agent(model: &ScriptedModel, config: AgentConfig) -> Agent {
    Agent::builder(Arc::new(model.clone()))
        .system_prompt("be helpful")
        .tool(Arc::new(Slow("weather")))
        .unwrap()
        .tool(Arc::new(Slow("get_time")))
        .unwrap()
        .config(config)
        .build()
}

fn tool_results(message: &Message) -> Vec<(String, ToolResultStatus, String)> {
    message
        .tool_results()
        .map(|result| (result.tool_use_id.clone(), result.status, result.text()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_tool_round_trip_appends_four_messages() {
    let model = ScriptedModel::sequence(vec![
        Ok(tool_use_response(&[("t1", "weather", json!({}))])),
        Ok(text_response("It is weather.")),
    ]);
    let agent = agent(&model, fast_config());
    let mut conversation = Conversation::new();
    let reply = agent.invoke(&mut conversation, "how is it?").await.unwrap();

    assert_eq!(reply.text, "It is weather.");
    assert_eq!(reply.stop_reason, StopReason::EndTurn);
    assert_eq!(reply.cycles, 2);
    let messages = conversation.messages();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0], Message::user("how is it?"));
    assert_eq!(
        tool_results(&messages[2]),
        vec![("t1".into(), ToolResultStatus::Success, "weather".into())]
    );
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].len(),
        3,
        "the second call carries the tool result"
    );
}

#[tokio::test(start_paused = true)]
async fn several_tools_in_one_turn_run_concurrently_and_answer_in_order() {
    let model = ScriptedModel::sequence(vec![
        Ok(tool_use_response(&[
            ("a", "get_time", json!({})),
            ("b", "weather", json!({})),
        ])),
        Ok(text_response("done")),
    ]);
    let agent = agent(&model, fast_config());
    let mut conversation = Conversation::new();
    let started = Instant::now();
    agent
        .invoke(&mut conversation, "both please")
        .await
        .unwrap();

    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "two 1 s tools took 1 s"
    );
    assert_eq!(
        tool_results(&conversation.messages()[2]),
        vec![
            ("a".into(), ToolResultStatus::Success, "get_time".into()),
            ("b".into(), ToolResultStatus::Success, "weather".into()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_unknown_tool_goes_back_to_the_model_as_an_error_result() {
    let model = ScriptedModel::sequence(vec![
        Ok(tool_use_response(&[("x", "teleport", json!({}))])),
        Ok(text_response("I cannot teleport.")),
    ]);
    let agent = agent(&model, fast_config());
    let mut conversation = Conversation::new();
    let reply = agent.invoke(&mut conversation, "beam me up").await.unwrap();
    assert_eq!(reply.text, "I cannot teleport.");
    assert_eq!(
        tool_results(&conversation.messages()[2]),
        vec![(
            "x".into(),
            ToolResultStatus::Error,
            "Unknown tool `teleport`. Available tools: weather, get_time.".into()
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn a_runaway_tool_loop_stops_at_the_cycle_cap_and_rolls_back() {
    let model = ScriptedModel::new(|_| Ok(tool_use_response(&[("loop", "weather", json!({}))])));
    let agent = agent(
        &model,
        AgentConfig {
            max_cycles: 5,
            ..fast_config()
        },
    );
    let mut conversation =
        Conversation::from(vec![Message::user("earlier"), Message::assistant("reply")]);
    let error = agent.invoke(&mut conversation, "go").await.unwrap_err();
    assert_eq!(error, AgentError::ToolLoopCap { cycles: 5 });
    assert_eq!(model.requests().len(), 5);
    assert_eq!(conversation.len(), 2, "history as before the invocation");
}

#[tokio::test(start_paused = true)]
async fn the_window_trims_history_between_invocations() {
    let model = ScriptedModel::new(|messages| {
        let last = messages.last().map(Message::text).unwrap_or_default();
        Ok(text_response(&format!("echo {last}")))
    });
    let agent = agent(
        &model,
        AgentConfig {
            window: SlidingWindow { max_messages: 4 },
            ..fast_config()
        },
    );
    let mut conversation = Conversation::new();
    for n in 0..5 {
        agent
            .invoke(&mut conversation, &format!("prompt {n}"))
            .await
            .unwrap();
        assert!(conversation.len() <= 4);
    }
    assert_eq!(conversation.messages()[0], Message::user("prompt 3"));
    assert_eq!(
        model.requests()[4].len(),
        5,
        "the call sees the window plus the new prompt"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_invocation_leaves_the_history_as_it_was_and_the_next_one_works() {
    let model = ScriptedModel::sequence(vec![
        Ok(text_response("first answer")),
        Ok(tool_use_response(&[("t", "weather", json!({}))])),
        Err(ModelError::Rejected {
            message: "ValidationException".into(),
        }),
        Ok(text_response("third answer")),
    ]);
    let agent = agent(&model, fast_config());
    let mut conversation = Conversation::new();
    agent.invoke(&mut conversation, "one").await.unwrap();
    let before = conversation.clone();

    let error = agent.invoke(&mut conversation, "two").await.unwrap_err();
    assert!(
        matches!(error, AgentError::Model(ModelError::Rejected { .. })),
        "{error:?}"
    );
    assert_eq!(conversation, before);

    agent.invoke(&mut conversation, "three").await.unwrap();
    assert_eq!(conversation.len(), 4);
    let last_request = model.requests().pop().unwrap();
    assert_eq!(last_request.len(), 3, "nothing of the failed turn was sent");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_invocation_rolls_back_too() {
    let model =
        ScriptedModel::sequence(vec![Ok(tool_use_response(&[("t", "weather", json!({}))]))])
            .with_delay(Duration::from_millis(10));
    let agent = agent(&model, fast_config());
    let mut conversation =
        Conversation::from(vec![Message::user("earlier"), Message::assistant("reply")]);
    // The tool takes 1 s; give up half-way through it, as a client hanging up would.
    let outcome = tokio::time::timeout(
        Duration::from_millis(500),
        agent.invoke(&mut conversation, "go"),
    )
    .await;
    assert!(outcome.is_err());
    assert_eq!(conversation.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_with_backoff_then_succeeds() {
    let throttled = || {
        Err(ModelError::Throttled {
            message: "slow down".into(),
        })
    };
    let model =
        ScriptedModel::sequence(vec![throttled(), throttled(), Ok(text_response("made it"))]);
    let agent = agent(&model, fast_config());
    let started = Instant::now();
    let reply = agent.invoke(&mut Conversation::new(), "hi").await.unwrap();
    assert_eq!(reply.text, "made it");
    assert_eq!(model.requests().len(), 3);
    // Equal jitter: at least half of 10 ms + 20 ms was waited.
    assert!(
        started.elapsed() >= Duration::from_millis(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_past_the_attempts_is_a_throttled_error() {
    let model = ScriptedModel::new(|_| {
        Err(ModelError::Throttled {
            message: "slow down".into(),
        })
    });
    let agent = agent(&model, fast_config());
    let error = agent
        .invoke(&mut Conversation::new(), "hi")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        AgentError::Throttled {
            attempts: 3,
            message: "slow down".into(),
            retry_after_secs: 1
        }
    );
    assert_eq!(model.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_but_rejections_are_not() {
    let unavailable = || {
        Err(ModelError::Unavailable {
            status: 503,
            message: "busy".into(),
        })
    };
    let model = ScriptedModel::sequence(vec![unavailable(), Ok(text_response("ok"))]);
    agent(&model, fast_config())
        .invoke(&mut Conversation::new(), "hi")
        .await
        .unwrap();
    assert_eq!(model.requests().len(), 2);

    let model = ScriptedModel::new(|_| {
        Err(ModelError::Rejected {
            message: "AccessDenied".into(),
        })
    });
    let error = agent(&model, fast_config())
        .invoke(&mut Conversation::new(), "hi")
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AgentError::Model(ModelError::Rejected { .. })
    ));
    assert_eq!(model.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_slow_model_times_out() {
    let model =
        ScriptedModel::new(|_| Ok(text_response("late"))).with_delay(Duration::from_secs(30));
    let agent = agent(
        &model,
        AgentConfig {
            model_timeout: Duration::from_secs(5),
            ..fast_config()
        },
    );
    let error = agent
        .invoke(&mut Conversation::new(), "hi")
        .await
        .unwrap_err();
    assert_eq!(error, AgentError::Timeout(Duration::from_secs(5)));
}

#[tokio::test(start_paused = true)]
async fn stop_reasons_other_than_tool_use_end_the_turn() {
    for reason in [
        StopReason::MaxTokens,
        StopReason::StopSequence,
        StopReason::GuardrailIntervened,
    ] {
        let response = ModelResponse {
            stop_reason: reason.clone(),
            ..text_response("partial")
        };
        let model = ScriptedModel::sequence(vec![Ok(response)]);
        let reply = agent(&model, fast_config())
            .invoke(&mut Conversation::new(), "hi")
            .await
            .unwrap();
        assert_eq!(
            (reply.text.as_str(), reply.stop_reason),
            ("partial", reason)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_tool_use_cut_off_by_max_tokens_fails_cleanly() {
    let response = ModelResponse {
        stop_reason: StopReason::MaxTokens,
        ..tool_use_response(&[("t", "weather", json!({}))])
    };
    let model = ScriptedModel::sequence(vec![Ok(response)]);
    let mut conversation = Conversation::new();
    let error = agent(&model, fast_config())
        .invoke(&mut conversation, "hi")
        .await
        .unwrap_err();
    assert!(
        matches!(error, AgentError::Model(ModelError::Malformed { .. })),
        "{error:?}"
    );
    assert!(conversation.is_empty());
}

#[tokio::test]
async fn an_empty_prompt_is_invalid_input() {
    let model = ScriptedModel::sequence(vec![]);
    let error = agent(&model, fast_config())
        .invoke(&mut Conversation::new(), "  ")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        AgentError::InvalidInput("the prompt is empty".into())
    );
    assert!(model.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_empty_answer_is_returned_as_is_but_kept_in_a_form_bedrock_accepts() {
    let empty = ModelResponse {
        message: Message {
            role: Role::Assistant,
            content: vec![ContentBlock::Text(String::new())],
        },
        ..text_response("")
    };
    let model = ScriptedModel::sequence(vec![
        Ok(tool_use_response(&[("t", "weather", json!({}))])),
        Ok(empty),
        Ok(text_response("next")),
    ]);
    let agent = agent(&model, fast_config());
    let mut conversation = Conversation::new();
    let reply = agent.invoke(&mut conversation, "hi").await.unwrap();
    assert_eq!(reply.text, "");
    assert_eq!(
        conversation.messages()[3],
        Message::assistant(agent_core::EMPTY_MESSAGE_PLACEHOLDER)
    );

    agent.invoke(&mut conversation, "again").await.unwrap();
    let sent = model.requests().pop().unwrap();
    for message in &sent {
        assert!(!message.content.is_empty());
        for block in &message.content {
            if let ContentBlock::Text(text) = block {
                assert!(
                    !text.trim().is_empty(),
                    "blank text sent to the model: {sent:?}"
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_invocation_past_its_deadline_fails_and_leaves_the_history_as_it_was() {
    // Every call takes five minutes and asks for a tool again: 20 cycles would take 100 minutes.
    let model = ScriptedModel::new(|messages: &[Message]| {
        Ok(tool_use_response(&[(
            &format!("t{}", messages.len()),
            "weather",
            json!({}),
        )]))
    })
    .with_delay(Duration::from_secs(5 * 60));
    let config = AgentConfig {
        model_timeout: Duration::from_secs(10 * 60),
        ..fast_config()
    };
    let agent = agent(&model, config);
    let mut conversation = Conversation::from(vec![Message::user("before")]);
    let before = conversation.clone();
    let started = Instant::now();
    let error = agent.invoke(&mut conversation, "loop").await.unwrap_err();
    assert_eq!(
        error,
        AgentError::InvocationTimeout(Duration::from_secs(15 * 60))
    );
    assert_eq!(started.elapsed(), Duration::from_secs(15 * 60));
    assert_eq!(conversation, before);
}

/// Refuses, as Bedrock does, any request of more than `fits` messages or with "huge" in it.
fn small_context_model(fits: usize) -> ScriptedModel {
    ScriptedModel::new(move |messages: &[Message]| {
        let huge = messages
            .iter()
            .any(|message| message.text().contains("huge"));
        if messages.len() > fits || huge {
            return Err(ModelError::ContextOverflow {
                message: "Input is too long for requested model.".into(),
            });
        }
        Ok(text_response(&format!("{} messages", messages.len())))
    })
}

#[tokio::test(start_paused = true)]
async fn a_context_overflow_trims_the_oldest_turns_once_and_retries() {
    let model = small_context_model(5);
    let agent = agent(&model, fast_config());
    let mut conversation = Conversation::new();
    for prompt in ["one", "two", "three"] {
        agent.invoke(&mut conversation, prompt).await.unwrap();
    }
    assert_eq!(conversation.len(), 6);
    // Seven messages do not fit: the two oldest turns go, the newest earlier one stays.
    let reply = agent.invoke(&mut conversation, "four").await.unwrap();
    assert_eq!(reply.text, "3 messages");
    let texts: Vec<String> = conversation.messages().iter().map(Message::text).collect();
    assert_eq!(texts, ["three", "5 messages", "four", "3 messages"]);
}

#[tokio::test(start_paused = true)]
async fn a_prompt_too_long_even_alone_is_refused_and_the_history_is_kept() {
    let model = small_context_model(100);
    let agent = agent(&model, fast_config());
    let mut conversation = Conversation::new();
    agent.invoke(&mut conversation, "one").await.unwrap();
    let before = conversation.clone();
    let error = agent.invoke(&mut conversation, "huge").await.unwrap_err();
    assert!(
        matches!(error, AgentError::PromptTooLong { .. }),
        "{error:?}"
    );
    assert_eq!(
        conversation, before,
        "the trim is undone with the invocation"
    );
}
