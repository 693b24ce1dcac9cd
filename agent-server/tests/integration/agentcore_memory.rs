//! Sessions and long-term memory in AgentCore Memory, through the real `aws-sdk-bedrockagentcore`
//! client against the Memory stand-in on a loopback port: the tutorial across a restart, one
//! event per turn and none for a failed one, restores across pages, tool histories, a session
//! the Python stack wrote, ids Memory cannot take as they are, throttling, Memory down and back,
//! an unreadable turn, and memories in the prompt but not in the history.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::{
    BINARY, GatedModel, TestServer, counting_model, session_1_total, session_1_weather_and_sum,
    tutorial_model, tutorial_sessions_2_and_3,
};
use agent_core::long_term_memory::{LongTermMemory, LongTermMemoryConfig};
use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::session::{
    AgentCoreMemory, AgentCoreMemorySessionStore, MemorySessionStore, SessionConfig, SessionId,
    SessionKey, SessionOwner, SessionStore,
};
use agent_core::{Agent, ContentBlock, Message, Model, Role, SlidingWindow, ToolResult, ToolUse};
use agent_server::AgentEntrypoint;
use agent_server::tutorial::TutorialEntrypoint;
use agent_testkit::{Log, MemoryStandIn, STAND_IN_MEMORY_ID, ServerProcess};
use agent_tools::{Clock, Weather};
use serde_json::{Value, json};

/// A client of the stand-in's memory.
async fn memory(stand_in: &MemoryStandIn) -> AgentCoreMemory {
    AgentCoreMemory::for_local_endpoint(&stand_in.endpoint(), STAND_IN_MEMORY_ID.parse().unwrap())
        .await
}

/// A store on the stand-in, as a freshly started process has it: holding no session.
async fn store(stand_in: &MemoryStandIn) -> Arc<AgentCoreMemorySessionStore> {
    Arc::new(AgentCoreMemorySessionStore::new(
        memory(stand_in).await,
        SessionConfig::default(),
        None,
    ))
}

/// The tutorial server with its sessions in the stand-in.
async fn tutorial_on_memory(stand_in: &MemoryStandIn, model: Arc<dyn Model>) -> TestServer {
    TestServer::tutorial_on(model, store(stand_in).await).await
}

/// What a stored event's blob says the turn was.
fn stored_turn(event: &Value) -> Value {
    let blob = event["payload"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|item| item["blob"].as_str())
        .expect("a turn's blob");
    serde_json::from_str(blob).unwrap()
}

