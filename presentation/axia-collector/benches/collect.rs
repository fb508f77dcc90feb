//! Collector figures, printed (release: `cargo bench -p axia-collector`; needs Redis and the
//! AWS-protocol server, which `source scripts/services.sh` starts).
//! 1. The default job, 45 tasks from the simulated broker into moto S3 + Redis: wall time (goal <= 2 s).
//! 2. 1 000 symbols x 9 timeframes the same way: wall time (goal <= 60 s), and what bounds it:
//!    the same run with a local archive directory instead of moto, then without Redis too.
//! 3. moto's own request rate, to compare with the requests the moto run makes.
//! 4. Catch-up after 30 missed days, 5 FX pairs x 9 timeframes, into a local directory and into
//!    moto S3: wall time, and S3 requests per partition written (a partition a listing shows
//!    absent is created without a read).
//!
//! Runs 1 and 2 use a one-day catch-up horizon, so they fetch the same 24 h windows as before
//! the catch-up existed and their figures compare with earlier ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::time::Instant;

use axia_config::{HotCacheSettings, Settings, Wiring};
use axia_domain::ManualClock;
use axia_domain::Symbol;
use chrono::{TimeZone, Utc};

/// Where the archive goes.
#[derive(Clone, Copy)]
enum Archive {
    Moto,
    LocalDir,
}

async fn run(label: &str, symbols: Vec<Symbol>, concurrency: usize, archive: Archive, redis: bool) {
    let (client, bucket) = target(archive).await;
    let at = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let mut s = settings(&bucket, archive, symbols, concurrency, redis);
    s.catch_up_days = 1;
    let wiring = Wiring::build(&s, Arc::new(ManualClock::new(at)))
        .await
        .unwrap();
    let plan = s.collect_plan().unwrap();
    let t = Instant::now();
    let report = wiring.collect().run(&plan).await;
    let wall = t.elapsed();
    let bars: usize = report.tasks.iter().map(|t| t.archived).sum();
    if matches!(archive, Archive::Moto) {
        let objects = count_objects(&client, &bucket).await;
        println!("   {objects} partition objects written (each: a GET, then a conditional PUT)");
    }
    let store = match archive {
        Archive::Moto => "moto S3",
        Archive::LocalDir => "local dir",
    };
    let hot = if redis { " + Redis" } else { "" };
    println!(
        "{label} [{store}{hot}]: {} tasks ({} ok, {} failed), {bars} closed bars archived, concurrency {concurrency}: {:.2} s wall",
        report.tasks.len(),
        report.succeeded(),
        report.failed(),
        wall.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&bucket));
}

/// A fresh bucket (on moto) or directory name.
async fn target(archive: Archive) -> (aws_sdk_s3::Client, String) {
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!(
        "axia-bench-collect-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    if matches!(archive, Archive::Moto) {
        client.create_bucket().bucket(&bucket).send().await.unwrap();
    }
    (client, bucket)
}

fn settings(
    bucket: &str,
    archive: Archive,
    symbols: Vec<Symbol>,
    concurrency: usize,
    redis: bool,
) -> Settings {
    let mut s = Settings {
        symbols,
        concurrency,
        ..Settings::default()
    };
    match archive {
        Archive::Moto => {
            s.archive.location = format!("s3://{bucket}/bench");
            s.archive.force_path_style = true;
        }
        Archive::LocalDir => {
            s.archive.location = std::env::temp_dir().join(bucket).display().to_string();
        }
    }
    s.hot_cache = redis.then(|| HotCacheSettings {
        url: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        namespace: format!("bench-collect-{bucket}"),
    });
    s
}

/// The default job run once, then again after 30 missed days.
async fn catch_up(archive: Archive) {
    let (_, bucket) = target(archive).await;
    let before = Utc.with_ymd_and_hms(2026, 2, 2, 2, 0, 30).unwrap();
    let at = before + chrono::Duration::days(30);
    let mut s = settings(&bucket, archive, Settings::default().symbols, 8, false);
    s.catch_up_days = 1;
    let clock = Arc::new(ManualClock::new(before));
    let wiring = Wiring::build(&s, clock.clone()).await.unwrap();
    let first = wiring.collect().run(&s.collect_plan().unwrap()).await;
    assert_eq!(first.failed(), 0);
    s.catch_up_days = 31;
    clock.set(at);
    let counters = wiring.archive.counters();
    let t = Instant::now();
    let report = wiring.collect().run(&s.collect_plan().unwrap()).await;
    let wall = t.elapsed();
    let after = wiring.archive.counters();
    let (gets, puts, lists, written) = (
        after.gets - counters.gets,
        after.puts - counters.puts,
        after.lists - counters.lists,
        after.partitions_written - counters.partitions_written,
    );
    let bars: usize = report.tasks.iter().map(|t| t.archived).sum();
    let store = match archive {
        Archive::Moto => "moto S3",
        Archive::LocalDir => "local dir",
    };
    #[allow(clippy::cast_precision_loss)]
    let per = (gets + puts + lists) as f64 / written.max(1) as f64;
    println!(
        "4. catch-up after 30 missed days, 5 pairs x 9 TFs [{store}]: {:.2} s wall, {bars} closed bars, {written} partitions written; requests: {gets} GET + {puts} PUT + {lists} LIST = {per:.2} per partition written ({} failed)",
        wall.as_secs_f64(),
        report.failed()
    );
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&bucket));
}

async fn count_objects(client: &aws_sdk_s3::Client, bucket: &str) -> usize {
    let mut n = 0;
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        n += page.contents().len();
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return n;
        }
    }
}

/// moto on its own: `requests` small PUT then GET pairs from 16 concurrent workers.
async fn moto_rate(requests: usize) {
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("axia-bench-moto-{}", std::process::id());
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let t = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..16 {
        let (client, bucket) = (client.clone(), bucket.clone());
        workers.spawn(async move {
            for i in (w..requests / 2).step_by(16) {
                let key = format!("k/{i}");
                client
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(vec![7u8; 4096].into())
                    .send()
                    .await
                    .unwrap();
                client
                    .get_object()
                    .bucket(&bucket)
                    .key(&key)
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = workers.join_next().await {
        r.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = requests as f64 / secs;
    println!(
        "3. moto alone: {requests} S3 requests (4 KB PUT + GET), 16 concurrent: {rate:.0} requests/s"
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("skipped: `source scripts/services.sh` first (needs Redis and moto)");
        return;
    }
    let seed = Settings::default().symbols;
    run(
        "1. default job (5 FX pairs x 9 TFs)",
        seed,
        8,
        Archive::Moto,
        true,
    )
    .await;
    let many: Vec<Symbol> = (0..1000)
        .map(|i| format!("SYM{i:04}").parse().unwrap())
        .collect();
    // The same 9 000 tasks against less and less of the stack, to show what bounds the run.
    run(
        "2. 1000 symbols x 9 TFs",
        many.clone(),
        16,
        Archive::Moto,
        true,
    )
    .await;
    run(
        "2. 1000 symbols x 9 TFs",
        many.clone(),
        16,
        Archive::LocalDir,
        true,
    )
    .await;
    run(
        "2. 1000 symbols x 9 TFs",
        many,
        16,
        Archive::LocalDir,
        false,
    )
    .await;
    moto_rate(4_000).await;
    catch_up(Archive::LocalDir).await;
    catch_up(Archive::Moto).await;
}
