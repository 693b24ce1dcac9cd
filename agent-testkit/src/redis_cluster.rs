//! A real Redis Cluster for tests: six `redis-server --cluster-enabled yes` on loopback — three
//! primaries, each with a replica — joined by hand (`CLUSTER MEET`, `ADDSLOTSRANGE`,
//! `REPLICATE`) so that every port, the cluster bus's included, is an ephemeral one of the test's
//! own. It can fail a primary over to its replica and migrate a slot, as operators and managed
//! services do.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agent_core::session::{RedisOptions, RedisSessionStore, SessionConfig};

use crate::redis::free_port;

/// The slots of a cluster, split over its primaries.
const SLOTS: u16 = 16_384;

/// A running cluster; every node is killed and the directory removed when dropped.
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
}

struct Node {
    port: u16,
    /// The cluster bus's port: a free one of its own, not `port + 10000`, which passes 65535
    /// for the high ephemeral ports.
    bus: u16,
    child: Child,
}

impl RedisCluster {
    /// Starts three primaries and three replicas and waits until every node sees the cluster
    /// healthy (`cluster_state:ok`) with each replica in sync with its primary.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("agentcore-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let nodes = (0..6).map(|index| Node::launch(&dir, index)).collect();
        let cluster = Self { nodes, dir };
        cluster.join();
        cluster
    }

    /// `redis://127.0.0.1:<port>` of node `index` (0 to 2 start as primaries, 3 to 5 as their
    /// replicas).
    pub fn url(&self, index: usize) -> String {
        format!("redis://127.0.0.1:{}", self.nodes[index].port)
    }

    /// A store on the cluster, given node `index`'s address.
    pub fn store(&self, index: usize) -> RedisSessionStore {
        RedisSessionStore::open(
            &self.url(index),
            SessionConfig::default(),
            RedisOptions::default(),
        )
        .unwrap()
    }

    /// A plain connection to node `index`.
    pub fn connection(&self, index: usize) -> redis::Connection {
        redis::Client::open(self.url(index))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// The slot of `key`.
    pub fn slot_of(&self, key: &str) -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.connection(0))
            .unwrap()
    }

    /// The node currently serving `slot` as its primary.
    pub fn primary_of(&self, slot: u16) -> usize {
        let shards = self.shards(0);
        let owner = shards
            .iter()
            .find(|(_, ranges)| {
                ranges
                    .iter()
                    .any(|(from, to)| (*from..=*to).contains(&slot))
            })
            .map(|(port, _)| *port)
            .expect("every slot is served");
        self.index_of(owner)
    }

    /// Fails the primary serving `slot` over to its replica with `CLUSTER FAILOVER` (the
    /// coordinated form: the replica catches up first), and waits until every node sees the
    /// replica as the slot's primary. Returns the new primary.
    pub fn fail_over(&self, slot: u16) -> usize {
        let primary = self.primary_of(slot);
        let primary_id = self.node_id(primary);
        let replica = (0..self.nodes.len())
            .find(|&index| {
                index != primary
                    && self
                        .nodes_view(index)
                        .lines()
                        .any(|line| line.contains("myself") && line.contains(&primary_id))
            })
            .expect("the primary has a replica");
        let _: () = redis::cmd("CLUSTER")
            .arg("FAILOVER")
            .query(&mut self.connection(replica))
            .unwrap();
        self.wait_until("the failover to complete", || {
            (0..self.nodes.len()).all(|index| {
                self.shards(index).iter().any(|(port, ranges)| {
                    *port == self.nodes[replica].port
                        && ranges
                            .iter()
                            .any(|(from, to)| (*from..=*to).contains(&slot))
                })
            })
        });
        replica
    }

    /// Moves `slot` and its keys from its primary to another primary, as resharding does:
    /// `SETSLOT IMPORTING` / `MIGRATING`, `MIGRATE` of every key in it, then `SETSLOT NODE` on
    /// every primary. Returns the new owner.
    pub fn migrate(&self, slot: u16) -> usize {
        let source = self.primary_of(slot);
        let target = (0..self.nodes.len())
            .find(|&index| index != source && self.is_primary(index))
            .expect("another primary");
        let (source_id, target_id) = (self.node_id(source), self.node_id(target));
        let set = |node: usize, args: &[&str]| {
            let _: () = redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(args)
                .query(&mut self.connection(node))
                .unwrap();
        };
        set(target, &["IMPORTING", &source_id]);
        set(source, &["MIGRATING", &target_id]);
        let mut source_connection = self.connection(source);
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query(&mut source_connection)
                .unwrap();
            if keys.is_empty() {
                break;
            }
            let _: () = redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(self.nodes[target].port)
                .arg("")
                .arg(0)
                .arg(5_000)
                .arg("KEYS")
                .arg(&keys)
                .query(&mut source_connection)
                .unwrap();
        }
        for node in (0..self.nodes.len()).filter(|&node| self.is_primary(node)) {
            set(node, &["NODE", &target_id]);
        }
        self.wait_until("the slot's new owner to be known everywhere", || {
            (0..self.nodes.len()).all(|index| {
                self.shards(index).iter().any(|(port, ranges)| {
                    *port == self.nodes[target].port
                        && ranges
                            .iter()
                            .any(|(from, to)| (*from..=*to).contains(&slot))
                })
            })
        });
        target
    }

    fn join(&self) {
        let ids: Vec<String> = (0..self.nodes.len())
            .map(|index| self.node_id(index))
            .collect();
        let third = SLOTS / 3;
        for primary in 0..3u16 {
            let from = primary * third;
            let to = if primary == 2 {
                SLOTS - 1
            } else {
                from + third - 1
            };
            let _: () = redis::cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(from)
                .arg(to)
                .query(&mut self.connection(primary as usize))
                .unwrap();
        }
        let first_bus = self.nodes[0].bus;
        for index in 1..self.nodes.len() {
            let _: () = redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(self.nodes[0].port)
                .arg(first_bus)
                .query(&mut self.connection(index))
                .unwrap();
        }
        self.wait_until("every node to know every other", || {
            (0..self.nodes.len()).all(|index| self.nodes_view(index).lines().count() == 6)
        });
        for replica in 3..6 {
            let _: () = redis::cmd("CLUSTER")
                .arg("REPLICATE")
                .arg(&ids[replica - 3])
                .query(&mut self.connection(replica))
                .unwrap();
        }
        self.wait_until(
            "the cluster to be healthy with its replicas in sync",
            || {
                (0..self.nodes.len()).all(|index| {
                    let info: String = redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query(&mut self.connection(index))
                        .unwrap();
                    info.contains("cluster_state:ok")
                }) && (3..6).all(|replica| {
                    let info: String = redis::cmd("INFO")
                        .arg("replication")
                        .query(&mut self.connection(replica))
                        .unwrap();
                    info.contains("master_link_status:up")
                })
            },
        );
    }

    fn node_id(&self, index: usize) -> String {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut self.connection(index))
            .unwrap()
    }

    fn nodes_view(&self, index: usize) -> String {
        redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut self.connection(index))
            .unwrap()
    }

    fn is_primary(&self, index: usize) -> bool {
        self.nodes_view(index)
            .lines()
            .any(|line| line.contains("myself") && line.contains("master"))
    }

    /// What node `index` believes: each primary's port and its slot ranges.
    fn shards(&self, index: usize) -> Vec<(u16, Vec<(u16, u16)>)> {
        self.nodes_view(index)
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let port = fields[1]
                    .split(['@', ':'])
                    .nth(1)
                    .and_then(|port| port.parse().ok())
                    .unwrap_or(0);
                let ranges = fields
                    .iter()
                    .skip(8)
                    .filter(|range| !range.starts_with('['))
                    .filter_map(|range| match range.split_once('-') {
                        Some((from, to)) => Some((from.parse().ok()?, to.parse().ok()?)),
                        None => range.parse().ok().map(|slot| (slot, slot)),
                    })
                    .collect();
                (port, ranges)
            })
            .collect()
    }

    fn index_of(&self, port: u16) -> usize {
        self.nodes
            .iter()
            .position(|node| node.port == port)
            .expect("a node of this cluster")
    }

    /// Polls `done` until it holds, for at most 30 s: a wait for the cluster to converge,
    /// never a pause in place of one.
    fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "waited 30 s for {what}; logs in {}",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Node {
    /// Starts node `index` on free ports (its cluster bus's included), waiting for PING.
    fn launch(dir: &std::path::Path, index: usize) -> Self {
        for _ in 0..5 {
            let (port, bus) = (free_port(), free_port());
            let node_dir = dir.join(format!("node-{index}"));
            std::fs::create_dir_all(&node_dir).unwrap();
            let mut child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port"])
                .arg(port.to_string())
                .arg("--cluster-port")
                .arg(bus.to_string())
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .args([
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--save",
                    "",
                ])
                .arg("--dir")
                .arg(&node_dir)
                .args(["--daemonize", "no", "--logfile", "redis.log"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server, installed by .ci/run");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if child.try_wait().unwrap().is_some() {
                    break; // The port was taken: try another.
                }
                let ready = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    .and_then(|client| client.get_connection())
                    .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
                if ready.is_ok() {
                    return Self { port, bus, child };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("a cluster node did not start; see {}", dir.display());
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
