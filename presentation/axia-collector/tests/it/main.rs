//! End-to-end: the `axia-collector` binary against real Redis, moto S3 and the simulated
//! source (or the fake Yahoo), as cron would run it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::Arc;

use axia_domain::{ManualClock, OhlcvStore, TimeRange, Timeframe};
use axia_parquet::ParquetArchive;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

const AT: &str = "2026-03-04T12:00:00Z";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

fn unique(what: &str) -> String {
    format!(
        "axia-e2e-{what}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    )
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").expect("run through scripts/test.sh (REDIS_URL)")
}

fn collector(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_axia-collector"))
        .args(args)
        .env_remove("AXIA_ARCHIVE")
        .env_remove("AXIA_SOURCE")
        .env_remove("AXIA_SYMBOLS")
        .env_remove("AXIA_TIMEFRAMES")
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn s3() -> aws_sdk_s3::Client {
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true")
    );
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

async fn snapshot_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let list = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    for o in list.contents() {
        let key = o.key().unwrap().to_owned();
        let body = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap();
        out.insert(key, body.into_bytes().to_vec());
    }
    out
}

async fn snapshot_redis(ns: &str) -> BTreeMap<String, Vec<u8>> {
    let mut con = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}:ohlcv:*"))
        .query_async(&mut con)
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for k in keys {
        if k.ends_with(":index") {
            continue;
        }
        let v: Vec<u8> = redis::cmd("GET")
            .arg(&k)
            .query_async(&mut con)
            .await
            .unwrap();
        out.insert(k, v);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_job_fills_archive_and_hot_cache_and_a_rerun_changes_nothing() {
    let client = s3().await;
    let bucket = unique("bucket");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let ns = unique("ns");
    let archive = format!("s3://{bucket}/prod");
    let args = [
        "--at",
        AT,
        "--archive",
        &archive,
        "--force-path-style",
        "--redis-url",
        &redis_url(),
        "--namespace",
        &ns,
        "--json",
    ];

    let first = collector(&args);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report = json(&first);
    assert_eq!(report["status"], "ok");
    assert_eq!(report["summary"]["tasks"], 45);
    assert_eq!(report["summary"]["ok"], 45);
    assert_eq!(report["tasks"].as_array().unwrap().len(), 45);

    // The archive and the hot cache hold the simulated broker's bars of the lookback.
    let expected = |tf: Timeframe, hours: i64| {
        let range = TimeRange::last(Duration::hours(hours), at() + Duration::milliseconds(1));
        axia_simbroker::generate(42, &"USDJPY".parse().unwrap(), tf, range, at()).unwrap()
    };
    let cold = ParquetArchive::s3(client.clone(), bucket.clone(), "prod");
    let all = TimeRange::new(at() - Duration::days(60), at() + Duration::days(1)).unwrap();
    assert_eq!(
        cold.get(&"USDJPY".parse().unwrap(), Timeframe::M1, all)
            .await
            .unwrap(),
        expected(Timeframe::M1, 24)
    );
    assert_eq!(
        cold.get(&"USDJPY".parse().unwrap(), Timeframe::W1, all)
            .await
            .unwrap(),
        expected(Timeframe::W1, 24 * 7)
    );
    let hot = axia_redis::RedisBarCache::new(
        axia_redis::RedisCacheConfig::new(redis_url()).namespace(ns.clone()),
        Arc::new(ManualClock::new(at())),
    )
    .unwrap();
    assert_eq!(
        hot.get(&"USDJPY".parse().unwrap(), Timeframe::M5, all)
            .await
            .unwrap(),
        expected(Timeframe::M5, 24)
    );
    assert_eq!(hot.info().await.unwrap().datasets.len(), 45);

    // A second run leaves every object and key byte-identical.
    let (objects, keys) = (
        snapshot_bucket(&client, &bucket).await,
        snapshot_redis(&ns).await,
    );
    assert_eq!(
        objects.len(),
        5 * (4 * 2 + 2 + 3),
        "M1-M30 span two days, H1/H4 one month, D1/W1/MN1 one year"
    );
    let second = collector(&args);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(snapshot_bucket(&client, &bucket).await, objects);
    assert_eq!(snapshot_redis(&ns).await, keys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_symbol_gives_exit_1_and_a_report_naming_it() {
    let fake = axia_testkit::fake_yahoo::FakeYahoo::start(42, at()).await;
    let dir = std::env::temp_dir().join(unique("dir"));
    let out = collector(&[
        "--at",
        AT,
        "--source",
        "yahoo",
        "--yahoo-url",
        &fake.uri(),
        "--symbols",
        "USDJPY,NOSUCH1",
        "--timeframes",
        "H1,D1",
        "--archive",
        dir.to_str().unwrap(),
        "--retries",
        "0",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["status"], "partial");
    assert_eq!(report["summary"]["failed"], 2);
    for t in report["tasks"].as_array().unwrap() {
        let failed = t["status"] == "failed";
        assert_eq!(failed, t["symbol"] == "NOSUCH1", "{t}");
        if failed {
            assert!(t["error"].as_str().unwrap().contains("NOSUCH1"), "{t}");
        }
    }
    // Nothing succeeds: exit 2. The table names the failures too.
    let out = collector(&[
        "--at",
        AT,
        "--source",
        "yahoo",
        "--yahoo-url",
        &fake.uri(),
        "--symbols",
        "NOSUCH2",
        "--timeframes",
        "H1",
        "--archive",
        dir.to_str().unwrap(),
        "--retries",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("NOSUCH2") && table.contains("FAILED") && table.contains("1 failed"),
        "{table}"
    );
}

#[test]
fn a_bad_configuration_is_one_line_and_exit_2() {
    let dir = std::env::temp_dir().join(unique("cfg"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("collector.toml");
    std::fs::write(&file, "symbols = [\"USDJPY\"]\ntimeframes = [\"H2\"]\n").unwrap();
    let out = collector(&["--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("H2"), "{err}");
    let out = collector(&["--shard", "5/4"]);
    assert_eq!(out.status.code(), Some(2));
    let out = collector(&[
        "--redis-url",
        "redis://:s3cret@127.0.0.1:1",
        "--lock",
        "--archive",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "Redis down: the lock cannot be taken"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_skips_the_run_and_shards_split_the_symbols() {
    let ns = unique("lock");
    let hot = axia_redis::RedisBarCache::new(
        axia_redis::RedisCacheConfig::new(redis_url()).namespace(ns.clone()),
        Arc::new(axia_domain::SystemClock),
    )
    .unwrap();
    let held = hot
        .try_lease("collector", std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let dir = std::env::temp_dir().join(unique("lockdir"));
    let base = [
        "--at",
        AT,
        "--redis-url",
        &redis_url(),
        "--namespace",
        &ns,
        "--archive",
        dir.to_str().unwrap(),
        "--lock",
        "--json",
    ];
    let out = collector(&base);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["status"], "skipped");
    assert!(!dir.exists(), "nothing collected");
    held.release().await.unwrap();
    // Shards cover every symbol once, each under its own lock.
    let mut seen = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let mut args = base.to_vec();
        args.extend(["--shard", &shard, "--timeframes", "D1"]);
        let out = collector(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = json(&out);
        assert_eq!(r["shard"], shard.as_str());
        seen.extend(
            r["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["symbol"].as_str().unwrap().to_owned()),
        );
    }
    seen.sort();
    assert_eq!(seen, ["EURJPY", "EURUSD", "GBPJPY", "GBPUSD", "USDJPY"]);
}
