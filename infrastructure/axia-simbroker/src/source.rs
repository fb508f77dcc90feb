//! [`SimulatedBroker`] as a [`MarketData`] source.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use axia_domain::{
    Clock, FetchedBars, Instrument, InstrumentRegistry, MarketData, MarketDataError, Symbol,
    TimeRange, Timeframe, ValidationReport,
};

use crate::Faults;
use crate::generator::{generate_for, generate_until};

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The simulated broker. Cheap to clone; clones share faults and call counts.
#[derive(Clone)]
pub struct SimulatedBroker {
    pub(crate) seed: u64,
    pub(crate) clock: Arc<dyn Clock>,
    faults: Arc<RwLock<Faults>>,
    calls: Arc<AtomicU64>,
    pub(crate) desk: Arc<crate::executor::PaperDesk>,
    instruments: Arc<InstrumentRegistry>,
    /// Long generations at once: one per core, on the blocking pool.
    generations: Arc<tokio::sync::Semaphore>,
}

/// Minutes of M1 a call builds inline on the caller's thread; more go to the blocking pool
/// (a month of M1 takes about a millisecond in release, years of it hundreds).
const INLINE_MINUTES: i64 = 50_000;

impl std::fmt::Debug for SimulatedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedBroker")
            .field("seed", &self.seed)
            .field("faults", &self.faults())
            .finish_non_exhaustive()
    }
}

impl SimulatedBroker {
    /// A broker whose prices are fixed by `seed`; it never returns bars that open after
    /// `clock`'s now.
    #[must_use]
    pub fn new(seed: u64, clock: impl Clock + 'static) -> Self {
        Self {
            seed,
            clock: Arc::new(clock),
            faults: Arc::new(RwLock::new(Faults::none())),
            calls: Arc::default(),
            desk: Arc::default(),
            instruments: Arc::new(InstrumentRegistry::shared_builtin().clone()),
            generations: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
        }
    }

    /// Prices on the ticks, and sessions of, these instruments (default: the built-in ones).
    #[must_use]
    pub fn instruments(mut self, instruments: Arc<InstrumentRegistry>) -> Self {
        self.instruments = instruments;
        self
    }

    /// The instrument `symbol` is simulated as.
    #[must_use]
    pub fn instrument(&self, symbol: &Symbol) -> Instrument {
        self.instruments.resolve(symbol)
    }

    /// A broker whose prices are fixed by `seed`, on the system clock.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self::new(seed, axia_domain::SystemClock)
    }

    /// The faults injected from now on.
    pub fn set_faults(&self, faults: Faults) {
        *axia_domain::locks::write(&self.faults) = faults;
    }

    /// The faults being injected.
    #[must_use]
    pub fn faults(&self) -> Faults {
        *axia_domain::locks::read(&self.faults)
    }

    /// Calls made so far (of `bars`).
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The seed.
    #[must_use]
    pub const fn seed(&self) -> u64 {
        self.seed
    }
}

#[async_trait]
impl MarketData for SimulatedBroker {
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let faults = self.faults();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if faults.down {
            return Err(MarketDataError::Unavailable(
                "simulated broker is down".into(),
            ));
        }
        // Fails calls whose position in a 1 000-call cycle falls below the rate: deterministic.
        let rate = faults.error_rate.clamp(0.0, 1.0);
        // rate * 1000 is in [0, 1000]: exact enough and never negative
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let failing = (rate * 1000.0).round() as u64;
        if (call.wrapping_mul(7919) % 1000) < failing {
            return Err(MarketDataError::Unavailable(format!(
                "simulated failure (call {call})"
            )));
        }
        let instrument = self.instrument(symbol);
        let (seed, now) = (self.seed, self.clock.now());
        // Every M1 minute of the range is built: a long range (years of W1 or MN1) is CPU
        // work that must not hold the async threads serving others. It runs on the blocking
        // pool, as many at once as there are cores.
        let frame = if range.duration().num_minutes() <= INLINE_MINUTES {
            generate_for(seed, &instrument, timeframe, range, now)
        } else {
            // The permit goes with the work: a caller that gives up (a request's timeout)
            // frees its place only when the generation ends.
            let permit = Arc::clone(&self.generations)
                .acquire_owned()
                .await
                .map_err(|e| MarketDataError::Unavailable(e.to_string()))?;
            // Set when this call is dropped (its caller timed out or went away): the
            // generation stops within milliseconds instead of running to its end.
            let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
            let flag = Arc::clone(&stop.0);
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                generate_until(seed, &instrument, timeframe, range, now, &flag)
            })
            .await
            .map_err(|e| MarketDataError::Unavailable(format!("the simulator stopped: {e}")))?
        }
        .map_err(|e| MarketDataError::InvalidResponse(e.to_string()))?;
        if frame.is_empty() && !range.is_empty() {
            return Err(MarketDataError::NoData(range));
        }
        let report = ValidationReport {
            received: frame.len(),
            kept: frame.len(),
            dropped: Vec::new(),
        };
        Ok(FetchedBars { frame, report })
    }
}
