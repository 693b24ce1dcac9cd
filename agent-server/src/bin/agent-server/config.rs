//! The server's configuration: one typed struct, from flags with environment fallbacks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use agent_core::long_term_memory::{LongTermMemory, LongTermMemoryConfig};
use agent_core::replay::{LoadError, RecordingSet, ReplayModel};
use agent_core::session::{
    AgentCoreMemory, AgentCoreMemorySessionStore, DEFAULT_MAX_STATE_BYTES, MemoryId,
    MemorySessionStore, RedisOptions, RedisSessionStore, SessionConfig, SessionStore,
};
use agent_core::{AgentConfig, Model, RetryPolicy, SlidingWindow};
use agent_tools::Clock;
use clap::{Parser, ValueEnum};

use crate::store_spec::{StoreChoice, StoreSpec, StoreSpecParser};

use agent_server::agent_file::LongTermMemorySection;
use agent_server::{DEFAULT_MAX_BODY_BYTES, EdgeConfig};

/// Runs an agent behind the Amazon Bedrock AgentCore Runtime contract: the tutorial's, or the
/// one an `--agent` file defines.
///
/// Bedrock is configured the standard AWS way (AWS_REGION, AWS_PROFILE, credentials chain,
/// AWS_ENDPOINT_URL_BEDROCK_RUNTIME); `--replay` answers from recordings with no AWS account.
#[derive(Debug, Clone, Parser)]
#[command(name = "agent-server", version)]
pub(crate) struct ServerConfig {
    /// Address to bind.
    #[arg(long, env = "AGENT_SERVER_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to bind (AgentCore expects 8080).
    #[arg(long, env = "AGENT_SERVER_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Serve the agent this TOML file defines (model, system prompt, tools, inference settings;
    /// payload `{"prompt": …}`) instead of the tutorial's.
    #[arg(long, env = "AGENT_SERVER_AGENT", value_name = "FILE.toml")]
    pub agent: Option<PathBuf>,
    /// Bedrock model id (an agent file's `model_id` takes precedence).
    #[arg(long, env = "BEDROCK_MODEL_ID", default_value = DEFAULT_MODEL_ID)]
    pub model_id: String,
    /// Answer from the recordings of this scenario folder instead of Bedrock; repeatable.
    #[arg(long, value_name = "DIR")]
    pub replay: Vec<PathBuf>,
    /// Make get_time answer this time (`%Y-%m-%d %H:%M:%S`), for recordings that contain a time.
    #[arg(long, value_name = "TIME", value_parser = parse_clock)]
    pub fixed_time: Option<Clock>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "AGENT_SERVER_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Memory budget of all request bodies being received and parsed at once, in bytes; a body
    /// that would pass it gets 503 before it is read. Default: a quarter of the memory limit
    /// (the container's cgroup, else the machine's).
    #[arg(long, env = "AGENT_SERVER_MAX_BODY_BUDGET_BYTES")]
    pub max_body_budget_bytes: Option<usize>,
    /// Where sessions live: `memory` (this process), a Redis URL
    /// (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS) shared by replicas, or
    /// `agentcore-memory:<memory id or ARN>` (AgentCore Memory). Default: AgentCore Memory when
    /// `BEDROCK_AGENTCORE_MEMORY_ID` is set (as the starter toolkit sets it), else `memory`.
    #[arg(
        long,
        env = "AGENT_SERVER_SESSION_STORE",
        value_name = "memory|URL|agentcore-memory:ID",
        hide_env_values = true,
        value_parser = StoreSpecParser
    )]
    pub session_store: Option<StoreSpec>,
    /// The memory the AgentCore starter toolkit configured for this runtime.
    #[arg(long, env = "BEDROCK_AGENTCORE_MEMORY_ID", hide = true)]
    pub runtime_memory_id: Option<MemoryId>,
    /// The AgentCore Memory searched for long-term memories (id or ARN); else the session
    /// store's memory, else `BEDROCK_AGENTCORE_MEMORY_ID`.
    #[arg(long, env = "AGENT_SERVER_MEMORY_ID", value_name = "ID|ARN")]
    pub memory_id: Option<MemoryId>,
    /// A long-term memory namespace searched with each prompt, as a template with `{actorId}`,
    /// `{sessionId}`, `{memoryStrategyId}`; repeatable. Replaces an agent file's namespaces.
    #[arg(long = "memory-namespace", value_name = "TEMPLATE")]
    pub memory_namespaces: Vec<String>,
    /// Long-term records asked for per namespace (default 10).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub memory_top_k: Option<u32>,
    /// Long-term records scoring lower are left out (default 0.2).
    #[arg(long, value_parser = parse_score)]
    pub memory_min_score: Option<f64>,
    /// Prefix of every Redis key, so deployments can share one Redis.
    #[arg(
        long,
        env = "AGENT_SERVER_SESSION_KEY_PREFIX",
        default_value = "agentcore:"
    )]
    pub session_key_prefix: String,
    /// Seconds a Redis session lease outlives a replica that stopped renewing it.
    #[arg(long, env = "AGENT_SERVER_SESSION_LEASE_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=30))]
    pub session_lease_secs: u64,
    /// Seconds an invocation waits for its session's earlier invocations; beyond: 429.
    #[arg(long, env = "AGENT_SERVER_SESSION_WAIT_SECS", default_value_t = 120)]
    pub session_wait_secs: u64,
    /// Invocations that may wait for one session at once; beyond: 429.
    #[arg(long, env = "AGENT_SERVER_SESSION_MAX_WAITING", default_value_t = 32)]
    pub session_max_waiting: usize,
    /// Largest session state, in bytes of JSON; a write past it fails, naming the cap.
    #[arg(long, env = "AGENT_SERVER_SESSION_MAX_STATE_BYTES", default_value_t = DEFAULT_MAX_STATE_BYTES)]
    pub session_max_state_bytes: usize,
    /// Live sessions held at once by the in-memory store (Redis holds none in the process).
    #[arg(long, env = "AGENT_SERVER_MAX_SESSIONS", default_value_t = 100_000)]
    pub max_sessions: usize,
    /// Seconds after its last invocation that a session ends.
    #[arg(long, env = "AGENT_SERVER_IDLE_TIMEOUT_SECS", default_value_t = 15 * 60)]
    pub idle_timeout_secs: u64,
    /// Seconds after its creation that a session ends.
    #[arg(long, env = "AGENT_SERVER_MAX_LIFETIME_SECS", default_value_t = 8 * 60 * 60)]
    pub max_lifetime_secs: u64,
    /// Seconds a whole invocation may take (model calls, retries, tools); beyond: 504.
    #[arg(long, env = "AGENT_SERVER_INVOCATION_TIMEOUT_SECS", default_value_t = 15 * 60)]
    pub invocation_timeout_secs: u64,
    /// Seconds a client has to send a request head, new or idle between requests; then closed.
    #[arg(long, env = "AGENT_SERVER_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Connections open at once; beyond, new ones wait in the listen backlog. Default: the
    /// descriptor limit less 256 kept for Bedrock, Redis and files.
    #[arg(long, env = "AGENT_SERVER_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Invocations served at once; beyond: 503 at once.
    #[arg(long, env = "AGENT_SERVER_MAX_IN_FLIGHT", default_value_t = agent_server::DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: usize,
    /// Call Bedrock's ConverseStream (`true`, as the reference agent does) or Converse (`false`).
    #[arg(long, env = "BEDROCK_MODEL_STREAMING", default_value_t = true, action = clap::ArgAction::Set)]
    pub model_streaming: bool,
    /// Seconds one model call may take (and, when streaming, may stay silent).
    #[arg(long, env = "AGENT_SERVER_MODEL_TIMEOUT_SECS", default_value_t = 120)]
    pub model_timeout_secs: u64,
    /// Attempts per model call when Bedrock throttles or fails with 5xx.
    #[arg(long, default_value_t = 6)]
    pub retry_attempts: u32,
    /// First pause between attempts, in milliseconds; it doubles each time.
    #[arg(long, default_value_t = 4_000)]
    pub retry_initial_ms: u64,
    /// Longest pause between attempts, in milliseconds.
    #[arg(long, default_value_t = 240_000)]
    pub retry_max_ms: u64,
    /// Messages of history kept per session.
    #[arg(long, default_value_t = 40)]
    pub window_messages: usize,
    /// Model calls allowed per invocation.
    #[arg(long, default_value_t = 20)]
    pub max_cycles: u32,
    /// Put message content (prompts, answers, tool arguments and results) on trace spans; off
    /// by default, since a trace backend may not be the place for them.
    #[arg(long, env = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", default_value_t = false,
          action = clap::ArgAction::Set, value_name = "true|false")]
    pub capture_message_content: bool,
    /// Log format.
    #[arg(long, env = "AGENT_SERVER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Require a bearer token signed by the OpenID provider whose discovery document is here
    /// (`https://…/.well-known/openid-configuration`), as AgentCore's JWT authorizer does; the
    /// token's user then owns the sessions. Off when absent.
    #[arg(long, env = "AGENT_SERVER_AUTH_DISCOVERY_URL", value_name = "URL")]
    pub auth_discovery_url: Option<String>,
    /// An audience a token's `aud` may name (Cognito access tokens without `aud`: their
    /// `client_id` must be an allowed client); repeatable, or comma-separated in the variable.
    #[arg(
        long = "auth-allowed-audience",
        env = "AGENT_SERVER_AUTH_ALLOWED_AUDIENCES",
        value_name = "AUD",
        value_delimiter = ',',
        requires = "auth_discovery_url"
    )]
    pub auth_allowed_audiences: Vec<String>,
    /// A client a token's `client_id` (or `azp`) may be; repeatable, or comma-separated in the
    /// variable.
    #[arg(
        long = "auth-allowed-client",
        env = "AGENT_SERVER_AUTH_ALLOWED_CLIENTS",
        value_name = "ID",
        value_delimiter = ',',
        requires = "auth_discovery_url"
    )]
    pub auth_allowed_clients: Vec<String>,
    /// The token claim that names the user.
    #[arg(long, env = "AGENT_SERVER_AUTH_USER_CLAIM", value_name = "CLAIM",
          default_value = agent_server::auth::DEFAULT_USER_CLAIM)]
    pub auth_user_claim: String,
}

