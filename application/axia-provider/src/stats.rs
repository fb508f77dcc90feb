//! Per-source statistics.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Role;

/// Upper bounds of the latency buckets, in milliseconds (the last bucket is everything above).
pub const LATENCY_BUCKETS_MS: [u64; 8] = [1, 5, 10, 50, 100, 500, 1_000, 5_000];

/// Call latencies by bucket: `counts[i]` calls took at most `LATENCY_BUCKETS_MS[i]` (and more
/// than the bucket before); `counts[8]` took longer than 5 s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// Calls per bucket.
    pub counts: [u64; 9],
    /// Total time of all calls, microseconds.
    pub total_micros: u64,
}

impl LatencyHistogram {
    pub(crate) fn record(&mut self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let i = LATENCY_BUCKETS_MS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.total_micros = self
            .total_micros
            .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Calls recorded.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper bound of the bucket holding the `q` quantile (0..=1), in ms; `None` without calls
    /// or above the last bound.
    #[must_use]
    pub fn quantile_ms(&self, q: f64) -> Option<u64> {
        let n = self.calls();
        if n == 0 {
            return None;
        }
        // n is a call count, far below 2^52
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return LATENCY_BUCKETS_MS.get(i).copied();
            }
        }
        None
    }
}

/// What one source did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleStats {
    /// Answers that covered the window alone.
    pub hits: u64,
    /// Answers with bars that did not cover the window.
    pub partials: u64,
    /// Answers without bars.
    pub misses: u64,
    /// Failed calls.
    pub errors: u64,
    /// Calls that timed out.
    pub timeouts: u64,
    /// Calls skipped while the circuit was open.
    pub skipped: u64,
    /// Latencies of the calls made.
    pub latency: LatencyHistogram,
}

/// What the provider has done since it was built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderStats {
    /// Requests answered (single-flight followers included).
    pub requests: u64,
    /// Requests that shared another's fetch.
    pub shared: u64,
    /// Per source.
    pub sources: BTreeMap<Role, RoleStats>,
}

impl ProviderStats {
    /// Hot-cache hits over hot-cache calls (the replaced Python system's target: 60 % or more); `None` before the
    /// first call.
    #[must_use]
    pub fn cache_hit_rate(&self) -> Option<f64> {
        let s = self.sources.get(&Role::HotCache)?;
        let calls = s.hits + s.partials + s.misses + s.errors + s.timeouts;
        // call counts are far below 2^52
        #[allow(clippy::cast_precision_loss)]
        (calls > 0).then(|| s.hits as f64 / calls as f64)
    }
}
