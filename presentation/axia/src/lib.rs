//! # axia
//!
//! OHLCV bars (candles) for FX pairs and stocks through a tiered store — an in-process cache,
//! a Redis hot tier holding the last 24 hours, a Parquet archive on S3 or a directory kept
//! forever — with the market-data sources behind them, and a safe path for orders.
//!
//! This is the one crate a service adds. Each adapter is a feature:
//!
//! | feature | what it brings |
//! |---|---|
//! | `simulated` (default) | the simulated broker: deterministic bars, paper execution, offline ([`simulated`]) |
//! | `parquet` (default) | the cold archive as hive-partitioned Parquet in a directory ([`parquet`]) |
//! | `s3` | the cold archive on S3 or an S3-compatible store |
//! | `dataframe` | polars DataFrames of archived bars, for analysis |
//! | `redis` | the hot tier on Redis, and its live update feed ([`redis`]) |
//! | `yahoo` | Yahoo Finance as a source ([`yahoo`]) |
//! | `oanda` | OANDA v20 as a source: candles in axia's alignment ([`oanda`]) |
//! | `orders` | the process-order use case: kill switch, limits, claims, exactly-once execution ([`orders`]) |
//! | `dynamodb`, `sqs` | the order store, kill switch and paper book on DynamoDB; the order queue on SQS |
//! | `config` | settings from TOML and the environment, and the adapters they select ([`config`]) |
//! | `server` | axia over HTTP: an axum `Router` with bars (JSON, CSV), live WebSockets, the chart page, health and OpenAPI ([`server`]) |
//!
//! Always there: the domain ([`domain`]: symbols, timeframes, bars, frames, orders, calendars and
//! the ports every adapter implements), technical indicators exactly as TA-Lib defines them
//! ([`indicators`]) and the feature engine that keeps them up to date ([`features`]), the live
//! feed that makes a price stream's quotes into bars ([`live`]), the data provider ([`provider`]), collection, backfill and audit
//! ([`collect`]), and in-memory stores ([`memory`]). Adapters are taken by value by
//! every builder; clocks default to the system's. [`prelude`] has what most programs use.
//!
//! ## 30 days of H1 bars for USDJPY through the provider
//!
//! Offline: the simulated broker as the source, a Parquet archive in a directory.
//!
//! ```
//! use axia::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("axia-front-page-{}", std::process::id()));
//! let broker = SimulatedBroker::seeded(42);
//! let archive = ParquetArchive::local(&dir);
//! let usdjpy: Symbol = "USDJPY".parse()?;
//!
//! // Archive the last 30 days of closed H1 bars, as the collector does each run.
//! let plan = CollectPlan::new(vec![usdjpy.clone()], vec![Timeframe::H1]);
//! let report = Collect::new(broker.clone(), archive.clone()).run(&plan).await;
//! assert_eq!(report.exit_code(), 0);
//!
//! // Read them through the provider: the archive first, the broker for what it lacks (the
//! // bar forming now, which is never archived).
//! let provider = OhlcvDataProvider::builder()
//!     .cold_archive(archive)
//!     .fallback(broker)
//!     .build();
//! let request = OhlcvRequest::new(usdjpy, Timeframe::H1, Window::last_days(30), UseCase::Chart);
//! let answer = provider.get(request).await?;
//!
//! assert_eq!(answer.meta.served_by, Some(Role::ColdArchive));
//! assert!(answer.meta.complete, "every expected hour is there: {:?}", answer.meta.completeness.gaps);
//! println!(
//!     "{} H1 bars, {} of them forming; sources: {:?}",
//!     answer.frame.len(),
//!     usize::from(answer.meta.forming.is_some()),
//!     answer.meta.attempts.iter().map(|a| (a.source, &a.outcome)).collect::<Vec<_>>(),
//! );
//! # std::fs::remove_dir_all(dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! More in `examples/`: reading the archive with polars, live updates from the hot tier,
//! submitting an order through the process-order use case.
//!
//! ## The public API
//!
//! Everything a service needs is reachable from this crate; the `axia-*` crates behind it are
//! implementation crates with the same items, re-exported here as modules.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub use axia_collect as collect;
pub use axia_domain as domain;
pub use axia_features as features;
pub use axia_indicators as indicators;
/// The live feed: a price stream's quotes into bars of every timeframe ([`live::QuotesToBars`]),
/// and into a hot tier ([`live::LiveFeed`]). Price streams: the simulated market's
/// (`simulated` feature: `SimulatedStream`) and OANDA's (`oanda` feature: `OandaStream`).
pub use axia_live as live;
pub use axia_memory as memory;
pub use axia_provider as provider;
/// The date and time types in axia's API.
pub use chrono;

