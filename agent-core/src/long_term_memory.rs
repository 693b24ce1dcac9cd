//! Long-term memory from AgentCore Memory: the records its strategies (semantic, summary, user
//! preference, episodic) extracted from past conversations, searched with each turn's prompt.
//!
//! Namespaces are templates as the Python SDK writes them: `{actorId}`, `{sessionId}` and
//! `{memoryStrategyId}` are filled in for the turn (the ids as the session store maps them; the
//! strategy id empty), and each is searched as a prefix (`namespacePath`), all at once.
//! Records under the minimum score are left out, and a record found under two namespaces is
//! kept once.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;

use crate::agent::recall::{DEFAULT_RECALL_TIMEOUT, Recall, RecallError, RecallQuery};
use crate::session::SessionOwner;
use crate::session::agentcore_memory::{
    AgentCoreMemory, actor_id, describe_error, memory_session_id,
};

/// Records asked for per namespace, as the Python SDK's default.
pub const DEFAULT_TOP_K: u32 = 10;

/// The lowest score kept, as the Python SDK's default.
pub const DEFAULT_MIN_SCORE: f64 = 0.2;

/// The longest search query the service takes, in characters.
const MAX_QUERY_CHARS: usize = 10_000;

/// What to search, and how much to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct LongTermMemoryConfig {
    /// Namespace templates, e.g. `/strategies/{memoryStrategyId}/actors/{actorId}/`.
    pub namespaces: Vec<String>,
    /// Records asked for per namespace (1–100).
    pub top_k: u32,
    /// Records scoring lower are left out.
    pub min_score: f64,
    /// How long the search may take before the turn goes on without memories.
    pub timeout: Duration,
}

impl Default for LongTermMemoryConfig {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            top_k: DEFAULT_TOP_K,
            min_score: DEFAULT_MIN_SCORE,
            timeout: DEFAULT_RECALL_TIMEOUT,
        }
    }
}

/// The long-term memory of one AgentCore Memory resource, as an agent's [`Recall`].
pub struct LongTermMemory {
    memory: AgentCoreMemory,
    config: LongTermMemoryConfig,
}

impl LongTermMemory {
    /// Searches `config`'s namespaces of `memory`.
    pub fn new(memory: AgentCoreMemory, config: LongTermMemoryConfig) -> Self {
        Self { memory, config }
    }

    /// One namespace's records for `query`: (record id, text) of those scoring high enough.
    async fn search(&self, namespace: &str, query: &str) -> Result<Vec<(String, String)>, String> {
        let criteria = aws_sdk_bedrockagentcore::types::SearchCriteria::builder()
            .search_query(query)
            .top_k(self.config.top_k.clamp(1, 100) as i32)
            .build()
            .map_err(|error| error.to_string())?;
        let output = self
            .memory
            .client
            .retrieve_memory_records()
            .memory_id(self.memory.id.as_str())
            .namespace_path(namespace)
            .search_criteria(criteria)
            .send()
            .await
            .map_err(|error| describe_error(&error))?;
        Ok(output
            .memory_record_summaries()
            .iter()
            .filter(|record| record.score().unwrap_or(0.0) >= self.config.min_score)
            .filter_map(|record| {
                let text = record.content()?.as_text().ok()?.trim();
                (!text.is_empty()).then(|| (record.memory_record_id().to_owned(), text.to_owned()))
            })
            .collect())
    }
}

#[async_trait]
impl Recall for LongTermMemory {
    async fn recall(&self, query: RecallQuery<'_>) -> Result<Vec<String>, RecallError> {
        if self.config.namespaces.is_empty() {
            return Ok(Vec::new());
        }
        let anonymous = SessionOwner::Anonymous;
        let owner = query.session.map_or(&anonymous, |key| &key.owner);
        let actor = actor_id(owner);
        let session = query
            .session
            .map(|key| memory_session_id(&key.id))
            .unwrap_or_default();
        let prompt = match query.prompt.char_indices().nth(MAX_QUERY_CHARS) {
            Some((end, _)) => &query.prompt[..end],
            None => query.prompt,
        };
        let namespaces: Vec<String> = self
            .config
            .namespaces
            .iter()
            .map(|template| {
                template
                    .replace("{actorId}", &actor)
                    .replace("{sessionId}", &session)
                    .replace("{memoryStrategyId}", "")
            })
            .collect();
        let searches = join_all(
            namespaces
                .iter()
                .map(|namespace| self.search(namespace, prompt)),
        )
        .await;
        let mut seen = HashSet::new();
        let mut memories = Vec::new();
        let mut failures = Vec::new();
        for (namespace, found) in namespaces.iter().zip(searches) {
            match found {
                Ok(records) => memories.extend(
                    records
                        .into_iter()
                        .filter(|(id, _)| seen.insert(id.clone()))
                        .map(|(_, text)| text),
                ),
                Err(error) => {
                    tracing::warn!(namespace = %namespace, %error, "searching long-term memory failed");
                    failures.push(error);
                }
            }
        }
        if failures.len() == namespaces.len() {
            return Err(RecallError(failures.swap_remove(0)));
        }
        Ok(memories)
    }

    fn timeout(&self) -> Duration {
        self.config.timeout
    }
}

impl std::fmt::Display for LongTermMemory {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = {
            format!(
                "{}, namespaces {:?}, top {}, score ≥ {}",
                self.memory.describe(),
                self.config.namespaces,
                self.config.top_k,
                self.config.min_score
            )
        };
        formatter.write_str(&text)
    }
}
