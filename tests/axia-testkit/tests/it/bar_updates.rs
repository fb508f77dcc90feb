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

struct Redis {
    subject: Subject,
    presence: Arc<RedisBarCache>,
}

impl std::ops::Deref for Redis {
    type Target = Subject;
    fn deref(&self) -> &Subject {
        &self.subject
    }
}

fn redis() -> Redis {
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
    Redis {
        subject: Subject::new(cache.clone(), cache.clone(), now()),
        presence: cache,
    }
}

bar_updates_contract!(redis_hot_tier, || async { redis().subject });

/// A live feed's announcement lasts its TTL, per symbol, per namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_live_presence_announces_and_lapses() {
    use axia_domain::LivePresence;
    let subject = redis();
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(std::env::var("REDIS_URL").unwrap())
            .namespace(format!("presence-other-{}", Utc::now().timestamp_micros())),
        Arc::new(ManualClock::new(now())),
    )
    .unwrap();
    let presence = subject.presence.clone();
    let eurusd = "EURUSD".parse().unwrap();
    let usdjpy = "USDJPY".parse().unwrap();
    assert!(!presence.is_live(&eurusd).await.unwrap());
    presence
        .announce(&eurusd, std::time::Duration::from_millis(300))
        .await
        .unwrap();
    assert!(presence.is_live(&eurusd).await.unwrap());
    assert!(!presence.is_live(&usdjpy).await.unwrap(), "per symbol");
    assert!(!cache.is_live(&eurusd).await.unwrap(), "per namespace");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(
        !presence.is_live(&eurusd).await.unwrap(),
        "lapsed after its TTL"
    );
}
