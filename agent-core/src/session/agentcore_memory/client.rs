//! One AgentCore Memory resource and the SDK client that reaches it, shared by the session store
//! and long-term memory.
//!
//! Retries and timeouts are the SDK's own: throttling (`ThrottledException`), 5xx and connection
//! failures are retried with exponential backoff a few times, and every call is bounded, so a
//! memory that is down costs an invocation a few seconds, not a hang.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_bedrockagentcore::Client;
use aws_sdk_bedrockagentcore::error::{DisplayErrorContext, SdkError};

use crate::session::agentcore_memory::ids::MemoryId;

/// Attempts of one call, the first included.
const MAX_ATTEMPTS: u32 = 4;
/// The first retry's backoff; each further one doubles, with jitter.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call may take, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// A Memory resource (by id) and a client for its data plane; cheap to clone.
#[derive(Clone, Debug)]
pub struct AgentCoreMemory {
    pub(crate) client: Client,
    pub(crate) id: MemoryId,
}

impl AgentCoreMemory {
    /// The memory `id`, reached with the standard AWS configuration from the environment
    /// (region, credentials chain, `AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`).
    pub async fn from_env(id: MemoryId) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&config, id, None)
    }

    /// The memory `id` reached with an SDK configuration, optionally at `endpoint`.
    pub fn from_sdk_config(config: &SdkConfig, id: MemoryId, endpoint: Option<&str>) -> Self {
        let retry = RetryConfig::standard()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_initial_backoff(INITIAL_BACKOFF)
            .with_max_backoff(MAX_BACKOFF);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let mut builder = aws_sdk_bedrockagentcore::config::Builder::from(config)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(builder.build()),
            id,
        }
    }

    /// The memory `id` served by a local stand-in at `endpoint`: region `us-east-1` and
    /// placeholder credentials, so no AWS account is involved.
    pub async fn for_local_endpoint(endpoint: &str, id: MemoryId) -> Self {
        let config = crate::local_endpoint::local_sdk_config().await;
        Self::from_sdk_config(&config, id, Some(endpoint))
    }

    /// The memory's id.
    pub fn id(&self) -> &MemoryId {
        &self.id
    }

    /// Where the memory is, for logs.
    pub(crate) fn describe(&self) -> String {
        let region = self
            .client
            .config()
            .region()
            .map_or_else(|| "no region".to_owned(), ToString::to_string);
        format!("AgentCore Memory {} ({region})", self.id)
    }
}

/// An SDK error as one line: the operation's error and its causes.
pub(crate) fn describe_error<E, R>(error: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DisplayErrorContext(error).to_string()
}
