//! Inbound JWT auth against a real OpenID provider on loopback (`agent_testkit::OpenIdProvider`:
//! discovery, JWKS, keys made by openssl): every refusal a 401 naming its reason without echoing
//! the token, the verified user owning the sessions (403 for anyone else's, in memory and in
//! Redis), keys rotated and refetched under a rate limit, a provider going down after start-up,
//! `/ws` handshakes with a header and with a browser's subprotocols, the caller reaching an
//! entrypoint and a tool, and the binary's flags.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{BINARY, Reply, TestServer, counting_model, test_agent_config};
use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::session::{MemorySessionStore, SessionConfig, SessionStore};
use agent_core::{Agent, Message, Tool, ToolContext, ToolError, ToolOutput, ToolSpec};
use agent_server::auth::{AuthConfig, Authorizer, BEARER_SUBPROTOCOL};
use agent_server::tutorial::TutorialEntrypoint;
use agent_server::{
    AgentCoreApp, AgentEntrypoint, SESSION_ID_HEADER, USER_ID_HEADER, entrypoint_fn,
};
use agent_testkit::{
    OpenIdProvider, RedisServer, ServerProcess, SigningKey, TEST_AUDIENCE, TEST_CLIENT,
};
use agent_tools::Clock;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

/// The authorizer tests use: the provider's tokens for the test audience and client.
async fn authorizer(provider: &OpenIdProvider) -> Authorizer {
    Authorizer::discover(
        AuthConfig::new(provider.discovery_url())
            .allow_audience(TEST_AUDIENCE)
            .allow_client(TEST_CLIENT),
    )
    .await
    .unwrap()
}

/// The tutorial on a counting model (each answer says how many messages it was sent), its
/// sessions in `store`, behind auth.
async fn tutorial_with_auth(provider: &OpenIdProvider, store: Arc<dyn SessionStore>) -> TestServer {
    let entrypoint = TutorialEntrypoint::with_model(
        counting_model(),
        Clock::Local,
        test_agent_config(),
        store.clone(),
    );
    let app = AgentCoreApp::new(entrypoint).with_auth(authorizer(provider).await);
    let mut server = TestServer::start(app).await;
    server.sessions = Some(store);
    server
}

