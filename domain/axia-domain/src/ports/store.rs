//! Stores of bars: the [`OhlcvStore`] every tier implements and the [`BarArchive`] of record.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::BoxError;
use crate::{FrameError, OhlcvFrame, Symbol, TimeRange, Timeframe};

/// Why an OHLCV store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached (down, refused, DNS). Callers fall back to another source.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("store timed out after {0:?}")]
    Timeout(Duration),
    /// Stored data could not be decoded; `location` names the key or object.
    #[error("corrupt data at {location}: {detail}")]
    Corrupt {
        /// The key or object.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// Concurrent writers kept conflicting and the write gave up after its retries.
    #[error("write conflict on {0} persisted after retries")]
    Conflict(String),
    /// The write carried a fencing token older than one the store has seen for the series (or
    /// none, on a fenced handle): another process holds the instrument now. Not retried.
    #[error("fenced out: {0}")]
    Fenced(String),
    /// The request itself is invalid for this store.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A frame operation failed (mixing series, say).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Any other infrastructure failure.
    #[error("store backend error: {0}")]
    Backend(#[source] BoxError),
}

/// The health of a store against its size targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoreHealth {
    /// Within target.
    Ok,
    /// Over the target, under the cap.
    Warning,
    /// Over the cap.
    Critical,
}

/// What a store holds for one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// The symbol.
    pub symbol: Symbol,
    /// The timeframe.
    pub timeframe: Timeframe,
    /// Bars held, when known.
    pub bars: Option<usize>,
    /// The oldest bar's open time.
    pub oldest: Option<DateTime<Utc>>,
    /// The newest bar's open time.
    pub newest: Option<DateTime<Utc>>,
    /// Bytes used, when known.
    pub bytes: Option<u64>,
}

/// What a store holds overall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// One entry per series held.
    pub datasets: Vec<DatasetInfo>,
    /// Bytes used by the store's data, when known.
    pub bytes_used: Option<u64>,
    /// Health against the store's targets.
    pub health: StoreHealth,
}

/// A store of OHLCV bars: the hot cache, the cold archive, an in-process cache.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OhlcvStore: Send + Sync {
    /// The bars of `symbol` / `timeframe` whose open time is in `range`, oldest first. A series
    /// the store does not hold, or holds no bar of in `range`, is an empty frame, not an error.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Timeout`] when the store cannot answer,
    /// [`StoreError::Corrupt`] when stored data cannot be decoded and the store has no
    /// documented fallback, [`StoreError::Backend`] for anything else.
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, StoreError>;

    /// Merges `frame` into what the store holds (upsert by open time: `frame`'s bars win).
    /// Saving the same frame twice leaves the same content; concurrent saves of disjoint bars
    /// both survive. A store with a retention policy may drop bars outside it.
    ///
    /// # Errors
    /// As [`OhlcvStore::get`], and [`StoreError::Conflict`] when concurrent writers kept
    /// conflicting. On error nothing is half-written: the series holds the old or new content.
    async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError>;

    /// What the store holds and its health.
    ///
    /// # Errors
    /// As [`OhlcvStore::get`].
    async fn info(&self) -> Result<StoreInfo, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Bar archive
// ---------------------------------------------------------------------------------------------

/// A stored unit of an archive (a partition file) that cannot be read as bars: not decodable,
/// truncated, empty, of a foreign schema, or written for another series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DamagedPartition {
    /// The object as the archive names it (`s3://bucket/key` or a path).
    pub object: String,
    /// The bar open times the partition holds: these bars are missing from any read.
    pub range: TimeRange,
    /// What is wrong with it.
    pub reason: String,
}

/// A damaged partition moved aside: kept, never deleted, outside the data files readers see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedFile {
    /// Where it is now (`s3://bucket/key` or a path).
    pub object: String,
    /// Where it was found.
    pub original: String,
    /// When it was found damaged and moved.
    pub found_at: DateTime<Utc>,
    /// Its size.
    pub bytes: u64,
}

/// What [`BarArchive::read`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveRead {
    /// Every readable bar that opens in the range.
    pub frame: OhlcvFrame,
    /// Partitions of the range that could not be read; their bars are missing from `frame`.
    pub damaged: Vec<DamagedPartition>,
}

