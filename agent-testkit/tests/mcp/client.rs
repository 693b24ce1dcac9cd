//! The MCP client on its own: names, schemas, results, timeouts, cancellation, reconnection
//! and list changes, over both transports.

use std::time::Duration;

use agent_core::{ImageFormat, ToolResultContent, ToolResultStatus};
use agent_testkit::{PIXEL_PNG, TestMcpServer};
use agent_tools::mcp::{McpError, McpServer, McpServerConfig, model_tool_name};
use serde_json::json;

use crate::{eventually, processes_with, registry_of, run, stdio_config};

fn fits_bedrock(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[tokio::test]
async fn tools_are_offered_under_names_and_schemas_bedrock_accepts() {
    let server = McpServer::connect(stdio_config()).await.unwrap();
    let registry = registry_of(&server);
    let specs = registry.specs();
    let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
    let long = model_tool_name(Some("t"), &agent_testkit::long_tool_name());
    assert_eq!(
        names,
        [
            "t_echo_text",
            long.as_str(),
            "t_no_schema",
            "t_chart",
            "t_fail",
            "t_structured",
            "t_hang",
            "t_whoami",
            "t_exit",
            "t_forget_echo",
            "t_add_tool"
        ]
    );
    assert!(names.iter().all(|name| fits_bedrock(name)), "{names:?}");
    let spec = |name: &str| {
        registry
            .specs()
            .iter()
            .find(|spec| spec.name == name)
            .unwrap()
            .input_schema
            .clone()
    };
    assert_eq!(
        spec("t_echo_text"),
        json!({
            "type": "object",
            "properties": {"message": {"type": "string", "minLength": 1, "description": "what to repeat"}},
            "required": ["message"]
        })
    );
    assert_eq!(
        spec("t_no_schema"),
        json!({"type": "object", "properties": {}})
    );

    // The server is called by its own names; the schema it sent still holds.
    let echoed = run(&registry, "t_echo_text", json!({"message": "hi"})).await;
    assert_eq!(echoed.content, [ToolResultContent::Text("hi".into())]);
    assert_eq!(run(&registry, &long, json!({})).await.text(), "Q3 was good");
    let refused = run(&registry, "t_echo_text", json!({"message": ""})).await;
    assert_eq!(
        refused.status,
        ToolResultStatus::Error,
        "{}",
        refused.text()
    );
    server.close().await;
}

#[tokio::test]
async fn results_keep_their_kinds_over_both_transports() {
    let http = TestMcpServer::default().serve_http().await;
    for config in [stdio_config(), McpServerConfig::http("t", http.url())] {
        let server = McpServer::connect(config).await.unwrap();
        let registry = registry_of(&server);

        let chart = run(&registry, "t_chart", json!({})).await;
        assert_eq!(chart.status, ToolResultStatus::Success);
        match &chart.content[..] {
            [
                ToolResultContent::Text(text),
                ToolResultContent::Image(image),
            ] => {
                assert_eq!(text, "the chart:");
                assert_eq!(image.format, ImageFormat::Png);
                assert_eq!(image.source.bytes, PIXEL_PNG);
            }
            other => panic!("not a text and an image: {other:?}"),
        }

        let failed = run(&registry, "t_fail", json!({})).await;
        assert_eq!(failed.status, ToolResultStatus::Error);
        assert_eq!(failed.text(), "Error: order o-9 does not exist");

        let structured = run(&registry, "t_structured", json!({})).await;
        assert_eq!(
            structured.content,
            [ToolResultContent::Json(
                json!({"temperature": 21.5, "unit": "C"})
            )]
        );
        server.close().await;
    }
}

#[tokio::test]
async fn a_call_past_its_timeout_is_an_error_result_and_cancelled_on_the_server() {
    let http = TestMcpServer::default().serve_http().await;
    let mut config = McpServerConfig::http("t", http.url());
    config.call_timeout = Duration::from_millis(300);
    let server = McpServer::connect(config).await.unwrap();
    let registry = registry_of(&server);

    let hung = run(&registry, "t_hang", json!({})).await;
    assert_eq!(hung.status, ToolResultStatus::Error);
    assert!(
        hung.text().contains("did not answer within 0.3 s"),
        "{}",
        hung.text()
    );
    eventually("the server saw the cancellation", || {
        http.seen().cancelled.len() == 1
    })
    .await;

    // The connection is still good.
    assert_eq!(
        run(&registry, "t_echo_text", json!({"message": "still here"}))
            .await
            .text(),
        "still here"
    );
}

#[tokio::test]
async fn a_call_whose_invocation_goes_away_is_cancelled_on_the_server() {
    let http = TestMcpServer::default().serve_http().await;
    let server = McpServer::connect(McpServerConfig::http("t", http.url()))
        .await
        .unwrap();
    let registry = registry_of(&server);
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        run(&registry, "t_hang", json!({})),
    )
    .await;
    assert!(abandoned.is_err(), "the call answered: {abandoned:?}");
    eventually("the server saw the cancellation", || {
        http.seen().cancelled.len() == 1
    })
    .await;
}

#[tokio::test]
async fn a_dead_stdio_server_is_started_again_on_the_next_call() {
    let server = McpServer::connect(stdio_config()).await.unwrap();
    let registry = registry_of(&server);
    let died = run(&registry, "t_exit", json!({})).await;
    assert_eq!(died.status, ToolResultStatus::Error);
    assert!(
        died.text().contains("re-established on the next call"),
        "{}",
        died.text()
    );
    let after = run(&registry, "t_echo_text", json!({"message": "back"})).await;
    assert_eq!(after.status, ToolResultStatus::Success, "{}", after.text());
    assert_eq!(after.text(), "back");
    server.close().await;
}

