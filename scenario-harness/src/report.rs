//! The outcome of a run: transcript, Bedrock requests, checks, and how they are shown.

use std::collections::HashMap;
use std::fmt::Write;

use agent_core::replay::Unmatched;
use agent_core::replay::wire::ConverseBody;
use agent_core::{ContentBlock, Message, Role};
use serde_json::{Value, json};

use crate::runner::StepOutcome;
use crate::script::Script;

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was seen, when it did not.
    pub detail: String,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// What it shows.
    pub description: String,
    /// Each step's answer.
    pub steps: Vec<StepOutcome>,
    /// The Bedrock requests, when the run served Bedrock itself.
    pub bedrock_requests: Option<Vec<ConverseBody>>,
    /// Requests no recording answered.
    pub unmatched: Vec<Unmatched>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

/// Whether ids that change from run to run are shown or replaced by stable labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ids {
    /// As they are.
    Shown,
    /// Replaced by placeholders, for snapshots.
    Redacted,
}

impl Report {
    /// Builds the report and runs every check on it.
    pub fn new(
        script: &Script,
        steps: Vec<StepOutcome>,
        bedrock_requests: Option<Vec<ConverseBody>>,
        unmatched: Vec<Unmatched>,
    ) -> Self {
        let mut report = Self {
            scenario: script.name.clone(),
            description: script.description.clone(),
            steps,
            bedrock_requests,
            unmatched,
            checks: Vec::new(),
        };
        report.checks = report.run_checks(script);
        report
    }

    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// The distinct session ids of the run, in the order the sessions ran.
    pub fn session_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for step in &self.steps {
            if !ids.contains(&step.session_id.as_str()) {
                ids.push(&step.session_id);
            }
        }
        ids
    }

    /// The Bedrock requests that belong to the session with this id.
    pub fn requests_of(&self, session_id: &str) -> Vec<&ConverseBody> {
        self.bedrock_requests
            .iter()
            .flatten()
            .filter(|request| request_text(request).contains(session_id))
            .collect()
    }

    fn run_checks(&self, script: &Script) -> Vec<Check> {
        let mut checks: Vec<Check> = self
            .steps
            .iter()
            .map(|step| Check {
                name: format!(
                    "{} · step {}: «{}»",
                    step.session_label, step.step, step.prompt
                ),
                passed: step.passed(),
                detail: if step.passed() {
                    format!("{}, answer as expected", step.status)
                } else {
                    step.problems.join("; ")
                },
            })
            .collect();
        if checks.len() != script.step_count() {
            checks.push(Check {
                name: "every step ran".into(),
                passed: false,
                detail: format!("{} of {} steps ran", checks.len(), script.step_count()),
            });
        }
        let Some(requests) = &self.bedrock_requests else {
            return checks;
        };
        checks.push(Check {
            name: "every Bedrock request matched its recording".into(),
            passed: self.unmatched.is_empty(),
            detail: if self.unmatched.is_empty() {
                format!("{} requests", requests.len())
            } else {
                self.unmatched
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            },
        });
        let ids = self.session_ids();
        let mixed: Vec<usize> = requests
            .iter()
            .enumerate()
            .filter(|(_, request)| {
                let text = request_text(request);
                ids.iter().filter(|id| text.contains(*id)).count() > 1
            })
            .map(|(index, _)| index + 1)
            .collect();
        checks.push(Check {
            name: "no Bedrock request carries another session's history".into(),
            passed: mixed.is_empty(),
            detail: if mixed.is_empty() {
                format!("each of {} requests names one session id", requests.len())
            } else {
                format!("requests {mixed:?} name more than one session id")
            },
        });
        for id in &ids {
            let label = self.label_of(id);
            let first = self
                .requests_of(id)
                .first()
                .map(|request| request.messages.len());
            checks.push(Check {
                name: format!("{label} starts with only its own prompt"),
                passed: first == Some(1),
                detail: match first {
                    Some(1) => "first Bedrock request has 1 message".into(),
                    Some(count) => format!("first Bedrock request has {count} messages"),
                    None => "no Bedrock request names this session".into(),
                },
            });
        }
        checks
    }

    fn label_of(&self, session_id: &str) -> &str {
        self.steps
            .iter()
            .find(|step| step.session_id == session_id)
            .map_or("?", |step| step.session_label.as_str())
    }

    /// Replaces each session id by `[session N]`.
    pub fn redact(&self, text: &str) -> String {
        self.session_ids()
            .iter()
            .enumerate()
            .fold(text.to_owned(), |text, (index, id)| {
                text.replace(id, &format!("[session {}]", index + 1))
            })
    }

    /// The transcript in the tutorial's style, then the checks and the verdict.
    pub fn render(&self, ids: Ids) -> String {
        let show = |text: &str| match ids {
            Ids::Shown => text.to_owned(),
            Ids::Redacted => self.redact(text),
        };
        let mut out = String::new();
        let _ = writeln!(out, "Scenario «{}»: {}", self.scenario, self.description);
        let mut sessions_seen = 0;
        for step in &self.steps {
            let _ = writeln!(out);
            if step.new_session {
                sessions_seen += 1;
                let marker = if sessions_seen == 1 { "📋" } else { "🆕" };
                let _ = writeln!(
                    out,
                    "{marker} {}: new session {}",
                    step.session_label,
                    show(&step.session_id)
                );
                let name = step.user_name().unwrap_or("unknown user");
                let _ = writeln!(out, "👤 user {} ({name})", step.user_id);
            } else {
                let _ = writeln!(
                    out,
                    "🔄 {}: continuing session {}",
                    step.session_label,
                    show(&step.session_id)
                );
            }
            let _ = writeln!(out, "❓ {}", step.prompt);
            let marker = if step.status == 200 { "💬" } else { "❌" };
            let status = if step.status == 200 {
                String::new()
            } else {
                format!("[{}] ", step.status)
            };
            let _ = writeln!(out, "{marker} {status}{}", show(&step.answer));
        }
        let _ = writeln!(out, "\nChecks");
        for check in &self.checks {
            let marker = if check.passed { "✅" } else { "❌" };
            let _ = writeln!(out, "  {marker} {} — {}", check.name, show(&check.detail));
        }
        let failed = self.checks.iter().filter(|check| !check.passed).count();
        let calls = self
            .bedrock_requests
            .as_ref()
            .map(|requests| format!(", {} Bedrock calls", requests.len()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{} {} of {} checks passed ({} invocations{calls})",
            if failed == 0 {
                "✅ PASS:"
            } else {
                "❌ FAIL:"
            },
            self.checks.len() - failed,
            self.checks.len(),
            self.steps.len()
        );
        out
    }

    /// The Bedrock requests in order, with session and tool-use ids replaced by stable labels;
    /// the system prompt and tool specs (the same in every request) shown once.
    pub fn redacted_requests(&self) -> Value {
        let requests = self.bedrock_requests.as_deref().unwrap_or_default();
        let mut tool_use_ids: HashMap<String, String> = HashMap::new();
        let mut label_tool_use = |id: &str| {
            let next = tool_use_ids.len() + 1;
            tool_use_ids
                .entry(id.to_owned())
                .or_insert_with(|| format!("[tool use {next}]"))
                .clone()
        };
        let listed: Vec<Value> = requests
            .iter()
            .enumerate()
            .map(|(index, request)| {
                let messages: Vec<Value> = request
                    .messages
                    .iter()
                    .map(|message| {
                        let content: Vec<Value> = message
                            .content
                            .iter()
                            .map(|block| match block {
                                ContentBlock::Text(text) => json!({"text": self.redact(text)}),
                                ContentBlock::ToolUse(tool_use) => json!({"toolUse": {
                                    "toolUseId": label_tool_use(&tool_use.tool_use_id),
                                    "name": tool_use.name,
                                    "input": tool_use.input,
                                }}),
                                ContentBlock::ToolResult(result) => json!({"toolResult": {
                                    "toolUseId": label_tool_use(&result.tool_use_id),
                                    "status": result.status,
                                    "text": result.text(),
                                }}),
                            })
                            .collect();
                        json!({"role": message.role, "content": content})
                    })
                    .collect();
                json!({"request": index + 1, "messages": messages})
            })
            .collect();
        let first = requests.first();
        json!({
            "system": first.map(|request| &request.system),
            "toolConfig": first.and_then(|request| request.tool_config.as_ref()),
            "requests": listed,
        })
    }
}

/// All user and assistant text of a request, for finding which sessions it names.
fn request_text(request: &ConverseBody) -> String {
    request
        .messages
        .iter()
        .filter(|message| message.role == Role::User)
        .map(Message::text)
        .collect::<Vec<_>>()
        .join("\n")
}
