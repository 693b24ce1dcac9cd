//! Throughput and p50/p99 latency of `POST /invocations` over loopback HTTP, at 1, 8 and 64
//! concurrent clients, each on its own session and all on one session.

use std::sync::Arc;

use crate::instant_model::memory_store;
use crate::load::{client_runtime, load, print_row};
use crate::serving::serve_in_background;

pub(crate) fn throughput() {
    let (address, _server) = serve_in_background(|| Arc::new(memory_store(1_000_000)));
    let client_runtime = client_runtime();
    println!(
        "Throughput of POST /invocations over loopback HTTP (one tool round = two model calls each)"
    );
    println!("  target: ≥ 5,000 invocations/s at 8 clients with p99 under 5 ms");
    println!(
        "  reference (Python SDK + Strands, one process): ~65/s sequentially, p50 14 ms; 97% failed at 8 clients"
    );
    println!(
        "  {:<30} {:>8} {:>14} {:>10} {:>10} {:>8}",
        "sessions", "clients", "invocations/s", "p50 ms", "p99 ms", "wrong"
    );
    for (run, shared) in [false, true].into_iter().enumerate() {
        for clients in [1, 8, 64] {
            let label = if shared {
                "all on one session"
            } else {
                "one per client"
            };
            let result =
                client_runtime.block_on(load(address, clients, shared, run * 100 + clients));
            print_row(label, clients, &result);
        }
    }
    println!();
}
