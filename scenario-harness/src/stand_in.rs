//! Bedrock, played by wiremock from recordings.
//!
//! Every Converse request is parsed and answered only by the recording whose expectation it
//! meets ([`RecordingSet::find`], the rule the server's `--replay` uses too); a ConverseStream
//! request gets the same recording as a real `application/vnd.amazon.eventstream` body — its
//! recorded stream, or one derived from its response — so the SDK reads it as it reads Bedrock's.
//! A request that
//! matches nothing is answered as Bedrock answers an invalid request (400
//! `ValidationException`) carrying the request's summary and the nearest recording, and is kept
//! so the harness can report it.

use agent_core::sync::lock;
use std::sync::{Arc, Mutex};

use agent_core::replay::event_stream::{EVENT_STREAM_CONTENT_TYPE, encode_stream_body};
use agent_core::replay::wire::ConverseBody;
use agent_core::replay::{RecordingSet, Unmatched};
use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A running Bedrock stand-in.
pub struct BedrockStandIn {
    server: MockServer,
    unmatched: Arc<Mutex<Vec<Unmatched>>>,
}

#[derive(Clone)]
struct Replayer {
    recordings: Arc<RecordingSet>,
    unmatched: Arc<Mutex<Vec<Unmatched>>>,
    /// Answer as ConverseStream rather than Converse.
    streaming: bool,
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
        let answer = if self.streaming {
            self.recordings.stream_of(&body.messages).map(|frames| {
                ResponseTemplate::new(200)
                    .set_body_raw(encode_stream_body(&frames), EVENT_STREAM_CONTENT_TYPE)
            })
        } else {
            self.recordings
                .find(&body.messages)
                .map(|recording| ResponseTemplate::new(200).set_body_json(&recording.response))
        };
        answer.unwrap_or_else(|unmatched| {
            let message = unmatched.to_string();
            lock(&self.unmatched).push(*unmatched);
            validation_error(&message)
        })
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
        let replayer = Replayer {
            recordings: Arc::new(recordings),
            unmatched: unmatched.clone(),
            streaming: false,
        };
        Mock::given(method("POST"))
            .and(path_regex("^/model/[^/]+/converse$"))
            .respond_with(replayer.clone())
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex("^/model/[^/]+/converse-stream$"))
            .respond_with(Replayer {
                streaming: true,
                ..replayer
            })
            .mount(&server)
            .await;
        Self { server, unmatched }
    }

    /// The endpoint to give the Bedrock client.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Every Converse and ConverseStream request received so far, in order.
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
        lock(&self.unmatched).clone()
    }
}
