//! The session store's archive in AgentCore Memory: one CreateEvent per committed turn, and
//! ListEvents (every page) to restore a session this process does not hold.

use async_trait::async_trait;
use aws_sdk_bedrockagentcore::types::{Event, PayloadType};
use aws_smithy_types::DateTime;
use sha2::{Digest, Sha256};

use crate::conversation::{Conversation, SlidingWindow};
use crate::message::Message;
use crate::session::agentcore_memory::client::{AgentCoreMemory, describe_error};
use crate::session::agentcore_memory::ids::{actor_id, memory_session_id};
use crate::session::agentcore_memory::strands;
use crate::session::agentcore_memory::turn_record::{read_turn, turn_blob, turn_payload};
use crate::session::archive::{Archive, ArchiveCursor, Restored};
use crate::session::{SessionError, SessionKey, SessionState};

/// The largest page ListEvents returns.
const LIST_PAGE_SIZE: i32 = 100;

/// Metadata key with which the Python manager tags its session and agent records.
const STATE_TYPE_KEY: &str = "stateType";

/// Sessions' turns as events of one memory.
pub(crate) struct MemoryEvents {
    pub memory: AgentCoreMemory,
    /// Bounds what a restore keeps, as the agent's window would.
    pub window: Option<SlidingWindow>,
}

#[async_trait]
impl Archive for MemoryEvents {
    async fn restore(
        &self,
        key: &SessionKey,
        max_state_bytes: usize,
    ) -> Result<Restored, SessionError> {
        let events = self
            .memory
            .client
            .list_events()
            .memory_id(self.memory.id.as_str())
            .actor_id(actor_id(&key.owner))
            .session_id(memory_session_id(&key.id))
            .include_payloads(true)
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Event>, _>>()
            .await
            .map_err(|error| SessionError::Unavailable {
                cause: format!("ListEvents failed: {}", describe_error(&error)),
            })?;
        let history = read_history(events).map_err(|reason| SessionError::Unreadable {
            session: key.id.to_string(),
            reason,
        })?;
        if history.dropped_turns > 0 || history.skipped_items > 0 {
            tracing::info!(
                session_id = %key.id,
                dropped_turns = history.dropped_turns,
                skipped_items = history.skipped_items,
                "restored a session with parts this runtime does not keep"
            );
        }
        let mut conversation = Conversation::from(history.messages);
        if let Some(window) = &self.window {
            window.apply(&mut conversation);
        }
        let state = match history.state {
            Some(values) => SessionState::from_values(values, max_state_bytes),
            None => SessionState::new(max_state_bytes),
        };
        tracing::debug!(session_id = %key.id, messages = conversation.len(), "session restored from AgentCore Memory");
        Ok(Restored {
            conversation,
            state,
            cursor: ArchiveCursor(history.latest_ms),
        })
    }

    async fn append(
        &self,
        key: &SessionKey,
        cursor: ArchiveCursor,
        turn: &[Message],
        state: &SessionState,
    ) -> Result<ArchiveCursor, SessionError> {
        let actor = actor_id(&key.owner);
        let session = memory_session_id(&key.id);
        let blob = turn_blob(turn, state);
        let token = client_token([
            self.memory.id.as_str(),
            &actor,
            &session,
            &cursor.0.to_string(),
            &blob,
        ]);
        // Strictly after the session's latest event, so that the order of turns never rests
        // on two events sharing a millisecond.
        let now_ms = DateTime::from(std::time::SystemTime::now())
            .to_millis()
            .unwrap_or_default();
        let at_ms = now_ms.max(cursor.0 + 1);
        self.memory
            .client
            .create_event()
            .memory_id(self.memory.id.as_str())
            .actor_id(actor)
            .session_id(session)
            .event_timestamp(DateTime::from_millis(at_ms))
            .set_payload(Some(turn_payload(turn, blob)))
            .client_token(token)
            .send()
            .await
            .map_err(|error| SessionError::Unavailable {
                cause: format!("CreateEvent failed: {}", describe_error(&error)),
            })?;
        Ok(ArchiveCursor(at_ms))
    }
}

impl std::fmt::Display for MemoryEvents {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { self.memory.describe() };
        formatter.write_str(&text)
    }
}

/// A session's history as its events hold it.
#[derive(Debug, Default)]
pub(crate) struct History {
    pub messages: Vec<Message>,
    /// The state after the latest turn of this runtime, if any.
    pub state: Option<serde_json::Map<String, serde_json::Value>>,
    /// The latest event's time, in milliseconds since the epoch.
    pub latest_ms: i64,
    /// Interrupted turns left out.
    pub dropped_turns: usize,
    /// Items neither this runtime's nor a message (session and agent records, other roles).
    pub skipped_items: usize,
}

/// Reads events in whatever order they came: oldest first by time, then by id (the service's
/// ids begin with the time). This runtime's turns are read from their blob, others' items as
/// [`strands`] says; a turn of this runtime that cannot be read fails the whole restore.
pub(crate) fn read_history(mut events: Vec<Event>) -> Result<History, String> {
    let time = |event: &Event| event.event_timestamp().to_millis().unwrap_or_default();
    events.sort_by(|a, b| {
        time(a)
            .cmp(&time(b))
            .then_with(|| a.event_id().cmp(b.event_id()))
    });
    let mut history = History::default();
    let mut foreign = Vec::new();
    for event in &events {
        history.latest_ms = history.latest_ms.max(time(event));
        if event
            .metadata()
            .is_some_and(|metadata| metadata.contains_key(STATE_TYPE_KEY))
        {
            history.skipped_items += event.payload().len();
            continue;
        }
        let own = event
            .payload()
            .iter()
            .find_map(|item| read_turn(item.as_blob().ok()?));
        if let Some(turn) = own {
            let turn = turn.map_err(|reason| format!("event {}: {reason}", event.event_id()))?;
            // Messages of others before this turn are settled first, whole turns only.
            history.append_foreign(std::mem::take(&mut foreign));
            history.messages.extend(turn.messages);
            history.state = Some(turn.state);
            continue;
        }
        for item in event.payload() {
            let message = match item {
                PayloadType::Conversational(item) => item
                    .content()
                    .and_then(|content| content.as_text().ok())
                    .and_then(|text| strands::conversational_message(text, item.role().as_str())),
                PayloadType::Blob(aws_smithy_types::Document::String(blob)) => {
                    strands::blob_message(blob)
                }
                _ => None,
            };
            match message {
                Some(message) => foreign.push(message),
                None => history.skipped_items += 1,
            }
        }
    }
    history.append_foreign(foreign);
    Ok(history)
}

impl History {
    fn append_foreign(&mut self, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        let (complete, dropped) = strands::complete_turns(messages);
        self.messages.extend(complete);
        self.dropped_turns += dropped;
    }
}

/// An idempotency token made from what identifies one append: the same turn appended at the
/// same position of the same session gets the same token, so a retried CreateEvent whose first
/// attempt was stored is not stored again.
fn client_token<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let hex: String = hasher.finalize()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    // Shaped as a UUID, the form the service's own clients send.
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
