//! The store's connection to Redis: one server, or a cluster — MemoryDB, ElastiCache and Valkey
//! in cluster mode — found out at the first connection (`INFO cluster` says
//! `cluster_enabled:1`), so the same `redis://` or `rediss://` URL of any node (or a
//! configuration endpoint) works for both.
//!
//! On a cluster, redis-rs's cluster client follows `MOVED` and `ASK` redirections, retries
//! `TRYAGAIN` while a slot migrates and refreshes the slot map after a failover; every key of a
//! session shares one hash tag, so each script runs whole on the node that owns the session's
//! slot. Each operation may be sent again on a fresh connection when the one it went out on
//! broke: every script the store runs is safe to repeat (see `scripts`).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ConnectionInfo, Pipeline, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

/// Connects to Redis as the server turns out to be: alone, or a cluster.
pub(super) struct Connector {
    info: ConnectionInfo,
    single: ConnectionManager,
    command_timeout: Duration,
    /// The mode, once a first connection told it; a cluster's own connection with it.
    mode: OnceCell<Mode>,
}

#[derive(Clone)]
enum Mode {
    Single,
    Cluster(ClusterConnection),
}

/// One connection, to a server or to a cluster; cheap to clone.
#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connector {
    /// A connector for `info`, connecting lazily: nothing is sent until the first operation.
    pub(super) fn new(info: ConnectionInfo, command_timeout: Duration) -> RedisResult<Self> {
        let client = redis::Client::open(info.clone())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(command_timeout / 2))
            .set_response_timeout(Some(command_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let single = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            info,
            single,
            command_timeout,
            mode: OnceCell::new(),
        })
    }

    /// A connection, finding out the server's mode first if no connection has yet.
    pub(super) async fn connection(&self) -> RedisResult<Connection> {
        let mode = self.mode.get_or_try_init(|| self.detect()).await?;
        Ok(match mode {
            Mode::Single => Connection::Single(self.single.clone()),
            Mode::Cluster(cluster) => Connection::Cluster(cluster.clone()),
        })
    }

    /// Whether the server is a cluster node, and if so a connection to its cluster.
    async fn detect(&self) -> RedisResult<Mode> {
        let mut single = self.single.clone();
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query_async(&mut single)
            .await?;
        if !is_cluster(&info) {
            return Ok(Mode::Single);
        }
        let cluster = ClusterClient::builder([self.info.clone()])
            .connection_timeout(self.command_timeout / 2)
            .response_timeout(self.command_timeout)
            .retries(3)
            .min_retry_wait(10)
            .max_retry_wait(200)
            .build()?
            .get_async_connection()
            .await?;
        tracing::info!(address = %self.info.addr(), "Redis is a cluster; following it");
        Ok(Mode::Cluster(cluster))
    }
}

/// Whether `INFO cluster`'s answer says cluster mode is on.
fn is_cluster(info: &str) -> bool {
    info.lines().any(|line| line.trim() == "cluster_enabled:1")
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, command: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(command),
            Self::Cluster(connection) => connection.req_packed_command(command),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_mode_is_read_from_info() {
        assert!(is_cluster("# Cluster\r\ncluster_enabled:1\r\n"));
        assert!(!is_cluster("# Cluster\r\ncluster_enabled:0\r\n"));
        assert!(!is_cluster(""));
    }
}
