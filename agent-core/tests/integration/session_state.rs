//! Tools that know their session: the context each call gets from the runtime, and the session
//! state kept with the turn — committed with it, untouched by a failed, timed-out or dropped
//! invocation, shared by parallel calls without lost writes, held to its cap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::session::{
    MemorySessionStore, SessionConfig, SessionId, SessionKey, SessionOwner, SessionState,
    SessionStore,
};
use agent_core::{
    Agent, AgentConfig, AgentError, ModelError, RequestInfo, Tool, ToolContext, ToolError,
    ToolOutput, ToolResultStatus, ToolSpec,
};
use async_trait::async_trait;
use serde_json::{Value, json};

/// What a call saw of its context.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    session: Option<String>,
    owner: Option<SessionOwner>,
    request_id: String,
    tool_use_id: String,
    header: Option<String>,
}

/// Counts its calls in the session state (`count`), and notes what context each call saw. With
/// `{"then": "panic"}` it panics after counting; with `{"big": n}` it also writes n bytes.
#[derive(Default)]
struct Counter {
    seen: Mutex<Vec<Seen>>,
}

#[async_trait]
impl Tool for Counter {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "counter".into(),
            description: "counts its calls in the session".into(),
            input_schema: json!({"type": "object"}),
        }
    }

    async fn call(&self, input: Value, context: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.seen.lock().unwrap().push(Seen {
            session: context.session_id().map(|id| id.to_string()),
            owner: context.owner().cloned(),
            request_id: context.request_id().to_owned(),
            tool_use_id: context.tool_use_id().to_owned(),
            header: context.headers().get("x-tenant").cloned(),
        });
        let count = context.update_state(|state| {
            let count = state.get("count").and_then(Value::as_u64).unwrap_or(0) + 1;
            state.set("count", count).map(|()| count)
        })?;
        if let Some(bytes) = input["big"].as_u64() {
            context.update_state(|state| state.set("big", "x".repeat(bytes as usize)))?;
        }
        if input["then"] == "panic" {
            panic!("the counter fell over after counting");
        }
        Ok(ToolOutput::text(count.to_string()))
    }
}

/// Waits for its invocation to be cancelled, in a task of its own, and says so.
struct Patient {
    cancelled: Arc<AtomicBool>,
}

