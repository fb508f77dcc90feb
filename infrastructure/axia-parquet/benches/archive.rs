//! Cold-tier figures, printed (release: `cargo bench -p axia-parquet`).
//!
//! Saves and loads 30 days of M1 for one symbol (43 200 bars: every minute, 30 partitions) on a
//! local directory and on the AWS-protocol server at `AWS_ENDPOINT_URL` (`source
//! scripts/services.sh` starts moto). Goals: local <= 50 ms, moto S3 <= 500 ms (the replaced Python system's
//! target was 5 s).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use axia_domain::{Bar, OhlcvFrame, OhlcvStore, TimeRange, Timeframe};
use axia_parquet::ParquetArchive;
use chrono::{TimeZone, Utc};

fn month_of_m1() -> OhlcvFrame {
    // Real-looking prices from the simulated broker's model, every minute (no weekend gaps).
    let start = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let range = TimeRange::new(start, start + chrono::Duration::days(30)).unwrap();
    let fx = axia_simbroker::generate(
        1,
        &"EURUSD".parse().unwrap(),
        Timeframe::M1,
        range,
        range.end(),
    )
    .unwrap();
    // Fill the weekends by repeating the last price so the frame has all 43 200 minutes.
    let mut bars = Vec::with_capacity(43_200);
    let mut it = fx.iter().peekable();
    let mut last = fx.first().unwrap();
    let mut t = start;
    while t < range.end() {
        match it.peek() {
            Some(b) if b.time() == t => {
                last = it.next().unwrap();
                bars.push(last);
            }
            _ => bars.push(
                Bar::new(
                    t,
                    last.close(),
                    last.close(),
                    last.close(),
                    last.close(),
                    0.0,
                )
                .unwrap(),
            ),
        }
        t += chrono::Duration::minutes(1);
    }
    OhlcvFrame::from_bars("EURUSD".parse().unwrap(), Timeframe::M1, bars).unwrap()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

async fn measure(label: &str, make: impl AsyncFn(usize) -> ParquetArchive, frame: &OhlcvFrame) {
    let range = TimeRange::new(
        frame.first_time().unwrap(),
        frame.last_time().unwrap() + chrono::Duration::minutes(1),
    )
    .unwrap();
    let (mut saves, mut loads) = (Vec::new(), Vec::new());
    for i in 0..7 {
        let archive = make(i).await;
        let t = Instant::now();
        archive.save(frame).await.unwrap();
        saves.push(t.elapsed());
        let t = Instant::now();
        let back = archive
            .get(frame.symbol(), Timeframe::M1, range)
            .await
            .unwrap();
        loads.push(t.elapsed());
        assert_eq!(back.len(), 43_200);
    }
    println!(
        "{label:>10}: save {:>7.1} ms, load {:>7.1} ms (median of 7)",
        median(saves).as_secs_f64() * 1e3,
        median(loads).as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let frame = month_of_m1();
    println!("30 days of M1 = {} bars, 30 daily partitions", frame.len());
    let root = std::env::temp_dir().join(format!("axia-bench-{}", std::process::id()));
    measure(
        "local dir",
        async |i| ParquetArchive::local(root.join(i.to_string())),
        &frame,
    )
    .await;
    let _ = std::fs::remove_dir_all(&root);

    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!(
            "   moto S3: skipped (AWS_ENDPOINT_URL unset: `source scripts/services.sh` first)"
        );
        return;
    }
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    measure(
        "moto S3",
        async |i| {
            let bucket = format!("axia-bench-{}-{i}", std::process::id());
            client.create_bucket().bucket(&bucket).send().await.unwrap();
            ParquetArchive::s3(client.clone(), bucket, "bench")
        },
        &frame,
    )
    .await;
}
