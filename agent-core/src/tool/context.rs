//! What a tool call learns from the runtime, never from the model's input: whose session it runs
//! in, the request behind it, its own tool use id, the session's state, and a signal that the
//! invocation ended early (the client went away, the deadline passed, the turn failed).
//!
//! Every [`Tool::call`](crate::Tool::call) is given one; a tool that needs none of it ignores
//! it.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use super::shared_state::{SharedState, Writes};
use crate::caller::VerifiedCaller;
use crate::request::RequestInfo;
use crate::session::{SessionId, SessionKey, SessionOwner, SessionState};

/// The context of one tool call.
#[derive(Clone)]
pub struct ToolContext {
    turn: TurnScope,
    tool_use_id: String,
    writes: Writes,
}

impl ToolContext {
    /// A context outside any session — no session, an empty request, a state of its own — for
    /// calling a tool directly.
    pub fn detached(tool_use_id: impl Into<String>) -> Self {
        TurnScope::new(
            None,
            Arc::default(),
            SharedState::new(SessionState::default()),
        )
        .for_call(tool_use_id.into())
    }

    /// The runtime session the call runs in; `None` outside a session.
    pub fn session_id(&self) -> Option<&SessionId> {
        self.turn.session.as_ref().map(|key| &key.id)
    }

    /// Whose session it is — the user, as the stores scope sessions; `None` outside a session.
    pub fn owner(&self) -> Option<&SessionOwner> {
        self.turn.session.as_ref().map(|key| &key.owner)
    }

    /// The runtime request id of the invocation.
    pub fn request_id(&self) -> &str {
        &self.turn.request.request_id
    }

    /// The headers the runtime forwarded to the agent.
    pub fn headers(&self) -> &BTreeMap<String, String> {
        &self.turn.request.headers
    }

    /// AgentCore Identity's workload access token, when the request carried one.
    pub fn workload_access_token(&self) -> Option<&str> {
        self.turn.request.workload_access_token.as_deref()
    }

    /// The caller whose token the runtime verified, with its claims; `None` when the runtime
    /// does not verify tokens. Act for this user, never for one the model's input names.
    pub fn caller(&self) -> Option<&VerifiedCaller> {
        self.turn.request.caller.as_ref()
    }

    /// This tool use's id, as the model named it.
    pub fn tool_use_id(&self) -> &str {
        &self.tool_use_id
    }

    /// Reads the session's state.
    pub fn state<R>(&self, read: impl FnOnce(&SessionState) -> R) -> R {
        self.turn.state.read(read)
    }

    /// Changes the session's state: `write` runs alone, so tool calls running in parallel never
    /// lose each other's writes. The turn stores the state only if it commits; a `write` that
    /// panics changes nothing, and the writes of a tool call that panics are undone.
    pub fn update_state<R>(&self, write: impl FnOnce(&mut SessionState) -> R) -> R {
        self.turn.state.update(&self.writes, write)
    }

    /// Completes once the invocation has ended early — the client went away, the deadline
    /// passed, or the turn failed — so a tool can stop work it started.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.turn.cancellation.cancelled()
    }

    /// True once [`ToolContext::cancelled`] has completed.
    pub fn is_cancelled(&self) -> bool {
        self.turn.cancellation.is_cancelled()
    }

    /// Undoes this call's writes to the state, where no later write built on them.
    pub(crate) fn undo_writes(&self) {
        self.turn.state.undo(&self.writes);
    }
}

/// What every tool call of one turn shares.
#[derive(Clone)]
pub(crate) struct TurnScope {
    session: Option<SessionKey>,
    request: Arc<RequestInfo>,
    state: SharedState,
    cancellation: CancellationToken,
}

impl TurnScope {
    pub(crate) fn new(
        session: Option<SessionKey>,
        request: Arc<RequestInfo>,
        state: SharedState,
    ) -> Self {
        Self {
            session,
            request,
            state,
            cancellation: CancellationToken::new(),
        }
    }

    /// The context of one tool call in the turn.
    pub(crate) fn for_call(&self, tool_use_id: String) -> ToolContext {
        ToolContext {
            turn: self.clone(),
            tool_use_id,
            writes: Writes::default(),
        }
    }

    /// The session the turn runs in, if any.
    pub(crate) fn session(&self) -> Option<&SessionKey> {
        self.session.as_ref()
    }

    /// The signal the turn's tools wait on.
    pub(crate) fn cancellation(&self) -> &CancellationToken {
        &self.cancellation
    }
}