#[async_trait]
impl Tool for Patient {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "patient".into(),
            description: "takes an hour".into(),
            input_schema: json!({"type": "object"}),
        }
    }

    async fn call(&self, _input: Value, context: &ToolContext) -> Result<ToolOutput, ToolError> {
        context.update_state(|state| state.set("started", true))?;
        let watcher = context.clone();
        let cancelled = self.cancelled.clone();
        tokio::spawn(async move {
            watcher.cancelled().await;
            cancelled.store(true, Ordering::SeqCst);
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(ToolOutput::text("done"))
    }
}

fn key(owner: &str, id: &str) -> SessionKey {
    SessionKey::new(SessionOwner::user(owner), SessionId::parse(id).unwrap())
}

fn agent(model: ScriptedModel, tools: Vec<Arc<dyn Tool>>, config: AgentConfig) -> Agent {
    tools
        .into_iter()
        .fold(Agent::builder(Arc::new(model)), |builder, tool| {
            builder.tool(tool).unwrap()
        })
        .config(config)
        .build()
}

/// A model that asks for `uses` tool calls, then answers.
fn calls_then_answer(uses: Vec<(&'static str, &'static str, Value)>) -> ScriptedModel {
    ScriptedModel::new(move |messages| {
        if messages
            .last()
            .is_some_and(|last| last.tool_results().next().is_some())
        {
            Ok(text_response("done"))
        } else {
            Ok(tool_use_response(&uses))
        }
    })
}

async fn stored_count(store: &MemorySessionStore, key: &SessionKey) -> Option<Value> {
    let state = store.state(key).await.unwrap()?;
    state.get("count").cloned()
}

#[tokio::test]
async fn a_tool_sees_its_session_and_request_and_the_state_commits_with_the_turn() {
    let counter = Arc::new(Counter::default());
    let model = calls_then_answer(vec![("tooluse_a", "counter", json!({}))]);
    let agent = agent(model, vec![counter.clone()], AgentConfig::default());
    let store = MemorySessionStore::new(SessionConfig::default());
    let session = key("maira", "session-1");
    for (turn_number, request_id) in [(1, "request-1"), (2, "request-2")] {
        let mut turn = store.checkout(&session).await.unwrap();
        turn.set_request(RequestInfo {
            request_id: request_id.into(),
            headers: [("x-tenant".to_owned(), "acme".to_owned())].into(),
            workload_access_token: None,
            caller: None,
        });
        agent.invoke_in(&mut turn, "count").await.unwrap();
        assert_eq!(turn.state().get("count"), Some(&json!(turn_number)));
        turn.commit().await.unwrap();
        assert_eq!(
            stored_count(&store, &session).await,
            Some(json!(turn_number))
        );
    }
    let seen = counter.seen.lock().unwrap().clone();
    assert_eq!(
        seen[1],
        Seen {
            session: Some("session-1".into()),
            owner: Some(SessionOwner::user("maira")),
            request_id: "request-2".into(),
            tool_use_id: "tooluse_a".into(),
            header: Some("acme".into()),
        }
    );
    // The same id under another owner is another session, with a state of its own.
    assert_eq!(stored_count(&store, &key("mani", "session-1")).await, None);
}

#[tokio::test]
async fn a_failed_invocation_leaves_the_state_as_it_was_even_if_the_turn_commits() {
    let counter = Arc::new(Counter::default());
    let model = ScriptedModel::sequence(vec![
        Ok(tool_use_response(&[("tooluse_a", "counter", json!({}))])),
        Err(ModelError::Rejected {
            message: "no".into(),
        }),
    ]);
    let agent = agent(model, vec![counter.clone()], AgentConfig::default());
    let store = MemorySessionStore::new(SessionConfig::default());
    let session = key("maira", "session-1");
    let mut turn = store.checkout(&session).await.unwrap();
    turn.state_mut().set("count", 41).unwrap();
    turn.commit().await.unwrap();

    let mut turn = store.checkout(&session).await.unwrap();
    let error = agent.invoke_in(&mut turn, "count").await.unwrap_err();
    assert!(matches!(error, AgentError::Model(_)), "{error}");
    assert_eq!(counter.seen.lock().unwrap().len(), 1, "the tool ran");
    assert_eq!(turn.state().get("count"), Some(&json!(41)));
    turn.commit().await.unwrap();
    assert_eq!(stored_count(&store, &session).await, Some(json!(41)));
}

#[tokio::test]
async fn a_turn_dropped_mid_invocation_stores_nothing_of_its_state() {
    let model = calls_then_answer(vec![("tooluse_a", "counter", json!({}))])
        .with_delay(Duration::from_secs(5));
    let agent = agent(
        model,
        vec![Arc::new(Counter::default())],
        AgentConfig::default(),
    );
    let store = MemorySessionStore::new(SessionConfig::default());
    let session = key("maira", "session-1");
    let mut turn = store.checkout(&session).await.unwrap();
    turn.state_mut().set("count", 7).unwrap();
    turn.commit().await.unwrap();

    let mut turn = store.checkout(&session).await.unwrap();
    turn.state_mut().set("count", 8).unwrap();
    let invocation = agent.invoke_in(&mut turn, "count");
    assert!(
        tokio::time::timeout(Duration::from_millis(10), invocation)
            .await
            .is_err()
    );
    drop(turn);
    assert_eq!(stored_count(&store, &session).await, Some(json!(7)));
}

#[tokio::test(start_paused = true)]
async fn past_the_deadline_the_state_is_untouched_and_the_tools_are_told() {
    let cancelled = Arc::new(AtomicBool::new(false));
    let model = calls_then_answer(vec![("tooluse_a", "patient", json!({}))]);
    let config = AgentConfig {
        invocation_timeout: Duration::from_secs(60),
        ..AgentConfig::default()
    };
    let patient = Arc::new(Patient {
        cancelled: cancelled.clone(),
    });
    let agent = agent(model, vec![patient], config);
    let store = MemorySessionStore::new(SessionConfig::default());
    let session = key("maira", "session-1");
    let mut turn = store.checkout(&session).await.unwrap();
    let error = agent.invoke_in(&mut turn, "wait").await.unwrap_err();
    assert!(matches!(error, AgentError::InvocationTimeout(_)), "{error}");
    assert!(turn.state().is_empty(), "{:?}", turn.state());
    tokio::task::yield_now().await;
    assert!(cancelled.load(Ordering::SeqCst), "the tool was not told");
}

#[tokio::test]
async fn a_successful_invocation_does_not_cancel_its_tools() {
    let kept_context = Arc::new(Mutex::new(None));
    struct Probe(Arc<Mutex<Option<ToolContext>>>);
    #[async_trait]
    impl Tool for Probe {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: "probe".into(),
                description: "keeps its context".into(),
                input_schema: json!({"type": "object"}),
            }
        }
        async fn call(&self, _: Value, context: &ToolContext) -> Result<ToolOutput, ToolError> {
            *self.0.lock().unwrap() = Some(context.clone());
            Ok(ToolOutput::text("ok"))
        }
    }
    let model = calls_then_answer(vec![("tooluse_a", "probe", json!({}))]);
    let agent = agent(
        model,
        vec![Arc::new(Probe(kept_context.clone()))],
        AgentConfig::default(),
    );
    let mut conversation = agent_core::Conversation::new();
    agent.invoke(&mut conversation, "probe").await.unwrap();
    let context = kept_context.lock().unwrap().take().unwrap();
    assert!(!context.is_cancelled());
    assert_eq!(context.session_id(), None, "no session outside a turn");
}

