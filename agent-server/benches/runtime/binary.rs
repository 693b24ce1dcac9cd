//! The release `agent-server` binary as a child process, for the sections that measure the
//! binary itself: answering from the tutorial's recordings or through the AWS SDK from a local
//! Converse stand-in, its log read through a pipe as a container runtime reads it, and the CPU
//! of all its threads read from `/proc`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::startup_address;

/// Where the binary's model answers from.
#[derive(Clone, Copy)]
pub(crate) enum Model<'a> {
    /// The tutorial's recordings, in process.
    Replay,
    /// The AWS SDK against the Converse stand-in at this endpoint.
    Bedrock(&'a str),
}

impl Model<'_> {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Replay => "replay      ",
            Self::Bedrock(_) => "Bedrock SDK ",
        }
    }

    /// The question its answers make a tool round of.
    pub(crate) fn prompt(&self) -> &'static str {
        match self {
            Self::Replay => "外の天気はどうですか?",
            Self::Bedrock(_) => "2+5の答えは?",
        }
    }
}

/// The running binary; stopped with SIGTERM by [`Binary::stop`], killed when dropped.
pub(crate) struct Binary {
    child: Child,
    pub(crate) address: SocketAddr,
}

impl Binary {
    /// Starts the binary on `model`, logging at `INFO` and exporting nothing, with
    /// `environment` on top (which may set `RUST_LOG` or `OTEL_*` variables).
    pub(crate) fn start(model: Model<'_>, environment: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agent-server"));
        command.args(["--host", "127.0.0.1", "--port", "0"]);
        match model {
            Model::Replay => {
                let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
                command.arg("--replay").arg(fixtures);
            }
            Model::Bedrock(stand_in) => {
                command
                    .args(["--model-streaming", "false"])
                    .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stand_in)
                    .env("AWS_REGION", "us-east-1")
                    .env("AWS_ACCESS_KEY_ID", "AKIDLOCALSTANDIN")
                    .env("AWS_SECRET_ACCESS_KEY", "local-stand-in")
                    .env("AWS_EC2_METADATA_DISABLED", "true");
            }
        }
        command
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_TRACES_SAMPLER")
            .env("RUST_LOG", "info")
            .envs(environment.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = startup_address(&mut lines).parse().unwrap();
        // Keep reading its log so the pipe never fills.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, address }
    }

    /// CPU the process has spent so far, all its threads.
    pub(crate) fn cpu(&self) -> Duration {
        let tasks = format!("/proc/{}/task", self.child.id());
        let nanos: u64 = std::fs::read_dir(tasks)
            .into_iter()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
            .filter_map(|schedstat| schedstat.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        Duration::from_nanos(nanos)
    }

    pub(crate) fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
