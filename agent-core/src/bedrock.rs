//! The Bedrock Converse model, through the official AWS SDK: Converse, and ConverseStream
//! assembled by the crate's stream assembler.
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
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types as sdk;
use futures::stream::{self, StreamExt};

pub use crate::bedrock_document::{from_document, to_document};
use crate::bedrock_request::{RequestParts, ToolConfigCache};
use crate::bedrock_stream::StreamAssembler;
use crate::message::{
    ContentBlock, Message, Role, ToolResult, ToolResultContent, ToolResultStatus, ToolUse,
};
use crate::model::{
    ConverseRequest, Model, ModelError, ModelEvent, ModelEvents, ModelResponse, StopReason, Usage,
};

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
        let credentials = aws_sdk_bedrockruntime::config::Credentials::new(
            "local-stand-in",
            "local-stand-in",
            None,
            None,
            "agent-core local endpoint",
        );
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(credentials)
            .load()
            .await;
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

    fn describe(&self) -> String {
        format!(
            "bedrock:{} (region {})",
            self.model_id,
            self.region().unwrap_or_else(|| "not configured".into())
        )
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
        stream::unfold(start, next_stream_event).boxed()
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

fn from_sdk_output(output: ConverseOutput) -> Result<ModelResponse, ModelError> {
    let Some(sdk::ConverseOutput::Message(message)) = output.output else {
        return Err(ModelError::Malformed {
            message: "the response has no output message".into(),
        });
    };
    let role = match message.role {
        sdk::ConversationRole::Assistant => Role::Assistant,
        sdk::ConversationRole::User => Role::User,
        other => {
            return Err(ModelError::Malformed {
                message: format!("unknown message role `{}`", other.as_str()),
            });
        }
    };
    let content = message
        .content
        .into_iter()
        .filter_map(|block| match block {
            sdk::ContentBlock::Text(text) => Some(ContentBlock::Text(text)),
            sdk::ContentBlock::ToolUse(tool_use) => Some(ContentBlock::ToolUse(ToolUse {
                tool_use_id: tool_use.tool_use_id,
                name: tool_use.name,
                input: from_document(&tool_use.input),
            })),
            sdk::ContentBlock::ToolResult(result) => {
                Some(ContentBlock::ToolResult(from_sdk_tool_result(result)))
            }
            other => {
                tracing::warn!(block = ?other, "ignoring a content block this agent does not use");
                None
            }
        })
        .collect();
    let usage = output.usage.map(|usage| Usage {
        input_tokens: non_negative(usage.input_tokens),
        output_tokens: non_negative(usage.output_tokens),
        total_tokens: non_negative(usage.total_tokens),
    });
    Ok(ModelResponse {
        message: Message { role, content },
        stop_reason: StopReason::from(output.stop_reason.as_str()),
        usage: usage.unwrap_or_default(),
    })
}

fn from_sdk_tool_result(result: sdk::ToolResultBlock) -> ToolResult {
    ToolResult {
        tool_use_id: result.tool_use_id,
        content: result
            .content
            .into_iter()
            .filter_map(|part| match part {
                sdk::ToolResultContentBlock::Text(text) => Some(ToolResultContent::Text(text)),
                sdk::ToolResultContentBlock::Json(document) => {
                    Some(ToolResultContent::Json(from_document(&document)))
                }
                _ => None,
            })
            .collect(),
        status: match result.status {
            Some(sdk::ToolResultStatus::Error) => ToolResultStatus::Error,
            _ => ToolResultStatus::Success,
        },
    }
}

pub(crate) fn non_negative(count: i32) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

/// Sorts an SDK failure — of a call, or of an event inside a stream — into the kinds the agent
/// acts on.
fn from_sdk_error<E, R>(error: SdkError<E, R>) -> ModelError
where
    E: ServiceErrorCode + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(context) => {
            let status = context.raw().http_status();
            let service_error = context.err();
            let code = service_error
                .modeled_code()
                .or(service_error.code())
                .unwrap_or("UnknownError");
            let message = service_error.message().unwrap_or("no message").to_owned();
            let unavailable = || ModelError::Unavailable {
                status: status.unwrap_or(503),
                message: format!("{code}: {message}"),
            };
            match (code, status) {
                ("ThrottlingException", _) | (_, Some(429)) => ModelError::Throttled { message },
                ("ValidationException", _) if is_context_overflow(&message) => {
                    ModelError::ContextOverflow { message }
                }
                (
                    "ModelNotReadyException"
                    | "ModelTimeoutException"
                    | "ModelStreamErrorException"
                    | "InternalServerException"
                    | "ServiceUnavailableException",
                    _,
                ) => unavailable(),
                // A 2xx whose body the SDK could not read arrives here as an unhandled error.
                (_, Some(200..=299)) => ModelError::Malformed {
                    message: format!("unreadable response body: {}", error_chain(&error)),
                },
                (_, Some(500..)) => unavailable(),
                (_, Some(status)) => ModelError::Rejected {
                    message: format!("{code} ({status}): {message}"),
                },
                (_, None) => ModelError::Rejected {
                    message: format!("{code}: {message}"),
                },
            }
        }
        SdkError::ResponseError(_) => ModelError::Malformed {
            message: error_chain(&error),
        },
        SdkError::TimeoutError(_) => ModelError::Connection {
            message: format!("timed out: {}", error_chain(&error)),
        },
        _ => ModelError::Connection {
            message: error_chain(&error),
        },
    }
}

