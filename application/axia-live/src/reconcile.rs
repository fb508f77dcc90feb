//! Live-built bars are provisional: once the source's own candle of a closed bar can be
//! fetched, it replaces the live-built one in the hot tier (the archive, fed by the collector,
//! holds only the source's candles). [`Reconciler`] runs beside the feed: each closed bar is
//! checked `after` its close; after a reconnect, the gap since the last quote is filled from the
//! candles at once. It counts the bars whose live-built values differed from the candle.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axia_domain::{Clock, MarketData, MarketDataError, OhlcvStore, Symbol, TimeRange, Timeframe};
use tokio::sync::mpsc;

use crate::FeedCounters;

/// A span of one series to check against the source.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) due: tokio::time::Instant,
    pub(crate) symbol: Symbol,
    pub(crate) timeframe: Timeframe,
    pub(crate) from_ms: i64,
    pub(crate) to_ms: i64,
    /// The stream was open for the bar's whole period (else a differing bar is not counted).
    pub(crate) seen_whole: bool,
}

/// The task that checks closed bars against the source's candles.
pub(crate) struct Reconciler {
    pub(crate) source: Arc<dyn MarketData>,
    pub(crate) hot: Arc<dyn OhlcvStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) counters: Arc<FeedCounters>,
}

type Key = (Symbol, Timeframe);

impl Reconciler {
    /// Takes checks until the channel closes, then runs those already due and returns.
    pub(crate) async fn run(self, mut checks: mpsc::UnboundedReceiver<Check>) {
        let mut waiting: BTreeMap<tokio::time::Instant, Vec<Check>> = BTreeMap::new();
        loop {
            let next = waiting.keys().next().copied();
            tokio::select! {
                c = checks.recv() => match c {
                    Some(c) => waiting.entry(c.due).or_default().push(c),
                    None => break,
                },
                () = sleep_until(next), if next.is_some() => {
                    let now = tokio::time::Instant::now();
                    let later = waiting.split_off(&(now + Duration::from_nanos(1)));
                    let due = std::mem::replace(&mut waiting, later);
                    self.check(due.into_values().flatten()).await;
                }
            }
        }
        let now = tokio::time::Instant::now();
        let due: Vec<Check> = waiting
            .into_iter()
            .filter(|(t, _)| *t <= now)
            .flat_map(|(_, c)| c)
            .collect();
        self.check(due.into_iter()).await;
    }

    /// One fetch per series for everything due, covering its spans.
    async fn check(&self, due: impl Iterator<Item = Check>) {
        let mut spans: BTreeMap<Key, (i64, i64, Vec<i64>)> = BTreeMap::new();
        for c in due {
            let e =
                spans
                    .entry((c.symbol, c.timeframe))
                    .or_insert((c.from_ms, c.to_ms, Vec::new()));
            e.0 = e.0.min(c.from_ms);
            e.1 = e.1.max(c.to_ms);
            if c.seen_whole {
                e.2.push(c.from_ms);
            }
        }
        for ((symbol, timeframe), (from, to, whole)) in spans {
            self.check_series(&symbol, timeframe, from, to, &whole)
                .await;
        }
    }

    /// Replaces the live bars of `[from, to)` by the source's closed candles; `whole`: the
    /// opens of the bars the feed saw whole, whose differences are counted.
    async fn check_series(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        from: i64,
        to: i64,
        whole: &[i64],
    ) {
        let (Some(start), Some(end)) = (
            chrono::DateTime::from_timestamp_millis(from),
            chrono::DateTime::from_timestamp_millis(to),
        ) else {
            return;
        };
        let Ok(range) = TimeRange::new(start, end) else {
            return;
        };
        let now = self.clock.now();
        let candles = match self.source.bars(symbol, timeframe, range).await {
            Ok(f) => f.frame.closed_at(now),
            Err(MarketDataError::NoData(_)) => return,
            Err(e) => {
                FeedCounters::bump(&self.counters.reconcile_errors);
                tracing::warn!(%symbol, %timeframe, error = %e, "cannot fetch the source's candles to check live bars");
                return;
            }
        };
        if candles.is_empty() {
            return;
        }
        let live = match self.hot.get(symbol, timeframe, range).await {
            Ok(f) => f,
            Err(e) => {
                FeedCounters::bump(&self.counters.reconcile_errors);
                tracing::warn!(%symbol, %timeframe, error = %e, "cannot read live bars to check them");
                return;
            }
        };
        let mut differing = 0u64;
        let mut filled = 0u64;
        for c in candles.iter() {
            match live.iter().find(|b| b.time_millis() == c.time_millis()) {
                Some(b) => {
                    let same = (b.open(), b.high(), b.low(), b.close(), b.volume())
                        == (c.open(), c.high(), c.low(), c.close(), c.volume());
                    if !same && whole.contains(&c.time_millis()) {
                        differing += 1;
                    }
                }
                None => filled += 1,
            }
        }
        if let Err(e) = self.hot.save(&candles).await {
            FeedCounters::bump(&self.counters.reconcile_errors);
            tracing::warn!(%symbol, %timeframe, error = %e, "cannot write the source's candles over live bars");
            return;
        }
        self.counters
            .reconciled_bars
            .fetch_add(candles.len() as u64, Ordering::Relaxed);
        self.counters
            .differing_bars
            .fetch_add(differing, Ordering::Relaxed);
        self.counters.gap_bars.fetch_add(filled, Ordering::Relaxed);
        if differing > 0 || filled > 0 {
            tracing::info!(%symbol, %timeframe, candles = candles.len(), differing, filled, "live bars replaced by the source's candles");
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
