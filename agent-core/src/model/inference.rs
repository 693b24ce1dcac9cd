//! How the model samples its answer: Bedrock's `inferenceConfig`.
//!
//! Part of an agent's definition, sent with every call. Unset fields are left to the model's own
//! defaults, and a configuration with nothing set is not sent at all, so an agent that never
//! names one sends exactly what it did before there was one.

use serde::{Deserialize, Serialize};

/// Sampling settings for every model call of an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig {
    /// Most tokens the model may write in one answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Randomness, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Texts that end the answer when the model writes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
}

/// The configuration of an agent that sets none: the model's defaults.
pub(crate) static MODEL_DEFAULTS: InferenceConfig = InferenceConfig {
    max_tokens: None,
    temperature: None,
    top_p: None,
    stop_sequences: Vec::new(),
};

impl InferenceConfig {
    /// True when nothing is set, so nothing needs sending.
    pub fn is_empty(&self) -> bool {
        self == &MODEL_DEFAULTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_is_set_is_written() {
        assert!(InferenceConfig::default().is_empty());
        let config = InferenceConfig {
            max_tokens: Some(512),
            stop_sequences: vec!["###".into()],
            ..InferenceConfig::default()
        };
        assert!(!config.is_empty());
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            serde_json::json!({"maxTokens": 512, "stopSequences": ["###"]})
        );
    }
}
