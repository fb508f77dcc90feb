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
    // A counter too: two tests in the same microsecond must not share a name.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "axia-e2e-{what}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
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
    // A one-day catch-up horizon: this test is about the default job's shape, not the catch-up.
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
        "--catch-up-days",
        "1",
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

    // The archive holds the simulated broker's closed bars of the window, the hot cache the
    // bars of the lookback with the forming one, labelled.
    let mut plan = axia_collect::CollectPlan::new(vec![], vec![]);
    plan.catch_up = Duration::days(1);
    let generated = |tf: Timeframe, range: TimeRange| {
        axia_simbroker::generate(42, &"USDJPY".parse().unwrap(), tf, range, at()).unwrap()
    };
    let archived = |tf: Timeframe| {
        let window = axia_collect::catch_up_window(
            &plan,
            tf,
            at(),
            None,
            axia_domain::SourceLimits::UNLIMITED,
        );
        generated(tf, window.fetch).closed_at(at())
    };
    let cached = |tf: Timeframe| {
        let start = at() - axia_collect::lookback(Duration::hours(24), tf);
        generated(
            tf,
            TimeRange::new(start, at() + Duration::milliseconds(1)).unwrap(),
        )
    };
    let cold = ParquetArchive::s3(client.clone(), bucket.clone(), "prod");
    let all = TimeRange::new(at() - Duration::days(60), at() + Duration::days(1)).unwrap();
    for tf in [
        Timeframe::M1,
        Timeframe::H4,
        Timeframe::D1,
        Timeframe::W1,
        Timeframe::MN1,
    ] {
        let held = cold.get(&"USDJPY".parse().unwrap(), tf, all).await.unwrap();
        assert_eq!(held, archived(tf), "{tf}");
        assert!(
            held.iter().all(|b| tf.is_closed_at(b.time(), at())),
            "{tf}: closed bars only"
        );
    }
    let hot = axia_redis::RedisBarCache::new(
        axia_redis::RedisCacheConfig::new(redis_url()).namespace(ns.clone()),
        Arc::new(ManualClock::new(at())),
    )
    .unwrap();
    let m5 = hot
        .get(&"USDJPY".parse().unwrap(), Timeframe::M5, all)
        .await
        .unwrap();
    assert_eq!(m5, cached(Timeframe::M5));
    assert_eq!(
        m5.forming().map(|b| b.time()),
        Some(at()),
        "the hot tier labels the forming bar"
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
fn a_hot_cache_that_is_down_after_the_archive_is_degraded_exit_1_not_2() {
    let dir = std::env::temp_dir().join(unique("degraded"));
    let out = collector(&[
        "--at",
        AT,
        "--archive",
        dir.to_str().unwrap(),
        "--redis-url",
        "redis://:s3cret@127.0.0.1:1",
        "--symbols",
        "USDJPY,EURUSD",
        "--timeframes",
        "H1,D1",
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
    assert_eq!(report["summary"]["degraded"], 4);
    assert_eq!(report["summary"]["failed"], 0);
    for t in report["tasks"].as_array().unwrap() {
        assert_eq!(t["status"], "degraded", "{t}");
        assert!(
            t["archived"].as_u64().unwrap() > 0,
            "the data is archived: {t}"
        );
        assert!(
            t["warning"].as_str().unwrap().starts_with("hot cache:"),
            "{t}"
        );
    }
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("s3cret"), "the password never appears");
    let archived = dir.join("ohlcv/symbol=USDJPY/timeframe=H1/2026-03.parquet");
    assert!(archived.exists());
}

#[test]
fn backfill_fills_a_range_and_a_rerun_fetches_nothing() {
    let dir = std::env::temp_dir().join(unique("backfill"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("collector.toml");
    std::fs::write(
        &config,
        "symbols = [\"EURUSD\", \"7203.T\"]\ntimeframes = [\"M30\", \"H4\", \"D1\"]\n",
    )
    .unwrap();
    let archive = dir.join("archive");
    // --config and the other flags are accepted after the subcommand too.
    let args = [
        "backfill",
        "--from",
        "2026-01-20",
        "--to",
        "2026-02-10",
        "--at",
        AT,
        "--config",
        config.to_str().unwrap(),
        "--archive",
        archive.to_str().unwrap(),
        "--json",
    ];
    let out = collector(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    assert_eq!(
        (r["mode"].as_str(), r["summary"]["tasks"].as_u64()),
        (Some("backfill"), Some(6))
    );
    for t in r["tasks"].as_array().unwrap() {
        assert!(t["chunks"]["fetched"].as_u64().unwrap() > 0, "{t}");
        assert_eq!(
            t["range"]["end"], "2026-02-11T00:00:00Z",
            "the last day is included"
        );
    }
    let again = json(&collector(&args));
    for t in again["tasks"].as_array().unwrap() {
        assert_eq!(t["chunks"]["fetched"], 0, "nothing missing: {t}");
        assert_eq!(t["chunks"]["complete"], t["chunks"]["total"]);
    }
    let held = axia_simbroker::generate(
        42,
        &"7203.T".parse().unwrap(),
        Timeframe::M30,
        TimeRange::new(
            Utc.with_ymd_and_hms(2026, 1, 20, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 2, 11, 0, 0, 0).unwrap(),
        )
        .unwrap(),
        at(),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let got = rt.block_on(ParquetArchive::local(&archive).get(
        &"7203.T".parse().unwrap(),
        Timeframe::M30,
        TimeRange::new(held.first_time().unwrap(), at()).unwrap(),
    ));
    assert_eq!(got.unwrap(), held);
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

/// `source = "oanda"`: the collector archives OANDA's candles (a fake OANDA here), asked in
/// axia's alignment, the token given as OANDA_TOKEN and never printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oanda_as_the_source() {
    let token = "oanda-token-e2e-0123";
    let fake = axia_testkit::fake_oanda::FakeOanda::start(42, at(), token).await;
    let dir = std::env::temp_dir().join(unique("oanda"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("axia.toml");
    std::fs::write(
        &config,
        format!(
            "source = \"oanda\"\n[oanda]\nbase_url = \"{}\"\n",
            fake.uri()
        ),
    )
    .unwrap();
    let run = |token: &str| {
        Command::new(env!("CARGO_BIN_EXE_axia-collector"))
            .args([
                "--config",
                config.to_str().unwrap(),
                "--at",
                AT,
                "--symbols",
                "USDJPY,EURUSD",
                "--timeframes",
                "H1,D1",
                "--archive",
                dir.join("archive").to_str().unwrap(),
                "--retries",
                "0",
                "--json",
            ])
            .env_remove("AXIA_SOURCE")
            .env_remove("AXIA_ARCHIVE")
            .env("OANDA_TOKEN", token)
            .output()
            .unwrap()
    };
    let out = run(token);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["summary"]["failed"], 0, "{report}");
    let requests = fake.requests().await;
    assert!(!requests.is_empty());
    // FX pairs' days end at the New York close: every request asks OANDA for that grid.
    assert!(
        requests.iter().all(|r| {
            let q = r.url.query().unwrap();
            q.contains("alignmentTimezone=America%2FNew_York") && q.contains("dailyAlignment=17")
        }),
        "{:?}",
        requests.first().map(|r| r.url.to_string())
    );

    // A refused token: every task fails, and the token appears nowhere in the output.
    let out = run("revoked-token-xyz");
    assert_eq!(out.status.code(), Some(2));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("credentials"), "{all}");
    assert!(!all.contains("revoked-token-xyz") && !all.contains(token));
    std::fs::remove_dir_all(dir).unwrap();
}
