//! Resident memory per idle session holding the tutorial's 6-message history, at 10,000 and
//! 100,000 sessions, each count measured in a fresh process (this bench re-run as a child).

use std::process::Command;
use std::sync::Arc;

use agent_core::ContentBlock;
use agent_core::session::{SessionId, SessionKey, SessionOwner};
use agent_server::tutorial::TutorialEntrypoint;
use agent_server::{Entrypoint, RuntimeContext};
use serde_json::json;

use crate::instant_model::{entrypoint, memory_store};

use crate::process_stats::resident_bytes;

pub(crate) fn memory() {
    println!(
        "Resident memory per idle session holding the tutorial's 6-message history (calculator turn + a thank-you)"
    );
    println!("  target: ≤ 4 KiB per session beyond its message text");
    println!(
        "  {:>9} {:>14} {:>18} {:>22}",
        "sessions", "RSS growth", "per session", "per session, less text"
    );
    for count in [10_000, 100_000] {
        let output = Command::new(std::env::current_exe().unwrap())
            .env("BENCH_MEMORY_SESSIONS", count.to_string())
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = line
            .split_whitespace()
            .filter_map(|field| field.parse().ok())
            .collect();
        let [growth, text] = fields[..] else {
            println!(
                "  {count:>9} measurement failed: {line} {}",
                String::from_utf8_lossy(&output.stderr)
            );
            continue;
        };
        println!(
            "  {:>9} {:>11.1} MiB {:>14.0} B {:>20.0} B",
            count,
            growth / 1048576.0,
            growth / count as f64,
            (growth - text) / count as f64
        );
    }
    println!();
}

/// In a fresh process: fills `count` sessions and prints "<RSS growth bytes> <text bytes>".
pub(crate) fn memory_child(count: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = memory_store(count + 1);
        let entrypoint = entrypoint(Arc::new(store.clone()));
        let before = resident_bytes();
        let ids = fill_sessions(&entrypoint, count).await;
        let after = resident_bytes();
        let text = text_bytes(&entrypoint, &ids[0]).await * count as u64;
        assert_eq!(store.len(), count);
        println!("{} {}", after.saturating_sub(before), text);
    });
}

/// Gives `count` sessions of user 1 the tutorial's 6-message history (a calculator turn and a
/// thank-you); returns their ids.
pub(crate) async fn fill_sessions(entrypoint: &TutorialEntrypoint, count: usize) -> Vec<SessionId> {
    let ids: Vec<SessionId> = (0..count)
        .map(|n| SessionId::parse(&format!("{n:08}-0000-4000-8000-000000000000")).unwrap())
        .collect();
    for id in &ids {
        for prompt in ["2+5の答えは?", "ありがとう"] {
            let context = RuntimeContext::for_session(id.clone());
            entrypoint
                .invoke(json!({"prompt": prompt, "user_id": "1"}), context)
                .await
                .expect("the instant model answers");
        }
    }
    ids
}

/// The bytes of text one session holds: its id and owner, message texts, tool ids, names and inputs.
pub(crate) async fn text_bytes(entrypoint: &TutorialEntrypoint, id: &SessionId) -> u64 {
    let key = SessionKey::new(SessionOwner::user("1"), id.clone());
    let conversation = entrypoint.sessions().history(&key).await.unwrap().unwrap();
    assert_eq!(conversation.len(), 6);
    let blocks: usize = conversation
        .messages()
        .iter()
        .flat_map(|message| &message.content)
        .map(|block| match block {
            ContentBlock::Text(text) => text.len(),
            ContentBlock::ToolUse(tool_use) => {
                tool_use.tool_use_id.len() + tool_use.name.len() + tool_use.input.to_string().len()
            }
            ContentBlock::ToolResult(result) => result.tool_use_id.len() + result.text().len(),
        })
        .sum();
    let owner = "1".len();
    (blocks + id.as_str().len() + owner) as u64
}