#[tokio::test]
async fn parallel_calls_lose_no_write_and_a_panicking_calls_writes_are_undone() {
    let uses = vec![
        ("tooluse_1", "counter", json!({})),
        ("tooluse_2", "counter", json!({})),
        ("tooluse_3", "counter", json!({"then": "panic"})),
        ("tooluse_4", "counter", json!({})),
        ("tooluse_5", "counter", json!({})),
    ];
    let agent = agent(
        calls_then_answer(uses),
        vec![Arc::new(Counter::default())],
        AgentConfig::default(),
    );
    let store = MemorySessionStore::new(SessionConfig::default());
    let session = key("maira", "session-1");
    let mut turn = store.checkout(&session).await.unwrap();
    agent
        .invoke_in(&mut turn, "count five times")
        .await
        .unwrap();
    let results = turn.conversation().messages()[2].clone();
    let failed: Vec<_> = results
        .tool_results()
        .filter(|result| result.status == ToolResultStatus::Error)
        .map(|result| result.tool_use_id.clone())
        .collect();
    assert_eq!(failed, ["tooluse_3"]);
    // Five calls counted, one of them then panicked: its count is undone where no later call
    // built on it, so the four others' counts all stand.
    let count = turn.state().get("count").and_then(Value::as_u64).unwrap();
    assert_eq!(
        count, 4,
        "calls run in order within the turn; the third one's count is undone"
    );
    turn.commit().await.unwrap();
    assert_eq!(stored_count(&store, &session).await, Some(json!(count)));
}

#[tokio::test]
async fn a_write_past_the_cap_is_the_tools_error_naming_the_cap_and_changes_nothing() {
    let model = calls_then_answer(vec![("tooluse_a", "counter", json!({"big": 2000}))]);
    let agent = agent(
        model.clone(),
        vec![Arc::new(Counter::default())],
        AgentConfig::default(),
    );
    let store = MemorySessionStore::new(SessionConfig {
        max_state_bytes: 1024,
        ..SessionConfig::default()
    });
    let session = key("maira", "session-1");
    let mut turn = store.checkout(&session).await.unwrap();
    agent.invoke_in(&mut turn, "count big").await.unwrap();
    let result = turn.conversation().messages()[2]
        .tool_results()
        .next()
        .unwrap()
        .clone();
    assert_eq!(result.status, ToolResultStatus::Error);
    assert!(
        result.text().contains("over its cap of 1024 bytes"),
        "{}",
        result.text()
    );
    // The count written before the refused write stands; the big value is not there.
    assert_eq!(turn.state().get("count"), Some(&json!(1)));
    assert_eq!(turn.state().get("big"), None);
    assert_eq!(turn.state().max_bytes(), 1024);
    assert!(SessionState::new(1024).is_empty());
}
