//! Isolation at scale, as a property: many sessions driven over HTTP with random interleavings
//! and random concurrency (sometimes two clients racing on one session, some sessions taking
//! server-sent events and others one JSON answer), every prompt carrying
//! its session's canary token. Every model request of a session must hold only that session's
//! canaries, and each session's final history must equal what running its prompts, in the
//! order they were served, through the agent alone would produce. Every tool call sees its own
//! invocation's context — session, owner, request id — and its own session's state, never
//! another's. The property holds for both session stores: in memory, and in a real Redis — one
//! server, and a cluster. With inbound auth on, every client sends its user's token and an
//! intruder with another user's token names each session's owner: refused (403), and nothing
//! of it ever reaches a model.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{TestServer, sse_values, test_agent_config};
use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::session::{
    MemorySessionStore, SessionConfig, SessionId, SessionOwner, SessionStore,
};
use agent_core::{
    Agent, Conversation, Message, Tool, ToolContext, ToolError, ToolOutput, ToolSpec,
};
use agent_server::auth::{AuthConfig, Authorizer};
use agent_server::tutorial::{SYSTEM_PROMPT, TutorialPayload, personalised_prompt};
use agent_server::{AgentCoreApp, AgentEntrypoint, REQUEST_ID_HEADER, SESSION_ID_HEADER};
use agent_testkit::{OpenIdProvider, RedisCluster, RedisServer};
use agent_tools::{Clock, tutorial_tools};
use async_trait::async_trait;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

/// What one `whoami` call saw: the canary the model gave it, and what the runtime told it.
#[derive(Debug, Clone)]
struct Sighting {
    canary: String,
    session: Option<String>,
    owner: Option<SessionOwner>,
    request_id: String,
    /// The verified caller's user, when auth is on.
    caller: Option<String>,
    /// The canaries in the session's state once this call added its own.
    state: Vec<String>,
}

/// A tool that reports its context: it adds its canary to the session state and notes all it
/// saw. Its answer is constant, so histories stay those of a run alone.
#[derive(Default)]
struct WhoAmI {
    sightings: Mutex<Vec<Sighting>>,
}

#[async_trait]
impl Tool for WhoAmI {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "whoami".into(),
            description: "reports the session it runs in".into(),
            input_schema: json!({"type": "object", "properties": {"canary": {"type": "string"}}}),
        }
    }

    async fn call(&self, input: Value, context: &ToolContext) -> Result<ToolOutput, ToolError> {
        let canary = input["canary"].as_str().unwrap_or_default().to_owned();
        let state = context.update_state(|state| {
            let mut seen: Vec<String> = state
                .get("canaries")
                .and_then(|seen| serde_json::from_value(seen.clone()).ok())
                .unwrap_or_default();
            seen.push(canary.clone());
            state.set("canaries", &seen).map(|()| seen)
        })?;
        self.sightings.lock().unwrap().push(Sighting {
            canary,
            session: context.session_id().map(ToString::to_string),
            owner: context.owner().cloned(),
            request_id: context.request_id().to_owned(),
            caller: context.caller().map(|caller| caller.user().to_owned()),
            state,
        });
        Ok(ToolOutput::text("noted"))
    }
}

/// The tutorial's agent with `whoami` beside its tools.
fn agent(model: &ScriptedModel, whoami: Arc<WhoAmI>) -> Agent {
    tutorial_tools(Clock::Local)
        .into_iter()
        .chain([whoami as Arc<dyn Tool>])
        .fold(
            Agent::builder(Arc::new(model.clone())).system_prompt(SYSTEM_PROMPT),
            |builder, tool| builder.tool(tool).unwrap(),
        )
        .config(test_agent_config())
        .name("tutorial")
        .build()
}

/// The request id a client sends for step `step` of session `session`.
fn request_id(session: usize, step: usize) -> String {
    format!("req-s{session}-p{step}")
}

/// The canary tokens in a text.
fn canaries(text: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .filter(|word| word.starts_with("canary-"))
        .map(str::to_owned)
        .collect()
}

fn all_text(messages: &[Message]) -> String {
    serde_json::to_string(messages).unwrap()
}

/// A model whose answer depends only on the history it is sent: a prompt with `calc` gets a
/// calculator round, and every answer repeats the canaries it saw.
fn model() -> ScriptedModel {
    ScriptedModel::new(|messages: &[Message]| {
        let count = messages.len();
        let seen: Vec<String> = canaries(&all_text(messages)).into_iter().collect();
        let last = messages.last().expect("a request has messages");
        if let Some(result) = last.tool_results().next() {
            return Ok(text_response(&format!(
                "{} after {count}: {}",
                result.text(),
                seen.join(" ")
            )));
        }
        if last.text().contains("calc") {
            let canary = canaries(&last.text())
                .into_iter()
                .next()
                .unwrap_or_default();
            return Ok(tool_use_response(&[
                (
                    &format!("tool-{count}"),
                    "calculator",
                    json!({ "expression": format!("{count}+1") }),
                ),
                (
                    &format!("who-{count}"),
                    "whoami",
                    json!({ "canary": canary }),
                ),
            ]));
        }
        Ok(text_response(&format!(
            "{count} messages: {}",
            seen.join(" ")
        )))
    })
}

