//! The indicators against TA-Lib 0.8.2's own output (`tests/golden`, written by
//! `tests/golden/generate.py`), and the streaming properties.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::float_cmp,
    unreachable_pub
)]

mod golden;
mod properties;
mod sweep;
