//! SDK failures sorted into the kinds the agent acts on: throttling and 5xx to retry, a context
//! overflow to trim, a refused request, a broken connection, a timeout.

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::types as sdk;

use crate::model::ModelError;

/// Sorts an SDK failure — of a call, or of an event inside a stream — into the kinds the agent
/// acts on.
pub(super) fn from_sdk_error<E, R>(error: SdkError<E, R>) -> ModelError
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
pub(super) trait ServiceErrorCode {
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
pub(super) trait HttpStatus {
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
