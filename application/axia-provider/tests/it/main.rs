//! Use-case tests of the provider with mockall mocks (asserting the calls and their order) and
//! small fakes where a call must take time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

mod resilience;
mod routing;
mod support;
