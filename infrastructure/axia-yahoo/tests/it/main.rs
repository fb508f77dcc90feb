//! The Yahoo gateway against a local fake server serving Yahoo-shaped responses.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

mod gateway;
