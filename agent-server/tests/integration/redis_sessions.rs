//! Sessions in a real Redis, shared by several servers: the tutorial across replicas and a
//! restart, a replica killed mid-invocation, concurrent invocations on two replicas, TTLs and
//! expiry, Redis going away and coming back, an unreadable value, fencing, and owner scoping.
//! Every Redis here is a `redis-server` the test starts on a loopback port; nothing is mocked.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{BINARY, counting_model, tutorial_model};
use crate::support::{
    GatedModel, TestServer, session_1_total, session_1_weather_and_sum, tutorial_sessions_2_and_3,
};
use agent_core::session::{
    RedisOptions, SessionConfig, SessionError, SessionId, SessionKey, SessionOwner, SessionStore,
};
use agent_core::{Message, Model};
use agent_testkit::RedisServer;
use agent_testkit::{Log, ServerProcess};
use redis::Commands;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A replica: the tutorial server on `model`, with its own connection to `redis`.
async fn replica(redis: &RedisServer, model: Arc<dyn Model>) -> TestServer {
    TestServer::tutorial_on(model, Arc::new(redis.store())).await
}

fn key(user_id: &str, session: &str) -> SessionKey {
    SessionKey::new(
        SessionOwner::user(user_id),
        SessionId::parse(session).unwrap(),
    )
}

/// The session hash, the history list and the lease of a tutorial session.
fn keys_of(user_id: &str, session: &str) -> [String; 3] {
    ["session", "history", "lease"]
        .map(|kind| format!("agentcore:{kind}:{{user={user_id}:{session}}}"))
}

#[tokio::test]
async fn the_tutorial_spans_two_replicas_and_a_restart() {
    let redis = RedisServer::start();
    let first = replica(&redis, tutorial_model()).await;
    let second = replica(&redis, tutorial_model()).await;
    let session_1 = format!("tutorial-1-{}", uuid::Uuid::new_v4());

    session_1_weather_and_sum(&first, &second, &session_1).await;

    first.shut_down().await;
    let restarted = replica(&redis, tutorial_model()).await;
    session_1_total(&restarted, &session_1).await;

    tutorial_sessions_2_and_3(&second, &restarted).await;
    assert_eq!(
        restarted
            .history(&session_1, "1")
            .await
            .unwrap()
            .messages()
            .len(),
        12,
        "three turns: weather and sum with a tool round each, then the total"
    );
}

/// Bedrock on wiremock: answers a one-message request at once, holds any longer one for a
/// minute — long enough to kill the replica that sent it.
async fn bedrock_that_hangs_on_the_second_turn() -> MockServer {
    let bedrock = MockServer::start().await;
    let answer = json!({
        "output": {"message": {"role": "assistant", "content": [{"text": "first answer"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
    });
    Mock::given(method("POST"))
        .respond_with(move |request: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            let response = ResponseTemplate::new(200).set_body_json(answer.clone());
            if body["messages"].as_array().unwrap().len() == 1 {
                response
            } else {
                response.set_delay(Duration::from_secs(60))
            }
        })
        .mount(&bedrock)
        .await;
    bedrock
}

/// Waits (10 s at most) until `bedrock` has received `count` requests.
async fn wait_for_requests(bedrock: &MockServer, count: usize) {
    let started = Instant::now();
    while bedrock.received_requests().await.unwrap().len() < count {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "Bedrock never saw request {count}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_replica_killed_mid_invocation_frees_the_session_once_its_lease_expires() {
    let redis = RedisServer::start();
    let bedrock = bedrock_that_hangs_on_the_second_turn().await;
    let mut doomed = ServerProcess::on_bedrock_at(
        BINARY,
        &bedrock.uri(),
        &[
            "--session-store",
            &redis.url(),
            "--session-lease-secs",
            "1",
            "--model-streaming",
            "false",
        ],
    );
    assert!(
        doomed
            .startup_line
            .contains("session_store=redis://127.0.0.1:"),
        "{}",
        doomed.startup_line
    );
    let (status, _) = doomed.ask_in("crash", "1", "first").await;
    assert_eq!(status, 200);

    let address = doomed.address.clone();
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("http://{address}/invocations"))
            .header("x-amzn-bedrock-agentcore-runtime-session-id", "crash")
            .json(&json!({"prompt": "never finished", "user_id": "1"}))
            .send()
            .await
    });
    wait_for_requests(&bedrock, 2).await;
    let lease = "agentcore:lease:{user=1:crash}";
    let held: Option<String> = redis.connection().get(lease).unwrap();
    assert!(held.is_some(), "the dying replica holds the lease");
    doomed.kill();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the client lost its answer"
    );

    let survivor = TestServer::tutorial_on(
        counting_model(),
        Arc::new(redis.store_with(
            SessionConfig::default(),
            RedisOptions {
                lease_ttl: Duration::from_secs(1),
                ..RedisOptions::default()
            },
        )),
    )
    .await;
    let reply = survivor.ask("crash", "1", "second").await;
    assert_eq!(
        reply.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&reply.bytes)
    );
    assert_eq!(
        reply.text(),
        "3 messages",
        "the first turn, and not the half-done one"
    );
    let texts: Vec<String> = survivor
        .history("crash", "1")
        .await
        .unwrap()
        .messages()
        .iter()
        .map(Message::text)
        .collect();
    assert!(
        texts[0].contains("first") && texts[2].contains("second"),
        "{texts:?}"
    );
    assert_eq!(texts.len(), 4);
}

