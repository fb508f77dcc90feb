//! [`L1Cache`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{OhlcvFrame, OhlcvStore, StoreError, StoreInfo, Symbol, TimeRange, Timeframe};
use moka::future::Cache;

use crate::frame_bytes;

/// Size and freshness of an [`L1Cache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct L1Config {
    max_bytes: u64,
    ttl: Duration,
}

impl Default for L1Config {
    /// 64 MiB, 5 s.
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            ttl: Duration::from_secs(5),
        }
    }
}

impl L1Config {
    /// The most memory the cached frames may take (approximately: 48 bytes a bar).
    pub const fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// How long an entry may be served after it was fetched.
    pub const fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

/// What an [`L1Cache`] has served since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L1Counters {
    /// Gets answered from memory.
    pub hits: u64,
    /// Gets passed to the inner store.
    pub misses: u64,
}

/// A fetched window of one series: every bar of the inner store that opened in `range`.
#[derive(Debug)]
struct Entry {
    range: TimeRange,
    frame: OhlcvFrame,
}

/// A cache in front of any [`OhlcvStore`].
///
/// Per series it keeps the last window fetched from the inner store; a get whose range lies
/// inside that window is answered from memory, any other goes to the inner store and replaces
/// the window. Entries expire after the TTL and are evicted, least useful first, beyond the byte
/// bound. A save goes to the inner store and then drops the series' entry; a fetch that was in
/// flight while any save happened is not cached, so a write through the cache is never hidden by
/// an older read. Writes made to the inner store by others are seen after at most the TTL.
#[derive(Clone)]
pub struct L1Cache {
    inner: Arc<dyn OhlcvStore>,
    entries: Cache<(Symbol, Timeframe), Arc<Entry>>,
    writes: Arc<AtomicU64>,
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

impl std::fmt::Debug for L1Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Cache")
            .field("entries", &self.entries.entry_count())
            .field("bytes", &self.entries.weighted_size())
            .finish_non_exhaustive()
    }
}

impl L1Cache {
    /// A cache in front of `inner`.
    #[must_use]
    pub fn new(inner: Arc<dyn OhlcvStore>, config: L1Config) -> Self {
        let entries = Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_k, e: &Arc<Entry>| u32::try_from(frame_bytes(&e.frame)).unwrap_or(u32::MAX))
            .time_to_live(config.ttl)
            .build();
        Self {
            inner,
            entries,
            writes: Arc::default(),
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }

