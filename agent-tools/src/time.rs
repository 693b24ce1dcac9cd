//! `get_time`: the current local time as `%Y-%m-%d %H:%M:%S`, from an injectable clock.

use agent_core::tool;
use chrono::{Local, NaiveDateTime};

/// The format the reference agent answers in.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Where `get_time` reads the time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The machine's local time.
    #[default]
    Local,
    /// Always this time: for tests and for replaying recordings that contain a time.
    Fixed(NaiveDateTime),
}

impl Clock {
    /// The current time by this clock.
    pub fn now(&self) -> NaiveDateTime {
        match self {
            Self::Local => Local::now().naive_local(),
            Self::Fixed(time) => *time,
        }
    }

    /// A fixed clock from text in [`TIME_FORMAT`].
    pub fn fixed_at(text: &str) -> Result<Self, chrono::ParseError> {
        NaiveDateTime::parse_from_str(text, TIME_FORMAT).map(Self::Fixed)
    }
}

/// 現在時刻を取得する
#[tool]
pub fn get_time(#[state] clock: &Clock) -> String {
    clock.now().format(TIME_FORMAT).to_string()
}

impl Default for GetTime {
    /// get_time on the machine's local clock.
    fn default() -> Self {
        Self::new(Clock::Local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_core::{Tool, ToolContext, ToolOutput};
    use serde_json::json;

    #[tokio::test]
    async fn answers_from_its_clock_in_the_reference_format() {
        let clock = Clock::fixed_at("2025-07-01 09:30:05").unwrap();
        let output = GetTime::new(clock)
            .call(json!({}), &ToolContext::detached("t"))
            .await
            .unwrap();
        assert_eq!(output, ToolOutput::text("2025-07-01 09:30:05"));
    }

    #[tokio::test]
    async fn the_local_clock_formats_like_the_reference() {
        let output = GetTime::default()
            .call(json!({}), &ToolContext::detached("t"))
            .await
            .unwrap();
        let agent_core::ToolResultContent::Text(text) = &output.0[0] else {
            panic!("text expected");
        };
        assert!(
            NaiveDateTime::parse_from_str(text, TIME_FORMAT).is_ok(),
            "{text}"
        );
    }

    #[test]
    fn bad_fixed_times_are_refused() {
        assert!(Clock::fixed_at("yesterday").is_err());
    }
}