#[tokio::test]
async fn rediss_connects_with_tls_and_verifies_the_certificate() {
    let redis = RedisServer::start_tls();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let replay = ["--replay", fixtures.to_str().unwrap()];
    let ca = redis.ca_file().display().to_string();
    let trusting = ServerProcess::start_with(
        BINARY,
        &[&replay[..], &["--session-store", &redis.tls_url()]].concat(),
        &[("SSL_CERT_FILE", &ca)],
        Log::Keep,
    );
    assert!(
        trusting
            .startup_line
            .contains("session_store=rediss://127.0.0.1:")
    );
    let (status, weather) = trusting.ask_in("tls", "1", "外の天気はどうですか?").await;
    assert_eq!(status, 200, "{weather}");
    let (_, sum) = trusting.ask_in("tls", "1", "2+5の答えは?").await;
    assert_eq!(
        sum,
        json!("Mairaさん、2+5の答えは7です。"),
        "the history came back over TLS"
    );
    let stored: bool = redis.connection().exists(&keys_of("1", "tls")[1]).unwrap();
    assert!(stored);

    let not_trusting = ServerProcess::start(
        BINARY,
        &[&replay[..], &["--session-store", &redis.tls_url()]].concat(),
    );
    let (status, error) = not_trusting
        .ask_in("tls-2", "1", "外の天気はどうですか?")
        .await;
    assert_eq!(status, 503, "{error}");
    assert!(
        error["details"].as_str().unwrap().contains("certificate"),
        "{error}"
    );
}