/// The AWS SDK settings every AWS adapter shares (`s3`, `dynamodb`, `sqs` features).
#[cfg(any(feature = "s3", feature = "dynamodb", feature = "sqs"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "s3", feature = "dynamodb", feature = "sqs")))
)]
pub use axia_aws as aws;
/// The configuration library: settings from TOML and the environment, and the adapters they
/// select (`config` feature).
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use axia_config as config;
/// The order store, kill switch and paper book on DynamoDB (`dynamodb` feature).
#[cfg(feature = "dynamodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
pub use axia_dynamodb as dynamodb;
/// OANDA v20 (`oanda` feature).
#[cfg(feature = "oanda")]
#[cfg_attr(docsrs, doc(cfg(feature = "oanda")))]
pub use axia_oanda as oanda;
/// The process-order use case (`orders` feature).
#[cfg(feature = "orders")]
#[cfg_attr(docsrs, doc(cfg(feature = "orders")))]
pub use axia_orders as orders;
/// The cold archive: hive-partitioned Parquet in a directory or on S3 (`parquet` feature).
#[cfg(feature = "parquet")]
#[cfg_attr(docsrs, doc(cfg(feature = "parquet")))]
pub use axia_parquet as parquet;
/// The hot tier on Redis (`redis` feature).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use axia_redis as redis;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use axia_server as server;
/// The simulated broker (`simulated` feature).
#[cfg(feature = "simulated")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulated")))]
pub use axia_simbroker as simulated;
/// The order queue on SQS (`sqs` feature).
#[cfg(feature = "sqs")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqs")))]
pub use axia_sqs as sqs;
/// Yahoo Finance (`yahoo` feature).
#[cfg(feature = "yahoo")]
#[cfg_attr(docsrs, doc(cfg(feature = "yahoo")))]
pub use axia_yahoo as yahoo;

/// What most programs use: `use axia::prelude::*;`.
pub mod prelude {
    pub use axia_collect::{Audit, Collect, CollectPlan, CollectReport, TaskStatus};
    pub use axia_domain::{
        Bar, BarArchive, Clock, FeatureStore, ManualClock, MarketData, OhlcvFrame, OhlcvStore,
        Symbol, SystemClock, TimeRange, Timeframe, UseCase,
    };
    pub use axia_features::{FeatureConfig, FeatureEngine};
    pub use axia_live::{LiveBarsConfig, LiveFeed, QuotesToBars};
    pub use axia_memory::{L1Cache, MemoryFeatureStore, MemoryStore};
    pub use axia_provider::{
        OhlcvDataProvider, OhlcvRequest, OhlcvResponse, ProviderError, Role, Window,
    };

    #[cfg(feature = "orders")]
    pub use axia_domain::{
        KillSwitch, Order, OrderExecutor, OrderLimits, OrderQueue, OrderStatus, OrderStore,
        OrderValidator,
    };
    #[cfg(feature = "orders")]
    pub use axia_orders::{Handled, OrderMessage, ProcessOrder};
    #[cfg(feature = "parquet")]
    pub use axia_parquet::ParquetArchive;
    #[cfg(feature = "redis")]
    pub use axia_redis::{RedisBarCache, RedisCacheConfig};
    #[cfg(feature = "simulated")]
    pub use axia_simbroker::SimulatedBroker;
    #[cfg(feature = "yahoo")]
    pub use axia_yahoo::{YahooConfig, YahooGateway};
}
