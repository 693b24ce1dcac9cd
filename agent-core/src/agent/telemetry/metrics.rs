//! The GenAI client metrics of each model call: `gen_ai.client.token.usage` and
//! `gen_ai.client.operation.duration`, with the bucket boundaries the conventions advise.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter};

use super::{PROVIDER, Telemetry};
use crate::model::ModelResponse;

/// Token counts: powers of 4 from 1 to 4^13, as the conventions advise.
const TOKEN_BOUNDARIES: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Seconds: doubling from 10 ms to about 82 s, as the conventions advise.
const DURATION_BOUNDARIES: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// The two histograms, made once per agent.
pub(super) struct GenAiMetrics {
    token_usage: Histogram<u64>,
    duration: Histogram<f64>,
}

impl GenAiMetrics {
    pub(super) fn new(meter: &Meter) -> Self {
        Self {
            token_usage: meter
                .u64_histogram("gen_ai.client.token.usage")
                .with_unit("{token}")
                .with_description("Tokens used by each model call, by type")
                .with_boundaries(TOKEN_BOUNDARIES.to_vec())
                .build(),
            duration: meter
                .f64_histogram("gen_ai.client.operation.duration")
                .with_unit("s")
                .with_description("How long each model call took, its retries included")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
        }
    }
}

impl Telemetry {
    /// A model call's tokens, when it answered, and its duration.
    pub(crate) fn record_chat(
        &self,
        outcome: Result<&ModelResponse, &'static str>,
        elapsed: Duration,
    ) {
        let operation = KeyValue::new("gen_ai.operation.name", "chat");
        let provider = KeyValue::new("gen_ai.provider.name", PROVIDER);
        let model = self.model_attribute();
        let seconds = elapsed.as_secs_f64();
        match outcome {
            Ok(response) => {
                for (token_type, tokens) in [
                    ("input", response.usage.input_tokens),
                    ("output", response.usage.output_tokens),
                ] {
                    self.metrics.token_usage.record(
                        tokens,
                        &[
                            operation.clone(),
                            provider.clone(),
                            model.clone(),
                            KeyValue::new("gen_ai.token.type", token_type),
                        ],
                    );
                }
                self.metrics
                    .duration
                    .record(seconds, &[operation, provider, model]);
            }
            Err(error_type) => self.metrics.duration.record(
                seconds,
                &[
                    operation,
                    provider,
                    model,
                    KeyValue::new("error.type", error_type),
                ],
            ),
        }
    }
}
