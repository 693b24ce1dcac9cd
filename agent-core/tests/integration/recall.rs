//! Long-term memory in the agent loop, through a [`Recall`] of the test's own: memories reach
//! the model's copy of the turn's prompt (also across tool rounds), never the history; a recall
//! that fails or outlasts its timeout leaves the turn without them.

use std::sync::Arc;
use std::time::Duration;

use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::{
    Agent, ContentBlock, Conversation, Message, Recall, RecallError, RecallQuery, Tool,
    ToolContext, ToolError, ToolOutput, ToolSpec,
};
use async_trait::async_trait;
use serde_json::{Value, json};

/// Recalls what it was made with, after `delay`; or fails.
struct FixedRecall {
    memories: Result<Vec<String>, RecallError>,
    delay: Duration,
}

#[async_trait]
impl Recall for FixedRecall {
    async fn recall(&self, query: RecallQuery<'_>) -> Result<Vec<String>, RecallError> {
        assert!(query.session.is_none(), "an invocation outside a session");
        tokio::time::sleep(self.delay).await;
        self.memories.clone()
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(100)
    }
}

impl std::fmt::Display for FixedRecall {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "fixed".into() };
        formatter.write_str(&text)
    }
}

struct Echo;

#[async_trait]
impl Tool for Echo {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "echo".into(),
            description: "Echoes.".into(),
            input_schema: json!({"type": "object"}),
        }
    }

    async fn call(&self, _input: Value, _context: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text("echoed"))
    }
}

/// Uses the tool on the first call of a turn, then answers.
fn model() -> ScriptedModel {
    ScriptedModel::new(|messages: &[Message]| {
        if messages.last().unwrap().tool_results().next().is_some() {
            Ok(text_response("done"))
        } else {
            Ok(tool_use_response(&[(
                "echo",
                &format!("t{}", messages.len()),
                json!({}),
            )]))
        }
    })
}

fn agent(model: &ScriptedModel, recall: FixedRecall) -> Agent {
    Agent::builder(Arc::new(model.clone()))
        .tool(Arc::new(Echo))
        .unwrap()
        .recall(Arc::new(recall))
        .build()
}

#[tokio::test(start_paused = true)]
async fn memories_reach_every_model_call_of_the_turn_and_not_the_history() {
    let model = model();
    let recall = FixedRecall {
        memories: Ok(vec!["likes tea".into(), "lives in Kyoto".into()]),
        delay: Duration::ZERO,
    };
    let agent = agent(&model, recall);
    let mut conversation = Conversation::new();
    agent.invoke(&mut conversation, "first").await.unwrap();
    agent.invoke(&mut conversation, "second").await.unwrap();

    let context =
        ContentBlock::Text("<user_context>likes tea\nlives in Kyoto</user_context>".into());
    let requests = model.requests();
    assert_eq!(requests.len(), 4, "two turns of two calls");
    assert_eq!(
        requests[0][0].content,
        [context.clone(), ContentBlock::Text("first".into())]
    );
    assert_eq!(
        requests[1][0].content[0], context,
        "the tool round's call too"
    );
    assert_eq!(
        requests[2][0],
        Message::user("first"),
        "an earlier prompt as the history has it"
    );
    assert_eq!(requests[2][4].content[0], context);
    assert!(
        conversation
            .messages()
            .iter()
            .all(|message| !message.text().contains("user_context")),
        "{:?}",
        conversation.messages()
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_or_slow_recall_leaves_the_turn_without_memories() {
    for recall in [
        FixedRecall {
            memories: Err(RecallError("unreachable".into())),
            delay: Duration::ZERO,
        },
        FixedRecall {
            memories: Ok(vec!["too late".into()]),
            delay: Duration::from_secs(60),
        },
        FixedRecall {
            memories: Ok(Vec::new()),
            delay: Duration::ZERO,
        },
    ] {
        let model = model();
        let agent = agent(&model, recall);
        let mut conversation = Conversation::new();
        let reply = agent.invoke(&mut conversation, "hello").await.unwrap();
        assert_eq!(reply.text, "done");
        assert_eq!(model.requests()[0][0], Message::user("hello"));
    }
}
