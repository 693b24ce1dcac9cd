//! Recorded Bedrock responses, and the one rule that decides which request each answers.
//!
//! A recording pairs a Bedrock Converse response with what the request it answers must look
//! like: how many messages the history holds, the user prompts in it (each as a piece of the
//! user's text, since the text also carries a session id) and the tool results in it. A request
//! is answered only by a recording whose expectation it meets, so history that leaked in from
//! another session, or was lost within one, is caught at the first model call it touches.
//!
//! The scenario harness serves recordings through wiremock; the server's `--replay` mode serves
//! them in process through [`ReplayModel`]. Both call [`RecordingSet::find`].

#[cfg(feature = "bedrock")]
pub mod event_stream;
pub mod frames;
pub mod wire;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use memchr::memmem::Finder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use self::frames::{StreamFrame, frames_for};
use self::wire::ConverseResponseBody;
use crate::message::{Message, Role};
use crate::model::{ConverseRequest, Model, ModelError, ModelResponse};

/// The folder of a scenario that holds its recordings.
pub const RECORDINGS_DIR: &str = "recordings";

/// What the history of a request must be for a recording to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// Messages in the request.
    pub message_count: usize,
    /// Every user prompt in the history, oldest first: each must occur in its user message.
    pub user_prompts: Vec<String>,
    /// Every tool result in the history, oldest first, as text.
    pub tool_results: Vec<String>,
}

/// The parts of a request that recordings are matched on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestSummary {
    /// Messages in the request's history.
    pub message_count: usize,
    /// The text of each user message (prompts and templates).
    pub user_texts: Vec<String>,
    /// The text of each tool result.
    pub tool_results: Vec<String>,
}

impl RequestSummary {
    /// Summarises a request's messages.
    pub fn of(messages: &[Message]) -> Self {
        Self {
            message_count: messages.len(),
            user_texts: messages
                .iter()
                .filter(|message| message.role == Role::User && message.starts_turn())
                .map(Message::text)
                .collect(),
            tool_results: messages
                .iter()
                .flat_map(Message::tool_results)
                .map(|result| result.text())
                .collect(),
        }
    }
}

impl Expectation {
    /// How many parts of `request` differ from the expectation; 0 is a match (the rule
    /// [`RecordingSet::find`] applies with its prebuilt searchers).
    fn mismatches(&self, request: &RequestSummary) -> usize {
        let count = usize::from(self.message_count != request.message_count);
        let prompts = self.user_prompts.len().abs_diff(request.user_texts.len())
            + self
                .user_prompts
                .iter()
                .zip(&request.user_texts)
                .filter(|(prompt, text)| !text.contains(prompt.as_str()))
                .count();
        let results = self.tool_results.len().abs_diff(request.tool_results.len())
            + self
                .tool_results
                .iter()
                .zip(&request.tool_results)
                .filter(|(expected, actual)| expected != actual)
                .count();
        count + prompts + results
    }

    /// How far `request` is from this expectation, for naming the nearest recording: a
    /// recording for the same latest prompt comes first, then the fewest differences.
    fn distance(&self, request: &RequestSummary) -> usize {
        let same_question = match (self.user_prompts.last(), request.user_texts.last()) {
            (Some(prompt), Some(text)) => text.contains(prompt.as_str()),
            _ => false,
        };
        self.mismatches(request) + if same_question { 0 } else { 1_000 }
    }
}

/// One recorded model call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The file stem it was loaded from; not part of the file.
    #[serde(skip)]
    pub name: String,
    /// The request it answers.
    pub answers: Expectation,
    /// Bedrock's Converse response body, served as it is.
    pub response: Value,
    /// The same answer as ConverseStream sends it, when recorded: the stream's messages in
    /// order. Without it, a stream is derived from `response`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Vec<StreamFrame>>,
}

impl Recording {
    /// The response as the model answer it stands for.
    pub fn model_response(&self) -> Result<ModelResponse, serde_json::Error> {
        serde_json::from_value::<ConverseResponseBody>(self.response.clone()).map(Into::into)
    }
}

/// Why recordings could not be loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A file is not a recording.
    #[error("{path} is not a recording: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// A folder holds none.
    #[error("{0} holds no recordings (*.json)")]
    Empty(PathBuf),
    /// A recording's response is not a Converse response.
    #[error("recording `{name}` does not hold a Converse response: {source}")]
    Response {
        /// The recording's name.
        name: String,
        /// What is wrong with its response.
        source: serde_json::Error,
    },
}

/// A request no recording answers, with the recording it came closest to.
#[derive(Debug, Clone, Error, PartialEq)]
pub struct Unmatched {
    /// What the unmatched request held.
    pub request: RequestSummary,
    /// The recording closest to it, by name, and what that one expects.
    pub nearest: Option<(String, Expectation)>,
}