/// The newest bar an archive holds for a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewestBar {
    /// Its open time; `None` when the series holds no readable bar.
    pub open: Option<DateTime<Utc>>,
    /// Damaged partitions met on the way, newest first (they were skipped).
    pub damaged: Vec<DamagedPartition>,
}

/// The cold archive, the system of record: an [`OhlcvStore`] that keeps bars forever and can
/// account for its own files.
///
/// Its [`OhlcvStore::get`] returns every readable bar of the range and treats a damaged
/// partition's bars as missing (logged at error level and counted), never failing the whole
/// read for one bad file; [`BarArchive::read`] says which partitions were damaged.
#[async_trait]
pub trait BarArchive: OhlcvStore {
    /// The readable bars of `range` and the damaged partitions met.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Timeout`], [`StoreError::Backend`] when the
    /// store cannot answer; never for a damaged partition.
    async fn read(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<ArchiveRead, StoreError>;

    /// The newest bar held for the series, skipping (and reporting) damaged partitions.
    ///
    /// # Errors
    /// As [`BarArchive::read`].
    async fn newest(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<NewestBar, StoreError>;

    /// Moves a damaged partition aside (never deletes it), so the partition can be rebuilt.
    /// The quarantined copy is named with `found_at` and kept outside the data files.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the object changed since it was found damaged (it may
    /// have been repaired meanwhile); otherwise as [`BarArchive::read`].
    async fn quarantine(
        &self,
        damaged: &DamagedPartition,
        found_at: DateTime<Utc>,
    ) -> Result<QuarantinedFile, StoreError>;

    /// The quarantined files of a series, oldest first.
    ///
    /// # Errors
    /// As [`BarArchive::read`].
    async fn quarantined(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Vec<QuarantinedFile>, StoreError>;
}

#[cfg(any(test, feature = "mocks"))]
mockall::mock! {
    /// A mock of [`BarArchive`], its [`OhlcvStore`] part included.
    pub BarArchive {}

    #[async_trait]
    impl OhlcvStore for BarArchive {
        async fn get(
            &self,
            symbol: &Symbol,
            timeframe: Timeframe,
            range: TimeRange,
        ) -> Result<OhlcvFrame, StoreError>;
        async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError>;
        async fn info(&self) -> Result<StoreInfo, StoreError>;
    }

    #[async_trait]
    impl BarArchive for BarArchive {
        async fn read(
            &self,
            symbol: &Symbol,
            timeframe: Timeframe,
            range: TimeRange,
        ) -> Result<ArchiveRead, StoreError>;
        async fn newest(&self, symbol: &Symbol, timeframe: Timeframe)
        -> Result<NewestBar, StoreError>;
        async fn quarantine(
            &self,
            damaged: &DamagedPartition,
            found_at: DateTime<Utc>,
        ) -> Result<QuarantinedFile, StoreError>;
        async fn quarantined(
            &self,
            symbol: &Symbol,
            timeframe: Timeframe,
        ) -> Result<Vec<QuarantinedFile>, StoreError>;
    }
}

// A shared handle to a port is the port (builders take adapters by value; an `Arc` of one,
// or an `Arc<dyn …>`, is such a value).

#[async_trait]
impl<T: OhlcvStore + ?Sized> OhlcvStore for std::sync::Arc<T> {
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, StoreError> {
        (**self).get(symbol, timeframe, range).await
    }
    async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError> {
        (**self).save(frame).await
    }
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        (**self).info().await
    }
}

#[async_trait]
impl<T: BarArchive + ?Sized> BarArchive for std::sync::Arc<T> {
    async fn read(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<ArchiveRead, StoreError> {
        (**self).read(symbol, timeframe, range).await
    }
    async fn newest(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<NewestBar, StoreError> {
        (**self).newest(symbol, timeframe).await
    }
    async fn quarantine(
        &self,
        damaged: &DamagedPartition,
        found_at: DateTime<Utc>,
    ) -> Result<QuarantinedFile, StoreError> {
        (**self).quarantine(damaged, found_at).await
    }
    async fn quarantined(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Vec<QuarantinedFile>, StoreError> {
        (**self).quarantined(symbol, timeframe).await
    }
}
