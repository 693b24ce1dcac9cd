//! Bedrock, played by wiremock from recordings.
//!
//! Every Converse request is parsed and answered only by the recording whose expectation it
//! meets ([`RecordingSet::find`], the rule the server's `--replay` uses too). A request that
//! matches nothing is answered as Bedrock answers an invalid request (400
//! `ValidationException`) carrying the request's summary and the nearest recording, and is kept
//! so the harness can report it.

use std::sync::{Arc, Mutex};

use agent_core::replay::{RecordingSet, Unmatched};
use agent_core::wire::ConverseBody;
use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A running Bedrock stand-in.
pub struct BedrockStandIn {
    server: MockServer,
    unmatched: Arc<Mutex<Vec<Unmatched>>>,
}

struct Replayer {
    recordings: RecordingSet,
    unmatched: Arc<Mutex<Vec<Unmatched>>>,
}

impl Respond for Replayer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: ConverseBody = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(error) => {
                return validation_error(&format!(
                    "the request is not a Converse request: {error}"
                ));
            }
        };
        match self.recordings.find(&body.messages) {
            Ok(recording) => ResponseTemplate::new(200).set_body_json(&recording.response),
            Err(unmatched) => {
                let message = unmatched.to_string();
                self.unmatched
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(*unmatched);
                validation_error(&message)
            }
        }
    }
}

fn validation_error(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400)
        .insert_header("x-amzn-errortype", "ValidationException")
        .set_body_json(json!({ "message": message }))
}

impl BedrockStandIn {
    /// Starts serving `recordings` on an ephemeral loopback port.
    pub async fn start(recordings: RecordingSet) -> Self {
        let server = MockServer::start().await;
        let unmatched = Arc::new(Mutex::new(Vec::new()));
        Mock::given(method("POST"))
            .and(path_regex("^/model/[^/]+/converse$"))
            .respond_with(Replayer {
                recordings,
                unmatched: unmatched.clone(),
            })
            .mount(&server)
            .await;
        Self { server, unmatched }
    }

    /// The endpoint to give the Bedrock client.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Every Converse request received so far, in order.
    pub async fn requests(&self) -> Vec<ConverseBody> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|request| serde_json::from_slice(&request.body).ok())
            .collect()
    }

    /// The requests that no recording answered.
    pub fn unmatched(&self) -> Vec<Unmatched> {
        self.unmatched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
