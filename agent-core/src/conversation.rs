//! A session's history and the sliding window that bounds it.
//!
//! While a store holds a [`Checkpoint`] of a history (for the length of a turn), the history only
//! grows at its end and the window only moves its logical start; nothing is dropped until the
//! turn is kept ([`Conversation::keep`]). So a store can undo a turn in place by going back to
//! the checkpoint — no copy of the history per invocation. Without a checkpoint the window drops
//! trimmed messages at once.

use crate::message::Message;

/// The messages of one conversation, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    messages: Vec<Message>,
    /// Messages before this index are outside the window: no longer part of the conversation,
    /// kept only until the turn that trimmed them is kept.
    start: usize,
    /// Checkpoints open (a store's turn, an agent's invocation inside it): while any is,
    /// trimmed messages are kept for a rollback.
    checkpoints: u32,
}

/// Where a conversation stood, to go back to if a turn is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    end: usize,
    start: usize,
}

impl Conversation {
    /// An empty conversation.
    pub fn new() -> Self {
        Self::default()
    }

    /// The messages, oldest first.
    pub fn messages(&self) -> &[Message] {
        &self.messages[self.start..]
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.messages.len() - self.start
    }

    /// True when nothing has been said yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a message.
    pub fn push(&mut self, message: Message) {
        self.messages.push(message);
    }

    /// Where the conversation stands now; until [`Conversation::rollback`] or
    /// [`Conversation::keep`], trimmed messages are kept so the checkpoint can be restored.
    pub(crate) fn checkpoint(&mut self) -> Checkpoint {
        self.checkpoints += 1;
        Checkpoint {
            end: self.messages.len(),
            start: self.start,
        }
    }

    /// Undoes everything since `checkpoint`: messages appended and window moves alike.
    pub(crate) fn rollback(&mut self, checkpoint: Checkpoint) {
        self.messages.truncate(checkpoint.end);
        self.start = checkpoint.start.min(self.messages.len());
        self.checkpoints = self.checkpoints.saturating_sub(1);
    }

    /// Closes the innermost checkpoint keeping everything since; an outer checkpoint can still
    /// roll back, and once none is open what the window trimmed is dropped for good.
    pub(crate) fn keep(&mut self) {
        self.checkpoints = self.checkpoints.saturating_sub(1);
        self.trim_front(0);
    }

    /// Drops the oldest turns, keeping every message from `from` on and at most half of those
    /// before it (whole turns: a tool use never without its result). False when no earlier turn
    /// can go.
    pub(crate) fn drop_oldest_turns(&mut self, from: usize) -> bool {
        let messages = self.messages();
        let keep_before = from / 2;
        let cut = (from - keep_before..=from)
            .find(|&index| index > 0 && messages.get(index).is_some_and(Message::starts_turn));
        let Some(cut) = cut else {
            return false;
        };
        self.trim_front(cut);
        true
    }

    /// What changed since `checkpoint`: how many of the oldest messages the window dropped, and
    /// the messages appended.
    pub(crate) fn changes_since(&self, checkpoint: Checkpoint) -> (usize, &[Message]) {
        let appended = self.messages.get(checkpoint.end..).unwrap_or_default();
        (self.start.saturating_sub(checkpoint.start), appended)
    }

    /// Moves the start past `count` more messages; they are dropped for good at once unless a
    /// checkpoint may still need them.
    fn trim_front(&mut self, count: usize) {
        self.start += count;
        if self.checkpoints == 0 {
            self.messages.drain(..self.start);
            self.start = 0;
        }
    }
}

impl PartialEq for Conversation {
    /// Two conversations are equal when they hold the same messages, whatever was trimmed.
    fn eq(&self, other: &Self) -> bool {
        self.messages() == other.messages()
    }
}

impl From<Vec<Message>> for Conversation {
    fn from(messages: Vec<Message>) -> Self {
        Self {
            messages,
            start: 0,
            checkpoints: 0,
        }
    }
}

/// Keeps a conversation to at most `max_messages`, dropping the oldest whole turns.
///
/// The history always starts at a user message that opens a turn, so a tool use is never kept
/// without its result nor a result without its use. When no such start lies within the window
/// (one turn with many tool rounds), the latest turn is kept whole, even if that is longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    /// Messages kept at most; older whole turns are dropped.
    pub max_messages: usize,
}

impl Default for SlidingWindow {
    /// 40 messages, as Strands' `SlidingWindowConversationManager`.
    fn default() -> Self {
        Self { max_messages: 40 }
    }
}