#[derive(Debug, Clone)]
struct SessionPlan {
    user_id: u8,
    /// For each step: does it use the calculator.
    steps: Vec<bool>,
    /// Clients driving this session at once (1 or 2).
    clients: usize,
    /// Pause between a client's requests, in microseconds.
    pause_us: u64,
    /// The session's clients take server-sent events rather than one JSON answer.
    streaming: bool,
}

fn session_plan() -> impl Strategy<Value = SessionPlan> {
    (
        1u8..=5,
        prop::collection::vec(any::<bool>(), 1..=5),
        1usize..=2,
        0u64..1_500,
        any::<bool>(),
    )
        .prop_map(
            |(user_id, steps, clients, pause_us, streaming)| SessionPlan {
                user_id,
                steps,
                clients,
                pause_us,
                streaming,
            },
        )
}

fn prompt(session: usize, step: usize, calc: bool) -> String {
    let verb = if calc { "calc" } else { "chat" };
    format!("{verb} canary-s{session}-p{step} please")
}

async fn run_case(
    plans: Vec<SessionPlan>,
    store: Arc<dyn SessionStore>,
    provider: Option<&OpenIdProvider>,
) -> Result<(), TestCaseError> {
    let model = model();
    let whoami = Arc::new(WhoAmI::default());
    let entrypoint = AgentEntrypoint::with_reader(
        agent(&model, whoami.clone()),
        store.clone(),
        TutorialPayload,
    );
    let mut app = AgentCoreApp::new(entrypoint);
    if let Some(provider) = provider {
        app = app.with_auth(
            Authorizer::discover(AuthConfig::new(provider.discovery_url()))
                .await
                .map_err(|error| TestCaseError::fail(error.to_string()))?,
        );
    }
    let mut server = TestServer::start(app).await;
    server.sessions = Some(store);
    let server = Arc::new(server);
    let tokens: Vec<Option<String>> = (0..=5)
        .map(|user| provider.map(|provider| provider.token_for(&user.to_string())))
        .collect();
    let ids: Vec<String> = (0..plans.len())
        .map(|n| format!("iso-{n}-{}", uuid::Uuid::new_v4()))
        .collect();

    let mut clients = Vec::new();
    for (session, plan) in plans.iter().enumerate() {
        for client in 0..plan.clients {
            let server = server.clone();
            let id = ids[session].clone();
            let plan = plan.clone();
            let token = tokens[usize::from(plan.user_id)].clone();
            clients.push(tokio::spawn(async move {
                let mine = plan
                    .steps
                    .iter()
                    .enumerate()
                    .filter(|(step, _)| step % plan.clients == client);
                for (step, calc) in mine {
                    let (user, prompt) = (plan.user_id.to_string(), prompt(session, step, *calc));
                    let mut request = server
                        .client
                        .post(server.url("/invocations"))
                        .header(SESSION_ID_HEADER, &id)
                        .header(REQUEST_ID_HEADER, request_id(session, step))
                        .json(&json!({"prompt": prompt, "user_id": user}));
                    if plan.streaming {
                        request = request.header("accept", "text/event-stream");
                    }
                    if let Some(token) = &token {
                        request = request.bearer_auth(token);
                    }
                    let response = request.send().await.unwrap();
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap();
                    assert_eq!(status, 200, "{body}");
                    if plan.streaming {
                        let events = sse_values(&body);
                        let answer = &events.last().expect("a last event")["result"]["text"];
                        assert!(answer.is_string(), "{events:?}");
                    }
                    tokio::time::sleep(Duration::from_micros(plan.pause_us)).await;
                }
            }));
        }
    }
    // With auth, an intruder per session: another user's token naming the session's owner.
    let mut intruders = Vec::new();
    if provider.is_some() {
        for (session, plan) in plans.iter().enumerate() {
            let server = server.clone();
            let id = ids[session].clone();
            let owner = plan.user_id.to_string();
            let token = tokens[usize::from(plan.user_id % 5 + 1)].clone().unwrap();
            intruders.push(tokio::spawn(async move {
                let response = server
                    .client
                    .post(server.url("/invocations"))
                    .header(SESSION_ID_HEADER, &id)
                    .bearer_auth(token)
                    .json(&json!({"prompt": format!("calc canary-intruder-s{session} please"), "user_id": owner}))
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            }));
        }
    }
    for client in clients {
        client
            .await
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
    }
    for intruder in intruders {
        let status = intruder
            .await
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(status, 403, "an intruder was not refused");
    }

    // Every model request names one session and holds only that session's canaries.
    for request in model.requests() {
        let text = all_text(&request);
        prop_assert!(!text.contains("intruder"), "an intruder reached a model");
        let owners: Vec<usize> = (0..ids.len()).filter(|&n| text.contains(&ids[n])).collect();
        prop_assert_eq!(owners.len(), 1, "a request names sessions {:?}", owners);
        let own_prefix = format!("canary-s{}-", owners[0]);
        for canary in canaries(&text) {
            prop_assert!(
                canary.starts_with(&own_prefix),
                "{} leaked into session {}",
                canary,
                owners[0]
            );
        }
    }

    // Every tool call saw its own invocation's context and its own session's state.
    for sighting in whoami.sightings.lock().unwrap().iter() {
        let (session, step) = sighting
            .canary
            .strip_prefix("canary-s")
            .and_then(|rest| rest.split_once("-p"))
            .map(|(session, step)| {
                (
                    session.parse::<usize>().unwrap(),
                    step.parse::<usize>().unwrap(),
                )
            })
            .expect("a canary names its session and step");
        let user = plans[session].user_id.to_string();
        prop_assert_eq!(sighting.session.as_deref(), Some(ids[session].as_str()));
        prop_assert_eq!(sighting.owner.clone(), Some(SessionOwner::user(&user)));
        prop_assert_eq!(&sighting.request_id, &request_id(session, step));
        let expected_caller = provider.map(|_| user.clone());
        prop_assert_eq!(&sighting.caller, &expected_caller);
        let own_prefix = format!("canary-s{session}-");
        for canary in &sighting.state {
            prop_assert!(
                canary.starts_with(&own_prefix),
                "{} in session {}'s state",
                canary,
                session
            );
        }
    }
    for (session, plan) in plans.iter().enumerate() {
        let key = agent_core::session::SessionKey::new(
            SessionOwner::user(&plan.user_id.to_string()),
            SessionId::parse(&ids[session]).unwrap(),
        );
        let stored = server.sessions.as_ref().unwrap().state(&key).await.unwrap();
        let noted = stored
            .and_then(|state| state.get("canaries").cloned())
            .map(|noted| serde_json::from_value::<Vec<String>>(noted).unwrap())
            .unwrap_or_default();
        prop_assert_eq!(noted.len(), plan.steps.iter().filter(|calc| **calc).count());
    }

    // Each history equals a sequential run, alone, of the same prompts in the served order.
    let alone = agent(&model, Arc::new(WhoAmI::default()));
    for (session, plan) in plans.iter().enumerate() {
        let id = SessionId::parse(&ids[session]).unwrap();
        let served = server
            .history(&ids[session], &plan.user_id.to_string())
            .await
            .unwrap();
        let name = agent_server::tutorial::user_name(&plan.user_id.to_string()).unwrap();
        let served_prompts: Vec<String> = served
            .messages()
            .iter()
            .filter(|message| message.starts_turn())
            .map(Message::text)
            .collect();
        prop_assert_eq!(served_prompts.len(), plan.steps.len());

        let mut sequential = Conversation::new();
        for text in &served_prompts {
            let raw = text
                .split("こちらが私のリクエストです: ")
                .nth(1)
                .and_then(|rest| rest.split('\n').next())
                .unwrap();
            let prompt = personalised_prompt(name, raw, &id);
            prop_assert_eq!(&prompt, text);
            alone
                .invoke(&mut sequential, &prompt)
                .await
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
        }
        prop_assert_eq!(
            served.messages(),
            sequential.messages(),
            "session {}",
            session
        );
    }
    Ok(())
}

