//! Time from process start to the first successful `/ping`, and resident memory then, in
//! `--replay` and Bedrock mode; the binary's size; and resident memory after the tutorial's three
//! sessions through the AWS SDK (against the local Converse stand-in).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_testkit::serve_on_own_runtime;

use crate::bedrock_path_figures::stand_in_router;
use crate::binary::{Binary, Model};
use crate::load::client_runtime;
use crate::process_stats::vm_rss_bytes;

pub(crate) fn startup() {
    const RUNS: usize = 20;
    println!("Start-up: process start to the first successful GET /ping ({RUNS} runs each)");
    println!(
        "  target: under 50 ms; reference: ~860 ms to start and ~112 MB resident after start-up"
    );
    println!(
        "  target: resident at ready at most 12 MiB (Bedrock mode); before the size-optimised build: 18.1 MiB, a 29.8 MiB binary, +4.0 MiB after the tutorial"
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let replay = ["--replay", fixtures.to_str().unwrap()];
    for (label, args) in [
        ("--replay fixtures/tutorial", &replay[..]),
        ("Bedrock (default flags)", &[][..]),
    ] {
        let mut times = Vec::new();
        let mut resident = Vec::new();
        for _ in 0..RUNS {
            let (elapsed, rss) = start_once(args);
            times.push(elapsed);
            resident.push(rss);
        }
        times.sort();
        resident.sort();
        println!(
            "  {label:<28} median {:>6.1} ms (min {:.1}, max {:.1}); resident after start-up {:.1} MiB",
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3,
            resident[RUNS / 2] as f64 / 1048576.0
        );
    }
    let binary = std::fs::metadata(env!("CARGO_BIN_EXE_agent-server")).map_or(0, |file| file.len());
    println!(
        "  binary (release profile): {:.1} MiB",
        binary as f64 / 1048576.0
    );
    let (ready, after) = resident_across_the_tutorial();
    println!(
        "  Bedrock through the SDK: resident at ready {:.1} MiB, after the tutorial's three sessions {:.1} MiB (+{:.1})",
        ready as f64 / 1048576.0,
        after as f64 / 1048576.0,
        (after as f64 - ready as f64) / 1048576.0
    );
    println!();
}

/// The binary on the Converse stand-in: its resident memory at ready, and after the tutorial's
/// three sessions (session 1's three turns, session 2's one, another user's session 3).
fn resident_across_the_tutorial() -> (u64, u64) {
    let (stand_in, _stand_in) = serve_on_own_runtime("stand-in", |listener| async move {
        axum::serve(listener, stand_in_router()).await
    });
    let endpoint = format!("http://{stand_in}");
    let binary = Binary::start(Model::Bedrock(&endpoint), &[]);
    let ready = binary.resident();
    let client = client_runtime();
    for (session, user, prompts) in [
        (
            "tutorial-1",
            "1",
            &[
                "外の天気はどうですか?",
                "2+5の答えは?",
                "それに 34 を足すとどうなりますか?",
            ][..],
        ),
        (
            "tutorial-2",
            "1",
            &["そしてそれにさらに 10 を足すとどうなりますか?"][..],
        ),
        ("tutorial-3", "2", &["天気はどうですか？"][..]),
    ] {
        for prompt in prompts {
            let status = client.block_on(binary.ask(session, user, prompt));
            assert_eq!(status, 200, "{session}: {prompt}");
        }
    }
    (ready, binary.resident())
}

/// Starts the binary, waits for its first 200 on /ping; returns the time taken and its RSS.
fn start_once(args: &[&str]) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-server"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = startup_address(&mut lines);
    while !ping_ok(&address) {
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = started.elapsed();
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let rss = vm_rss_bytes(&status);
    let _ = child.kill();
    let _ = child.wait();
    (elapsed, rss)
}

/// The bound address from the binary's start-up line (text logs), read from its stderr.
fn startup_address(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> String {
    lines
        .map_while(Result::ok)
        .find_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("address=").map(str::to_owned))
        })
        .expect("the start-up line")
}

fn ping_ok(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let request = format!("GET /ping HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}