impl ServerConfig {
    /// Inbound auth's settings, when it is on.
    pub(crate) fn auth(&self) -> Option<agent_server::auth::AuthConfig> {
        let url = self.auth_discovery_url.as_ref()?;
        let config = agent_server::auth::AuthConfig::new(url.clone())
            .with_user_claim(self.auth_user_claim.clone());
        let config = self
            .auth_allowed_audiences
            .iter()
            .fold(config, |config, audience| {
                config.allow_audience(audience.clone())
            });
        Some(
            self.auth_allowed_clients
                .iter()
                .fold(config, |config, client| config.allow_client(client.clone())),
        )
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

fn parse_score(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(score) if (0.0..=1.0).contains(&score) => Ok(score),
        _ => Err("expected a score from 0 to 1".to_owned()),
    }
}

fn parse_clock(text: &str) -> Result<Clock, String> {
    Clock::fixed_at(text).map_err(|error| format!("expected `YYYY-MM-DD HH:MM:SS`: {error}"))
}

impl ServerConfig {
    /// The agent's limits and policies.
    pub(crate) fn agent_config(&self) -> AgentConfig {
        AgentConfig {
            max_cycles: self.max_cycles,
            window: SlidingWindow {
                max_messages: self.window_messages,
            },
            retry: RetryPolicy {
                max_attempts: self.retry_attempts.max(1),
                initial_delay: Duration::from_millis(self.retry_initial_ms),
                max_delay: Duration::from_millis(self.retry_max_ms),
            },
            model_timeout: Duration::from_secs(self.model_timeout_secs),
            invocation_timeout: Duration::from_secs(self.invocation_timeout_secs),
            model_streaming: self.model_streaming,
            record_content: self.capture_message_content,
        }
    }

