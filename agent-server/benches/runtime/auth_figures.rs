//! The price of inbound JWT auth: the `agent-server` binary under the same load without auth
//! and with `--auth-discovery-url` pointing at a local OpenID provider, every invocation a new
//! session carrying one RS256 token (the common case: a client's token is reused until it
//! expires, so its verification is cached by hash), on the Bedrock path (the AWS SDK against the
//! local Converse stand-in). Rounds alternate, so a drift in the machine's speed reaches both
//! alike. Beside it, what one verification of a never-seen token costs in process.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use agent_server::auth::{AuthConfig, Authorizer};
use agent_testkit::{OpenIdProvider, TEST_AUDIENCE, serve_on_own_runtime};

use crate::bedrock_path_figures::stand_in_router;
use crate::binary::{Binary, Model};
use crate::load::{client_runtime, invoke_new_sessions_for};

const CLIENTS: usize = 8;
const ROUNDS: usize = 5;
const MEASURE: Duration = Duration::from_secs(2);

pub(crate) fn auth() {
    println!("Inbound JWT auth: the binary with --auth-discovery-url against without");
    println!(
        "  target: server CPU per invocation with auth on at most 1.10× off on the Bedrock path"
    );
    // The provider and the stand-in answer on runtimes of their own.
    let provider_runtime = tokio::runtime::Runtime::new().unwrap();
    let provider = provider_runtime.block_on(OpenIdProvider::start());
    let discovery = provider.discovery_url();
    let token = provider.token_for("1");
    let (stand_in, _stand_in) = serve_on_own_runtime("stand-in", |listener| async move {
        axum::serve(listener, stand_in_router()).await
    });
    let stand_in = format!("http://{stand_in}");
    let model = Model::Bedrock(&stand_in);
    let client_runtime = client_runtime();
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let mut cpu = [0.0; 2];
        for (slot, on) in [false, true].into_iter().enumerate() {
            let environment: Vec<(&str, &str)> = if on {
                vec![
                    ("AGENT_SERVER_AUTH_DISCOVERY_URL", &discovery),
                    ("AGENT_SERVER_AUTH_ALLOWED_AUDIENCES", TEST_AUDIENCE),
                ]
            } else {
                Vec::new()
            };
            let mut server = Binary::start(model, &environment);
            let before = server.cpu();
            let bearer = on.then_some(token.as_str());
            let served = client_runtime.block_on(invoke_for(server.address, round, slot, bearer));
            cpu[slot] = (server.cpu() - before).as_secs_f64() * 1e6 / served as f64;
            server.stop();
        }
        let ratio = cpu[1] / cpu[0];
        println!(
            "  round {round}: server CPU per invocation off {:.0} µs, on {:.0} µs; on / off {ratio:.2}",
            cpu[0], cpu[1]
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "  median of {ROUNDS} rounds: CPU per invocation on / off {:.2}",
        ratios[ROUNDS / 2]
    );
    let micros = provider_runtime.block_on(fresh_verification_micros(&provider));
    println!(
        "  one never-seen RS256 token verified in process (signature, claims, cache): {micros:.1} µs\n"
    );
}

async fn invoke_for(server: SocketAddr, round: usize, slot: usize, bearer: Option<&str>) -> usize {
    let sessions = format!("auth-{round}-{slot}");
    let prompt = Model::Bedrock("").prompt();
    invoke_new_sessions_for(server, CLIENTS, MEASURE, prompt, &sessions, None, bearer).await
}

/// µs per verification of distinct tokens, none of them cached, signed ahead.
async fn fresh_verification_micros(provider: &OpenIdProvider) -> f64 {
    const TOKENS: usize = 2_000;
    let authorizer = Authorizer::discover(AuthConfig::new(provider.discovery_url()))
        .await
        .unwrap();
    let tokens: Vec<String> = (0..TOKENS)
        .map(|n| {
            let mut claims = provider.claims_for("1");
            claims["jti"] = n.into();
            provider.sign(&claims)
        })
        .collect();
    let started = Instant::now();
    for token in &tokens {
        authorizer.verify(token).await.unwrap();
    }
    started.elapsed().as_secs_f64() * 1e6 / TOKENS as f64
}
