//! Configuration and wiring shared by axia's binaries.
//!
//! Settings come from, in increasing precedence: the embedded defaults, a TOML file
//! (`--config`), the environment, and flags ([`CommonArgs`]). The embedded defaults need no
//! server: the simulated broker as the source, a Parquet archive in `./axia-archive`, no hot
//! cache. A bad setting is one [`ConfigError`] line.
//!
//! ```toml
//! symbols = ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"]
//! timeframes = ["M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1", "MN1"]
//! source = "simulated"          # or "yahoo", "oanda" (the registered sources)
//! lookback_hours = 24
//! concurrency = 8
//! retries = 3
//!
//! [archive]
//! location = "s3://my-bucket/axia"   # or a directory
//! force_path_style = false           # true for MinIO, moto
//! verify_writes = false              # true where conditional writes are not atomic (moto)
//!
//! [hot_cache]                         # optional: no Redis without it
//! url = "redis://:password@redis.internal:6379/0"
//! namespace = "axia"
//!
//! # Each source's own section, parsed by its adapter crate's settings type
//! # (axia_simbroker::SimulatedSettings, axia_yahoo::YahooSettings, axia_oanda::OandaSettings).
//! [simulated]
//! seed = 42
//!
//! [yahoo]
//! base_url = "https://query1.finance.yahoo.com"
//! requests_per_second = 2.0
//!
//! [lock]                              # needs [hot_cache]
//! enabled = true
//! ttl_secs = 30
//!
//! [orders]                            # the order processor and `axia killswitch`
//! queue = "axia-orders"
//! orders_table = "axia-orders"
//! kill_switch_table = "axia-kill-switch"
//! visibility_secs = 30
//! max_receives = 5
//! concurrency = 4
//! allowed_symbols = ["USDJPY", "EURUSD"]
//! ```
//!
//! Environment: `REDIS_URL` (the hot cache), `AXIA_ARCHIVE` (archive location),
//! `AXIA_S3_FORCE_PATH_STYLE`, `AXIA_SOURCE`, `AXIA_SYMBOLS` and `AXIA_TIMEFRAMES`
//! (comma-separated), and the standard AWS variables (`AWS_REGION`, `AWS_ENDPOINT_URL`,
//! credentials), which the AWS SDK reads itself.

#[cfg(feature = "cli")]
pub mod app;
pub mod dates;
mod limits;
#[cfg(feature = "orders")]
mod orders;
mod settings;
pub mod sources;
#[cfg(all(feature = "simulated", feature = "parquet"))]
mod wiring;

pub use limits::order_validator;
#[cfg(feature = "orders")]
pub use orders::{OrdersWiring, aws_sdk_config, kill_switch};
#[cfg(feature = "cli")]
pub use settings::CommonArgs;
pub use settings::{
    AlertsSettings, ArchiveSettings, ConfigError, ExecutorKind, FeaturesSettings, HotCacheSettings,
    LimitSettings, LiveSettings, LockSettings, OrdersSettings, Overrides, Settings,
};
pub use sources::{SourceName, SourceSections};
#[cfg(all(feature = "simulated", feature = "parquet"))]
pub use wiring::{HotCache, Wiring};