/// The conversational items of a stored event, as (role, text).
fn conversational(event: &Value) -> Vec<(String, String)> {
    event["payload"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| {
            let item = item.get("conversational")?;
            Some((
                item["role"].as_str()?.to_owned(),
                item["content"]["text"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

#[tokio::test]
async fn the_tutorial_continues_across_a_restart_with_one_event_per_turn() {
    let stand_in = MemoryStandIn::start().await;
    let first = tutorial_on_memory(&stand_in, tutorial_model()).await;
    let session_1 = format!("tutorial-1-{}", uuid::Uuid::new_v4());
    session_1_weather_and_sum(&first, &first, &session_1).await;
    first.shut_down().await;

    let restarted = tutorial_on_memory(&stand_in, tutorial_model()).await;
    session_1_total(&restarted, &session_1).await;
    tutorial_sessions_2_and_3(&restarted, &restarted).await;

    let events = stand_in.events("1", &session_1);
    assert_eq!(events.len(), 3, "one CreateEvent per turn");
    assert_eq!(
        stand_in.requests("CreateEvent").len(),
        5,
        "five turns in all"
    );
    let messages: Vec<usize> = events
        .iter()
        .map(|event| {
            stored_turn(&event.event)["messages"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(
        messages,
        [4, 4, 4],
        "each turn whole: prompt, tool use, result, answer"
    );
    let (role, text) = &conversational(&events[2].event)[1];
    assert_eq!(role, "ASSISTANT");
    assert!(text.contains("41"), "{text}");
    assert!(conversational(&events[2].event)[0].1.contains("34"));
    // Session 1 was read once by each process; sessions 2 and 3 once each, when new.
    assert_eq!(stand_in.requests("ListEvents").len(), 4);
    assert_eq!(
        restarted
            .history(&session_1, "1")
            .await
            .unwrap()
            .messages()
            .len(),
        12
    );
}

#[tokio::test]
async fn a_failed_turn_writes_nothing_and_the_session_goes_on() {
    let stand_in = MemoryStandIn::start().await;
    let model =
        ScriptedModel::new(
            |messages: &[Message]| match messages.last().unwrap().text().as_str() {
                text if text.contains("fail") => Err(agent_core::ModelError::Rejected {
                    message: "refused".into(),
                }),
                _ => Ok(text_response(&format!("{} messages", messages.len()))),
            },
        );
    let server = tutorial_on_memory(&stand_in, Arc::new(model)).await;
    assert_eq!(server.ask("s", "1", "one").await.status, 200);
    let failed = server.ask("s", "1", "fail now").await;
    assert!(failed.status >= 400, "{}", failed.status);
    assert_eq!(
        stand_in.events("1", "s").len(),
        1,
        "the failed turn wrote nothing"
    );
    let next = server.ask("s", "1", "two").await;
    assert_eq!(
        next.text(),
        "3 messages",
        "the history holds the first turn only"
    );
    assert_eq!(stand_in.events("1", "s").len(), 2);
}

#[tokio::test]
async fn a_restore_reads_every_page_whatever_the_order() {
    let stand_in = MemoryStandIn::start().await;
    stand_in.set_page_size(2);
    let writer = tutorial_on_memory(&stand_in, counting_model()).await;
    for turn in 0..7 {
        let reply = writer.ask("paged", "1", &format!("turn {turn}")).await;
        assert_eq!(reply.text(), format!("{} messages", 2 * turn + 1));
    }
    let before = stand_in.requests("ListEvents").len();
    let reader = tutorial_on_memory(&stand_in, counting_model()).await;
    assert_eq!(
        reader.ask("paged", "1", "turn 7").await.text(),
        "15 messages"
    );
    let restored = reader.history("paged", "1").await.unwrap();
    let prompts: Vec<String> = restored
        .messages()
        .iter()
        .filter(|message| message.role == Role::User)
        .map(|message| message.text())
        .collect();
    assert!(
        prompts
            .iter()
            .enumerate()
            .all(|(n, prompt)| prompt.contains(&format!("turn {n}"))),
        "{prompts:?}"
    );
    assert_eq!(
        stand_in.requests("ListEvents").len() - before,
        4,
        "seven events in pages of two"
    );
    assert_eq!(
        reader.ask("paged", "1", "turn 8").await.text(),
        "17 messages",
        "a live session is not read again"
    );
    assert_eq!(stand_in.requests("ListEvents").len() - before, 4);
}

#[tokio::test]
async fn the_window_bounds_what_is_restored() {
    let stand_in = MemoryStandIn::start().await;
    let writer = tutorial_on_memory(&stand_in, counting_model()).await;
    for turn in 0..4 {
        writer.ask("long", "1", &format!("turn {turn}")).await;
    }
    let window = SlidingWindow { max_messages: 3 };
    let model = ScriptedModel::new(|messages: &[Message]| {
        Ok(text_response(&format!("{} messages", messages.len())))
    });
    let store = Arc::new(AgentCoreMemorySessionStore::new(
        memory(&stand_in).await,
        SessionConfig::default(),
        Some(window),
    ));
    let reader = TestServer::tutorial_on(Arc::new(model.clone()), store).await;
    assert_eq!(reader.ask("long", "1", "turn 4").await.status, 200);
    let sent = &model.requests()[0];
    assert_eq!(
        sent.len(),
        3,
        "the latest whole turn within the window, and the prompt"
    );
    assert!(sent[0].text().contains("turn 3"), "{:?}", sent[0]);
}

/// A model that asks for the weather when told to, then answers with what the tool said.
fn weather_model() -> ScriptedModel {
    ScriptedModel::new(|messages: &[Message]| {
        let last = messages.last().unwrap();
        if let Some(result) = last.tool_results().next() {
            return Ok(text_response(&format!("it is {}", result.text())));
        }
        if last.text().contains("weather") {
            return Ok(tool_use_response(&[(
                "weather",
                &format!("w{}", messages.len()),
                json!({}),
            )]));
        }
        Ok(text_response(&format!("{} messages", messages.len())))
    })
}

#[tokio::test]
async fn a_restored_tool_history_sends_the_same_next_request() {
    let stand_in = MemoryStandIn::start().await;
    let serve = |model: ScriptedModel, store: Arc<AgentCoreMemorySessionStore>| async move {
        let agent = Agent::builder(Arc::new(model))
            .tool(Arc::new(Weather))
            .unwrap()
            .build();
        TestServer::agent_on(AgentEntrypoint::new(agent, store.clone()), store).await
    };
    // Uninterrupted: three turns on one server.
    let steady_model = weather_model();
    let steady = serve(steady_model.clone(), store(&stand_in).await).await;
    for prompt in ["what is the weather?", "and tomorrow's weather?", "thanks"] {
        assert_eq!(
            steady
                .invoke(Some("steady"), &json!({"prompt": prompt}))
                .await
                .status,
            200
        );
    }
    // Interrupted: two turns, a restart, the third on a new server.
    let before = serve(weather_model(), store(&stand_in).await).await;
    for prompt in ["what is the weather?", "and tomorrow's weather?"] {
        assert_eq!(
            before
                .invoke(Some("restarted"), &json!({"prompt": prompt}))
                .await
                .status,
            200
        );
    }
    before.shut_down().await;
    let after_model = weather_model();
    let after = serve(after_model.clone(), store(&stand_in).await).await;
    assert_eq!(
        after
            .invoke(Some("restarted"), &json!({"prompt": "thanks"}))
            .await
            .status,
        200
    );

    let steady_last = steady_model.requests().last().unwrap().clone();
    let restored_last = after_model.requests().last().unwrap().clone();
    assert_eq!(
        restored_last.len(),
        9,
        "two turns with a tool round each, and the prompt"
    );
    assert!(
        restored_last
            .iter()
            .any(|message| message.tool_uses().next().is_some())
    );
    assert_eq!(
        serde_json::to_value(&restored_last).unwrap(),
        serde_json::to_value(&steady_last).unwrap()
    );
}

/// The events of the fixture session the Python stack wrote, loaded into `stand_in`.
fn load_python_session(stand_in: &MemoryStandIn) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/agentcore-memory/strands-session.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let actor = fixture["actorId"].as_str().unwrap();
    let session = fixture["sessionId"].as_str().unwrap();
    for event in fixture["events"].as_array().unwrap() {
        stand_in.put_event(
            actor,
            session,
            event["eventTimestampMs"].as_i64().unwrap(),
            event["payload"].clone(),
            event.get("metadata").cloned(),
        );
    }
    (actor.to_owned(), session.to_owned())
}

#[tokio::test]
async fn a_session_the_python_stack_wrote_is_continued() {
    let stand_in = MemoryStandIn::start().await;
    let (user, session) = load_python_session(&stand_in);
    let model = ScriptedModel::new(|messages: &[Message]| {
        Ok(text_response(&format!("{} messages", messages.len())))
    });
    let agent = Agent::builder(Arc::new(model.clone())).build();
    let store = store(&stand_in).await;
    let server = TestServer::agent_on(AgentEntrypoint::new(agent, store.clone()), store).await;
    let reply = server
        .client
        .post(server.url("/invocations"))
        .header(agent_server::SESSION_ID_HEADER, &session)
        .header("X-Amzn-Bedrock-AgentCore-Runtime-User-Id", &user)
        .json(&json!({"prompt": "それに 34 を足すとどうなりますか?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());

    let weather_use = Message {
        role: Role::Assistant,
        content: vec![
            ContentBlock::Text("天気を確認します。".into()),
            ContentBlock::ToolUse(ToolUse {
                tool_use_id: "tooluse_w1".into(),
                name: "weather".into(),
                input: json!({}),
            }),
        ],
    };
    let expected = vec![
        Message::user("外の天気はどうですか?"),
        weather_use,
        Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult(ToolResult::success(
                "tooluse_w1",
                "sunny",
            ))],
        },
        Message::assistant("Maira さん、外は晴れです。"),
        Message::user("2+5の答えは?"),
        Message::assistant("2+5 = 7 です。"),
        Message::user("それに 34 を足すとどうなりますか?"),
    ];
    assert_eq!(
        model.requests()[0],
        expected,
        "the stored prompt without its injected memories, the long message from its blob, the records and the interrupted turn left out"
    );
    assert_eq!(
        stand_in.events(&user, &session).len(),
        11,
        "ten events of the Python stack, then one for this turn"
    );
}

/// A server of a plain agent (`{"prompt": …}`, any user) on `model`, its sessions in `stand_in`.
async fn agent_on_memory(stand_in: &MemoryStandIn, model: Arc<dyn Model>) -> TestServer {
    let store = store(stand_in).await;
    let agent = Agent::builder(model).build();
    TestServer::agent_on(AgentEntrypoint::new(agent, store.clone()), store).await
}

/// Asks `prompt` in `session` as `user` (the runtime's user-id header); the answer's text.
async fn ask_as(server: &TestServer, session: &str, user: &str, prompt: &str) -> String {
    let response = server
        .client
        .post(server.url("/invocations"))
        .header(agent_server::SESSION_ID_HEADER, session)
        .header(agent_server::USER_ID_HEADER, user)
        .json(&json!({"prompt": prompt}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body.as_str()
        .map_or_else(|| body.to_string(), str::to_owned)
}

#[tokio::test]
async fn ids_memory_cannot_take_are_mapped_and_kept_apart() {
    let stand_in = MemoryStandIn::start().await;
    let server = agent_on_memory(&stand_in, counting_model()).await;
    let long = format!("{}-end", "x".repeat(120));
    let spaced = "a session with spaces";
    for (session, user) in [
        (long.as_str(), "user@example.com"),
        (spaced, "1"),
        ("asessionwithspaces", "1"),
    ] {
        assert_eq!(ask_as(&server, session, user, "hello").await, "1 messages");
    }
    let events = stand_in.all_events();
    assert_eq!(events.len(), 3);
    let pattern = |id: &str| {
        id.len() <= 100
            && id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    for event in &events {
        assert!(pattern(&event.session_id), "{}", event.session_id);
    }
    assert!(
        events[0].actor_id.starts_with("userexamplecom-"),
        "{}",
        events[0].actor_id
    );
    assert!(
        events[1].session_id.starts_with("asessionwithspaces-"),
        "{}",
        events[1].session_id
    );
    assert_eq!(
        events[2].session_id, "asessionwithspaces",
        "an id that fits is used as it is"
    );

    let restarted = agent_on_memory(&stand_in, counting_model()).await;
    assert_eq!(
        ask_as(&restarted, &long, "user@example.com", "again").await,
        "3 messages"
    );
    assert_eq!(ask_as(&restarted, spaced, "1", "again").await, "3 messages");
    assert_eq!(
        ask_as(&restarted, "asessionwithspaces", "1", "again").await,
        "3 messages"
    );
    assert_eq!(
        ask_as(&restarted, spaced, "2", "another user").await,
        "1 messages"
    );
}

#[tokio::test]
async fn throttling_is_retried_and_a_turn_is_stored_once() {
    let stand_in = MemoryStandIn::start().await;
    let server = tutorial_on_memory(&stand_in, counting_model()).await;
    stand_in.throttle_next(2);
    let reply = server.ask("busy", "1", "hello").await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    assert_eq!(
        stand_in.requests("ListEvents").len(),
        3,
        "two throttled, then served"
    );
    stand_in.throttle_next(2);
    assert_eq!(server.ask("busy", "1", "again").await.status, 200);
    let creates = stand_in.requests("CreateEvent");
    assert_eq!(creates.len(), 4, "one turn, then one turn throttled twice");
    assert_eq!(
        creates[1]["clientToken"], creates[3]["clientToken"],
        "retries carry one token"
    );
    assert_ne!(creates[0]["clientToken"], creates[1]["clientToken"]);
    assert_eq!(stand_in.events("1", "busy").len(), 2);
}

#[tokio::test]
async fn memory_down_is_a_503_and_the_session_continues_once_it_is_back() {
    let stand_in = MemoryStandIn::start().await;
    let gated = GatedModel::new();
    let server = tutorial_on_memory(&stand_in, Arc::new(gated.clone())).await;
    let server = Arc::new(server);
    gated.release(1);
    assert_eq!(server.ask("kept", "1", "one").await.text(), "1 messages");

    // Down while a turn is under way: its commit fails, nothing is kept.
    let asking = {
        let server = server.clone();
        tokio::spawn(async move { server.ask("kept", "1", "two").await })
    };
    gated.wait_for_calls(1).await;
    stand_in.stop();
    gated.release(1);
    let refused = asking.await.unwrap();
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["error"], "Session store unavailable");
    assert_eq!(refused.header("retry-after"), Some("5"));

    // Down for a session this process does not hold: refused before the model is called.
    let calls = gated.unclaimed_calls();
    let started = std::time::Instant::now();
    let unknown = server.ask("other", "1", "hello").await;
    assert_eq!(unknown.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(gated.unclaimed_calls(), calls);
    assert_eq!(server.ping_status().await, "Healthy");

    stand_in.resume().await;
    gated.release(1);
    assert_eq!(
        server.ask("kept", "1", "three").await.text(),
        "3 messages",
        "the failed turn is not in the history"
    );
    assert_eq!(stand_in.events("1", "kept").len(), 2);
}

#[tokio::test]
async fn an_unreadable_turn_is_a_500_naming_the_session_and_is_left_as_it_is() {
    let stand_in = MemoryStandIn::start().await;
    stand_in.put_event(
        "1",
        "broken",
        1_764_410_400_000,
        json!([{"blob": r#"{"agentRuntimeTurn": 1, "messages": "not a list", "state": {}}"#}]),
        None,
    );
    let server = tutorial_on_memory(&stand_in, counting_model()).await;
    let reply = server.ask("broken", "1", "hello").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"], "Session unreadable");
    assert!(
        reply.json()["details"].as_str().unwrap().contains("broken"),
        "{}",
        reply.json()
    );
    assert_eq!(
        stand_in.events("1", "broken").len(),
        1,
        "nothing written over it"
    );
}

/// An agent with long-term memory in the stand-in's namespaces of `user`, its sessions in
/// `store`.
async fn remembering_server(
    stand_in: &MemoryStandIn,
    model: ScriptedModel,
    timeout: Duration,
    store: Arc<dyn SessionStore>,
) -> TestServer {
    let recall = LongTermMemory::new(
        memory(stand_in).await,
        LongTermMemoryConfig {
            namespaces: vec!["/users/{actorId}/".into(), "/sessions/{sessionId}/".into()],
            top_k: 5,
            min_score: 0.5,
            timeout,
        },
    );
    let agent = agent_server::tutorial::tutorial_agent_builder(
        Arc::new(model),
        Clock::Local,
        crate::support::test_agent_config(),
    )
    .recall(Arc::new(recall))
    .build();
    TestServer::agent_on(TutorialEntrypoint::tutorial(agent, store.clone()), store).await
}

#[tokio::test]
async fn memories_reach_the_prompt_and_never_the_history() {
    let stand_in = MemoryStandIn::start().await;
    stand_in.put_record("/users/1/preferences", "r1", "Prefers Celsius.", 0.9);
    stand_in.put_record("/users/1/facts", "r2", "Lives in Tokyo.", 0.7);
    stand_in.put_record("/users/1/facts", "r3", "Barely relevant.", 0.1);
    stand_in.put_record("/users/2/facts", "r4", "Mani's secret.", 0.9);
    let model = ScriptedModel::new(|messages: &[Message]| {
        Ok(text_response(&format!("{} messages", messages.len())))
    });
    let server = remembering_server(
        &stand_in,
        model.clone(),
        Duration::from_secs(2),
        store(&stand_in).await,
    )
    .await;

    assert_eq!(server.ask("remember", "1", "天気は?").await.status, 200);
    assert_eq!(server.ask("remember", "1", "明日は?").await.status, 200);

    let context =
        ContentBlock::Text("<user_context>Prefers Celsius.\nLives in Tokyo.</user_context>".into());
    let requests = model.requests();
    assert_eq!(
        requests[0][0].content[0], context,
        "the first prompt carries the memories first"
    );
    assert_eq!(
        requests[1][0].content.len(),
        1,
        "the earlier prompt, replayed from history, has none"
    );
    assert_eq!(
        requests[1][2].content[0], context,
        "the new prompt has them afresh"
    );
    let history = server.history("remember", "1").await.unwrap();
    assert!(
        history
            .messages()
            .iter()
            .all(|message| !message.text().contains("user_context"))
    );
    for event in stand_in.events("1", "remember") {
        assert!(
            !event.event.to_string().contains("user_context"),
            "stored without memories"
        );
    }
    let searches = stand_in.requests("RetrieveMemoryRecords");
    assert_eq!(searches.len(), 4, "two namespaces, two turns");
    let paths: Vec<&str> = searches
        .iter()
        .filter_map(|search| search["namespacePath"].as_str())
        .collect();
    assert!(
        paths.contains(&"/users/1/") && paths.contains(&"/sessions/remember/"),
        "{paths:?}"
    );
    assert!(
        searches[0]["searchCriteria"]["searchQuery"]
            .as_str()
            .unwrap()
            .contains("天気は?")
    );
}

#[tokio::test]
async fn slow_or_failing_memories_leave_the_turn_without_them() {
    let stand_in = MemoryStandIn::start().await;
    stand_in.put_record("/users/1/facts", "r1", "Lives in Tokyo.", 0.9);
    let model = ScriptedModel::new(|messages: &[Message]| {
        Ok(text_response(&format!("{} messages", messages.len())))
    });
    // Sessions in this process: only the memories are in the stand-in.
    let sessions = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let server =
        remembering_server(&stand_in, model.clone(), Duration::from_secs(2), sessions).await;

    stand_in.set_retrieve_delay(Duration::from_secs(30));
    let started = std::time::Instant::now();
    assert_eq!(server.ask("slow", "1", "hello").await.text(), "1 messages");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    stand_in.set_retrieve_delay(Duration::ZERO);

    stand_in.throttle_next(1_000);
    assert_eq!(
        server.ask("failing", "1", "hello").await.text(),
        "1 messages"
    );
    let throttled = stand_in.requests("RetrieveMemoryRecords").len();
    assert!(throttled > 4, "retried before giving up: {throttled}");
    stand_in.throttle_next(0);
    assert_eq!(
        server.ask("failing", "1", "again").await.text(),
        "3 messages"
    );

    let requests = model.requests();
    assert_eq!(requests[0][0].content.len(), 1, "no memories when slow");
    assert_eq!(requests[1][0].content.len(), 1, "no memories when failing");
    assert_eq!(
        requests[2][2].content[0],
        ContentBlock::Text("<user_context>Lives in Tokyo.</user_context>".into()),
        "memories again once the memory answers"
    );
}

#[tokio::test]
async fn the_binary_keeps_sessions_in_the_runtime_memory_across_a_restart() {
    let stand_in = MemoryStandIn::start().await;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let endpoint = stand_in.endpoint();
    let environment = [
        ("BEDROCK_AGENTCORE_MEMORY_ID", STAND_IN_MEMORY_ID),
        ("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", endpoint.as_str()),
        ("AWS_REGION", "us-west-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCALSTANDIN"),
        ("AWS_SECRET_ACCESS_KEY", "local-stand-in"),
    ];
    let start = || {
        ServerProcess::start_with(
            BINARY,
            &["--replay", fixtures.to_str().unwrap()],
            &environment,
            Log::Keep,
        )
    };
    let mut first = start();
    let line = first.startup_line.clone();
    assert!(
        line.contains("AgentCore Memory tutorial_memory-AbCdE12345"),
        "{line}"
    );
    assert!(
        line.contains("BEDROCK_AGENTCORE_MEMORY_ID is set"),
        "{line}"
    );
    let session = format!("tutorial-1-{}", uuid::Uuid::new_v4());
    assert_eq!(
        first.ask_in(&session, "1", "外の天気はどうですか?").await.0,
        200
    );
    assert_eq!(first.ask_in(&session, "1", "2+5の答えは?").await.0, 200);
    first.terminate();

    let second = start();
    let (status, answer) = second
        .ask_in(&session, "1", "それに 34 を足すとどうなりますか?")
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.to_string().contains("41"), "{answer}");
    assert_eq!(stand_in.events("1", &session).len(), 3);
}

#[test]
fn memory_settings_that_cannot_work_are_refused_at_start_up() {
    for (args, problem) in [
        (
            &["--memory-namespace", "/users/{actorId}/"][..],
            "pass --memory-id",
        ),
        (
            &["--session-store", "agentcore-memory:not-a-memory"][..],
            "is not an AgentCore Memory id",
        ),
        (&["--memory-min-score", "1.5"][..], "a score from 0 to 1"),
    ] {
        let output = std::process::Command::new(BINARY)
            .args(["--port", "0"])
            .args(args)
            .env_remove("BEDROCK_AGENTCORE_MEMORY_ID")
            .env_remove("AGENT_SERVER_MEMORY_ID")
            .env_remove("AGENT_SERVER_SESSION_STORE")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(problem), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn the_store_keeps_state_with_the_turn_and_writes_nothing_for_an_empty_one() {
    let stand_in = MemoryStandIn::start().await;
    let key = SessionKey::new(SessionOwner::user("1"), SessionId::parse("state").unwrap());
    let first = store(&stand_in).await;
    first.checkout(&key).await.unwrap().commit().await.unwrap();
    assert!(
        stand_in.requests("CreateEvent").is_empty(),
        "an empty turn writes nothing"
    );

    let mut turn = first.checkout(&key).await.unwrap();
    turn.push(Message::user("count"));
    turn.push(Message::assistant("1"));
    turn.state_mut().set("visits", 1).unwrap();
    turn.commit().await.unwrap();

    let restarted = store(&stand_in).await;
    let turn = restarted.checkout(&key).await.unwrap();
    assert_eq!(turn.state().get("visits"), Some(&json!(1)));
    assert_eq!(turn.conversation().len(), 2);
}
