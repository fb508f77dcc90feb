//! Tidy tests: the workspace's architecture rules, checked on `cargo metadata`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codemap;
mod layering;
mod vendors;
