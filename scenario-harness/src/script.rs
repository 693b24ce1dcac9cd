//! A scenario's script: sessions, their user, the prompts in order and what each answer must say.
//!
//! `<scenario>/script.json` beside `<scenario>/recordings/`; the format is in fixtures/README.md.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// The scenario's name.
    pub name: String,
    #[serde(default)]
    /// What it shows.
    pub description: String,
    /// The time get_time answers with when the scenario is replayed (`%Y-%m-%d %H:%M:%S`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_time: Option<String>,
    /// Its sessions, in order.
    pub sessions: Vec<SessionScript>,
}

/// One runtime session of the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionScript {
    /// The session's label.
    pub label: String,
    /// Its user.
    pub user_id: String,
    /// Its steps, in order.
    pub steps: Vec<Step>,
}

/// One invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The prompt to send.
    pub prompt: String,
    #[serde(default)]
    /// What the answer must say.
    pub expect: AnswerCheck,
}

/// What the answer to a step must and must not contain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerCheck {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// Text the answer must contain.
    pub contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// Text the answer must not contain.
    pub not_contains: Vec<String>,
}

/// The script file of a scenario folder.
pub const SCRIPT_FILE: &str = "script.json";

impl Script {
    /// Reads `<scenario>/script.json`.
    pub fn load(scenario_dir: &Path) -> anyhow::Result<Self> {
        let path: PathBuf = scenario_dir.join(SCRIPT_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Every prompt of the script, in order.
    pub fn prompts(&self) -> impl Iterator<Item = &str> {
        self.sessions
            .iter()
            .flat_map(|session| session.steps.iter().map(|step| step.prompt.as_str()))
    }

    /// Number of invocations.
    pub fn step_count(&self) -> usize {
        self.sessions
            .iter()
            .map(|session| session.steps.len())
            .sum()
    }
}

impl AnswerCheck {
    /// The problems with `answer`, empty when it passes.
    pub fn problems(&self, answer: &str) -> Vec<String> {
        let missing = self
            .contains
            .iter()
            .filter(|text| !answer.contains(text.as_str()))
            .map(|text| format!("should contain «{text}»"));
        let present = self
            .not_contains
            .iter()
            .filter(|text| answer.contains(text.as_str()))
            .map(|text| format!("should not contain «{text}»"));
        missing.chain(present).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_checks_report_each_problem() {
        let check = AnswerCheck {
            contains: vec!["41".into(), "Maira".into()],
            not_contains: vec!["51".into()],
        };
        assert!(check.problems("Mairaさん、41です").is_empty());
        assert_eq!(
            check.problems("51 です"),
            vec![
                "should contain «41»",
                "should contain «Maira»",
                "should not contain «51»"
            ]
        );
    }

    #[test]
    fn the_fixture_scripts_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let tutorial = Script::load(&root.join("tutorial")).unwrap();
        assert_eq!(tutorial.step_count(), 5);
        assert_eq!(tutorial.sessions.len(), 3);
        let timed = Script::load(&root.join("time-and-error")).unwrap();
        assert_eq!(timed.fixed_time.as_deref(), Some("2025-06-01 09:00:00"));
    }
}