/// Bedrock's words for a request longer than the model's context window (as Strands lists them).
fn is_context_overflow(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "input is too long for requested model",
        "input length and `max_tokens` exceed context limit",
        "too many total text bytes",
    ]
    .iter()
    .any(|words| message.contains(words))
}

/// The name of a modeled service error. Exceptions inside a stream carry no error code in their
/// metadata, only their variant.
trait ServiceErrorCode {
    fn modeled_code(&self) -> Option<&'static str>;
}

impl ServiceErrorCode for aws_sdk_bedrockruntime::operation::converse::ConverseError {
    fn modeled_code(&self) -> Option<&'static str> {
        use aws_sdk_bedrockruntime::operation::converse::ConverseError as E;
        Some(match self {
            E::ThrottlingException(_) => "ThrottlingException",
            E::ModelNotReadyException(_) => "ModelNotReadyException",
            E::ModelTimeoutException(_) => "ModelTimeoutException",
            E::InternalServerException(_) => "InternalServerException",
            E::ServiceUnavailableException(_) => "ServiceUnavailableException",
            _ => return None,
        })
    }
}

impl ServiceErrorCode for aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamError {
    fn modeled_code(&self) -> Option<&'static str> {
        use aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamError as E;
        Some(match self {
            E::ThrottlingException(_) => "ThrottlingException",
            E::ModelNotReadyException(_) => "ModelNotReadyException",
            E::ModelTimeoutException(_) => "ModelTimeoutException",
            E::ModelStreamErrorException(_) => "ModelStreamErrorException",
            E::InternalServerException(_) => "InternalServerException",
            E::ServiceUnavailableException(_) => "ServiceUnavailableException",
            _ => return None,
        })
    }
}

impl ServiceErrorCode for sdk::error::ConverseStreamOutputError {
    fn modeled_code(&self) -> Option<&'static str> {
        use sdk::error::ConverseStreamOutputError as E;
        Some(match self {
            E::ThrottlingException(_) => "ThrottlingException",
            E::ModelStreamErrorException(_) => "ModelStreamErrorException",
            E::InternalServerException(_) => "InternalServerException",
            E::ServiceUnavailableException(_) => "ServiceUnavailableException",
            E::ValidationException(_) => "ValidationException",
            _ => return None,
        })
    }
}

/// The HTTP status behind an SDK failure, where there is one: a call's response has one, an
/// exception event inside a stream does not.
trait HttpStatus {
    fn http_status(&self) -> Option<u16>;
}

impl HttpStatus for aws_sdk_bedrockruntime::config::http::HttpResponse {
    fn http_status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

impl HttpStatus for aws_smithy_types::event_stream::RawMessage {
    fn http_status(&self) -> Option<u16> {
        None
    }
}

/// An error and its sources, `outer: inner: innermost`, without repeats.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}
