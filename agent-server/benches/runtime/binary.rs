//! The release `agent-server` binary as a child process, for the sections that measure the
//! binary itself: answering from the tutorial's recordings or through the AWS SDK from a local
//! Converse stand-in, its log read through a pipe as a container runtime reads it, and the CPU
//! of all its threads read from `/proc`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use agent_testkit::{Log, ServerProcess, bedrock_at};

/// This package's release binary.
const BINARY: &str = env!("CARGO_BIN_EXE_agent-server");

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

/// The running binary (through `agent_testkit::ServerProcess`, its log read and dropped);
/// stopped with SIGTERM by [`Binary::stop`], killed when dropped.
pub(crate) struct Binary {
    process: ServerProcess,
    pub(crate) address: SocketAddr,
}

impl Binary {
    /// Starts the binary on `model`, logging at `INFO` and exporting nothing, with
    /// `environment` on top (which may set `RUST_LOG` or `OTEL_*` variables).
    pub(crate) fn start(model: Model<'_>, environment: &[(&str, &str)]) -> Self {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
        let fixtures = fixtures.to_string_lossy();
        let (mut args, mut variables) = match model {
            Model::Replay => (vec!["--replay", &fixtures], Vec::new()),
            Model::Bedrock(stand_in) => (
                vec!["--model-streaming", "false"],
                bedrock_at(stand_in).to_vec(),
            ),
        };
        // Every invocation of a load is a new session: room for all a round makes.
        args.extend(["--max-sessions", "10000000"]);
        variables.extend_from_slice(environment);
        let process = ServerProcess::start_with(BINARY, &args, &variables, Log::Discard);
        let address = process.address.parse().expect("a socket address");
        Self { process, address }
    }

    /// The process's resident memory now, in bytes.
    pub(crate) fn resident(&self) -> u64 {
        self.process.resident_memory().0
    }

    /// Asks `prompt` as tutorial user `user_id` in `session`; the response's status.
    pub(crate) async fn ask(&self, session: &str, user_id: &str, prompt: &str) -> u16 {
        self.process.ask_in(session, user_id, prompt).await.0
    }

    /// CPU the process has spent so far, all its threads.
    pub(crate) fn cpu(&self) -> Duration {
        self.process.cpu()
    }

    /// Stops it as AgentCore does, with SIGTERM, and waits for it to exit.
    pub(crate) fn stop(&mut self) {
        self.process.terminate();
    }
}
