//! `weather`: the tutorial's stand-in weather service; it is always sunny.

use agent_core::tool;

/// 天気を取得する
#[tool]
pub fn weather() -> &'static str {
    "sunny"
}