fn plans() -> impl Strategy<Value = Vec<SessionPlan>> {
    prop::collection::vec(session_plan(), 2..=16)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn sessions_never_see_each_other(plans in plans()) {
        runtime().block_on(async {
            run_case(plans, Arc::new(MemorySessionStore::new(SessionConfig::default())), None).await
        })?;
    }
}

#[test]
fn sessions_never_see_each_other_with_tokens() {
    let runtime = runtime();
    let provider = runtime.block_on(OpenIdProvider::start());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(16));
    let outcome = runner.run(&plans(), |plans| {
        runtime.block_on(async {
            let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
            run_case(plans, store, Some(&provider)).await
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn sessions_never_see_each_other_with_tokens_in_redis() {
    let redis = RedisServer::start();
    let runtime = runtime();
    let provider = runtime.block_on(OpenIdProvider::start());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(8));
    let outcome = runner.run(&plans(), |plans| {
        runtime.block_on(async { run_case(plans, Arc::new(redis.store()), Some(&provider)).await })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn sessions_never_see_each_other_in_redis() {
    let redis = RedisServer::start();
    let mut runner = TestRunner::new(ProptestConfig::with_cases(16));
    let outcome = runner.run(&plans(), |plans| {
        runtime().block_on(async { run_case(plans, Arc::new(redis.store()), None).await })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn sessions_never_see_each_other_on_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let mut runner = TestRunner::new(ProptestConfig::with_cases(8));
    let outcome = runner.run(&plans(), |plans| {
        runtime().block_on(async { run_case(plans, Arc::new(cluster.store(0)), None).await })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn the_canary_check_catches_a_leak() {
    let leaked = [
        Message::user("chat canary-s0-p0 (session iso-0)"),
        Message::user("chat canary-s1-p0"),
    ];
    let found = canaries(&all_text(&leaked));
    assert_eq!(found.len(), 2);
    assert!(found.iter().any(|canary| !canary.starts_with("canary-s0-")));
}
