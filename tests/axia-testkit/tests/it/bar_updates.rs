//! The BarUpdates contract on the Redis hot tier (its update messages over pub/sub).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axia_domain::ManualClock;
use axia_redis::{RedisBarCache, RedisCacheConfig};
use axia_testkit::bar_updates::Subject;
use axia_testkit::bar_updates_contract;
use chrono::{DateTime, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 12, 2, 30).unwrap()
}

fn redis() -> Subject {
    static N: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("REDIS_URL")
        .unwrap_or_else(|_| panic!("REDIS_URL is not set: run the suite through scripts/test.sh"));
    let ns = format!(
        "updates-contract-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let cache = Arc::new(
        RedisBarCache::new(
            RedisCacheConfig::new(url).namespace(ns),
            Arc::new(ManualClock::new(now())),
        )
        .unwrap(),
    );
    Subject::new(cache.clone(), cache, now())
}

bar_updates_contract!(redis_hot_tier, || async { redis() });
