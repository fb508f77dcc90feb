//! In-process OHLCV stores.
//!
//! - [`MemoryStore`]: every series in a map, merged on save. The fake used by the contract suite,
//!   and a real store for backtests and single-process tools.
//! - [`MemoryOrderStore`], [`MemoryKillSwitch`], [`MemoryOrderQueue`]: the order ports in memory,
//!   for tests, backtests and benchmarks.
//! - [`MemoryFeatureStore`]: the feature store port in memory, with the Redis store's rules.
//! - [`L1Cache`]: a cache in front of any [`OhlcvStore`](axia_domain::OhlcvStore) (the Redis hot
//!   tier, say), bounded in bytes, with a TTL, and invalidated by writes made through it.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use axia_domain::{OhlcvStore, OhlcvFrame, TimeRange, Timeframe};
//! use axia_memory::{L1Cache, L1Config, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let backing: Arc<dyn OhlcvStore> = Arc::new(MemoryStore::new());
//! let l1 = L1Cache::new(backing, L1Config::default().max_bytes(64 << 20).ttl(Duration::from_secs(2)));
//! let frame = OhlcvFrame::empty("USDJPY".parse()?, Timeframe::H1);
//! l1.save(&frame).await?;
//! # Ok(()) }
//! ```

mod alerts;
mod features;
mod l1;
mod memory;
mod orders;

pub use alerts::MemoryAlertLog;
pub use features::MemoryFeatureStore;
pub use l1::{L1Cache, L1Config, L1Counters};
pub use memory::MemoryStore;
pub use orders::{MemoryExecutionBook, MemoryKillSwitch, MemoryOrderQueue, MemoryOrderStore};

/// The approximate heap size of a frame: six 8-byte columns per bar, plus a fixed overhead.
fn frame_bytes(frame: &axia_domain::OhlcvFrame) -> u64 {
    48 * frame.len() as u64 + 160
}
