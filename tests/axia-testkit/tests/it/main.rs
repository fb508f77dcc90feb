//! The contract suites run against every adapter. Adapters that need a server read its address
//! from the environment `scripts/test.sh` exports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

mod alerts;
mod archive_truth;
mod bar_updates;
mod damaged_archive;
mod features;
mod jobs;
mod live;
mod market_data;
mod oanda_stream;
mod ohlcv_store;
mod order_executor;
mod order_store;
mod provider;
