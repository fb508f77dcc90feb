//! axia's hot tier: the last 24 hours of OHLCV bars in Redis.
//!
//! [`RedisBarCache`] implements the domain's [`OhlcvStore`](axia_domain::OhlcvStore) port on a
//! standalone Redis or a Redis Cluster: one key per series, `{namespace}ohlcv:{SYMBOL}:{TF}`,
//! holding a columnar, versioned msgpack value ([`codec`]), trimmed to the retention on every
//! write, with a TTL anchored to the New York close ([`TtlPolicy`]), merged atomically under
//! concurrent writers, and announced on `…:updates` ([`UpdateMessage`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use axia_domain::{OhlcvStore, SystemClock, Timeframe};
//! use axia_redis::{RedisBarCache, RedisCacheConfig};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = RedisBarCache::new(
//!     RedisCacheConfig::new("redis://127.0.0.1:6379").namespace("axia"),
//!     Arc::new(SystemClock),
//! )?;
//! let last_day = cache.get_recent(&"USDJPY".parse()?, Timeframe::H1, 24).await?;
//! println!("{} bars, {:?}", last_day.len(), cache.info().await?.health);
//! # Ok(()) }
//! ```

mod alerts;
mod cache;
pub mod codec;
mod config;
mod features;
mod lease;
mod memo;
mod ownership;
mod updates;

pub use alerts::RedisAlertLog;
pub use cache::{CacheCounters, MAX_PATCHES, RedisBarCache, TailBar, UpdateMessage};
pub use config::{RedisCacheConfig, TtlPolicy, redact_url};
pub use features::RedisFeatureStore;
pub use lease::{Lease, holder_id};
pub use updates::UpdateFeed;