    /// The session store's lifetimes and limits.
    pub(crate) fn session_config(&self) -> SessionConfig {
        SessionConfig {
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            max_lifetime: Duration::from_secs(self.max_lifetime_secs),
            max_sessions: self.max_sessions,
            max_wait: Duration::from_secs(self.session_wait_secs),
            max_waiting: self.session_max_waiting,
            max_state_bytes: self.session_max_state_bytes,
        }
    }

    /// Which store holds sessions, and why.
    pub(crate) fn store_choice(&self) -> StoreChoice {
        StoreChoice::of(self.session_store.as_ref(), self.runtime_memory_id.as_ref())
    }

    /// The session store chosen, and the AgentCore Memory it is in, if it is one. Redis is
    /// connected lazily, and Memory reached only when a session needs it, so the server starts
    /// (and answers 503 for invocations) while either is down.
    pub(crate) async fn session_store(
        &self,
        spec: &StoreSpec,
    ) -> anyhow::Result<(Arc<dyn SessionStore>, Option<AgentCoreMemory>)> {
        let sessions = self.session_config();
        match spec {
            StoreSpec::Memory => Ok((Arc::new(MemorySessionStore::new(sessions)), None)),
            StoreSpec::AgentCoreMemory(id) => {
                let memory = AgentCoreMemory::from_env(id.clone()).await;
                let window = Some(SlidingWindow {
                    max_messages: self.window_messages,
                });
                let store = AgentCoreMemorySessionStore::new(memory.clone(), sessions, window);
                Ok((Arc::new(store), Some(memory)))
            }
            StoreSpec::Redis(url) => {
                let options = RedisOptions {
                    key_prefix: self.session_key_prefix.clone(),
                    lease_ttl: Duration::from_secs(self.session_lease_secs),
                    ..RedisOptions::default()
                };
                let store = RedisSessionStore::open(url, sessions, options)?;
                Ok((Arc::new(store), None))
            }
        }
    }