impl fmt::Display for Unmatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "no recording answers this request")?;
        writeln!(f, "  request: {}", to_json(&self.request))?;
        match &self.nearest {
            Some((name, expectation)) => {
                write!(
                    f,
                    "  nearest recording `{name}` answers: {}",
                    to_json(expectation)
                )
            }
            None => write!(f, "  there are no recordings"),
        }
    }
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| format!("<{error}>"))
}

/// The recordings of one or more scenarios, in file-name order, each response parsed once.
#[derive(Debug, Clone, Default)]
pub struct RecordingSet {
    recordings: Vec<Recording>,
    /// `recordings[i]`'s response as the model answer it stands for.
    responses: Vec<ModelResponse>,
    /// `recordings[i]`'s user prompts, each as a searcher built once: building one costs more
    /// than the search itself, and a replay server does the search on every model call.
    prompt_finders: Vec<Vec<Finder<'static>>>,
}

impl RecordingSet {
    /// Wraps recordings already in memory, checking that each response parses.
    pub fn new(recordings: Vec<Recording>) -> Result<Self, LoadError> {
        let responses = recordings
            .iter()
            .map(|recording| {
                recording
                    .model_response()
                    .map_err(|source| LoadError::Response {
                        name: recording.name.clone(),
                        source,
                    })
            })
            .collect::<Result<_, _>>()?;
        let prompt_finders = recordings.iter().map(prompt_finders).collect();
        Ok(Self {
            recordings,
            responses,
            prompt_finders,
        })
    }

    /// Loads `<scenario>/recordings/*.json`, checking that each response parses.
    pub fn load(scenario_dir: &Path) -> Result<Self, LoadError> {
        let dir = scenario_dir.join(RECORDINGS_DIR);
        let read_error = |source| LoadError::Read {
            path: dir.clone(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(read_error)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()
            .map_err(read_error)?;
        paths.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
        paths.sort();
        if paths.is_empty() {
            return Err(LoadError::Empty(dir));
        }
        let recordings = paths
            .into_iter()
            .map(|path| load_recording(&path))
            .collect::<Result<_, _>>()?;
        Self::new(recordings)
    }

    /// Adds the recordings of another set after these.
    pub fn extend(&mut self, other: RecordingSet) {
        self.recordings.extend(other.recordings);
        self.responses.extend(other.responses);
        self.prompt_finders.extend(other.prompt_finders);
    }

    /// All recordings.
    pub fn recordings(&self) -> &[Recording] {
        &self.recordings
    }

    /// The first recording that answers a request with these messages.
    pub fn find(&self, messages: &[Message]) -> Result<&Recording, Box<Unmatched>> {
        self.position(messages).map(|index| &self.recordings[index])
    }

    /// The ConverseStream messages answering a request with these messages: the recorded
    /// stream, or one derived from the recorded response in pieces of eight characters.
    pub fn stream_of(&self, messages: &[Message]) -> Result<Vec<StreamFrame>, Box<Unmatched>> {
        let index = self.position(messages)?;
        Ok(self.recordings[index]
            .stream
            .clone()
            .unwrap_or_else(|| frames_for(&self.responses[index], 8)))
    }

    /// The recorded model answer to a request with these messages.
    pub fn answer(&self, messages: &[Message]) -> Result<&ModelResponse, Box<Unmatched>> {
        self.position(messages).map(|index| &self.responses[index])
    }

    fn position(&self, messages: &[Message]) -> Result<usize, Box<Unmatched>> {
        let request = RequestSummary::of(messages);
        let answers = |(recording, finders): (&Recording, &Vec<Finder>)| {
            let expected = &recording.answers;
            expected.message_count == request.message_count
                && finders.len() == request.user_texts.len()
                && expected.tool_results == request.tool_results
                && finders
                    .iter()
                    .zip(&request.user_texts)
                    .all(|(prompt, text)| prompt.find(text.as_bytes()).is_some())
        };
        if let Some(found) = self
            .recordings
            .iter()
            .zip(&self.prompt_finders)
            .position(answers)
        {
            return Ok(found);
        }
        let nearest = self
            .recordings
            .iter()
            .min_by_key(|recording| recording.answers.distance(&request))
            .map(|recording| (recording.name.clone(), recording.answers.clone()));
        Err(Box::new(Unmatched { request, nearest }))
    }
}

/// A searcher for each of `recording`'s user prompts, in order.
fn prompt_finders(recording: &Recording) -> Vec<Finder<'static>> {
    recording
        .answers
        .user_prompts
        .iter()
        .map(|prompt| Finder::new(prompt.as_bytes()).into_owned())
        .collect()
}

fn load_recording(path: &Path) -> Result<Recording, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |source| LoadError::Parse {
        path: path.to_owned(),
        source,
    };
    let mut recording: Recording = serde_json::from_str(&text).map_err(parse_error)?;
    recording.name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(recording)
}

/// A model that answers from recordings, in process: the server's offline mode.
#[derive(Clone)]
pub struct ReplayModel {
    recordings: Arc<RecordingSet>,
    model_id: Option<String>,
}

