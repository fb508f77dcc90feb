//! The Parquet archive on a local directory and on moto S3 (`AWS_ENDPOINT_URL`, started by
//! `scripts/test.sh`), one fresh directory or bucket per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

mod archive;
mod support;