    /// Long-term memory for the prompt, when namespaces are given (flags, else the agent
    /// file's table): in `--memory-id`, else the session store's memory, else the runtime's.
    pub(crate) async fn long_term_memory(
        &self,
        file: Option<&LongTermMemorySection>,
        store_memory: Option<&AgentCoreMemory>,
    ) -> anyhow::Result<Option<LongTermMemory>> {
        let namespaces = if self.memory_namespaces.is_empty() {
            file.map(|section| section.namespaces.clone())
                .unwrap_or_default()
        } else {
            self.memory_namespaces.clone()
        };
        if namespaces.is_empty() {
            return Ok(None);
        }
        let defaults = LongTermMemoryConfig::default();
        let config = LongTermMemoryConfig {
            namespaces,
            top_k: self
                .memory_top_k
                .or(file.and_then(|section| section.top_k))
                .unwrap_or(defaults.top_k),
            min_score: self
                .memory_min_score
                .or(file.and_then(|section| section.min_score))
                .unwrap_or(defaults.min_score),
            ..defaults
        };
        let memory = match (&self.memory_id, store_memory, &self.runtime_memory_id) {
            (Some(id), _, _) => AgentCoreMemory::from_env(id.clone()).await,
            (None, Some(memory), _) => memory.clone(),
            (None, None, Some(id)) => AgentCoreMemory::from_env(id.clone()).await,
            (None, None, None) => anyhow::bail!(
                "long-term memory namespaces are given but no memory: pass --memory-id, use an agentcore-memory session store, or set BEDROCK_AGENTCORE_MEMORY_ID"
            ),
        };
        Ok(Some(LongTermMemory::new(memory, config)))
    }

    /// How connections are held, given the process's descriptor limit.
    pub(crate) fn edge_config(&self, descriptor_limit: u64) -> EdgeConfig {
        EdgeConfig {
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            max_connections: self
                .max_connections
                .unwrap_or_else(|| EdgeConfig::connections_for(descriptor_limit)),
        }
    }

    /// The clock get_time reads.
    pub(crate) fn clock(&self) -> Clock {
        self.fixed_time.unwrap_or_default()
    }

    /// The model chosen: recordings when `--replay` is given, else Bedrock's `model_id`.
    pub(crate) async fn model(&self, model_id: &str) -> Result<Arc<dyn Model>, LoadError> {
        if self.replay.is_empty() {
            return Ok(Arc::new(BedrockModel::from_env(model_id).await));
        }
        let mut recordings = RecordingSet::default();
        for dir in &self.replay {
            recordings.extend(RecordingSet::load(dir)?);
        }
        Ok(Arc::new(ReplayModel::new(recordings).for_model(model_id)))
    }
}