    /// Hits and misses since the cache was built.
    #[must_use]
    pub fn counters(&self) -> L1Counters {
        L1Counters {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Approximate bytes held (after pending evictions are applied).
    pub async fn bytes(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }
}

fn covers(outer: &TimeRange, inner: &TimeRange) -> bool {
    outer.start() <= inner.start() && inner.end() <= outer.end()
}

#[async_trait]
impl OhlcvStore for L1Cache {
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, StoreError> {
        let key = (symbol.clone(), timeframe);
        if let Some(entry) = self.entries.get(&key).await
            && covers(&entry.range, &range)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(entry.frame.slice(range));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let writes_before = self.writes.load(Ordering::SeqCst);
        let frame = self.inner.get(symbol, timeframe, range).await?;
        if self.writes.load(Ordering::SeqCst) == writes_before {
            let entry = Arc::new(Entry {
                range,
                frame: frame.clone(),
            });
            self.entries.insert(key, entry).await;
        }
        Ok(frame)
    }

    async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.save(frame).await;
        // Dropped whatever the outcome: a failed save may still have changed the inner store.
        self.entries
            .invalidate(&(frame.symbol().clone(), frame.timeframe()))
            .await;
        self.writes.fetch_add(1, Ordering::SeqCst);
        result
    }

    async fn info(&self) -> Result<StoreInfo, StoreError> {
        self.inner.info().await
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{Bar, MockOhlcvStore};
    use chrono::{Duration as Span, TimeZone, Utc};
    use mockall::predicate::eq;

    use super::*;

    fn sym() -> Symbol {
        "USDJPY".parse().unwrap()
    }

    fn day() -> TimeRange {
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        TimeRange::new(t, t + Span::days(1)).unwrap()
    }

    fn hours(n: usize) -> OhlcvFrame {
        let t0 = day().start();
        let bars =
            (0..n).map(|i| Bar::new(t0 + Span::hours(i as i64), 1.0, 1.1, 0.9, 1.05, 1.0).unwrap());
        OhlcvFrame::from_bars(sym(), Timeframe::H1, bars).unwrap()
    }

    #[tokio::test]
    async fn a_range_inside_the_cached_window_is_served_from_memory() {
        let mut inner = MockOhlcvStore::new();
        inner
            .expect_get()
            .times(1)
            .with(eq(sym()), eq(Timeframe::H1), eq(day()))
            .returning(|_, _, _| Ok(hours(24)));
        let l1 = L1Cache::new(Arc::new(inner), L1Config::default());
        assert_eq!(
            l1.get(&sym(), Timeframe::H1, day()).await.unwrap().len(),
            24
        );
        let morning = TimeRange::new(day().start(), day().start() + Span::hours(6)).unwrap();
        assert_eq!(
            l1.get(&sym(), Timeframe::H1, morning).await.unwrap(),
            hours(6)
        );
        assert_eq!(l1.counters(), L1Counters { hits: 1, misses: 1 });
    }

    #[tokio::test]
    async fn a_wider_range_or_another_series_goes_to_the_inner_store() {
        let mut inner = MockOhlcvStore::new();
        inner
            .expect_get()
            .times(3)
            .returning(|s, tf, _| Ok(OhlcvFrame::empty(s.clone(), tf)));
        let l1 = L1Cache::new(Arc::new(inner), L1Config::default());
        let two_days = TimeRange::new(day().start(), day().end() + Span::days(1)).unwrap();
        l1.get(&sym(), Timeframe::H1, day()).await.unwrap();
        l1.get(&sym(), Timeframe::H1, two_days).await.unwrap();
        l1.get(&sym(), Timeframe::M1, day()).await.unwrap();
        assert_eq!(l1.counters().misses, 3);
    }

    #[tokio::test]
    async fn a_save_through_the_cache_invalidates_the_series() {
        let mut inner = MockOhlcvStore::new();
        let mut seq = mockall::Sequence::new();
        inner
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(hours(2)));
        inner
            .expect_save()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        inner
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(hours(3)));
        let l1 = L1Cache::new(Arc::new(inner), L1Config::default());
        assert_eq!(l1.get(&sym(), Timeframe::H1, day()).await.unwrap().len(), 2);
        l1.save(&hours(3)).await.unwrap();
        assert_eq!(l1.get(&sym(), Timeframe::H1, day()).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn entries_expire_after_the_ttl() {
        let mut inner = MockOhlcvStore::new();
        inner
            .expect_get()
            .times(2)
            .returning(|_, _, _| Ok(hours(1)));
        let l1 = L1Cache::new(
            Arc::new(inner),
            L1Config::default().ttl(Duration::from_millis(50)),
        );
        l1.get(&sym(), Timeframe::H1, day()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        l1.get(&sym(), Timeframe::H1, day()).await.unwrap();
        assert_eq!(l1.counters(), L1Counters { hits: 0, misses: 2 });
    }

    #[tokio::test]
    async fn memory_stays_within_the_byte_bound() {
        let mut inner = MockOhlcvStore::new();
        inner.expect_get().returning(|s, tf, _| {
            let t0 = day().start();
            let bars = (0..1440)
                .map(|i| Bar::new(t0 + Span::minutes(i), 1.0, 1.1, 0.9, 1.05, 1.0).unwrap());
            let _ = tf;
            Ok(OhlcvFrame::from_bars(s.clone(), Timeframe::M1, bars).unwrap())
        });
        // Room for about three days of M1 (70 KB each).
        let l1 = L1Cache::new(Arc::new(inner), L1Config::default().max_bytes(220_000));
        for s in ["USDJPY", "EURUSD", "GBPUSD", "EURJPY", "GBPJPY", "AUDUSD"] {
            l1.get(&s.parse().unwrap(), Timeframe::M1, day())
                .await
                .unwrap();
        }
        let bytes = l1.bytes().await;
        assert!(bytes <= 220_000, "{bytes} bytes held");
        assert!(bytes > 0);
    }

    #[tokio::test]
    async fn errors_pass_through_and_are_not_cached() {
        let mut inner = MockOhlcvStore::new();
        let mut seq = mockall::Sequence::new();
        inner
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
        inner
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(hours(1)));
        let l1 = L1Cache::new(Arc::new(inner), L1Config::default());
        assert!(matches!(
            l1.get(&sym(), Timeframe::H1, day()).await,
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(l1.get(&sym(), Timeframe::H1, day()).await.unwrap().len(), 1);
    }
}
