//! [`Paced`]: a source whose requests take turns through a [`RateGate`], so every worker on
//! every host that shares the gate stays within one quota for the source.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    FetchedBars, MarketData, MarketDataError, RateGate, SourceLimits, Symbol, TimeRange, Timeframe,
};

/// `inner`, at most one request every `every` under `key` across all who share `gate`.
pub struct Paced {
    inner: Arc<dyn MarketData>,
    gate: Arc<dyn RateGate>,
    key: String,
    every: Duration,
}

impl std::fmt::Debug for Paced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paced")
            .field("key", &self.key)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Paced {
    /// `inner` at most `per_second` requests a second under `key` (one per source: the worker
    /// uses `source:` and the source's name).
    ///
    /// # Errors
    /// A message when `per_second` is not a positive, finite number.
    pub fn new(
        inner: Arc<dyn MarketData>,
        gate: Arc<dyn RateGate>,
        key: impl Into<String>,
        per_second: f64,
    ) -> Result<Self, String> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(format!(
                "a rate of {per_second} requests a second: give a positive number"
            ));
        }
        Ok(Self {
            inner,
            gate,
            key: key.into(),
            every: Duration::from_secs_f64(1.0 / per_second),
        })
    }
}

#[async_trait]
impl MarketData for Paced {
    fn limits(&self, timeframe: Timeframe) -> SourceLimits {
        self.inner.limits(timeframe)
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        let wait = self
            .gate
            .reserve(&self.key, self.every)
            .await
            .map_err(|e| MarketDataError::Unavailable(format!("the source's rate gate: {e}")))?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.inner.bars(symbol, timeframe, range).await
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{JobError, MockMarketData, MockRateGate, OhlcvFrame, ValidationReport};
    use chrono::{TimeZone, Utc};

    use super::*;

    fn range() -> TimeRange {
        TimeRange::new(
            Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap(),
        )
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waits_for_its_slot_then_goes_to_the_source() {
        let mut gate = MockRateGate::new();
        gate.expect_reserve()
            .withf(|key, every| key == "source:alpha" && *every == Duration::from_millis(250))
            .times(1)
            .returning(|_, _| Ok(Duration::from_millis(700)));
        let mut inner = MockMarketData::new();
        let start = tokio::time::Instant::now();
        inner
            .expect_bars()
            .times(1)
            .returning(move |symbol, timeframe, _| {
                assert!(
                    start.elapsed() >= Duration::from_millis(700),
                    "waited for its slot"
                );
                Ok(FetchedBars {
                    frame: OhlcvFrame::empty(symbol.clone(), timeframe),
                    report: ValidationReport::default(),
                })
            });
        let paced = Paced::new(Arc::new(inner), Arc::new(gate), "source:alpha", 4.0).unwrap();
        paced
            .bars(&"USDJPY".parse().unwrap(), Timeframe::M1, range())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn without_its_gate_a_request_is_unavailable_and_never_reaches_the_source() {
        let mut gate = MockRateGate::new();
        gate.expect_reserve()
            .times(1)
            .returning(|_, _| Err(JobError::Unavailable("connection refused".into())));
        let mut inner = MockMarketData::new();
        inner.expect_bars().never();
        let paced = Paced::new(Arc::new(inner), Arc::new(gate), "source:beta", 10.0).unwrap();
        let e = paced
            .bars(&"EURUSD".parse().unwrap(), Timeframe::H1, range())
            .await
            .unwrap_err();
        assert!(
            matches!(e, MarketDataError::Unavailable(ref m) if m.contains("rate gate")),
            "{e}"
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(
                Paced::new(
                    Arc::new(MockMarketData::new()),
                    Arc::new(MockRateGate::new()),
                    "k",
                    bad
                )
                .is_err()
            );
        }
    }
}
