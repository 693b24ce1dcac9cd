//! A real `redis-server` for tests: its own temporary directory, an ephemeral loopback port, by
//! default the append-only file on with an fsync per write (so a kill loses nothing), and nothing
//! else on the machine touched. `.ci/run` installs the Debian package when it is missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agent_core::session::{RedisOptions, RedisSessionStore, SessionConfig};

/// A running `redis-server`; killed and its directory removed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    persistence: Persistence,
    /// A second, TLS-only port, when started with [`RedisServer::start_tls`].
    tls_port: Option<u16>,
}

/// How the server keeps what it is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Append-only file, fsynced before each write is acknowledged: a kill loses nothing.
    EveryWrite,
    /// Append-only file fsynced once a second (Redis's default for it).
    EverySecond,
    /// Nothing on disk, as a cache or a replicated in-memory deployment runs.
    None,
}

impl Persistence {
    fn arguments(self) -> [&'static str; 4] {
        match self {
            Self::EveryWrite => ["--appendonly", "yes", "--appendfsync", "always"],
            Self::EverySecond => ["--appendonly", "yes", "--appendfsync", "everysec"],
            Self::None => ["--appendonly", "no", "--appendfsync", "no"],
        }
    }
}

impl RedisServer {
    /// Starts a server on a free loopback port, fsyncing every write, and waits until it
    /// answers PING.
    pub fn start() -> Self {
        Self::start_with(Persistence::EveryWrite)
    }

    /// As [`RedisServer::start`], keeping data as `persistence` says.
    pub fn start_with(persistence: Persistence) -> Self {
        let dir = std::env::temp_dir().join(format!("agentcore-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let mut server = Self {
                child: None,
                port,
                dir: dir.clone(),
                persistence,
                tls_port: None,
            };
            if server.launch() {
                return server;
            }
        }
        panic!("redis-server did not start; see {}", dir.display());
    }

    /// As [`RedisServer::start`], also serving TLS on a second port with a certificate for
    /// 127.0.0.1 issued by a CA made for the test ([`RedisServer::ca_file`]) with `openssl`.
    pub fn start_tls() -> Self {
        let mut server = Self::start();
        server.kill();
        make_certificates(&server.dir);
        server.tls_port = Some(free_port());
        server.restart();
        server
    }

    /// `rediss://127.0.0.1:<TLS port>`.
    pub fn tls_url(&self) -> String {
        format!(
            "rediss://127.0.0.1:{}",
            self.tls_port.expect("started with TLS")
        )
    }

    /// The CA that issued the server's certificate (for `SSL_CERT_FILE`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A store on this server with default limits and options.
    pub fn store(&self) -> RedisSessionStore {
        self.store_with(SessionConfig::default(), RedisOptions::default())
    }

    /// A store on this server.
    pub fn store_with(&self, sessions: SessionConfig, options: RedisOptions) -> RedisSessionStore {
        RedisSessionStore::open(&self.url(), sessions, options).unwrap()
    }

    /// A plain connection for inspecting and tampering with keys.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// The server's process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// Kills the server at once (SIGKILL): what it had acknowledged is in its append-only file.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, reloading its append-only file.
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.launch(),
            "redis-server did not restart on port {}",
            self.port
        );
    }

    /// Spawns redis-server and waits for PING; false if it exited (the port was taken).
    fn launch(&mut self) -> bool {
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(&self.dir)
            .args(self.persistence.arguments())
            .args(["--save", "", "--daemonize", "no", "--logfile", "redis.log"])
            .args(self.tls_arguments())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = spawned.unwrap_or_else(|error| {
            panic!(
                "cannot run redis-server ({error}); install it with `apt-get install redis-server`, as .ci/run does"
            )
        });
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if child.try_wait().unwrap().is_some() {
                return false; // It exited, and try_wait reaped it.
            }
            let ready = redis::Client::open(self.url())
                .and_then(|client| client.get_connection())
                .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
            if ready.is_ok() {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl RedisServer {
    fn tls_arguments(&self) -> Vec<String> {
        let Some(port) = self.tls_port else {
            return Vec::new();
        };
        let file = |name: &str| self.dir.join(name).display().to_string();
        vec![
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            file("server.pem"),
            "--tls-key-file".into(),
            file("server.key"),
            "--tls-ca-cert-file".into(),
            file("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`.
fn make_certificates(dir: &std::path::Path) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=agentcore test CA",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "server.ext",
        ],
    ];
    for step in steps {
        let output = Command::new("openssl")
            .args(step)
            .current_dir(dir)
            .output()
            .expect("openssl, which .ci/run installs when missing");
        assert!(
            output.status.success(),
            "openssl {step:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
