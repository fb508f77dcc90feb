//! [`SimulatedSettings`]: the `[simulated]` section of axia's settings.

use std::time::Duration;

use axia_domain::AdapterContext;
use serde::Deserialize;

use crate::{Faults, SimulatedBroker, SimulatedStream};

/// The simulated market: its random seed (which fixes every price) and the paper desk's
/// answer time.
///
/// ```
/// use axia_simbroker::SimulatedSettings;
///
/// let s = SimulatedSettings { seed: 7, ..SimulatedSettings::default() };
/// let broker = s.broker(&axia_domain::AdapterContext::default());
/// assert!(format!("{broker:?}").contains("seed: 7"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedSettings {
    /// The random seed: the same seed gives the same prices, run after run (default 42).
    pub seed: u64,
    /// How long the paper executor takes to answer an order, milliseconds (default 0): a
    /// broker's round trip, for drills and tests.
    pub executor_latency_ms: u64,
}

impl Default for SimulatedSettings {
    fn default() -> Self {
        Self {
            seed: 42,
            executor_latency_ms: 0,
        }
    }
}

impl SimulatedSettings {
    /// The simulated broker of these settings (candles on the context's instruments, never
    /// after its clock's now).
    #[must_use]
    pub fn broker(&self, ctx: &AdapterContext) -> SimulatedBroker {
        SimulatedBroker::new(self.seed, ctx.clock()).instruments(ctx.instruments())
    }

    /// The paper desk: [`broker`](Self::broker) answering orders after `executor_latency_ms`.
    #[must_use]
    pub fn executor(&self, ctx: &AdapterContext) -> SimulatedBroker {
        let broker = self.broker(ctx);
        broker.set_faults(Faults {
            latency: Duration::from_millis(self.executor_latency_ms),
            ..Faults::none()
        });
        broker
    }

    /// The simulated price stream of these settings: same seed, so the bars built from it
    /// equal [`broker`](Self::broker)'s candles.
    #[must_use]
    pub fn stream(&self, ctx: &AdapterContext) -> SimulatedStream {
        SimulatedStream::new(self.seed, ctx.clock()).instruments(ctx.instruments())
    }
}
