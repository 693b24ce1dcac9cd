//! The rollback that makes a turn all-or-nothing: whatever an invocation appended to its
//! conversation is undone unless the invocation commits.

use crate::conversation::{Checkpoint, Conversation};

/// Undoes everything appended to a conversation unless committed — also when the invocation's
/// future is dropped part-way (a client that hung up), so no half-written turn survives.
pub(crate) struct Transaction<'a> {
    pub(super) conversation: &'a mut Conversation,
    checkpoint: Checkpoint,
    committed: bool,
}

impl<'a> Transaction<'a> {
    pub(crate) fn begin(conversation: &'a mut Conversation) -> Self {
        let checkpoint = conversation.checkpoint();
        Self {
            conversation,
            checkpoint,
            committed: false,
        }
    }

    pub(crate) fn commit(mut self) {
        self.conversation.keep();
        self.committed = true;
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.conversation.rollback(self.checkpoint);
        }
    }
}