/// POST /invocations on `session` with `token` (none when `None`) and `payload`.
async fn invoke_as(
    server: &TestServer,
    token: Option<&str>,
    session: &str,
    payload: Value,
) -> Reply {
    let mut request = server
        .client
        .post(server.url("/invocations"))
        .header(SESSION_ID_HEADER, session)
        .json(&payload);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Reply::from(request.send().await.unwrap()).await
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// A token with `alg` as given and a signature of nothing, as an attacker writes one.
fn unsigned(alg: &str, claims: &Value) -> String {
    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT", "kid": "key-1"}).to_string());
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.")
}

#[tokio::test]
async fn every_refusal_is_a_401_naming_its_reason_and_the_token_is_never_echoed() {
    let provider = OpenIdProvider::start().await;
    let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let server = tutorial_with_auth(&provider, store).await;
    let claims = provider.claims_for("1");
    let with = |changes: Value| {
        let mut claims = claims.clone();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    };
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"the provider's public key, misused as a secret")
            .unwrap(),
    )
    .unwrap();
    // The same kid as the published key, another key's signature.
    let impostor = SigningKey::rsa("key-1").sign(&claims);
    let stranger = SigningKey::rsa("key-never-published").sign(&claims);
    let cases: Vec<(&str, Option<String>, Option<&str>)> = vec![
        ("no token", None, None),
        (
            "not a JWT",
            Some("not-a-jwt".into()),
            Some("the token is not a well-formed JWT"),
        ),
        (
            "alg none",
            Some(unsigned("none", &claims)),
            Some("the token's algorithm none is not accepted"),
        ),
        (
            "HMAC",
            Some(hmac),
            Some("the token's algorithm HS256 is not accepted"),
        ),
        (
            "expired",
            Some(provider.sign(&with(json!({"exp": now() - 3600})))),
            Some("the token has expired"),
        ),
        (
            "no exp",
            Some(provider.sign(&with(json!({"exp": null})))),
            Some("the token has expired"),
        ),
        (
            "not yet valid",
            Some(provider.sign(&with(json!({"nbf": now() + 3600})))),
            Some("the token is not valid yet"),
        ),
        (
            "other issuer",
            Some(provider.sign(&with(json!({"iss": "https://elsewhere.example"})))),
            Some("the token's issuer is not the configured provider"),
        ),
        (
            "other audience",
            Some(provider.sign(&with(json!({"aud": "another-api"})))),
            Some("the token is not for an allowed audience"),
        ),
        (
            "other client",
            Some(provider.sign(&with(json!({"client_id": "another-client"})))),
            Some("the token's client is not allowed"),
        ),
        (
            "forged signature",
            Some(impostor),
            Some("the token's signature is invalid"),
        ),
        (
            "unknown key",
            Some(stranger),
            Some("the token is signed by a key the provider does not publish"),
        ),
        (
            "no user",
            Some(provider.sign(&with(json!({"sub": null})))),
            Some("the token's sub claim does not name a usable user"),
        ),
        (
            "unusable user",
            Some(provider.sign(&with(json!({"sub": "x".repeat(300)})))),
            Some("the token's sub claim does not name a usable user"),
        ),
    ];
    for (case, token, reason) in &cases {
        let mut request = server
            .client
            .post(server.url("/invocations"))
            .header(SESSION_ID_HEADER, "refused-session")
            .json(&json!({"prompt": "hi", "user_id": "1"}));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let reply = Reply::from(request.send().await.unwrap()).await;
        assert_eq!(reply.status, 401, "{case}");
        let body = reply.json();
        assert_eq!(body["error"], "Unauthorized", "{case}");
        let challenge = reply
            .header("www-authenticate")
            .unwrap_or_default()
            .to_owned();
        match reason {
            None => {
                assert_eq!(
                    challenge, "Bearer",
                    "{case}: RFC 6750 §3.1's bare challenge"
                );
                assert_eq!(body["details"], "a bearer token is required");
            }
            Some(reason) => {
                assert_eq!(
                    challenge,
                    format!(r#"Bearer error="invalid_token", error_description="{reason}""#),
                    "{case}"
                );
                assert_eq!(body["details"], *reason, "{case}");
            }
        }
        if let Some(token) = token {
            let signature = token.rsplit('.').next().unwrap();
            let shown = format!("{challenge} {}", String::from_utf8_lossy(&reply.bytes));
            assert!(
                !shown.contains(token.as_str()),
                "{case}: the token is echoed"
            );
            assert!(signature.is_empty() || !shown.contains(signature), "{case}");
        }
    }
    assert!(
        server.history("refused-session", "1").await.is_none(),
        "no refused call reached a session"
    );
    // A request without a session header is refused before a session id is made for it.
    let reply = Reply::from(
        server
            .client
            .post(server.url("/invocations"))
            .json(&json!({"prompt": "hi"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 401);
    // `/ping` needs no token; a valid one is served.
    assert_eq!(server.ping_status().await, "Healthy");
    let reply = invoke_as(
        &server,
        Some(&provider.token_for("1")),
        "served",
        json!({"prompt": "hi", "user_id": "1"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert_eq!(reply.text(), "1 messages");
}

#[tokio::test]
async fn a_cognito_access_token_without_aud_passes_on_its_client_id_and_other_algorithms_verify() {
    let provider = OpenIdProvider::start_with(SigningKey::ec("ec-key")).await;
    let ed = SigningKey::ed25519("ed-key");
    provider.publish(&ed);
    let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let server = tutorial_with_auth(&provider, store).await;
    let mut access = provider.claims_for("2");
    access.as_object_mut().unwrap().remove("aud");
    access["token_use"] = json!("access");
    let ask = async |token: String| {
        invoke_as(&server, Some(&token), "cognito", json!({"prompt": "hi"})).await
    };
    let reply = ask(provider.sign(&access)).await;
    assert_eq!(
        reply.status,
        200,
        "ES256, no aud, an allowed client_id: {:?}",
        reply.json()
    );
    access["client_id"] = json!("another-client");
    let reply = ask(provider.sign(&access)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json()["details"],
        "the token is not for an allowed audience"
    );
    let reply = ask(ed.sign(&provider.claims_for("2"))).await;
    assert_eq!(reply.status, 200, "EdDSA");
    assert_eq!(
        reply.text(),
        "3 messages",
        "the same user's session, continued"
    );
}

/// The owner is the token's user whatever the payload or the header says.
async fn the_verified_user_owns_the_sessions(store: Arc<dyn SessionStore>) {
    let provider = OpenIdProvider::start().await;
    let server = tutorial_with_auth(&provider, store).await;
    let (maira, mani) = (provider.token_for("1"), provider.token_for("2"));
    let session = format!("owned-{}", uuid::Uuid::new_v4());
    let own = invoke_as(
        &server,
        Some(&maira),
        &session,
        json!({"prompt": "2+5", "user_id": "1"}),
    )
    .await;
    assert_eq!((own.status, own.text()), (200, "1 messages".to_owned()));
    // user_id may be left out: the token's user is meant.
    let own = invoke_as(&server, Some(&maira), &session, json!({"prompt": "+34"})).await;
    assert_eq!((own.status, own.text()), (200, "3 messages".to_owned()));
    // Another user's token naming Maira is refused, and reaches nothing.
    let intruder = invoke_as(
        &server,
        Some(&mani),
        &session,
        json!({"prompt": "what did she say?", "user_id": "1"}),
    )
    .await;
    assert_eq!(intruder.status, 403);
    assert_eq!(
        intruder.json()["details"],
        "the payload's user_id names another user than the verified token"
    );
    let header = Reply::from(
        server
            .client
            .post(server.url("/invocations"))
            .header(SESSION_ID_HEADER, &session)
            .header(USER_ID_HEADER, "1")
            .bearer_auth(&mani)
            .json(&json!({"prompt": "what did she say?"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(header.status, 403);
    // Mani's own use of the same session id is Mani's own, fresh session.
    let fresh = invoke_as(
        &server,
        Some(&mani),
        &session,
        json!({"prompt": "hi", "user_id": "2"}),
    )
    .await;
    assert_eq!((fresh.status, fresh.text()), (200, "1 messages".to_owned()));
    assert_eq!(
        server.history(&session, "1").await.unwrap().len(),
        4,
        "Maira's history untouched"
    );
    assert_eq!(server.history(&session, "2").await.unwrap().len(), 2);
    // A user the tutorial does not know is refused even with a valid token.
    let stranger = invoke_as(
        &server,
        Some(&provider.token_for("99")),
        &session,
        json!({"prompt": "hi"}),
    )
    .await;
    assert_eq!(stranger.status, 403);
}

#[tokio::test]
async fn the_verified_user_owns_the_sessions_in_memory() {
    the_verified_user_owns_the_sessions(Arc::new(
        MemorySessionStore::new(SessionConfig::default()),
    ))
    .await;
}

#[tokio::test]
async fn the_verified_user_owns_the_sessions_in_redis() {
    let redis = RedisServer::start();
    the_verified_user_owns_the_sessions(Arc::new(redis.store())).await;
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_a_provider_down_after_start_up_stops_nothing() {
    let provider = OpenIdProvider::start().await;
    let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let server = tutorial_with_auth(&provider, store).await;
    let reads_at_start = provider.jwks_reads();
    let ask = async |token: String| {
        invoke_as(&server, Some(&token), "rotation", json!({"prompt": "hi"}))
            .await
            .status
    };
    assert_eq!(ask(provider.token_for("1")).await, 200);
    let rotated = SigningKey::rsa("key-2");
    provider.publish_only(&[&rotated]);
    assert_eq!(
        ask(rotated.sign(&provider.claims_for("1"))).await,
        200,
        "the new key is fetched"
    );
    assert_eq!(provider.jwks_reads(), reads_at_start + 1);
    assert_eq!(ask(rotated.sign(&provider.claims_for("1"))).await, 200);
    assert_eq!(provider.jwks_reads(), reads_at_start + 1, "and kept");
    provider.stop();
    // A token never seen before, signed by a key in hand, verifies with the provider down.
    let mut fresh = provider.claims_for("1");
    fresh["jti"] = json!("while-down");
    assert_eq!(ask(rotated.sign(&fresh)).await, 200);
    // An unknown key is refused at once: the refetch rule allows no read yet.
    assert_eq!(
        ask(SigningKey::rsa("key-3").sign(&provider.claims_for("1"))).await,
        401
    );
    assert_eq!(server.ping_status().await, "Healthy");
}

#[tokio::test]
async fn a_flood_of_made_up_kids_reads_the_keys_once() {
    let provider = OpenIdProvider::start().await;
    let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let server = Arc::new(tutorial_with_auth(&provider, store).await);
    let before = provider.jwks_reads();
    let claims = provider.claims_for("1");
    let mut attempts = Vec::new();
    for n in 0..20 {
        let server = server.clone();
        let token = SigningKey::rsa(&format!("made-up-{n}")).sign(&claims);
        attempts.push(tokio::spawn(async move {
            invoke_as(&server, Some(&token), "flood", json!({"prompt": "hi"}))
                .await
                .status
        }));
    }
    for attempt in attempts {
        assert_eq!(attempt.await.unwrap(), 401);
    }
    assert_eq!(
        provider.jwks_reads(),
        before + 1,
        "one read for twenty unknown kids"
    );
}

#[tokio::test]
async fn keys_are_read_again_in_the_background() {
    let provider = OpenIdProvider::start().await;
    let authorizer = Authorizer::discover(
        AuthConfig::new(provider.discovery_url()).with_key_refresh(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let ahead = SigningKey::ed25519("published-ahead");
    provider.publish(&ahead);
    let before = provider.jwks_reads();
    tokio::time::timeout(Duration::from_secs(10), async {
        while provider.jwks_reads() == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a background read within 10 s");
    provider.stop();
    let caller = authorizer
        .verify(&ahead.sign(&provider.claims_for("3")))
        .await
        .unwrap();
    assert_eq!(
        caller.user(),
        "3",
        "the key read in the background verifies with the provider down"
    );
}

#[tokio::test]
async fn a_provider_unreadable_at_start_up_stops_it_naming_the_provider() {
    let provider = OpenIdProvider::start().await;
    let url = provider.discovery_url();
    provider.stop();
    let error = Authorizer::discover(AuthConfig::new(&url))
        .await
        .err()
        .expect("no authorizer");
    let message = format!(
        "{error}: {}",
        std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(message.contains(&url), "{message}");
    let insecure = Authorizer::discover(AuthConfig::new(
        "http://example.com/.well-known/openid-configuration",
    ))
    .await;
    assert!(
        insecure
            .err()
            .unwrap()
            .to_string()
            .contains("neither https nor http to a loopback")
    );
}

/// A tool that answers who called, from its context.
struct WhoCalled;

#[async_trait]
impl Tool for WhoCalled {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "who_called".into(),
            description: "names the verified caller".into(),
            input_schema: json!({"type": "object", "properties": {}}),
        }
    }

    async fn call(&self, _: Value, context: &ToolContext) -> Result<ToolOutput, ToolError> {
        let caller = context
            .caller()
            .ok_or_else(|| ToolError::new("no verified caller"))?;
        Ok(ToolOutput::text(format!(
            "{} via {}",
            caller.user(),
            caller
                .claim("client_id")
                .and_then(Value::as_str)
                .unwrap_or("?")
        )))
    }
}

#[tokio::test]
async fn the_verified_caller_reaches_an_entrypoint_and_a_tool() {
    let provider = OpenIdProvider::start().await;
    let app = AgentCoreApp::new(entrypoint_fn(|_payload, context| async move {
        let caller = context.caller.expect("a verified caller");
        Ok(json!({"user": caller.user(), "user_id": context.user_id, "email": caller.claim("email")}))
    }))
    .with_auth(authorizer(&provider).await);
    let server = TestServer::start(app).await;
    let mut claims = provider.claims_for("alice");
    claims["email"] = json!("alice@example.com");
    let reply = invoke_as(&server, Some(&provider.sign(&claims)), "entry", json!({})).await;
    assert_eq!(
        reply.json(),
        json!({"user": "alice", "user_id": "alice", "email": "alice@example.com"})
    );

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorded = seen.clone();
    let model = ScriptedModel::new(move |messages: &[Message]| {
        match messages.last().and_then(|last| last.tool_results().next()) {
            Some(result) => {
                recorded.lock().unwrap().push(result.text());
                Ok(text_response(&result.text()))
            }
            None => Ok(tool_use_response(&[("tooluse_1", "who_called", json!({}))])),
        }
    });
    let agent = Agent::builder(Arc::new(model))
        .tool(Arc::new(WhoCalled))
        .unwrap()
        .build();
    let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let app = AgentCoreApp::new(AgentEntrypoint::new(agent, store))
        .with_auth(authorizer(&provider).await);
    let server = TestServer::start(app).await;
    let reply = invoke_as(
        &server,
        Some(&provider.token_for("bob")),
        "tool",
        json!({"prompt": "who am I?"}),
    )
    .await;
    assert_eq!(reply.text(), "bob via test-client");
    assert_eq!(*seen.lock().unwrap(), ["bob via test-client"]);
}

/// A `/ws` handshake for `session` with `headers` added.
async fn handshake(server: &TestServer, headers: &[(&'static str, String)]) -> Result<Socket, u16> {
    let url = format!("ws://{}/ws", server.address);
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request
        .headers_mut()
        .insert(SESSION_ID_HEADER, "ws-session".parse().unwrap());
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, response)) => {
            if let Some(protocol) = response.headers().get("sec-websocket-protocol") {
                assert_eq!(protocol, BEARER_SUBPROTOCOL);
            }
            Ok(socket)
        }
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("{other}"),
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn last_event(socket: &mut Socket, payload: Value) -> Value {
    socket
        .send(tungstenite::Message::Text(payload.to_string().into()))
        .await
        .unwrap();
    loop {
        let tungstenite::Message::Text(text) = socket.next().await.unwrap().unwrap() else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        if value.get("result").is_some() || value.get("error").is_some() {
            return value;
        }
    }
}

#[tokio::test]
async fn a_websocket_handshake_is_authorized_by_header_or_by_a_browser_subprotocol() {
    let provider = OpenIdProvider::start().await;
    let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let server = tutorial_with_auth(&provider, store).await;
    assert_eq!(
        handshake(&server, &[]).await.err(),
        Some(401),
        "refused before the upgrade"
    );
    let token = provider.token_for("1");
    let mut socket = handshake(&server, &[("authorization", format!("Bearer {token}"))])
        .await
        .unwrap();
    assert_eq!(
        last_event(&mut socket, json!({"prompt": "hi"})).await["result"]["text"],
        "1 messages"
    );
    let offered = format!(
        "{BEARER_SUBPROTOCOL}.{}, {BEARER_SUBPROTOCOL}",
        URL_SAFE_NO_PAD.encode(&token)
    );
    let mut browser = handshake(&server, &[("sec-websocket-protocol", offered)])
        .await
        .unwrap();
    assert_eq!(
        last_event(&mut browser, json!({"prompt": "hi"})).await["result"]["text"],
        "3 messages"
    );
    let intruder = provider.token_for("2");
    let mut socket = handshake(&server, &[("authorization", format!("Bearer {intruder}"))])
        .await
        .unwrap();
    let refused = last_event(&mut socket, json!({"prompt": "hi", "user_id": "1"})).await;
    assert_eq!(refused["error_type"], "Forbidden", "{refused}");
}

// Two workers: the provider answers on this runtime while the test waits for the binary's
// start-up line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_verifies_tokens_from_its_flags_and_logs_none() {
    let provider = OpenIdProvider::start().await;
    let url = provider.discovery_url();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let server = ServerProcess::start(
        BINARY,
        &[
            "--replay",
            fixtures.to_str().unwrap(),
            "--auth-discovery-url",
            &url,
            "--auth-allowed-audience",
            TEST_AUDIENCE,
            "--auth-allowed-client",
            TEST_CLIENT,
        ],
    );
    assert!(
        server.startup_line.contains(&url),
        "start-up names the provider: {}",
        server.startup_line
    );
    let client = reqwest::Client::new();
    let invocations = format!("http://{}/invocations", server.address);
    let refused = client
        .post(&invocations)
        .json(&json!({"prompt": "hi", "user_id": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let token = provider.token_for("1");
    let served = client
        .post(&invocations)
        .bearer_auth(&token)
        .header(SESSION_ID_HEADER, "binary-test")
        .json(&json!({"prompt": "外の天気はどうですか?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let answer: Value = served.json().await.unwrap();
    assert!(answer.as_str().unwrap().contains("Maira"), "{answer}");
    assert!(server.log_lines().iter().all(|line| !line.contains(&token)));
}
