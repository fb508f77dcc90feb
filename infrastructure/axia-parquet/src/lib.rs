//! axia's cold tier: every OHLCV bar kept forever as Parquet, in an S3 bucket or a local
//! directory (the embedded default).
//!
//! [`ParquetArchive`] implements the domain's [`OhlcvStore`](axia_domain::OhlcvStore) port.
//! The tree is hive-partitioned ([`layout`]) so polars, DuckDB and Athena read it directly:
//!
//! ```text
//! {prefix}/ohlcv/symbol=USDJPY/timeframe=M1/2026-03-04.parquet   (a UTC day for M1..M30)
//! {prefix}/ohlcv/symbol=USDJPY/timeframe=H1/2026-03.parquet      (a UTC month for H1, H4)
//! {prefix}/ohlcv/symbol=USDJPY/timeframe=D1/2026.parquet         (a UTC year for D1, W1, MN1)
//! ```
//!
//! Files hold `time` (timestamp ms UTC, the open time), `open high low close volume` (f64),
//! zstd-compressed, with key-value metadata naming the series and schema version ([`format`]).
//! polars stays inside this crate: no polars type is in its API, except the optional
//! DataFrame conversions of the `dataframe` feature.
//!
//! ```no_run
//! use axia_domain::{OhlcvStore, TimeRange, Timeframe};
//! use axia_parquet::ParquetArchive;
//! use chrono::{Duration, Utc};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let archive = ParquetArchive::local("/var/lib/axia/archive");
//! let month = TimeRange::new(Utc::now() - Duration::days(30), Utc::now())?;
//! let loaded = archive.load(&"USDJPY".parse()?, Timeframe::M1, month).await?;
//! println!("{} bars, {} days missing", loaded.frame.len(), loaded.absent.len());
//! # Ok(()) }
//! ```

mod archive;
pub mod format;
pub mod layout;
mod objects;

pub use archive::{Loaded, ParquetArchive, PartitionInfo, Realigned};

/// Conversions between frames and polars DataFrames in the archive's schema.
#[cfg(feature = "dataframe")]
pub mod dataframe {
    pub use crate::format::{from_dataframe, to_dataframe};
    /// polars itself, at the version the archive is written with, for scanning the tree.
    pub use polars;
    pub use polars::prelude::DataFrame;
}
