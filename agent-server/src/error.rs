//! Every error a client can meet, and the one place each becomes an HTTP status.

use agent_core::{AgentError, ModelError, SessionError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thiserror::Error;

/// Why an invocation was not answered. The session it named is left exactly as it was.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum InvocationError {
    /// The body is empty or not JSON (the reference's `Invalid JSON`).
    #[error("Invalid JSON: {0}")]
    InvalidJson(String),
    /// The JSON is not what the entrypoint takes.
    #[error("Invalid payload: {0}")]
    InvalidPayload(String),
    /// The session id header cannot be used.
    #[error("Invalid session id: {0}")]
    InvalidSessionId(String),
    /// The body is over the configured limit.
    #[error("Payload too large: the body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The server cannot take a new session now.
    #[error("Service unavailable: {0}")]
    Unavailable(String),
    /// The model kept throttling through every retry.
    #[error("Model throttled: {message}")]
    Throttled {
        message: String,
        retry_after_secs: u64,
    },
    /// The model failed or could not be reached.
    #[error("Model error: {message}")]
    ModelFailed {
        message: String,
        hint: Option<String>,
    },
    /// The model did not answer in time.
    #[error("Model timeout: {0}")]
    ModelTimeout(String),
    /// Anything else; a bug, not the client's doing.
    #[error("Internal error: {0}")]
    Internal(String),
    /// No such route.
    #[error("Not found: {0}")]
    NotFound(String),
    /// The route exists, not with this method.
    #[error("Method not allowed: {0}")]
    MethodNotAllowed(String),
}

/// The JSON body of an error response: `{"error": …, "details": …}`.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    details: &'a str,
}

/// What to tell a client whose model could not be reached.
pub const MODEL_UNREACHABLE_HINT: &str = "Configure AWS for Bedrock (AWS_REGION plus credentials from the environment, \
     AWS_PROFILE or an instance role) and enable model access, or run offline with \
     `cargo run -p agent-server -- --replay fixtures/tutorial`.";

impl InvocationError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::InvalidPayload(_) | Self::InvalidSessionId(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ModelFailed { .. } => StatusCode::BAD_GATEWAY,
            Self::ModelTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The error's kind as one word, such as `ModelTimeout`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "InvalidJson",
            Self::InvalidPayload(_) => "InvalidPayload",
            Self::InvalidSessionId(_) => "InvalidSessionId",
            Self::PayloadTooLarge { .. } => "PayloadTooLarge",
            Self::Unavailable(_) => "Unavailable",
            Self::Throttled { .. } => "Throttled",
            Self::ModelFailed { .. } => "ModelFailed",
            Self::ModelTimeout(_) => "ModelTimeout",
            Self::Internal(_) => "Internal",
            Self::NotFound(_) => "NotFound",
            Self::MethodNotAllowed(_) => "MethodNotAllowed",
        }
    }

    /// The `error` field: what kind of failure, in words.
    fn title(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "Invalid JSON",
            Self::InvalidPayload(_) => "Invalid payload",
            Self::InvalidSessionId(_) => "Invalid session id",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::Unavailable(_) => "Service unavailable",
            Self::Throttled { .. } => "Model throttled",
            Self::ModelFailed { .. } => "Model error",
            Self::ModelTimeout(_) => "Model timeout",
            Self::Internal(_) => "Internal error",
            Self::NotFound(_) => "Not found",
            Self::MethodNotAllowed(_) => "Method not allowed",
        }
    }

    /// The `details` field: what exactly went wrong, and what to do about it.
    fn details(&self) -> String {
        match self {
            Self::PayloadTooLarge { limit } => {
                format!("the body exceeds the limit of {limit} bytes")
            }
            Self::ModelFailed {
                message,
                hint: Some(hint),
            } => format!("{message}. {hint}"),
            Self::ModelFailed {
                message,
                hint: None,
            }
            | Self::Throttled { message, .. } => message.clone(),
            Self::InvalidJson(details)
            | Self::InvalidPayload(details)
            | Self::InvalidSessionId(details)
            | Self::Unavailable(details)
            | Self::ModelTimeout(details)
            | Self::Internal(details)
            | Self::NotFound(details)
            | Self::MethodNotAllowed(details) => details.clone(),
        }
    }
}

impl IntoResponse for InvocationError {
    fn into_response(self) -> Response {
        let details = self.details();
        let body = ErrorBody {
            error: self.title(),
            details: &details,
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Self::Throttled {
            retry_after_secs, ..
        } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

impl From<AgentError> for InvocationError {
    fn from(error: AgentError) -> Self {
        match error {
            AgentError::Throttled {
                retry_after_secs, ..
            } => Self::Throttled {
                message: error.to_string(),
                retry_after_secs,
            },
            AgentError::Timeout(_) | AgentError::Model(ModelError::Timeout(_)) => {
                Self::ModelTimeout(error.to_string())
            }
            AgentError::Model(ModelError::Connection { .. }) => Self::ModelFailed {
                message: error.to_string(),
                hint: Some(MODEL_UNREACHABLE_HINT.to_owned()),
            },
            AgentError::Model(_) => Self::ModelFailed {
                message: error.to_string(),
                hint: None,
            },
            AgentError::ToolLoopCap { .. } => Self::Internal(error.to_string()),
            AgentError::InvalidInput(message) => Self::InvalidPayload(message),
        }
    }
}

impl From<SessionError> for InvocationError {
    fn from(error: SessionError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn agent_errors_map_to_one_status_each() {
        let cases = [
            (
                AgentError::Throttled {
                    attempts: 6,
                    message: "slow".into(),
                    retry_after_secs: 4,
                },
                429,
            ),
            (AgentError::Timeout(Duration::from_secs(1)), 504),
            (
                AgentError::Model(ModelError::Rejected {
                    message: "no".into(),
                }),
                502,
            ),
            (
                AgentError::Model(ModelError::Connection {
                    message: "no".into(),
                }),
                502,
            ),
            (AgentError::ToolLoopCap { cycles: 20 }, 500),
            (AgentError::InvalidInput("empty".into()), 400),
        ];
        for (error, status) in cases {
            assert_eq!(
                InvocationError::from(error.clone()).status().as_u16(),
                status,
                "{error}"
            );
        }
        assert_eq!(
            InvocationError::from(SessionError::CapacityReached { max: 1 }).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