impl ReplayModel {
    /// Answers from `recordings`.
    pub fn new(recordings: RecordingSet) -> Self {
        Self {
            recordings: Arc::new(recordings),
            model_id: None,
        }
    }

    /// Stands in for the model `model_id`, as its traces say.
    pub fn for_model(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = Some(model_id.into());
        self
    }
}

#[async_trait]
impl Model for ReplayModel {
    fn model_id(&self) -> Option<&str> {
        self.model_id.as_deref()
    }

    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        self.recordings
            .answer(request.messages)
            .cloned()
            .map_err(|unmatched| ModelError::Rejected {
                message: unmatched.to_string(),
            })
    }
}

impl std::fmt::Display for ReplayModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String =
            { format!("replay ({} recordings)", self.recordings.recordings().len()) };
        formatter.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ContentBlock, ToolResult};
    use serde_json::json;

    fn recording(name: &str, answers: Expectation) -> Recording {
        Recording {
            name: name.into(),
            answers,
            response: json!({
                "output": {"message": {"role": "assistant", "content": [{"text": name}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
            }),
            stream: None,
        }
    }

    fn history() -> Vec<Message> {
        vec![
            Message::user(
                "私の名前は Maira です。こちらが私のリクエストです: 2+5の答えは? (session abc)",
            ),
            Message::assistant("checking"),
            Message {
                role: Role::User,
                content: vec![ContentBlock::ToolResult(ToolResult::success(
                    "t",
                    "Result: 7",
                ))],
            },
        ]
    }

    fn expectation(count: usize, prompts: &[&str], results: &[&str]) -> Expectation {
        Expectation {
            message_count: count,
            user_prompts: prompts.iter().map(|p| p.to_string()).collect(),
            tool_results: results.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn matches_on_count_prompts_and_tool_results() {
        let set = RecordingSet::new(vec![
            recording("other", expectation(1, &["天気"], &[])),
            recording("right", expectation(3, &["2+5の答えは?"], &["Result: 7"])),
        ])
        .unwrap();
        assert_eq!(set.find(&history()).unwrap().name, "right");
    }

    #[test]
    fn extra_history_does_not_match_and_names_the_nearest_recording() {
        let set = RecordingSet::new(vec![
            recording("first-call", expectation(1, &["2+5の答えは?"], &[])),
            recording("weather", expectation(1, &["天気"], &[])),
        ])
        .unwrap();
        let mut leaked = vec![Message::user("earlier session"), Message::assistant("hi")];
        leaked.push(Message::user("2+5の答えは?"));
        let unmatched = set.find(&leaked).unwrap_err();
        assert_eq!(unmatched.request.message_count, 3);
        assert_eq!(unmatched.nearest.as_ref().unwrap().0, "first-call");
        let text = unmatched.to_string();
        assert!(text.contains("\"message_count\":3"), "{text}");
        assert!(text.contains("nearest recording `first-call`"), "{text}");
    }

    #[test]
    fn the_nearest_recording_answers_the_same_question() {
        let set = RecordingSet::new(vec![
            recording(
                "earlier-turn",
                expectation(3, &["2+5の答えは?"], &["Result: 7"]),
            ),
            recording("same-question", expectation(1, &["add 10"], &[])),
        ])
        .unwrap();
        let mut leaked = history();
        leaked.push(Message::assistant("7"));
        leaked.push(Message::user("add 10 (session xyz)"));
        assert_eq!(
            set.find(&leaked).unwrap_err().nearest.unwrap().0,
            "same-question"
        );
    }

    #[test]
    fn a_response_that_is_not_a_converse_response_is_refused_when_loaded() {
        let mut broken = recording("broken", expectation(1, &["hi"], &[]));
        broken.response = json!({"output": "nothing"});
        let error = RecordingSet::new(vec![broken]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("recording `broken` does not hold a Converse response"),
            "{error}"
        );
    }

    #[test]
    fn tool_results_must_be_equal() {
        let set = RecordingSet::new(vec![recording(
            "r",
            expectation(3, &["2+5の答えは?"], &["Result: 8"]),
        )])
        .unwrap();
        assert!(set.find(&history()).is_err());
    }

    #[tokio::test]
    async fn replay_model_answers_with_the_recorded_message() {
        let model = ReplayModel::new(
            RecordingSet::new(vec![recording("answer", expectation(1, &["hi"], &[]))]).unwrap(),
        );
        let messages = [Message::user("hi there")];
        let request = ConverseRequest::new("", &messages, &[]);
        let response = model.converse(request).await.unwrap();
        assert_eq!(response.message, Message::assistant("answer"));
        let wrong = [Message::user("bye")];
        let error = model
            .converse(ConverseRequest {
                messages: &wrong,
                ..request
            })
            .await
            .unwrap_err();
        assert!(matches!(error, ModelError::Rejected { .. }));
    }
}
