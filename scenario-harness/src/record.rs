//! `--record`: runs a script against a live model and writes its calls as recordings in the
//! fixture format, so a scenario can be re-recorded after its prompts change. With the agent on
//! the model's streaming form (the default) each recording also keeps the stream: the text
//! pieces as they arrived, each tool use's input in one piece.

use agent_core::sync::lock;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use agent_core::replay::frames::{StreamFrame, frames_as_received};
use agent_core::replay::wire::ConverseResponseBody;
use agent_core::replay::{Expectation, RECORDINGS_DIR, Recording, RequestSummary};
use agent_core::{
    ConverseRequest, Message, Model, ModelError, ModelEvent, ModelEvents, ModelResponse,
};
use anyhow::Context;
use async_trait::async_trait;
use futures::StreamExt;

use crate::local::{clock_of, tutorial_app, with_server};
use crate::report::Report;
use crate::runner::{Transport, drive};
use crate::script::{SCRIPT_FILE, Script};

/// One model call as it happened.
#[derive(Debug, Clone)]
struct Call {
    session_label: String,
    messages: Vec<Message>,
    response: ModelResponse,
    latency_ms: u64,
    /// The call as it streamed, when it did.
    stream: Option<Vec<StreamFrame>>,
}

/// Wraps a model and keeps every successful call.
#[derive(Clone)]
pub struct RecordingModel {
    inner: Arc<dyn Model>,
    current_label: Arc<Mutex<String>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl RecordingModel {
    /// Records the calls made to `inner`.
    pub fn new(inner: Arc<dyn Model>) -> Self {
        Self {
            inner,
            current_label: Arc::default(),
            calls: Arc::default(),
        }
    }

    fn set_label(&self, label: &str) {
        *lock(&self.current_label) = label.to_owned();
    }

    /// The calls so far as recordings of `script`, named `NN-<session label>`.
    pub fn recordings(&self, script: &Script) -> Vec<Recording> {
        let calls = lock(&self.calls);
        calls
            .iter()
            .enumerate()
            .map(|(index, call)| Recording {
                name: format!("{:02}-{}", index + 1, slug(&call.session_label)),
                answers: expectation(&call.messages, script),
                response: serde_json::to_value(ConverseResponseBody::from_response(
                    &call.response,
                    call.latency_ms,
                ))
                .unwrap_or_default(),
                stream: call.stream.clone(),
            })
            .collect()
    }
}

#[async_trait]
impl Model for RecordingModel {
    fn model_id(&self) -> Option<&str> {
        self.inner.model_id()
    }

    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        let started = Instant::now();
        let response = self.inner.converse(request).await?;
        self.keep(request.messages, &response, started, None);
        Ok(response)
    }

    fn converse_stream<'a>(&'a self, request: ConverseRequest<'a>) -> ModelEvents<'a> {
        let started = Instant::now();
        let mut deltas = Vec::new();
        self.inner
            .converse_stream(request)
            .inspect(move |event| match event {
                Ok(ModelEvent::TextDelta(text)) => deltas.push(text.clone()),
                Ok(ModelEvent::Completed(response)) => {
                    let stream = frames_as_received(response, &deltas);
                    self.keep(request.messages, response, started, Some(stream));
                }
                Err(_) => {}
            })
            .boxed()
    }
}

impl std::fmt::Display for RecordingModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { format!("recording {}", self.inner) };
        formatter.write_str(&text)
    }
}

impl RecordingModel {
    /// Keeps one successful call.
    fn keep(
        &self,
        messages: &[Message],
        response: &ModelResponse,
        started: Instant,
        stream: Option<Vec<StreamFrame>>,
    ) {
        let call = Call {
            session_label: lock(&self.current_label).clone(),
            messages: messages.to_vec(),
            response: response.clone(),
            latency_ms: started.elapsed().as_millis() as u64,
            stream,
        };
        lock(&self.calls).push(call);
    }
}

/// What a recorded request looked like: each user text is cut after the script prompt it
/// contains, keeping the entrypoint's wording (the user's name) and leaving out the session id.
fn expectation(messages: &[Message], script: &Script) -> Expectation {
    let summary = RequestSummary::of(messages);
    let user_prompts = summary
        .user_texts
        .iter()
        .map(|text| {
            script
                .prompts()
                .filter_map(|prompt| text.find(prompt).map(|at| &text[..at + prompt.len()]))
                .max_by_key(|cut| cut.len())
                .unwrap_or(text)
                .to_owned()
        })
        .collect();
    Expectation {
        message_count: summary.message_count,
        user_prompts,
        tool_results: summary.tool_results,
    }
}

fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Runs `scenario_dir`'s script on `model` and writes `out_dir/script.json` and
/// `out_dir/recordings/*.json`.
pub async fn record(
    scenario_dir: &Path,
    out_dir: &Path,
    model: Arc<dyn Model>,
) -> anyhow::Result<Report> {
    let script = Script::load(scenario_dir)?;
    let recorder = RecordingModel::new(model);
    let app = tutorial_app(Arc::new(recorder.clone()), clock_of(&script)?);
    let steps = with_server(app, |address| {
        let recorder = recorder.clone();
        let script = script.clone();
        async move {
            drive(
                &format!("http://{address}"),
                &script,
                Transport::Json,
                |session, _| recorder.set_label(&session.label),
            )
            .await
        }
    })
    .await?;

    let recordings_dir = out_dir.join(RECORDINGS_DIR);
    std::fs::create_dir_all(&recordings_dir)
        .with_context(|| format!("creating {}", recordings_dir.display()))?;
    for stale in std::fs::read_dir(&recordings_dir)? {
        let path = stale?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    write_json(&out_dir.join(SCRIPT_FILE), &script)?;
    for recording in recorder.recordings(&script) {
        write_json(
            &recordings_dir.join(format!("{}.json", recording.name)),
            &recording,
        )?;
    }
    Ok(Report::new(&script, steps, None, Vec::new()))
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