#[tokio::test]
async fn an_http_server_that_went_away_is_reconnected_when_it_is_back() {
    let http = TestMcpServer::default().serve_http().await;
    let server = McpServer::connect(McpServerConfig::http("t", http.url()))
        .await
        .unwrap();
    let registry = registry_of(&server);
    http.stop();
    let refused = run(&registry, "t_echo_text", json!({"message": "anyone?"})).await;
    assert_eq!(refused.status, ToolResultStatus::Error);
    http.resume().await;
    let after = run(&registry, "t_echo_text", json!({"message": "back"})).await;
    assert_eq!(after.text(), "back");
}

#[tokio::test]
async fn a_tool_a_fixed_registry_still_holds_answers_that_it_is_gone() {
    let server = McpServer::connect(stdio_config()).await.unwrap();
    let registry = registry_of(&server);
    assert_eq!(
        run(&registry, "t_forget_echo", json!({})).await.text(),
        "echo.text is gone"
    );
    let gone = run(&registry, "t_echo_text", json!({"message": "hi"})).await;
    assert_eq!(gone.status, ToolResultStatus::Error);
    assert!(
        gone.text()
            .contains("no longer offers the tool `echo.text`"),
        "{}",
        gone.text()
    );
    server.close().await;
}

#[tokio::test]
async fn a_followed_server_s_new_list_is_offered_once_it_announces_it() {
    let http = TestMcpServer::default().serve_http().await;
    for config in [stdio_config(), McpServerConfig::http("t", http.url())] {
        let server = McpServer::connect(config).await.unwrap();
        let mut registry = agent_core::ToolRegistry::new();
        registry.register_source(server.tool_source()).unwrap();
        let offered = |registry: &agent_core::ToolRegistry, name: &str| {
            registry.specs().iter().any(|spec| spec.name == name)
        };
        assert!(!offered(&registry, "t_added"));
        assert_eq!(
            run(&registry, "t_add_tool", json!({})).await.text(),
            "`added` is offered"
        );
        eventually("the new tool offered", || offered(&registry, "t_added")).await;
        assert_eq!(
            run(&registry, "t_added", json!({})).await.text(),
            "new and working"
        );

        assert_eq!(
            run(&registry, "t_forget_echo", json!({})).await.text(),
            "echo.text is gone"
        );
        eventually("the removed tool no longer offered", || {
            !offered(&registry, "t_echo_text")
        })
        .await;
        let unknown = run(&registry, "t_echo_text", json!({"message": "hi"})).await;
        assert!(
            unknown.text().starts_with("Unknown tool `t_echo_text`"),
            "{}",
            unknown.text()
        );
        server.close().await;
    }
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_naming_it() {
    let http = TestMcpServer::default().serve_http().await;
    let url = http.url();
    drop(http);
    let mut config = McpServerConfig::http("gone", url);
    config.connect_timeout = Duration::from_secs(5);
    let error = McpServer::connect(config)
        .await
        .err()
        .expect("no server there");
    assert!(
        matches!(&error, McpError::Unreachable { server, .. } if server == "gone"),
        "{error}"
    );

    let missing = McpServer::connect(McpServerConfig::stdio(
        "nothing",
        "/nonexistent/mcp-server",
        [""; 0],
    ))
    .await
    .err()
    .expect("no such program");
    assert!(missing.to_string().contains("`nothing`"), "{missing}");
}

#[tokio::test]
async fn closing_a_stdio_server_ends_its_process() {
    let marker = format!("--marker={}", std::process::id());
    let server = McpServer::connect(McpServerConfig::stdio(
        "t",
        crate::STDIO_SERVER,
        [marker.clone()],
    ))
    .await
    .unwrap();
    assert_eq!(processes_with(&marker), 1);
    server.close().await;
    assert_eq!(processes_with(&marker), 0);
}

#[tokio::test]
async fn reconnecting_to_a_server_that_never_answers_is_bounded_by_the_call_timeout() {
    // The first start is the test server; every later one a process that never answers.
    let flag = std::env::temp_dir().join(format!("mcp-started-{}", std::process::id()));
    let _ = std::fs::remove_file(&flag);
    let script = format!(
        "if [ -e '{flag}' ]; then exec sleep 600; else touch '{flag}'; exec '{server}'; fi",
        flag = flag.display(),
        server = crate::STDIO_SERVER
    );
    let mut config = McpServerConfig::stdio("t", "sh", ["-c".to_owned(), script]);
    config.call_timeout = Duration::from_millis(300);
    let server = McpServer::connect(config).await.unwrap();
    let registry = registry_of(&server);
    assert_eq!(
        run(&registry, "t_exit", json!({})).await.status,
        ToolResultStatus::Error
    );
    // A bound on the wait, not a timing assertion: the 30 s connect timeout would blow it.
    let stuck = tokio::time::timeout(
        Duration::from_secs(10),
        run(&registry, "t_echo_text", json!({"message": "anyone?"})),
    )
    .await
    .expect("the reconnection was not bounded by the call's timeout");
    assert_eq!(stuck.status, ToolResultStatus::Error);
    assert!(
        stuck.text().contains("could not be reached within 0.3 s"),
        "{}",
        stuck.text()
    );
    server.close().await;
    let _ = std::fs::remove_file(&flag);
}
