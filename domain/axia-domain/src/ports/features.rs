//! [`FeatureStore`]: where computed features live.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::{Symbol, TimeRange, Timeframe};

/// The feature values of one series at one bar: what a feature store holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSnapshot {
    /// The symbol.
    pub symbol: Symbol,
    /// The timeframe.
    pub timeframe: Timeframe,
    /// The open time of the bar the values were computed at.
    pub bar_open: DateTime<Utc>,
    /// True when that bar was forming: the values are provisional.
    pub forming: bool,
    /// Each feature by name (`sma_20`, `macd_12_26_9`, …); only warmed-up features appear.
    pub values: std::collections::BTreeMap<String, f64>,
}

impl FeatureSnapshot {
    /// Checks what every feature store refuses: a name starting with `_` (reserved for the
    /// store's own fields) or a value that is not finite.
    ///
    /// # Errors
    /// [`StoreError::InvalidRequest`] naming the first such feature.
    pub fn check(&self) -> Result<(), StoreError> {
        match self
            .values
            .iter()
            .find(|(k, v)| !v.is_finite() || k.starts_with('_'))
        {
            Some((k, v)) => Err(StoreError::InvalidRequest(format!(
                "feature {k} = {v}: names may not start with _ and values must be finite"
            ))),
            None => Ok(()),
        }
    }
}

/// What a [`FeatureStore::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeaturePublished {
    /// The latest values were replaced and the closed bar's values appended to the history.
    Appended,
    /// The latest values were replaced; the history already held this bar (or a newer one), so
    /// nothing was appended: replays are idempotent.
    AlreadyInHistory,
    /// A forming bar: the latest values were replaced, the history left alone.
    Forming,
}

/// Where computed features live: the latest values per series, a bounded history of closed-bar
/// values keyed by bar time, and a notification per change.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FeatureStore: Send + Sync {
    /// Stores `snapshot` as the series' latest values; a closed bar's values are also appended
    /// to the history (unless it already holds that bar); subscribers are notified.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached; nothing is half-written that a retry
    /// would not fix (the history refuses duplicates).
    async fn publish(&self, snapshot: &FeatureSnapshot) -> Result<FeaturePublished, StoreError>;

    /// The latest values of a series, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn latest(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Option<FeatureSnapshot>, StoreError>;

    /// The closed-bar values whose bar opened in `range`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn history(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<FeatureSnapshot>, StoreError>;
}

#[async_trait]
impl<T: FeatureStore + ?Sized> FeatureStore for std::sync::Arc<T> {
    async fn publish(&self, snapshot: &FeatureSnapshot) -> Result<FeaturePublished, StoreError> {
        (**self).publish(snapshot).await
    }
    async fn latest(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Option<FeatureSnapshot>, StoreError> {
        (**self).latest(symbol, timeframe).await
    }
    async fn history(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<FeatureSnapshot>, StoreError> {
        (**self).history(symbol, timeframe, range).await
    }
}
