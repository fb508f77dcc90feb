//! Contract test suites for axia's ports: one suite per port, run against every adapter of that
//! port, fakes included, so they all mean the same thing by the same call.
//!
//! This is test code: it asserts and panics on failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod ohlcv_store;
