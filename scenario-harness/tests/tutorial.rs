//! The tutorial replayed end to end: real server, real AWS SDK client, wiremock as Bedrock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use agent_core::replay::{RECORDINGS_DIR, RecordingSet, ReplayModel};
use agent_core::{AgentConfig, Conversation, Model};
use agent_server::tutorial::{TutorialRequest, personalised_prompt, tutorial_agent};
use agent_server::{AgentCoreApp, InvocationError, entrypoint_fn};
use agent_tools::Clock;
use scenario_harness::local::with_server;
use scenario_harness::record::record;
use scenario_harness::report::Ids;
use scenario_harness::runner::Transport;
use scenario_harness::stand_in::BedrockStandIn;
use scenario_harness::{Report, Script, run_local, run_local_with, runner, tutorial_dir};
use serde_json::Value;
use tokio::sync::Mutex;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn assert_passed(report: &Report) {
    assert!(report.passed(), "{}", report.render(Ids::Shown));
}

/// Every user text of a request, joined.
fn user_texts(report: &Report, session: usize) -> Vec<String> {
    let id = report.session_ids()[session];
    report
        .requests_of(id)
        .iter()
        .map(|request| serde_json::to_string(&request.messages).unwrap())
        .collect()
}

#[tokio::test]
async fn the_tutorial_replays_with_history_kept_within_sessions_and_none_across() {
    let report = run_local(&tutorial_dir()).await.unwrap();
    assert_passed(&report);

    insta::assert_snapshot!("tutorial_transcript", report.render(Ids::Redacted));
    insta::assert_json_snapshot!("tutorial_bedrock_requests", report.redacted_requests());

    // Session 1 ends at 41, computed by the calculator on its own history.
    assert!(
        report.steps[2].answer.contains("41"),
        "{}",
        report.steps[2].answer
    );
    let requests = report.bedrock_requests.as_ref().unwrap();
    assert_eq!(requests.len(), 9);
    let last_of_session_1 = &requests[5];
    assert_eq!(last_of_session_1.messages.len(), 11);
    let results: Vec<String> = last_of_session_1
        .messages
        .iter()
        .flat_map(|message| message.tool_results().map(|result| result.text()))
        .collect();
    assert_eq!(results, ["sunny", "Result: 7", "Result: 41"]);

    // Session 2's first request carries only its own user message.
    let ids = report.session_ids();
    let session_2 = report.requests_of(ids[1]);
    assert_eq!(session_2.len(), 1);
    assert_eq!(session_2[0].messages.len(), 1);
    let text = session_2[0].messages[0].text();
    assert!(
        text.contains("そしてそれにさらに 10 を足すとどうなりますか?") && text.contains(ids[1])
    );

    // Session 3's requests contain nothing of sessions 1 and 2.
    for request in user_texts(&report, 2) {
        // Its own random id may hold "34" or "2+5"-like digits; only foreign content counts.
        let request = request.replace(ids[2], "<session 3>");
        assert!(request.contains("Mani"));
        for foreign in [ids[0], ids[1], "Maira", "2+5", "34", "さらに 10"] {
            assert!(
                !request.contains(foreign),
                "session 3 request holds «{foreign}»: {request}"
            );
        }
    }
}

#[tokio::test]
async fn the_second_scenario_replays_get_time_and_a_calculator_error() {
    let report = run_local(&fixtures().join("time-and-error")).await.unwrap();
    assert_passed(&report);
    insta::assert_snapshot!("time_and_error_transcript", report.render(Ids::Redacted));
    let requests = report.bedrock_requests.unwrap();
    let error_result = requests[3].messages[6].tool_results().next().unwrap();
    assert_eq!(
        error_result.status,
        agent_core::ToolResultStatus::Error,
        "the calculator's error reached the model as an error result"
    );
}

/// The reference's design: one conversation for the whole process.
fn shared_conversation_app(model: Arc<dyn Model>, clock: Clock) -> AgentCoreApp {
    let agent = Arc::new(tutorial_agent(model, clock, AgentConfig::default()));
    let global = Arc::new(Mutex::new(Conversation::new()));
    AgentCoreApp::new(entrypoint_fn(move |payload: Value, context| {
        let agent = agent.clone();
        let global = global.clone();
        async move {
            let request = TutorialRequest::from_payload(&payload)?;
            let prompt =
                personalised_prompt(request.user_name, &request.prompt, &context.session_id);
            let mut conversation = global.lock().await;
            let reply = agent
                .invoke(&mut conversation, &prompt)
                .await
                .map_err(InvocationError::from)?;
            Ok(reply.text)
        }
    }))
}

