//! Fault injection.

use std::time::Duration;

/// Faults the simulated broker injects, for tests of callers' fallbacks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// The share of calls, 0.0 to 1.0, that fail with `Unavailable` (deterministic: by call
    /// count, so a run is reproducible).
    pub error_rate: f64,
    /// Added to every call.
    pub latency: Duration,
    /// Every call fails with `Unavailable`.
    pub down: bool,
}

impl Faults {
    /// No faults.
    #[must_use]
    pub const fn none() -> Self {
        Self {
            error_rate: 0.0,
            latency: Duration::ZERO,
            down: false,
        }
    }

    /// Every call fails.
    #[must_use]
    pub const fn down() -> Self {
        Self {
            error_rate: 0.0,
            latency: Duration::ZERO,
            down: true,
        }
    }
}
