//! Every error a client can meet, and the one place each becomes an HTTP status.

use agent_core::session::SessionError;
use agent_core::{AgentError, ModelError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thiserror::Error;

/// Why an invocation was not answered. The session it named is left exactly as it was.
///
/// The agent's and the session store's failures are kept whole, as the error's source
/// ([`InvocationError::Agent`], [`InvocationError::Store`]); the table in `row` gives each its
/// status, kind and title.
#[derive(Debug, Clone, Error, PartialEq)]
#[non_exhaustive]
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
    /// The runtime user id header cannot be used.
    #[error("Invalid user id: {0}")]
    InvalidUserId(String),
    /// The caller proved no identity: no bearer token, or one that does not verify. Answered
    /// 401 with a `WWW-Authenticate` challenge naming the reason.
    #[error("Unauthorized: {0}")]
    Unauthorized(crate::auth::TokenRejection),
    /// The verified caller may not do this: the payload or a header names another user.
    #[error("Forbidden: {0}")]
    Forbidden(String),
    /// A `/ws` request that is not a WebSocket opening handshake.
    #[error("Not a WebSocket handshake: {0}")]
    NotWebSocket(String),
    /// A `/ws` socket already has an invocation running and a payload waiting behind it.
    #[error("Socket busy: {0}")]
    SocketBusy(String),
    /// The body is over the configured limit.
    #[error("Payload too large: the body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server already serves as many invocations as it may.
    #[error("Server busy: {details}")]
    ServerBusy {
        /// What happened, and what to do.
        details: String,
        /// When to try again (`Retry-After`).
        retry_after_secs: u64,
    },
    /// The agent failed: the model, its deadline, the prompt, the tool-loop cap, the client
    /// gone. Kept whole as the source.
    #[error("{}", agent_title(.0))]
    Agent(#[source] AgentError),
    /// The session store could not give or keep the session; no session changed. Kept whole.
    #[error("{}", store_title(.0))]
    Store(#[source] SessionError),
    /// Anything else; a bug, not the client's doing.
    #[error("Internal error: {0}")]
    Internal(String),
    /// An entrypoint's own failure with the status it chose (the reference's handlers raising
    /// an HTTP error): answered `{"error": message}` with that status. Made only by
    /// [`InvocationError::with_status`], which holds the status to a 4xx or 5xx.
    #[error("{0}")]
    Http(EntrypointFailure),
    /// No such route.
    #[error("Not found: {0}")]
    NotFound(String),
    /// The route exists, not with this method.
    #[error("Method not allowed: {0}")]
    MethodNotAllowed(String),
}

/// One row of the error table.
struct Row<'a> {
    status: StatusCode,
    kind: &'static str,
    title: &'a str,
}

/// What a client told the session store is unavailable waits, in seconds.
const STORE_RETRY_AFTER_SECS: u64 = 5;

/// 499, nginx's status for a client that went away.
const CLIENT_CLOSED_REQUEST: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_REQUEST,
};

/// The JSON body of an error response: `{"error": …, "details": …}`.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    details: &'a str,
}

/// What to tell a client whose model could not be reached.
pub const MODEL_UNREACHABLE_HINT: &str = "Configure AWS for Bedrock (AWS_REGION plus credentials from the environment, \
     AWS_PROFILE or an instance role) and enable model access, or run offline with \
     `cargo run -p agent-server -- --replay fixtures/tutorial`.";

/// An entrypoint's own failure: the status it chose (always a 4xx or 5xx) and its message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct EntrypointFailure {
    status: StatusCode,
    message: String,
}

