//! [`MemoryStore`].

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;
use axia_domain::{
    DatasetInfo, OhlcvFrame, OhlcvStore, StoreError, StoreHealth, StoreInfo, Symbol, TimeRange,
    Timeframe,
};

use crate::frame_bytes;

/// Every series in memory, merged on save (incoming bars win). Keeps everything it is given;
/// no retention, no TTL.
#[derive(Debug, Default)]
pub struct MemoryStore {
    series: RwLock<BTreeMap<(Symbol, Timeframe), OhlcvFrame>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl OhlcvStore for MemoryStore {
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, StoreError> {
        // A panic elsewhere while holding the lock cannot leave a half-merged frame (frames are
        // replaced whole), so a poisoned lock's data is still consistent.
        let series = axia_domain::locks::read(&self.series);
        Ok(series.get(&(symbol.clone(), timeframe)).map_or_else(
            || OhlcvFrame::empty(symbol.clone(), timeframe),
            |f| f.slice(range),
        ))
    }

    async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError> {
        let mut series = axia_domain::locks::write(&self.series);
        let key = (frame.symbol().clone(), frame.timeframe());
        let merged = match series.get(&key) {
            Some(existing) => existing.merge(frame)?,
            None => frame.clone(),
        };
        series.insert(key, merged);
        Ok(())
    }

    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let series = axia_domain::locks::read(&self.series);
        let datasets: Vec<DatasetInfo> = series
            .iter()
            .map(|((symbol, timeframe), f)| DatasetInfo {
                symbol: symbol.clone(),
                timeframe: *timeframe,
                bars: Some(f.len()),
                oldest: f.first_time(),
                newest: f.last_time(),
                bytes: Some(frame_bytes(f)),
            })
            .collect();
        let bytes = datasets.iter().filter_map(|d| d.bytes).sum();
        Ok(StoreInfo {
            datasets,
            bytes_used: Some(bytes),
            health: StoreHealth::Ok,
        })
    }
}