#[tokio::test]
async fn concurrent_invocations_on_two_replicas_lose_no_update() {
    let redis = RedisServer::start();
    let replicas = Arc::new([
        replica(&redis, counting_model()).await,
        replica(&redis, counting_model()).await,
    ]);
    let clients: Vec<_> = (0..8)
        .map(|n| {
            let replicas = replicas.clone();
            tokio::spawn(async move {
                replicas[n % 2]
                    .ask("contended", "1", &format!("prompt {n}"))
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for client in clients {
        let reply = client.await.unwrap();
        assert_eq!(
            reply.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&reply.bytes)
        );
        answers.push(reply.text());
    }
    answers.sort_by_key(|answer| answer.split(' ').next().unwrap().parse::<usize>().unwrap());
    let expected: Vec<String> = (0..8).map(|n| format!("{} messages", 2 * n + 1)).collect();
    assert_eq!(answers, expected, "each saw every earlier turn");
    let history = replicas[0].history("contended", "1").await.unwrap();
    assert_eq!(history.len(), 16);
}

#[tokio::test]
async fn a_session_waits_at_most_its_bound_on_another_replica_then_429() {
    let redis = RedisServer::start();
    let gated = GatedModel::new();
    let holder = replica(&redis, Arc::new(gated.clone())).await;
    let impatient = TestServer::tutorial_on(
        counting_model(),
        Arc::new(redis.store_with(
            SessionConfig {
                max_wait: Duration::from_millis(300),
                ..SessionConfig::default()
            },
            RedisOptions::default(),
        )),
    )
    .await;
    let holder = Arc::new(holder);
    let holding = {
        let holder = holder.clone();
        tokio::spawn(async move { holder.ask("held", "1", "slow").await })
    };
    gated.wait_for_calls(1).await;

    let refused = impatient.ask("held", "1", "now?").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["error"], "Session busy");
    assert_eq!(refused.header("retry-after"), Some("10"));

    gated.release(1);
    assert_eq!(holding.await.unwrap().text(), "1 messages");
    assert_eq!(
        impatient.ask("held", "1", "now?").await.text(),
        "3 messages"
    );
}

/// A replica whose sessions end `idle_secs` after their last invocation or `lifetime_secs`
/// after their creation.
async fn lifetimes(redis: &RedisServer, idle_secs: u64, lifetime_secs: u64) -> TestServer {
    let sessions = SessionConfig {
        idle_timeout: Duration::from_secs(idle_secs),
        max_lifetime: Duration::from_secs(lifetime_secs),
        ..SessionConfig::default()
    };
    let store = redis.store_with(sessions, RedisOptions::default());
    TestServer::tutorial_on(counting_model(), Arc::new(store)).await
}

#[tokio::test]
async fn every_key_expires_and_expiry_ends_the_session() {
    let redis = RedisServer::start();
    let server = lifetimes(&redis, 1, 600).await;
    assert_eq!(server.ask("brief", "1", "hello").await.text(), "1 messages");

    let mut connection = redis.connection();
    let mut keys: Vec<String> = connection.keys("agentcore:*").unwrap();
    keys.sort();
    let [session, history, _lease] = keys_of("1", "brief");
    assert_eq!(keys, [history, session], "the lease is gone");
    for key in &keys {
        let ttl: i64 = connection.pttl(key).unwrap();
        assert!(ttl > 0 && ttl <= 1_000, "{key}: {ttl} ms");
    }

    // Redis ends the session by itself; wait for the key to go, then the id starts afresh.
    let started = Instant::now();
    while connection.exists::<_, bool>(&keys[0]).unwrap() {
        assert!(started.elapsed() < Duration::from_secs(10), "never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.ask("brief", "1", "again").await.text(), "1 messages");
}

#[tokio::test]
async fn a_session_expires_at_its_lifetime_however_active() {
    let redis = RedisServer::start();
    let server = lifetimes(&redis, 600, 2).await;
    server.ask("lifetime", "1", "one").await;
    server.ask("lifetime", "1", "two").await;
    let mut connection = redis.connection();
    for key in &keys_of("1", "lifetime")[..2] {
        let ttl: i64 = connection.pttl(key).unwrap();
        assert!(
            ttl > 0 && ttl <= 2_000,
            "{key}: creation + lifetime, not last use + idle: {ttl} ms"
        );
    }
}

#[tokio::test]
async fn redis_going_away_answers_503_and_coming_back_loses_nothing() {
    let mut redis = RedisServer::start();
    let server = replica(&redis, counting_model()).await;
    assert_eq!(server.ask("durable", "1", "one").await.text(), "1 messages");

    redis.kill();
    let refused = server.ask("durable", "1", "two").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["error"], "Session store unavailable");
    assert!(
        refused.json()["details"]
            .as_str()
            .unwrap()
            .contains("Redis at redis://127.0.0.1:"),
        "{}",
        refused.json()
    );
    assert_eq!(server.ping_status().await, "Healthy", "/ping still answers");

    redis.restart();
    let answer = first_success(&server, "durable", "three").await;
    assert_eq!(answer, "3 messages", "the append-only file kept turn one");
}

#[tokio::test]
async fn after_a_redis_restart_the_next_invocation_on_each_replica_succeeds() {
    let mut redis = RedisServer::start();
    let first = replica(&redis, counting_model()).await;
    let second = replica(&redis, counting_model()).await;
    assert_eq!(first.ask("blip", "1", "one").await.text(), "1 messages");
    assert_eq!(second.ask("blip", "1", "two").await.text(), "3 messages");

    // Both replicas hold a connection to the Redis that goes away; Redis is back before either
    // sends anything again, as after a failover, a patch or a node replacement.
    redis.kill();
    redis.restart();
    let on_first = first.ask("blip", "1", "three").await;
    assert_eq!(
        (on_first.status, on_first.text()),
        (200, "5 messages".to_owned())
    );
    let on_second = second.ask("blip", "1", "four").await;
    assert_eq!(
        (on_second.status, on_second.text()),
        (200, "7 messages".to_owned())
    );
}

#[tokio::test]
async fn a_redis_that_stops_answering_is_a_503_after_the_command_timeout_not_a_hang() {
    let redis = RedisServer::start();
    let server = replica(&redis, counting_model()).await;
    assert_eq!(server.ask("frozen", "1", "one").await.text(), "1 messages");

    let pid = redis.pid();
    signal(pid, "STOP");
    let refused = server.ask("frozen", "1", "two").await;
    signal(pid, "CONT");
    assert_eq!(refused.status, 503, "{}", refused.json());
    assert!(
        refused.json()["details"]
            .as_str()
            .unwrap()
            .contains("did not answer within 2000 ms"),
        "{}",
        refused.json()
    );
    let answer = first_success(&server, "frozen", "three").await;
    assert_eq!(answer, "3 messages");
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Asks until the store answers again (it reconnects by itself; the first request after an
/// outage may still find the old connection broken), at most 50 times.
async fn first_success(server: &TestServer, session: &str, prompt: &str) -> String {
    for _ in 0..50 {
        let reply = server.ask(session, "1", prompt).await;
        if reply.status == 200 {
            return reply.text();
        }
        assert_eq!(reply.status, 503, "{}", reply.json());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server never recovered");
}

#[tokio::test]
async fn an_unreadable_value_answers_500_naming_the_session_and_is_left_alone() {
    let redis = RedisServer::start();
    let server = replica(&redis, counting_model()).await;
    let mut connection = redis.connection();
    server.ask("future", "1", "hello").await;
    server.ask("garbled", "1", "hello").await;
    let _: () = connection
        .hset(&keys_of("1", "future")[0], "format", "99")
        .unwrap();
    let _: () = connection
        .lset(&keys_of("1", "garbled")[1], 1, "{\"role\": ")
        .unwrap();
    let _: () = connection
        .set(&keys_of("1", "wrong-type")[0], "a plain string")
        .unwrap();

    for (session, says) in [
        ("future", "format version \"99\""),
        (
            "garbled",
            "message 1 of the history is not a Converse message",
        ),
        ("wrong-type", "another type of value"),
    ] {
        let [session_key, history_key, lease_key] = keys_of("1", session);
        let dump = |connection: &mut redis::Connection| -> Vec<redis::Value> {
            [&session_key, &history_key]
                .map(|key| redis::cmd("DUMP").arg(key).query(connection).unwrap())
                .to_vec()
        };
        let before = dump(&mut connection);
        let reply = server.ask(session, "1", "again").await;
        assert_eq!(reply.status, 500, "{session}");
        assert_eq!(reply.json()["error"], "Session unreadable");
        let details = reply.json()["details"].as_str().unwrap().to_owned();
        assert!(
            details.contains(&format!("session {session}")) && details.contains(says),
            "{details}"
        );
        assert_eq!(
            before,
            dump(&mut connection),
            "{session}: the stored value is untouched"
        );
        let lease: bool = connection.exists(&lease_key).unwrap();
        assert!(!lease, "{session}: the lease was released");
    }
}

#[tokio::test]
async fn a_turn_that_lost_its_lease_cannot_overwrite_a_newer_history() {
    let redis = RedisServer::start();
    let slow = redis.store();
    let fast = redis.store();
    let key = key("1", "fenced");

    let mut stale = slow.checkout(&key).await.unwrap();
    stale.push(Message::user("stale"));
    // The lease expires (as it would for a replica paused past its TTL) and another takes it.
    let _: () = redis
        .connection()
        .del("agentcore:lease:{user=1:fenced}")
        .unwrap();
    let mut newer = fast.checkout(&key).await.unwrap();
    newer.push(Message::user("newer"));
    newer.commit().await.unwrap();

    let refused = stale.commit().await.unwrap_err();
    assert!(
        matches!(&refused, SessionError::LeaseLost { session } if session == "fenced"),
        "{refused:?}"
    );
    let history = fast.history(&key).await.unwrap().unwrap();
    assert_eq!(history.messages(), [Message::user("newer")]);
}

#[tokio::test]
async fn a_session_belongs_to_its_user_across_replicas() {
    let redis = RedisServer::start();
    let first = replica(&redis, counting_model()).await;
    let second = replica(&redis, counting_model()).await;

    assert_eq!(
        first.ask("shared-id", "1", "2+5").await.text(),
        "1 messages"
    );
    assert_eq!(
        second.ask("shared-id", "2", "add 34 to that").await.text(),
        "1 messages",
        "user 2 starts afresh under the same id"
    );
    assert_eq!(
        second.ask("shared-id", "1", "and?").await.text(),
        "3 messages"
    );
    assert_eq!(first.history("shared-id", "2").await.unwrap().len(), 2);
    assert_eq!(first.history("shared-id", "3").await, None);
}

#[tokio::test]
async fn nothing_is_written_before_a_turn_commits() {
    let redis = RedisServer::start();
    let store = redis.store();
    let mut turn = store.checkout(&key("1", "abandoned")).await.unwrap();
    turn.push(Message::user("never committed"));
    drop(turn);
    let mut connection = redis.connection();
    let started = Instant::now();
    loop {
        let keys: Vec<String> = connection.keys("agentcore:*").unwrap();
        if keys.is_empty() {
            break;
        }
        assert_eq!(keys, ["agentcore:lease:{user=1:abandoned}"]);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "lease never released"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(store.history(&key("1", "abandoned")).await.unwrap(), None);
}

#[tokio::test]
async fn histories_kept_in_redis_equal_a_run_in_memory_window_included() {
    let redis = RedisServer::start();
    let store = redis.store();
    let agent = agent_core::Agent::builder(counting_model())
        .config(agent_core::AgentConfig {
            window: agent_core::SlidingWindow { max_messages: 5 },
            ..agent_core::AgentConfig::default()
        })
        .build();
    let mut alone = agent_core::Conversation::new();
    for n in 0..6 {
        let prompt = format!("prompt {n}");
        let mut turn = store.checkout(&key("1", "windowed")).await.unwrap();
        let stored = agent.invoke_in(&mut turn, &prompt).await.unwrap();
        turn.commit().await.unwrap();
        let expected = agent.invoke(&mut alone, &prompt).await.unwrap();
        assert_eq!(stored, expected);
    }
    let history = store.history(&key("1", "windowed")).await.unwrap().unwrap();
    assert_eq!(history, alone);
    assert_eq!(history.len(), 4, "the window trimmed the list in Redis");
}

#[tokio::test]
async fn a_turn_longer_than_the_idle_timeout_keeps_its_history() {
    let redis = RedisServer::start();
    let store = redis.store_with(
        SessionConfig {
            idle_timeout: Duration::from_secs(1),
            ..SessionConfig::default()
        },
        RedisOptions {
            lease_ttl: Duration::from_secs(3),
            ..RedisOptions::default()
        },
    );
    let mut first = store.checkout(&key("1", "slow")).await.unwrap();
    first.push(Message::user("before"));
    first.commit().await.unwrap();

    let mut slow = store.checkout(&key("1", "slow")).await.unwrap();
    // Longer than the idle timeout: the lease keeps the session's keys alive meanwhile.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    slow.push(Message::user("after"));
    slow.commit().await.unwrap();
    let history = store.history(&key("1", "slow")).await.unwrap().unwrap();
    assert_eq!(
        history.messages(),
        [Message::user("before"), Message::user("after")]
    );
}

#[tokio::test]
async fn a_session_whose_line_is_full_answers_429_at_once_with_redis_too() {
    let redis = RedisServer::start();
    let gated = GatedModel::new();
    let store = redis.store_with(
        SessionConfig {
            max_waiting: 1,
            ..SessionConfig::default()
        },
        RedisOptions::default(),
    );
    let server =
        Arc::new(TestServer::tutorial_on(Arc::new(gated.clone()), Arc::new(store.clone())).await);
    let ask = |prompt: &'static str| {
        let server = server.clone();
        tokio::spawn(async move { server.ask("line", "1", prompt).await })
    };
    let first = ask("first");
    gated.wait_for_calls(1).await;
    let second = ask("second");
    let started = Instant::now();
    while store.waiting(&key("1", "line")) < 1 {
        assert!(started.elapsed() < Duration::from_secs(10), "never queued");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let refused = server.ask("line", "1", "third").await;
    assert_eq!(refused.status, 429, "{}", refused.json());
    assert_eq!(refused.json()["error"], "Session busy");
    assert_eq!(refused.header("retry-after"), Some("10"));

    gated.release(2);
    assert_eq!(first.await.unwrap().text(), "1 messages");
    assert_eq!(second.await.unwrap().text(), "3 messages");
}