impl EntrypointFailure {
    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body's `error`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl InvocationError {
    /// An entrypoint's failure answered with `status`, which must be a client or server error
    /// (4xx or 5xx); any other status answers 500, since an error cannot succeed.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Self::Http(EntrypointFailure {
            status,
            message: message.into(),
        })
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.row().status
    }

    /// The error's kind as one word, such as `ModelTimeout`.
    pub fn kind(&self) -> &'static str {
        self.row().kind
    }

    /// The error table: every kind with its status, its one-word name (logs, the stream's
    /// `error_type`) and its title (the body's `error` field). A new kind is one row here, or
    /// in [`agent_row`] / [`store_row`] for the agent's and the store's failures.
    fn row(&self) -> Row<'_> {
        use StatusCode as S;
        let (status, kind, title) = match self {
            Self::InvalidJson(_) => (S::BAD_REQUEST, "InvalidJson", "Invalid JSON"),
            Self::InvalidPayload(_) => (S::BAD_REQUEST, "InvalidPayload", "Invalid payload"),
            Self::InvalidSessionId(_) => (S::BAD_REQUEST, "InvalidSessionId", "Invalid session id"),
            Self::InvalidUserId(_) => (S::BAD_REQUEST, "InvalidUserId", "Invalid user id"),
            Self::Unauthorized(_) => (S::UNAUTHORIZED, "Unauthorized", "Unauthorized"),
            Self::Forbidden(_) => (S::FORBIDDEN, "Forbidden", "Forbidden"),
            Self::NotWebSocket(_) => (S::BAD_REQUEST, "NotWebSocket", "Not a WebSocket handshake"),
            Self::SocketBusy(_) => (S::TOO_MANY_REQUESTS, "SocketBusy", "Socket busy"),
            Self::PayloadTooLarge { .. } => {
                (S::PAYLOAD_TOO_LARGE, "PayloadTooLarge", "Payload too large")
            }
            Self::ServerBusy { .. } => (S::SERVICE_UNAVAILABLE, "ServerBusy", "Server busy"),
            Self::Agent(error) => agent_row(error),
            Self::Store(error) => store_row(error),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "Internal", "Internal error"),
            Self::Http(failure) => (failure.status, "EntrypointError", failure.message.as_str()),
            Self::NotFound(_) => (S::NOT_FOUND, "NotFound", "Not found"),
            Self::MethodNotAllowed(_) => (
                S::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "Method not allowed",
            ),
        };
        Row {
            status,
            kind,
            title,
        }
    }

    /// When a client may usefully try again, in seconds: sent as `Retry-After`. A session store
    /// that failed has already been retried within the invocation, so the client waits a while.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::ServerBusy {
                retry_after_secs, ..
            }
            | Self::Agent(AgentError::Throttled {
                retry_after_secs, ..
            })
            | Self::Store(
                SessionError::CapacityReached {
                    retry_after_secs, ..
                }
                | SessionError::Busy {
                    retry_after_secs, ..
                }
                | SessionError::QueueFull {
                    retry_after_secs, ..
                },
            ) => Some(*retry_after_secs),
            Self::Store(SessionError::Unavailable { .. } | SessionError::LeaseLost { .. }) => {
                Some(STORE_RETRY_AFTER_SECS)
            }
            _ => None,
        }
    }

    /// The `details` field: what exactly went wrong, and what to do about it.
    fn details(&self) -> String {
        match self {
            Self::PayloadTooLarge { limit } => {
                format!("the body exceeds the limit of {limit} bytes")
            }
            Self::ServerBusy { details, .. } => details.clone(),
            Self::Unauthorized(rejection) => rejection.to_string(),
            Self::Agent(error) => agent_details(error),
            Self::Store(error) => error.to_string(),
            Self::InvalidJson(details)
            | Self::Forbidden(details)
            | Self::NotWebSocket(details)
            | Self::SocketBusy(details)
            | Self::InvalidPayload(details)
            | Self::InvalidSessionId(details)
            | Self::InvalidUserId(details)
            | Self::Internal(details)
            | Self::NotFound(details)
            | Self::MethodNotAllowed(details) => details.clone(),
            Self::Http(_) => String::new(),
        }
    }
}

/// The agent's failures in the error table.
fn agent_row(error: &AgentError) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match error {
        AgentError::Throttled { .. } => (S::TOO_MANY_REQUESTS, "Throttled", "Model throttled"),
        AgentError::Timeout(_) | AgentError::Model(ModelError::Timeout(_)) => {
            (S::GATEWAY_TIMEOUT, "ModelTimeout", "Model timeout")
        }
        AgentError::InvocationTimeout(_) => (
            S::GATEWAY_TIMEOUT,
            "InvocationTimeout",
            "Invocation timeout",
        ),
        AgentError::PromptTooLong { .. } => (S::BAD_REQUEST, "PromptTooLong", "Prompt too long"),
        AgentError::InvalidInput(_) => (S::BAD_REQUEST, "InvalidPayload", "Invalid payload"),
        AgentError::ToolLoopCap { .. } => (S::INTERNAL_SERVER_ERROR, "Internal", "Internal error"),
        // nginx's code for it: the status only ever reaches the logs.
        AgentError::Disconnected => (CLIENT_CLOSED_REQUEST, "ClientGone", "Client closed request"),
        _ => (S::BAD_GATEWAY, "ModelFailed", "Model error"),
    }
}

