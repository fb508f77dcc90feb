//! The data provider over real tiers: the Parquet archive on moto S3, the Redis hot tier, the
//! simulated broker and the Yahoo gateway on the fake Yahoo server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::{ManualClock, OhlcvStore, TimeRange, Timeframe, UseCase};
use axia_parquet::ParquetArchive;
use axia_provider::{OhlcvDataProvider, OhlcvRequest, Outcome, Role, Window};
use axia_redis::{RedisBarCache, RedisCacheConfig};
use axia_simbroker::{SimulatedBroker, generate};
use axia_testkit::fake_yahoo::FakeYahoo;
use axia_yahoo::{YahooConfig, YahooGateway};
use chrono::{DateTime, Duration as Span, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

fn unique(what: &str) -> String {
    // A counter too: two tests in the same microsecond must not share a name.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "axia-prov-{what}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

async fn archive() -> ParquetArchive {
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("bucket");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    ParquetArchive::s3(client, bucket, "cold")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_over_30_days_is_the_archive_merged_with_the_hot_last_24_h() {
    let clock = Arc::new(ManualClock::new(now()));
    let sym = "USDJPY".parse().unwrap();
    let cold = archive().await;
    let month = TimeRange::new(now() - Span::days(30), now() - Span::hours(20)).unwrap();
    let archived = generate(1, &sym, Timeframe::H1, month, now()).unwrap();
    cold.save(&archived).await.unwrap();
    // The hot tier holds the last 24 h from another feed (seed 2), so its bars are told apart.
    let hot = RedisBarCache::new(
        RedisCacheConfig::new(std::env::var("REDIS_URL").unwrap()).namespace(unique("ns")),
        clock.clone(),
    )
    .unwrap();
    let day = TimeRange::last(Span::hours(24), now() + Span::milliseconds(1));
    let recent = generate(2, &sym, Timeframe::H1, day, now()).unwrap();
    hot.save(&recent).await.unwrap();
    let fake = FakeYahoo::start(3, now()).await;
    let yahoo = YahooGateway::new(
        YahooConfig::default()
            .base_url(fake.uri())
            .requests_per_second(1000.0),
        clock.clone(),
    )
    .unwrap();

    let provider = OhlcvDataProvider::builder()
        .clock(clock.clone())
        .broker(Arc::new(SimulatedBroker::new(9, clock.clone())))
        .hot_cache(Arc::new(hot))
        .cold_archive(Arc::new(cold))
        .fallback(Arc::new(yahoo))
        .without_write_through()
        .build();
    let r = provider
        .get(OhlcvRequest::new(
            sym.clone(),
            Timeframe::H1,
            Window::last_days(30),
            UseCase::Chart,
        ))
        .await
        .unwrap();
    assert!(r.meta.complete, "{:?}", r.meta.completeness.gaps);
    let sources: Vec<_> = r
        .meta
        .attempts
        .iter()
        .map(|a| (a.source, a.outcome.clone()))
        .collect();
    assert_eq!(
        sources,
        [
            (Role::ColdArchive, Outcome::Partial),
            (Role::HotCache, Outcome::Hit)
        ]
    );
    assert_eq!(fake.requests().await, 0, "Yahoo not needed");
    // Older bars from the archive, the last 24 h from the hot tier (which wins where both are).
    let expected = archived.merge(&recent).unwrap().slice(r.meta.range);
    assert_eq!(r.frame, expected);
    assert_eq!(r.frame.slice(day), recent.slice(day));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_next_source_answers_within_the_timeout() {
    let clock = Arc::new(ManualClock::new(now()));
    // Nothing listens on the port: Redis is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hot = RedisBarCache::new(
        RedisCacheConfig::new(format!("redis://127.0.0.1:{port}")).namespace("x"),
        clock.clone(),
    )
    .unwrap();
    let provider = OhlcvDataProvider::builder()
        .clock(clock.clone())
        .hot_cache(Arc::new(hot))
        .broker(Arc::new(SimulatedBroker::new(1, clock.clone())))
        .timeout(Role::HotCache, Duration::from_millis(500))
        .without_write_through()
        .build();
    let started = Instant::now();
    let r = provider
        .get(OhlcvRequest::new(
            "EURUSD".parse().unwrap(),
            Timeframe::M5,
            Window::last_hours(4),
            UseCase::Chart,
        ))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            r.meta.attempts[0].outcome,
            Outcome::Error(_) | Outcome::Timeout
        ),
        "{:?}",
        r.meta.attempts
    );
    assert_eq!(r.meta.served_by, Some(Role::Broker));
    assert!(r.meta.complete);
}