impl SlidingWindow {
    /// Moves `conversation`'s start past its oldest turns; they are dropped for good once no
    /// checkpoint of a turn in progress is open.
    pub fn apply(&self, conversation: &mut Conversation) {
        let messages = conversation.messages();
        let len = messages.len();
        if len <= self.max_messages {
            return;
        }
        let earliest = len - self.max_messages;
        let cut = (earliest..len)
            .find(|&index| messages[index].starts_turn())
            .or_else(|| {
                (0..earliest)
                    .rev()
                    .find(|&index| messages[index].starts_turn())
            })
            .unwrap_or(0);
        conversation.trim_front(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ContentBlock, Role, ToolResult, ToolUse};
    use serde_json::json;

    fn tool_round(id: &str) -> [Message; 2] {
        [
            Message {
                role: Role::Assistant,
                content: vec![ContentBlock::ToolUse(ToolUse {
                    tool_use_id: id.into(),
                    name: "weather".into(),
                    input: json!({}),
                })],
            },
            Message {
                role: Role::User,
                content: vec![ContentBlock::ToolResult(ToolResult::success(id, "sunny"))],
            },
        ]
    }

    /// A turn of `rounds` tool rounds: prompt, (use, result)×rounds, answer.
    fn turn(prompt: &str, rounds: usize) -> Vec<Message> {
        let mut messages = vec![Message::user(prompt)];
        for round in 0..rounds {
            messages.extend(tool_round(&format!("{prompt}-{round}")));
        }
        messages.push(Message::assistant("done"));
        messages
    }

    impl Conversation {
        fn extend_turn(&mut self, messages: Vec<Message>) {
            messages.into_iter().for_each(|message| self.push(message));
        }
    }

    fn assert_valid_start(conversation: &Conversation) {
        assert!(conversation.messages()[0].starts_turn(), "{conversation:?}");
    }

    #[test]
    fn short_history_is_untouched() {
        let mut conversation = Conversation::from(turn("a", 1));
        SlidingWindow { max_messages: 4 }.apply(&mut conversation);
        assert_eq!(conversation.len(), 4);
    }

    #[test]
    fn drops_oldest_turns_whole() {
        let mut messages = turn("a", 1);
        messages.extend(turn("b", 0));
        messages.extend(turn("c", 1));
        let mut conversation = Conversation::from(messages);
        assert_eq!(conversation.len(), 10);

        SlidingWindow { max_messages: 7 }.apply(&mut conversation);
        // Cutting at 3 would start on a tool result; the first turn start inside is "b".
        assert_eq!(conversation.len(), 6);
        assert_eq!(conversation.messages()[0], Message::user("b"));
        assert_valid_start(&conversation);
    }

    #[test]
    fn never_starts_on_a_tool_result_or_assistant() {
        for max in 1..=12 {
            let mut messages = turn("a", 2);
            messages.extend(turn("b", 3));
            let mut conversation = Conversation::from(messages);
            SlidingWindow { max_messages: max }.apply(&mut conversation);
            assert_valid_start(&conversation);
        }
    }

    #[test]
    fn a_rollback_undoes_appends_and_window_moves_until_kept() {
        let mut conversation = Conversation::from(turn("a", 1));
        let before = conversation.clone();
        let checkpoint = conversation.checkpoint();
        let mut unheld = conversation.clone();
        conversation.extend_turn(turn("b", 0));
        SlidingWindow { max_messages: 3 }.apply(&mut conversation);
        assert_eq!(conversation.messages()[0], Message::user("b"));
        let (trimmed, appended) = conversation.changes_since(checkpoint);
        assert_eq!((trimmed, appended), (4, &turn("b", 0)[..]));
        conversation.rollback(checkpoint);
        assert_eq!(conversation, before);
        assert_eq!(conversation.messages().len(), 4);

        unheld.rollback(checkpoint);
        unheld.extend_turn(turn("b", 0));
        SlidingWindow { max_messages: 3 }.apply(&mut unheld);
        assert_eq!(
            unheld.messages,
            turn("b", 0),
            "without a checkpoint, dropped at once"
        );

        conversation.checkpoint();
        conversation.extend_turn(turn("b", 0));
        SlidingWindow { max_messages: 3 }.apply(&mut conversation);
        assert_eq!(conversation.messages.len(), 6, "kept for a rollback");
        conversation.keep();
        assert_eq!(
            conversation.messages,
            turn("b", 0),
            "trimmed messages are gone"
        );
    }

    #[test]
    fn overflow_trimming_drops_whole_old_turns_and_keeps_the_current_one() {
        let mut messages = turn("a", 1);
        messages.extend(turn("b", 2));
        messages.extend(turn("c", 0));
        let current = messages.len();
        messages.push(Message::user("now"));
        let mut conversation = Conversation::from(messages);
        assert!(conversation.drop_oldest_turns(current));
        assert_valid_start(&conversation);
        assert_eq!(conversation.messages()[0], Message::user("c"));
        assert_eq!(conversation.messages().last(), Some(&Message::user("now")));

        let mut alone = Conversation::from(vec![Message::user("now")]);
        assert!(
            !alone.drop_oldest_turns(0),
            "nothing before the current turn"
        );
    }

    #[test]
    fn keeps_the_latest_turn_whole_when_it_alone_exceeds_the_window() {
        let mut messages = turn("a", 0);
        messages.extend(turn("b", 5));
        let mut conversation = Conversation::from(messages);
        SlidingWindow { max_messages: 4 }.apply(&mut conversation);
        assert_eq!(conversation.len(), 12);
        assert_eq!(conversation.messages()[0], Message::user("b"));
    }
}
