//! Smoke tests: each test service answers through the real client, configured the way axia's
//! adapters configure it. Run through `scripts/test.sh`, which starts the services and exports
//! `REDIS_URL`, `AWS_ENDPOINT_URL`, `AWS_REGION`, static test credentials and
//! `AWS_EC2_METADATA_DISABLED=true`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod aws;
mod redis_smoke;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A name no other test or run uses: `axia-<what>-<pid>-<nanos>-<n>`, lowercase, for buckets,
/// tables, queues and key prefixes.
pub fn unique_name(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "axia-{what}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A variable the test script exports; a clear failure when the suite is run without it.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the suite through scripts/test.sh, which starts the services"
        )
    })
}