#[tokio::test]
async fn a_server_sharing_one_conversation_across_sessions_is_caught() {
    let report = run_local_with(&tutorial_dir(), Transport::Json, shared_conversation_app)
        .await
        .unwrap();
    assert!(
        !report.passed(),
        "the leak went unnoticed:\n{}",
        report.render(Ids::Shown)
    );

    // Session 1 is fine; session 2's first request arrives with session 1's 12 messages.
    assert!(report.steps[..3].iter().all(|step| step.passed()));
    assert_eq!(report.steps[3].status, 502);
    let leak = &report.unmatched[0];
    assert_eq!(leak.request.message_count, 13);
    assert_eq!(
        leak.nearest.as_ref().unwrap().0,
        "07-session-2-has-no-earlier-result"
    );
    let rendered = report.render(Ids::Redacted);
    assert!(
        rendered.contains("❌ every Bedrock request matched its recording"),
        "{rendered}"
    );
    assert!(
        rendered.contains("❌ session 2 starts with only its own prompt"),
        "{rendered}"
    );
    assert!(
        rendered.contains("no recording answers this request"),
        "{rendered}"
    );
}

#[tokio::test]
async fn url_mode_checks_any_server_here_the_replay_mode_of_agent_server() {
    let recordings = RecordingSet::load(&tutorial_dir()).unwrap();
    let app = scenario_harness::tutorial_app(Arc::new(ReplayModel::new(recordings)), Clock::Local);
    let script = Script::load(&tutorial_dir()).unwrap();
    let steps = with_server(app, |address| {
        let script = script.clone();
        async move {
            runner::drive(
                &format!("http://{address}"),
                &script,
                Transport::Json,
                |_, _| {},
            )
            .await
        }
    })
    .await
    .unwrap();
    let report = Report::new(&script, steps, None, Vec::new());
    assert_passed(&report);
    assert_eq!(
        report.checks.len(),
        5,
        "answer checks only: the requests are not visible"
    );
}

/// The text deltas of a recording's stream, in order.
fn text_pieces(recording: &agent_core::replay::Recording) -> Vec<Value> {
    use agent_core::replay::frames::StreamFrame;
    let frames = recording.stream.as_deref().expect("a recorded stream");
    frames
        .iter()
        .filter_map(|frame| match frame {
            StreamFrame::Event { payload, .. } => payload["delta"].get("text").cloned(),
            StreamFrame::Exception { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn record_mode_writes_recordings_that_replay_the_same() {
    let original = RecordingSet::load(&tutorial_dir()).unwrap();
    let stand_in = BedrockStandIn::start(original.clone()).await;
    let live = BedrockModel::for_local_endpoint(&stand_in.uri(), DEFAULT_MODEL_ID).await;
    let out = tempdir();

    let report = record(&tutorial_dir(), &out, Arc::new(live)).await.unwrap();
    assert_passed(&report);
    let recorded = RecordingSet::load(&out).unwrap();
    assert_eq!(recorded.recordings().len(), original.recordings().len());
    for (new, old) in recorded.recordings().iter().zip(original.recordings()) {
        assert_eq!(new.answers, old.answers, "{} vs {}", new.name, old.name);
        assert_eq!(
            new.model_response().unwrap(),
            old.model_response().unwrap(),
            "{}",
            new.name
        );
        assert_eq!(
            text_pieces(new),
            text_pieces(old),
            "{}: the stream's text as it arrived",
            new.name
        );
    }
    assert_eq!(recorded.recordings()[6].name, "07-session-2");
    assert!(out.join("script.json").exists());

    let replayed = run_local(&out).await.unwrap();
    assert_passed(&replayed);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn the_command_exits_non_zero_when_a_check_fails() {
    let scenario = tempdir();
    let recordings = scenario.join(RECORDINGS_DIR);
    std::fs::create_dir_all(&recordings).unwrap();
    for entry in std::fs::read_dir(tutorial_dir().join(RECORDINGS_DIR)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, recordings.join(path.file_name().unwrap())).unwrap();
    }
    let script = std::fs::read_to_string(tutorial_dir().join("script.json")).unwrap();
    std::fs::write(
        scenario.join("script.json"),
        script.replace(r#"["41"]"#, r#"["42"]"#),
    )
    .unwrap();

    let passing = std::process::Command::new(env!("CARGO_BIN_EXE_scenario-harness"))
        .output()
        .unwrap();
    assert!(passing.status.success());
    assert!(String::from_utf8_lossy(&passing.stdout).contains("✅ PASS: 10 of 10 checks passed"));

    let failing = std::process::Command::new(env!("CARGO_BIN_EXE_scenario-harness"))
        .arg("--scenario")
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(failing.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&failing.stdout);
    assert!(stdout.contains("should contain «42»"), "{stdout}");
    assert!(
        stdout.contains("❌ FAIL: 9 of 10 checks passed"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&scenario).unwrap();
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-harness-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_tutorial_answers_the_same_as_json_as_server_sent_events_and_over_a_websocket() {
    let mut answers = Vec::new();
    for transport in [
        Transport::Json,
        Transport::EventStream,
        Transport::WebSocket,
    ] {
        let report = run_local_with(&tutorial_dir(), transport, scenario_harness::tutorial_app)
            .await
            .unwrap();
        assert_passed(&report);
        let texts: Vec<String> = report
            .steps
            .iter()
            .map(|step| step.answer.clone())
            .collect();
        answers.push(texts);
    }
    assert_eq!(answers[0].len(), 5);
    assert_eq!(answers[0], answers[1], "plain and server-sent events");
    assert_eq!(answers[0], answers[2], "plain and WebSocket");
}
