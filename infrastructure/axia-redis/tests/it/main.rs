//! Integration tests of the Redis hot tier against a real Redis (`REDIS_URL`, started by
//! `scripts/test.sh`) and against private redis-server processes on spare ports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

mod cache;
mod cluster;
mod features;
mod outage;
mod ownership;
mod support;
