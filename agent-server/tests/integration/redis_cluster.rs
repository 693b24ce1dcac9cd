//! Sessions on a real Redis Cluster — three primaries and three replicas of `redis-server
//! --cluster-enabled yes` on loopback — given to servers as the address of any node: the tutorial
//! across servers on different nodes, and a run of invocations through a primary failing over
//! to its replica and a slot migrating, losing no turn and no update.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::{TestServer, test_agent_config, tutorial_across};
use crate::support::{counting_model, tutorial_model};
use agent_core::session::SessionStore;
use agent_core::{AgentConfig, SlidingWindow};
use agent_server::tutorial::TutorialEntrypoint;
use agent_testkit::RedisCluster;
use agent_tools::Clock;
use tokio::sync::Notify;

#[tokio::test]
async fn the_tutorial_spans_servers_given_different_nodes_of_a_cluster() {
    let cluster = RedisCluster::start();
    // One server is given a primary's address, the other a replica's: either finds the cluster.
    let first = TestServer::tutorial_on(tutorial_model(), Arc::new(cluster.store(0))).await;
    let second = TestServer::tutorial_on(tutorial_model(), Arc::new(cluster.store(4))).await;
    let session_1 = tutorial_across(&first, &second).await;
    assert_eq!(first.history(&session_1, "1").await.unwrap().len(), 12);
}

/// Sessions driven one invocation at a time each, alternating between two servers.
const SESSIONS: usize = 6;
/// Turns each session takes once the disruptions are over, to show it goes on.
const TURNS_AFTER: usize = 5;

/// A server for the cluster run: the tutorial on the counting model, with a window wide enough
/// that every turn of the run stays in the history it is checked against.
async fn wide_server(cluster: &RedisCluster, node: usize) -> TestServer {
    let store: Arc<dyn SessionStore> = Arc::new(cluster.store(node));
    let config = AgentConfig {
        window: SlidingWindow {
            max_messages: 100_000,
        },
        ..test_agent_config()
    };
    let entrypoint =
        TutorialEntrypoint::with_model(counting_model(), Clock::Local, config, store.clone());
    TestServer::agent_on(entrypoint, store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_and_a_slot_migration_mid_run_lose_no_turn_and_no_update() {
    let cluster = Arc::new(RedisCluster::start());
    let servers = Arc::new([
        wide_server(&cluster, 1).await,
        wide_server(&cluster, 2).await,
    ]);
    let ids: Vec<String> = (0..SESSIONS)
        .map(|n| format!("live-{n}-{}", uuid::Uuid::new_v4()))
        .collect();
    let slot = |n: usize| cluster.slot_of(&format!("{{user=1:{}}}", ids[n]));
    let (failing, migrating) = (slot(0), slot(1));
    let warmed_up = Arc::new(Notify::new());
    let disrupted = Arc::new(AtomicBool::new(false));

    let mut runs = Vec::new();
    for (n, id) in ids.iter().cloned().enumerate() {
        let (servers, warmed_up, disrupted) =
            (servers.clone(), warmed_up.clone(), disrupted.clone());
        runs.push(tokio::spawn(async move {
            let (mut stored, mut refused, mut after) = (0, 0, 0);
            for turn in 0.. {
                let reply = servers[turn % 2]
                    .ask(&id, "1", &format!("turn {turn}"))
                    .await;
                match reply.status {
                    // Each answer counts the history it was given: every earlier stored turn,
                    // two messages each, and this prompt. A lost update would show here.
                    200 => {
                        assert_eq!(reply.text(), format!("{} messages", 2 * stored + 1));
                        stored += 1;
                    }
                    503 => {
                        assert_eq!(reply.json()["error"], "Session store unavailable");
                        refused += 1;
                    }
                    status => panic!("{status}: {}", String::from_utf8_lossy(&reply.bytes)),
                }
                if n == 0 && turn == 3 {
                    warmed_up.notify_one();
                }
                if disrupted.load(Ordering::SeqCst) {
                    after += 1;
                    if after == TURNS_AFTER {
                        return (stored, refused, turn + 1);
                    }
                }
            }
            unreachable!("a session's run ends after the disruptions")
        }));
    }
    warmed_up.notified().await;
    let disrupt = cluster.clone();
    let (failed_over_to, migrated_to) = tokio::task::spawn_blocking(move || {
        (disrupt.fail_over(failing), disrupt.migrate(migrating))
    })
    .await
    .unwrap();
    disrupted.store(true, Ordering::SeqCst);
    assert_eq!(cluster.primary_of(failing), failed_over_to);
    assert_eq!(cluster.primary_of(migrating), migrated_to);

    for (n, run) in runs.into_iter().enumerate() {
        let (stored, refused, turns) = run.await.unwrap();
        // Only an invocation in flight at the moment of a failover or a migration may be
        // refused: one at a time per session, and two disruptions.
        assert!(refused <= 2, "session {n}: {refused} of {turns} refused");
        assert_eq!(stored + refused, turns);
        let history = servers[0].history(&ids[n], "1").await.unwrap();
        assert_eq!(
            history.len(),
            2 * stored,
            "session {n}: a stored turn is missing"
        );
    }
}
