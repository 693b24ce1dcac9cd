//! The Redis session store beside the in-memory one, measured in the same run: throughput and
//! p99 at 8 clients (one session each, so every invocation loads and commits its history in
//! Redis), and what an idle 6-message session costs Redis (`MEMORY USAGE`, and `used_memory`
//! growth). Redis runs on a loopback port three ways: its append-only file fsynced on every write
//! (nothing acknowledged is lost when Redis is killed), fsynced every second (Redis's default),
//! and with no persistence at all.

use std::sync::Arc;

use agent_core::session::{RedisOptions, RedisSessionStore, SessionConfig, SessionStore};

use crate::instant_model::{entrypoint, memory_store};
use crate::load::client_runtime;
use crate::load::{load, print_row};
use crate::memory_figures::{fill_sessions, text_bytes};
use crate::serving::serve_in_background;
use agent_testkit::{Persistence, RedisCluster, RedisServer};

/// Idle sessions filled for the memory figure.
const SESSIONS: usize = 2_000;

pub(crate) fn redis() {
    println!(
        "Redis session store beside the in-memory one (redis-server on loopback, append-only file; one server, then a 6-node cluster)"
    );
    println!("  target: Redis-backed throughput at least half the in-memory store's, same run");
    println!(
        "  {:<30} {:>8} {:>14} {:>10} {:>10} {:>8}",
        "store", "clients", "invocations/s", "p50 ms", "p99 ms", "wrong"
    );
    let client_runtime = client_runtime();
    let memory = measure(&client_runtime, "memory", 0, || {
        Arc::new(memory_store(1_000_000))
    });
    let configurations = [
        ("redis, appendfsync always", Persistence::EveryWrite),
        ("redis, appendfsync everysec", Persistence::EverySecond),
        ("redis, no persistence", Persistence::None),
    ];
    for (run, (label, persistence)) in configurations.into_iter().enumerate() {
        let redis = RedisServer::start_with(persistence);
        let url = redis.url();
        let rate = measure(&client_runtime, label, run + 1, move || {
            let store =
                RedisSessionStore::open(&url, SessionConfig::default(), RedisOptions::default())
                    .unwrap();
            Arc::new(store)
        });
        println!("  {:<30} redis / memory: {:.2}", "", rate / memory);
        if persistence == Persistence::EveryWrite {
            let (per_key, per_session_used, text) =
                client_runtime.block_on(idle_session_cost(&redis));
            println!(
                "  idle 6-message session in Redis ({SESSIONS} sessions): MEMORY USAGE {per_key:.0} B (its two keys); used_memory growth {per_session_used:.0} B; its text {text} B"
            );
        }
    }
    // A Redis Cluster of three primaries with a replica each (append-only file fsynced on every
    // write), given the address of one node.
    let cluster = RedisCluster::start();
    let url = cluster.url(0);
    let rate = measure(&client_runtime, "redis cluster, always", 4, move || {
        let store =
            RedisSessionStore::open(&url, SessionConfig::default(), RedisOptions::default())
                .unwrap();
        Arc::new(store)
    });
    println!("  {:<30} redis cluster / memory: {:.2}", "", rate / memory);
    println!();
}

/// Serves the tutorial on the store `sessions` makes, loads it with 8 clients (one session
/// each), prints a row; returns invocations per second.
fn measure(
    client_runtime: &tokio::runtime::Runtime,
    label: &str,
    run: usize,
    sessions: impl FnOnce() -> Arc<dyn SessionStore> + Send + 'static,
) -> f64 {
    let (address, _server) = serve_in_background(sessions);
    let result = client_runtime.block_on(load(address, 8, false, 1_000 + run));
    print_row(label, 8, &result);
    result.per_second
}

/// Fills [`SESSIONS`] sessions of the tutorial's 6-message history; returns the `MEMORY USAGE`
/// of a session's keys and the `used_memory` growth, both per session, and one session's text.
async fn idle_session_cost(redis: &RedisServer) -> (f64, f64, u64) {
    let mut connection = redis.connection();
    let _: () = redis::cmd("FLUSHALL").query(&mut connection).unwrap();
    let before = used_memory(&mut connection);
    let store = RedisSessionStore::open(
        &redis.url(),
        SessionConfig::default(),
        RedisOptions::default(),
    )
    .unwrap();
    let entrypoint = entrypoint(Arc::new(store));
    let ids = fill_sessions(&entrypoint, SESSIONS).await;
    let growth = used_memory(&mut connection).saturating_sub(before);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("agentcore:*")
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        keys.len(),
        2 * SESSIONS,
        "a hash and a list a session, no lease left"
    );
    let total: u64 = keys
        .iter()
        .map(|key| {
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0)
                .query::<u64>(&mut connection)
                .unwrap()
        })
        .sum();
    let text = text_bytes(&entrypoint, &ids[0]).await;
    (
        total as f64 / SESSIONS as f64,
        growth as f64 / SESSIONS as f64,
        text,
    )
}

fn used_memory(connection: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query(connection).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}
