//! The scenario harness: replays scripted sessions against the real server, with Bedrock played
//! by wiremock from recordings, and checks every answer and every model request.
//!
//! - [`script`]: the scenario format (sessions, users, prompts, expected answers);
//! - [`stand_in`]: Bedrock on wiremock, answering each request only from its recording;
//! - [`runner`]: the HTTP client side, usable against any AgentCore-contract server;
//! - [`local`]: the whole stack in one process; [`record`]: re-recording against live Bedrock;
//! - [`report`]: transcript, checks, verdict, and the redacted forms that tests snapshot.

pub mod local;
pub mod record;
pub mod report;
pub mod runner;
pub mod script;
pub mod stand_in;

pub use local::{run_local, run_local_with, tutorial_app};
pub use report::{Check, Ids, Report};
pub use script::Script;

/// The tutorial scenario shipped in the repository.
pub fn tutorial_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial")
}