/// What the agent's failure tells the client: its own words, and for a model that cannot be
/// reached, how to configure one.
fn agent_details(error: &AgentError) -> String {
    match error {
        AgentError::Model(ModelError::Connection { .. }) => {
            format!("{error}. {MODEL_UNREACHABLE_HINT}")
        }
        AgentError::InvalidInput(message) => message.clone(),
        other => other.to_string(),
    }
}

/// The session store's failures in the error table.
fn store_row(error: &SessionError) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match error {
        SessionError::CapacityReached { .. } => {
            (S::SERVICE_UNAVAILABLE, "Unavailable", "Service unavailable")
        }
        SessionError::Busy { .. } | SessionError::QueueFull { .. } => {
            (S::TOO_MANY_REQUESTS, "SessionBusy", "Session busy")
        }
        SessionError::Unreadable { .. } => (
            S::INTERNAL_SERVER_ERROR,
            "SessionUnreadable",
            "Session unreadable",
        ),
        _ => (
            S::SERVICE_UNAVAILABLE,
            "SessionStoreUnavailable",
            "Session store unavailable",
        ),
    }
}

/// `Title: details`, as the agent's failure displays.
fn agent_title(error: &AgentError) -> String {
    format!("{}: {}", agent_row(error).2, agent_details(error))
}

/// `Title: details`, as the store's failure displays.
fn store_title(error: &SessionError) -> String {
    format!("{}: {error}", store_row(error).2)
}

impl IntoResponse for InvocationError {
    fn into_response(self) -> Response {
        let details = self.details();
        let body = ErrorBody {
            error: self.row().title,
            details: &details,
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Self::Unauthorized(rejection) = &self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, rejection.challenge());
        }
        response
    }
}

impl From<AgentError> for InvocationError {
    fn from(error: AgentError) -> Self {
        Self::Agent(error)
    }
}

impl From<SessionError> for InvocationError {
    fn from(error: SessionError) -> Self {
        Self::Store(error)
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
            (AgentError::InvocationTimeout(Duration::from_secs(900)), 504),
            (AgentError::Disconnected, 499),
            (
                AgentError::PromptTooLong {
                    message: "Input is too long".into(),
                },
                400,
            ),
            (AgentError::InvalidInput("empty".into()), 400),
        ];
        for (error, status) in cases {
            assert_eq!(
                InvocationError::from(error.clone()).status().as_u16(),
                status,
                "{error}"
            );
        }
        let session_cases = [
            (
                SessionError::CapacityReached {
                    max: 1,
                    retry_after_secs: 60,
                },
                503,
                Some(60),
            ),
            (
                SessionError::Busy {
                    session: "s".into(),
                    waited_secs: 120,
                    retry_after_secs: 10,
                },
                429,
                Some(10),
            ),
            (
                SessionError::QueueFull {
                    session: "s".into(),
                    waiting: 32,
                    retry_after_secs: 5,
                },
                429,
                Some(5),
            ),
            (
                SessionError::Unavailable {
                    cause: "refused".into(),
                },
                503,
                Some(5),
            ),
            (
                SessionError::LeaseLost {
                    session: "s".into(),
                },
                503,
                Some(5),
            ),
            (
                SessionError::Unreadable {
                    session: "s".into(),
                    reason: "bad".into(),
                },
                500,
                None,
            ),
        ];
        for (error, status, retry_after) in session_cases {
            let mapped = InvocationError::from(error.clone());
            assert_eq!(mapped.status().as_u16(), status, "{error}");
            assert_eq!(mapped.retry_after_secs(), retry_after, "{error}");
        }
    }

    #[test]
    fn an_entrypoints_own_error_keeps_its_status_unless_it_is_no_error() {
        let error = InvocationError::with_status(StatusCode::FORBIDDEN, "tenant suspended");
        assert_eq!(error.status(), StatusCode::FORBIDDEN);
        assert_eq!(error.to_string(), "tenant suspended");
        let not_an_error = InvocationError::with_status(StatusCode::OK, "fine?");
        assert_eq!(not_an_error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
