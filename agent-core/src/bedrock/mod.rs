//! The Bedrock Converse model, through the official AWS SDK: the client here, and beside it the
//! [request](request) it sends, the [response](response) it reads, the [stream](stream) it
//! assembles from ConverseStream, the [errors](error) it sorts and the JSON [documents](document)
//! the SDK carries tool input in.
//!
//! Configuration is the standard AWS chain (`aws-config`: region, profile, credentials, and the
//! endpoint overrides `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`); an explicit
//! endpoint can be given too, which is how tests point the real client at wiremock. The SDK's
//! own retries are switched off: the agent's [`RetryPolicy`](crate::RetryPolicy) is the one
//! retry policy, so attempts are counted and backed off in one place.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types as sdk;
use futures::StreamExt;

mod document;
mod error;
mod request;
mod response;
mod stream;

pub use self::document::{from_document, to_document};
use self::error::from_sdk_error;
use self::request::{RequestParts, ToolConfigCache};
use self::response::from_sdk_output;
use self::stream::StreamAssembler;
use crate::model::{ConverseRequest, Model, ModelError, ModelEvent, ModelEvents, ModelResponse};

/// The tutorial's model: Claude Sonnet 4 through the US cross-region inference profile.
pub const DEFAULT_MODEL_ID: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";

/// A Bedrock model called with the Converse API.
#[derive(Clone, Debug)]
pub struct BedrockModel {
    client: Client,
    model_id: String,
    tool_configs: Arc<ToolConfigCache>,
}

impl BedrockModel {
    /// Loads the standard AWS configuration from the environment.
    pub async fn from_env(model_id: impl Into<String>) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&config, model_id, None)
    }

    /// Builds on an SDK configuration, optionally sending every request to `endpoint`.
    pub fn from_sdk_config(
        config: &SdkConfig,
        model_id: impl Into<String>,
        endpoint: Option<&str>,
    ) -> Self {
        let mut builder = aws_sdk_bedrockruntime::config::Builder::from(config)
            .retry_config(RetryConfig::disabled());
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(builder.build()),
            model_id: model_id.into(),
            tool_configs: Arc::default(),
        }
    }

    /// A client for a local Bedrock stand-in at `endpoint` (a replay server, wiremock):
    /// region `us-east-1` and placeholder credentials, so no AWS account is involved.
    pub async fn for_local_endpoint(endpoint: &str, model_id: impl Into<String>) -> Self {
        let config = crate::local_endpoint::local_sdk_config().await;
        Self::from_sdk_config(&config, model_id, Some(endpoint))
    }

    /// The model id requests are sent for.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The region the client is configured for, if any.
    pub fn region(&self) -> Option<String> {
        self.client.config().region().map(ToString::to_string)
    }
}

#[async_trait]
impl Model for BedrockModel {
    fn model_id(&self) -> Option<&str> {
        Some(&self.model_id)
    }

    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        let parts = RequestParts::of(&request, &self.tool_configs)?;
        let output = self
            .client
            .converse()
            .model_id(&self.model_id)
            .set_messages(Some(parts.messages))
            .set_system(parts.system)
            .set_inference_config(parts.inference)
            .set_tool_config(parts.tools)
            .send()
            .await
            .map_err(from_sdk_error)?;
        from_sdk_output(output)
    }

    fn converse_stream<'a>(&'a self, request: ConverseRequest<'a>) -> ModelEvents<'a> {
        let call = RequestParts::of(&request, &self.tool_configs).map(|parts| {
            self.client
                .converse_stream()
                .model_id(&self.model_id)
                .set_messages(Some(parts.messages))
                .set_system(parts.system)
                .set_inference_config(parts.inference)
                .set_tool_config(parts.tools)
        });
        let start = match call {
            Ok(call) => StreamState::Start(Box::new(call)),
            Err(error) => StreamState::Failed(error),
        };
        futures::stream::unfold(start, next_stream_event).boxed()
    }
}

impl std::fmt::Display for BedrockModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = {
            format!(
                "bedrock:{} (region {})",
                self.model_id,
                self.region().unwrap_or_else(|| "not configured".into())
            )
        };
        formatter.write_str(&text)
    }
}

/// Where a ConverseStream call stands.
enum StreamState {
    Start(
        Box<aws_sdk_bedrockruntime::operation::converse_stream::builders::ConverseStreamFluentBuilder>,
    ),
    Receiving(Box<Receiving>),
    Failed(ModelError),
    Done,
}

/// An open stream and what has been assembled of it so far.
struct Receiving {
    events: EventReceiver<sdk::ConverseStreamOutput, sdk::error::ConverseStreamOutputError>,
    assembler: StreamAssembler,
}

/// The next event of a ConverseStream call: sends it first, then reads events until one carries
/// text, and yields the assembled response when the stream ends.
async fn next_stream_event(
    state: StreamState,
) -> Option<(Result<ModelEvent, ModelError>, StreamState)> {
    let mut receiving = match state {
        StreamState::Start(call) => match call.send().await {
            Ok(output) => Box::new(Receiving {
                events: output.stream,
                assembler: StreamAssembler::new(),
            }),
            Err(error) => return Some((Err(from_sdk_error(error)), StreamState::Done)),
        },
        StreamState::Receiving(receiving) => receiving,
        StreamState::Failed(error) => return Some((Err(error), StreamState::Done)),
        StreamState::Done => return None,
    };
    loop {
        match receiving.events.recv().await {
            Ok(Some(event)) => match receiving.assembler.push(event) {
                Ok(Some(text)) => {
                    let next = StreamState::Receiving(receiving);
                    return Some((Ok(ModelEvent::TextDelta(text)), next));
                }
                Ok(None) => {}
                Err(error) => return Some((Err(error), StreamState::Done)),
            },
            Ok(None) => {
                let response = receiving.assembler.finish().map(ModelEvent::Completed);
                return Some((response, StreamState::Done));
            }
            Err(error) => return Some((Err(from_sdk_error(error)), StreamState::Done)),
        }
    }
}
