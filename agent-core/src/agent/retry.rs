//! Backoff for transient model failures (throttling, 5xx).

use std::time::Duration;

/// How often and how patiently a failed model call is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Pause before the second attempt; it doubles each time after.
    pub initial_delay: Duration,
    /// Upper bound of any single pause.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 6 attempts, 4 s doubling to at most 240 s: Strands' defaults for Bedrock throttling.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_delay: Duration::from_secs(4),
            max_delay: Duration::from_secs(240),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt number `attempt` (1-based), with jitter.
    ///
    /// Equal jitter: half of the exponential delay is kept, half is random, so sessions
    /// throttled together spread out without any of them retrying at once.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        let full = self
            .initial_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// A hint for clients told to come back later: the first pause, in whole seconds (≥ 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.initial_delay.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_cap() {
        let policy = RetryPolicy::default();
        for (attempt, full) in [(1, 4), (2, 8), (3, 16), (6, 128), (7, 240), (40, 240)] {
            let full = Duration::from_secs(full);
            for _ in 0..50 {
                let delay = policy.delay_after(attempt);
                assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
            }
        }
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let fast = RetryPolicy {
            initial_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        };
        assert_eq!(fast.retry_after_secs(), 1);
        assert_eq!(RetryPolicy::default().retry_after_secs(), 4);
    }
}
