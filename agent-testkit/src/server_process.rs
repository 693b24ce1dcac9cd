//! The `agent-server` binary as a child process on an ephemeral loopback port, with a clean
//! AWS environment, for tests and benches that need a real process: its start-up, its logs
//! (read through a pipe, as a container runtime reads them), its threads and CPU, a kill.
//!
//! The caller names the binary (`env!("CARGO_BIN_EXE_agent-server")` in agent-server's own
//! tests and benches), so this crate needs no build of it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

/// What becomes of the process's log after its start-up line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// Kept, for [`ServerProcess::log_lines`] and the like.
    Keep,
    /// Read and dropped, so the pipe never fills and a long load costs no memory.
    Discard,
}

/// A running `agent-server` process on an ephemeral loopback port; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `127.0.0.1:PORT`, from the start-up line.
    pub address: String,
    /// The start-up line itself.
    pub startup_line: String,
    /// Log lines after the start-up line.
    log: Arc<Mutex<Vec<String>>>,
    /// Reads the log until the process closes its stderr.
    reader: Option<JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts `binary` with `args`, a clean AWS environment and `--port 0`, keeping its log, and
    /// waits for the start-up line to learn the port.
    pub fn start(binary: &str, args: &[&str]) -> Self {
        Self::start_with(binary, args, &[], Log::Keep)
    }

    /// As [`ServerProcess::start`], with extra environment variables and a choice of what
    /// becomes of the log.
    pub fn start_with(binary: &str, args: &[&str], environment: &[(&str, &str)], log: Log) -> Self {
        let home = std::env::temp_dir().join(format!("agent-server-home-{}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        let mut command = Command::new(Path::new(binary));
        command
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--retry-attempts",
                "1",
            ])
            .args(args)
            .env_clear()
            .env("HOME", &home)
            .env("RUST_LOG", "info")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", home.join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
            // Should credentials turn up after all, the request still stays on this machine.
            .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")
            .envs(environment.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let startup_line = lines
            .by_ref()
            .map(Result::unwrap)
            .find(|line| line.contains("agent-server listening"))
            .expect("the start-up line");
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sink = kept.clone();
        let reader = std::thread::spawn(move || {
            let lines = lines.map_while(Result::ok);
            match log {
                Log::Keep => lines.for_each(|line| sink.lock().unwrap().push(line)),
                Log::Discard => lines.for_each(drop),
            }
        });
        let address = address_in(&startup_line);
        Self {
            child,
            address,
            startup_line,
            log: kept,
            reader: Some(reader),
        }
    }

    /// Waits up to 2 s for a log line containing `text`.
    pub async fn log_line(&self, text: &str) -> String {
        for _ in 0..200 {
            if let Some(line) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|line| line.contains(text))
            {
                return line.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no log line with {text}: {:?}", self.log.lock().unwrap());
    }

    /// As [`ServerProcess::start`], with Bedrock at `endpoint` and placeholder credentials, so
    /// a local stand-in receives signed requests as Bedrock would.
    pub fn on_bedrock_at(binary: &str, endpoint: &str, args: &[&str]) -> Self {
        Self::start_with(binary, args, &bedrock_at(endpoint), Log::Keep)
    }

    /// Every log line after the start-up line so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Asks the tutorial's user 1 in the session `binary-test`.
    pub async fn ask(&self, prompt: &str) -> (u16, Value) {
        self.ask_in("binary-test", "1", prompt).await
    }

    /// Asks `prompt` as tutorial user `user_id` in `session`.
    pub async fn ask_in(&self, session: &str, user_id: &str, prompt: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("http://{}/invocations", self.address))
            .header("x-amzn-bedrock-agentcore-runtime-session-id", session)
            .json(&json!({"prompt": prompt, "user_id": user_id}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// The names of the process's threads (as the kernel keeps them: 15 characters at most).
    pub fn thread_names(&self) -> Vec<String> {
        let tasks = format!("/proc/{}/task", self.child.id());
        std::fs::read_dir(tasks)
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect()
    }

    /// The process's `/proc/PID/status`: its memory, threads and settings as the kernel sees
    /// them.
    pub fn status(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default()
    }

    /// The process's resident memory now and at its peak (`VmRSS`, `VmHWM`), in bytes.
    pub fn resident_memory(&self) -> (u64, u64) {
        let status = self.status();
        let kib = |field: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        (kib("VmRSS:") * 1024, kib("VmHWM:") * 1024)
    }

    /// CPU the process has spent so far, all its threads.
    pub fn cpu(&self) -> Duration {
        let tasks = format!("/proc/{}/task", self.child.id());
        let nanos: u64 = std::fs::read_dir(tasks)
            .into_iter()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
            .filter_map(|schedstat| schedstat.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        Duration::from_nanos(nanos)
    }

    /// Asks the process to stop (SIGTERM, as AgentCore does) and waits until it has exited.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        self.child.wait().unwrap()
    }

    /// Every log line after the start-up line, once the process has closed its stderr (call
    /// after it has exited).
    pub fn whole_log(&mut self) -> Vec<String> {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.log_lines()
    }

    /// Kills the process at once (SIGKILL), as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment that sends the binary's Bedrock calls to `endpoint`, signed with placeholder
/// credentials, as a local stand-in receives them.
pub fn bedrock_at(endpoint: &str) -> [(&str, &str); 3] {
    [
        ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", endpoint),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCALSTANDIN"),
        ("AWS_SECRET_ACCESS_KEY", "local-stand-in"),
    ]
}

/// The bound address from the start-up line, in text or JSON log format.
fn address_in(line: &str) -> String {
    if line.starts_with('{') {
        let record: Value = serde_json::from_str(line).unwrap();
        return record["address"].as_str().unwrap().to_owned();
    }
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("address="))
        .unwrap()
        .to_owned()
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
