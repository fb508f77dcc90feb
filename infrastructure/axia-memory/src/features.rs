//! [`MemoryFeatureStore`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::RwLock;

use async_trait::async_trait;
use axia_domain::{
    FeaturePublished, FeatureSnapshot, FeatureStore, StoreError, Symbol, TimeRange, Timeframe,
};

#[derive(Debug, Default)]
struct Series {
    latest: Option<FeatureSnapshot>,
    history: VecDeque<FeatureSnapshot>,
}

/// Computed features in memory, with the rules of the Redis store: the latest values move only
/// forward in bar time (a revised bar replaces them), the history keeps closed bars in bar-time
/// order and refuses one it holds or one older than its newest (replays are idempotent), and
/// keeps the last `history_len` bars per series. For backtests, single-process tools and tests.
#[derive(Debug)]
pub struct MemoryFeatureStore {
    series: RwLock<BTreeMap<(Symbol, Timeframe), Series>>,
    history_len: usize,
}

impl Default for MemoryFeatureStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryFeatureStore {
    /// An empty store keeping 10,000 closed bars per series.
    #[must_use]
    pub fn new() -> Self {
        Self {
            series: RwLock::default(),
            history_len: 10_000,
        }
    }

    /// How many closed bars the history of a series keeps (at least 1).
    #[must_use]
    pub fn history_len(mut self, n: usize) -> Self {
        self.history_len = n.max(1);
        self
    }
}

#[async_trait]
impl FeatureStore for MemoryFeatureStore {
    async fn publish(&self, s: &FeatureSnapshot) -> Result<FeaturePublished, StoreError> {
        s.check()?;
        let mut all = axia_domain::locks::write(&self.series);
        let series = all.entry((s.symbol.clone(), s.timeframe)).or_default();
        if series
            .latest
            .as_ref()
            .is_none_or(|l| l.bar_open <= s.bar_open)
        {
            series.latest = Some(s.clone());
        }
        if s.forming {
            return Ok(FeaturePublished::Forming);
        }
        if series
            .history
            .back()
            .is_some_and(|last| last.bar_open >= s.bar_open)
        {
            return Ok(FeaturePublished::AlreadyInHistory);
        }
        series.history.push_back(s.clone());
        while series.history.len() > self.history_len {
            series.history.pop_front();
        }
        Ok(FeaturePublished::Appended)
    }

    async fn latest(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Option<FeatureSnapshot>, StoreError> {
        let all = axia_domain::locks::read(&self.series);
        Ok(all
            .get(&(symbol.clone(), timeframe))
            .and_then(|s| s.latest.clone()))
    }

    async fn history(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<FeatureSnapshot>, StoreError> {
        let all = axia_domain::locks::read(&self.series);
        Ok(all
            .get(&(symbol.clone(), timeframe))
            .map(|s| {
                s.history
                    .iter()
                    .filter(|f| range.contains(f.bar_open))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn snap(minute: i64, forming: bool, v: f64) -> FeatureSnapshot {
        FeatureSnapshot {
            symbol: "EURUSD".parse().unwrap(),
            timeframe: Timeframe::M1,
            bar_open: Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
                + Duration::minutes(minute),
            forming,
            values: BTreeMap::from([("sma_3".to_owned(), v)]),
        }
    }

    #[tokio::test]
    async fn follows_the_rules_of_the_redis_store() {
        let store = MemoryFeatureStore::new().history_len(2);
        let (sym, tf) = ("EURUSD".parse().unwrap(), Timeframe::M1);
        assert_eq!(
            store.publish(&snap(1, true, 1.0)).await.unwrap(),
            FeaturePublished::Forming
        );
        assert_eq!(
            store.publish(&snap(1, false, 1.5)).await.unwrap(),
            FeaturePublished::Appended
        );
        assert_eq!(
            store.publish(&snap(1, false, 1.5)).await.unwrap(),
            FeaturePublished::AlreadyInHistory
        );
        // An older bar neither replaces the latest values nor enters the history.
        assert_eq!(
            store.publish(&snap(0, false, 9.0)).await.unwrap(),
            FeaturePublished::AlreadyInHistory
        );
        assert_eq!(
            store.latest(&sym, tf).await.unwrap(),
            Some(snap(1, false, 1.5))
        );
        store.publish(&snap(2, false, 2.0)).await.unwrap();
        store.publish(&snap(3, false, 3.0)).await.unwrap();
        let all =
            TimeRange::new(snap(0, false, 0.0).bar_open, snap(9, false, 0.0).bar_open).unwrap();
        let kept: Vec<f64> = store
            .history(&sym, tf, all)
            .await
            .unwrap()
            .iter()
            .map(|s| s.values["sma_3"])
            .collect();
        assert_eq!(kept, vec![2.0, 3.0], "bounded to the newest two");
        let mut bad = snap(4, false, f64::NAN);
        assert!(store.publish(&bad).await.is_err());
        bad.values = BTreeMap::from([("_x".to_owned(), 1.0)]);
        assert!(store.publish(&bad).await.is_err());
        assert_eq!(
            store.latest(&sym, tf).await.unwrap(),
            Some(snap(3, false, 3.0))
        );
    }
}
