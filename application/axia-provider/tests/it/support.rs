use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    Bar, FetchedBars, ManualClock, MarketData, MarketDataError, OhlcvFrame, Symbol, TimeRange,
    Timeframe, ValidationReport,
};
use chrono::{DateTime, TimeZone, Utc};

/// Wednesday 2026-03-04 12:00 UTC: the FX market has been open for days.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

pub fn sym() -> Symbol {
    "USDJPY".parse().unwrap()
}

/// A bar in every H1 slot that opens in `range` (all open: a weekday).
pub fn full(range: TimeRange, price: f64) -> OhlcvFrame {
    let tf = Timeframe::H1;
    let mut t = tf.floor(range.start());
    if t < range.start() {
        t = tf.next_open(t);
    }
    let mut bars = Vec::new();
    while t < range.end() {
        bars.push(Bar::new(t, price, price + 0.1, price - 0.1, price, 1.0).unwrap());
        t = tf.next_open(t);
    }
    OhlcvFrame::from_bars(sym(), tf, bars).unwrap()
}

pub fn fetched(frame: OhlcvFrame) -> FetchedBars {
    let n = frame.len();
    FetchedBars {
        frame,
        report: ValidationReport {
            received: n,
            kept: n,
            dropped: vec![],
        },
    }
}

/// A source that takes `delay` and counts its calls.
pub struct SlowSource {
    pub delay: Duration,
    pub calls: AtomicUsize,
    pub price: f64,
}

#[async_trait]
impl MarketData for SlowSource {
    async fn bars(
        &self,
        _s: &Symbol,
        _tf: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(fetched(full(range, self.price)))
    }
}
