//! Bedrock on wiremock playing one tool round per turn — the first Converse call of a turn asks
//! for the given tool uses, the call that carries their results gets the final answer — and
//! readers of what the runtime sent it: the tools offered and the tool results.

use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

/// The script: these tool uses, then this answer.
pub struct ToolRound {
    uses: Vec<Value>,
    answer: String,
}

impl ToolRound {
    /// Asks for `(tool use id, tool name, input)` each, then answers `answer`.
    pub fn new(uses: &[(&str, &str, Value)], answer: &str) -> Self {
        Self {
            uses: uses
                .iter()
                .map(|(id, name, input)| {
                    json!({"toolUse": {"toolUseId": id, "name": name, "input": input}})
                })
                .collect(),
            answer: answer.to_owned(),
        }
    }
}

impl Respond for ToolRound {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).expect("a Converse request");
        let (content, stop) = if tool_results(&body).is_empty() {
            (Value::Array(self.uses.clone()), "tool_use")
        } else {
            (json!([{"text": self.answer}]), "end_turn")
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
        }))
    }
}

/// Every Converse request `bedrock` received, as JSON.
pub async fn converse_requests(bedrock: &MockServer) -> Vec<Value> {
    bedrock
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|request| serde_json::from_slice(&request.body).expect("a Converse request"))
        .collect()
}

/// The names of the tools a request offers, in order.
pub fn offered_tools(request: &Value) -> Vec<&str> {
    request["toolConfig"]["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|tool| tool["toolSpec"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The input schema a request gives the tool `name`.
pub fn offered_schema<'a>(request: &'a Value, name: &str) -> &'a Value {
    request["toolConfig"]["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|tool| tool["toolSpec"]["name"] == name))
        .map(|tool| &tool["toolSpec"]["inputSchema"]["json"])
        .unwrap_or_else(|| panic!("`{name}` is not offered: {request}"))
}

/// The tool results of a request's last message, in order.
pub fn tool_results(request: &Value) -> Vec<&Value> {
    request["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|last| last["content"].as_array())
        .map(|content| {
            content
                .iter()
                .filter_map(|block| block.get("toolResult"))
                .collect()
        })
        .unwrap_or_default()
}

/// The result for tool use `id` in a request's last message.
pub fn tool_result<'a>(request: &'a Value, id: &str) -> &'a Value {
    tool_results(request)
        .into_iter()
        .find(|result| result["toolUseId"] == id)
        .unwrap_or_else(|| panic!("no result for {id}: {request}"))
}
