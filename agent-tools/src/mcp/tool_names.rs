//! Tool names as Bedrock accepts them: `[a-zA-Z0-9_-]{1,64}`.
//!
//! MCP allows names Bedrock refuses (dots, slashes, 128 characters), and two servers may each
//! have a `search`. The model sees a fitted name; the server is always called by its own.

use sha2::{Digest, Sha256};

/// The longest tool name Bedrock accepts.
pub const MAX_TOOL_NAME_LEN: usize = 64;

/// The name the model is offered for `remote` of a server prefixed `prefix`:
/// `prefix_remote`, each character Bedrock refuses as `_`; a name over 64 characters keeps its
/// first 55 and ends with `_` and 8 hex digits of the SHA-256 of the unfitted name, so distinct
/// long names stay distinct and the same name always fits the same way.
pub fn model_tool_name(prefix: Option<&str>, remote: &str) -> String {
    let joined = match prefix {
        Some(prefix) => format!("{prefix}_{remote}"),
        None => remote.to_owned(),
    };
    let mut name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        name.push_str("tool");
    }
    if name.len() > MAX_TOOL_NAME_LEN {
        let digest = Sha256::digest(joined.as_bytes());
        let suffix: String = digest[..4]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        name.truncate(MAX_TOOL_NAME_LEN - 1 - suffix.len());
        name.push('_');
        name.push_str(&suffix);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(name: &str) -> bool {
        (1..=MAX_TOOL_NAME_LEN).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn a_fitting_name_is_only_prefixed() {
        assert_eq!(model_tool_name(Some("docs"), "search"), "docs_search");
        assert_eq!(model_tool_name(None, "get-order_2"), "get-order_2");
    }

    #[test]
    fn refused_characters_become_underscores() {
        assert_eq!(
            model_tool_name(Some("fs"), "files.read/all"),
            "fs_files_read_all"
        );
        assert_eq!(model_tool_name(None, "天気"), "__");
        assert_eq!(model_tool_name(None, ""), "tool");
    }

    #[test]
    fn long_names_fit_and_stay_distinct() {
        let a = model_tool_name(Some("gateway"), &format!("{}a", "x".repeat(100)));
        let b = model_tool_name(Some("gateway"), &format!("{}b", "x".repeat(100)));
        assert!(fits(&a) && fits(&b), "{a} {b}");
        assert_eq!(a.len(), MAX_TOOL_NAME_LEN);
        assert_ne!(a, b);
        assert_eq!(
            a,
            model_tool_name(Some("gateway"), &format!("{}a", "x".repeat(100)))
        );
        assert!(a.starts_with("gateway_xxxx"));
    }
}
