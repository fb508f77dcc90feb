//! The OhlcvStore contract on: the in-memory store (the fake), the L1 cache in front of it, the
//! Redis hot tier, the L1 cache in front of Redis, and the Parquet archive on a local directory
//! and on moto S3.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axia_domain::{ManualClock, OhlcvStore};
use axia_memory::{L1Cache, L1Config, MemoryStore};
use axia_parquet::ParquetArchive;
use axia_redis::{RedisBarCache, RedisCacheConfig};
use axia_testkit::ohlcv_store::Subject;
use axia_testkit::ohlcv_store_contract;
use chrono::{DateTime, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap()
}

fn redis() -> Arc<dyn OhlcvStore> {
    static N: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("REDIS_URL")
        .unwrap_or_else(|_| panic!("REDIS_URL is not set: run the suite through scripts/test.sh"));
    let ns = format!(
        "contract-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    Arc::new(
        RedisBarCache::new(
            RedisCacheConfig::new(url).namespace(ns),
            Arc::new(ManualClock::new(now())),
        )
        .unwrap(),
    )
}

ohlcv_store_contract!(memory, || async {
    Subject::new(Arc::new(MemoryStore::new()), now())
});
ohlcv_store_contract!(l1_over_memory, || async {
    Subject::new(
        Arc::new(L1Cache::new(
            Arc::new(MemoryStore::new()),
            L1Config::default(),
        )),
        now(),
    )
});
ohlcv_store_contract!(redis_hot_tier, || async { Subject::new(redis(), now()) });
ohlcv_store_contract!(l1_over_redis, || async {
    Subject::new(Arc::new(L1Cache::new(redis(), L1Config::default())), now())
});

fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "axia-{what}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn s3_archive() -> Arc<dyn OhlcvStore> {
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true"),
        "run through scripts/test.sh"
    );
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("contract");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    Arc::new(
        ParquetArchive::s3(client, bucket, "archive").instruments(axia_testkit::utc_instruments()),
    )
}

ohlcv_store_contract!(parquet_local_dir, || async {
    Subject::new(
        Arc::new(
            ParquetArchive::local(std::env::temp_dir().join(unique("contract")))
                .instruments(axia_testkit::utc_instruments()),
        ),
        now(),
    )
});
ohlcv_store_contract!(parquet_moto_s3, || async {
    Subject::new(s3_archive().await, now())
});
