//! The feature engine process against the real Redis (`REDIS_URL`, started by
//! `scripts/test.sh`): hot-tier write -> update message -> refresh -> feature store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axia_domain::{
    Bar, Clock, FeatureStore, ManualClock, OhlcvFrame, OhlcvStore, Symbol, TimeRange, Timeframe,
};
use axia_feature_engine::{RunCounters, Runner};
use axia_features::{FeatureConfig, FeatureEngine};
use axia_memory::MemoryStore;
use axia_provider::OhlcvDataProvider;
use axia_redis::{RedisBarCache, RedisCacheConfig, RedisFeatureStore};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: run the suite through scripts/test.sh, which starts Redis")
    })
}

fn namespace() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "fe-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn eurusd() -> Symbol {
    "EURUSD".parse().unwrap()
}

/// Wednesday 2026-07-01 12:00 UTC.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap()
}

/// The M1 bar opening `i` minutes before noon (negative: after), on a deterministic walk.
fn bar(i: i64) -> Bar {
    let t = noon() - chrono::Duration::minutes(i);
    let x = (t.timestamp() / 60) as f64;
    let c = 1.1 + (x * 0.37).sin() * 0.002 + (x * 0.011).cos() * 0.004;
    let c = (c * 100_000.0).round() / 100_000.0;
    Bar::new(t, c, c + 0.0002, c - 0.0003, c, 10.0).unwrap()
}

fn frame(bars: impl IntoIterator<Item = Bar>) -> OhlcvFrame {
    OhlcvFrame::from_bars(
        eurusd(),
        Timeframe::M1,
        bars.into_iter().collect::<Vec<_>>(),
    )
    .unwrap()
}

struct World {
    clock: Arc<ManualClock>,
    cache: RedisBarCache,
    store: RedisFeatureStore,
    provider: OhlcvDataProvider,
}

/// Two days of M1 in the archive up to noon minus 2 h, the last two hours in the hot tier.
async fn world() -> World {
    let clock = Arc::new(ManualClock::new(noon()));
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(redis_url()).namespace(namespace()),
        Arc::clone(&clock),
    )
    .unwrap();
    let archive = Arc::new(MemoryStore::new());
    archive
        .save(&frame((121..2 * 1440).rev().map(bar)))
        .await
        .unwrap();
    cache.save(&frame((1..=120).rev().map(bar))).await.unwrap();
    let provider = OhlcvDataProvider::builder()
        .hot_cache(cache.clone())
        .cold_archive(archive)
        .clock(Arc::clone(&clock))
        .build();
    let store = RedisFeatureStore::new(cache.clone());
    World {
        clock,
        cache,
        store,
        provider,
    }
}

impl World {
    fn engine(&self) -> FeatureEngine {
        // Anchors every 6 h: warm-ups cross the archive and the hot tier.
        FeatureEngine::new(self.provider.clone(), self.store.clone())
            .clock(Arc::clone(&self.clock))
            .config(FeatureConfig::standard().anchoring(360, chrono::Duration::zero()))
    }

    /// Starts a runner; returns its counters, a stop switch and its task.
    fn start(
        &self,
    ) -> (
        Arc<RunCounters>,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let runner = Runner::new(
            self.engine(),
            Arc::new(self.cache.clone()),
            vec![(eurusd(), Timeframe::M1)],
        )
        .resync_every(Duration::from_secs(3600));
        let counters = runner.counters();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(runner.run(async move {
            let _ = stopped.await;
        }));
        (counters, stop, task)
    }

    async fn stream_len(&self) -> usize {
        let mut c = redis::Client::open(redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        redis::cmd("XLEN")
            .arg(self.store.key(&eurusd(), Timeframe::M1, "stream"))
            .query_async(&mut c)
            .await
            .unwrap()
    }

    async fn history(&self) -> Vec<axia_domain::FeatureSnapshot> {
        self.store
            .history(
                &eurusd(),
                Timeframe::M1,
                TimeRange::new(
                    noon() - chrono::Duration::days(3),
                    noon() + chrono::Duration::days(1),
                )
                .unwrap(),
            )
            .await
            .unwrap()
    }

    /// Closes the bar at `-i` minutes (after noon) and writes it through the hot tier.
    async fn close_bar(&self, i: i64) {
        let b = bar(i);
        self.clock.set(b.time() + chrono::Duration::minutes(1));
        self.cache.save(&frame([b])).await.unwrap();
    }
}

/// Waits (up to 20 s) until `cond` holds.
async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    for _ in 0..1000 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_bar_written_through_the_hot_tier_reaches_the_feature_store_once() {
    let w = world().await;
    let client = redis::Client::open(redis_url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .subscribe(w.store.key(&eurusd(), Timeframe::M1, "updates"))
        .await
        .unwrap();
    let mut messages = pubsub.into_on_message();
    let (counters, stop, task) = w.start();
    // The first refresh publishes the newest closed bar (11:59).
    until("the warm-up", async || {
        RunCounters::get(&counters.refreshes) >= 1
    })
    .await;
    assert_eq!(w.stream_len().await, 1);
    let warm = messages.next().await.unwrap();
    assert!(
        warm.get_payload::<String>()
            .unwrap()
            .contains("\"forming\":false")
    );

    // One closed bar through the hot tier: the hash, one stream entry, one message.
    w.close_bar(0).await;
    until("the new bar's values", async || w.stream_len().await == 2).await;
    assert_eq!(
        RunCounters::get(&counters.applied_tails),
        1,
        "applied from the bars the hot tier's message carried"
    );
    let message: String = messages.next().await.unwrap().get_payload().unwrap();
    assert!(
        message.contains(&format!("\"bar_open_ms\":{}", noon().timestamp_millis())),
        "{message}"
    );
    let latest = w
        .store
        .latest(&eurusd(), Timeframe::M1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.bar_open, noon());
    assert!(!latest.forming);
    assert_eq!(
        latest.values.len(),
        10,
        "every standard value: {:?}",
        latest.values
    );
    // Live equals recomputed from history, bit for bit.
    let recomputed = w
        .engine()
        .compute_at(&eurusd(), Timeframe::M1, noon())
        .await
        .unwrap();
    assert_eq!(recomputed.as_ref(), Some(&latest));

    // The same bar again (a replay): no stream entry, no message.
    let refreshes = RunCounters::get(&counters.refreshes);
    w.cache.save(&frame([bar(0)])).await.unwrap();
    let engine = w.engine();
    engine.refresh(&eurusd(), Timeframe::M1).await.unwrap();
    until("the replay's refresh", async || {
        RunCounters::get(&counters.refreshes) > refreshes
    })
    .await;
    assert_eq!(w.stream_len().await, 2);
    let quiet = tokio::time::timeout(Duration::from_millis(300), messages.next()).await;
    assert!(quiet.is_err(), "a replay published {quiet:?}");

    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_restart_mid_stream_continues_exactly() {
    let w = world().await;
    let (counters, stop, task) = w.start();
    until("the warm-up", async || {
        RunCounters::get(&counters.refreshes) >= 1
    })
    .await;
    for i in 0..3 {
        w.close_bar(-i).await;
        until("the bar's values", async || {
            w.stream_len().await == 2 + i as usize
        })
        .await;
    }
    // Stopped: graceful shutdown returns.
    stop.send(()).unwrap();
    task.await.unwrap();
    // Five bars close while nothing runs, and the forming one after them is in the hot tier.
    for i in 3..8 {
        w.close_bar(-i).await;
    }
    let forming = bar(-8);
    w.clock.set(forming.time() + chrono::Duration::seconds(30));
    w.cache
        .save(&frame([forming]).with_forming(true))
        .await
        .unwrap();
    let (counters, stop, task) = w.start();
    until("the catch-up", async || w.stream_len().await == 9).await;
    until("the forming bar", async || {
        w.store
            .latest(&eurusd(), Timeframe::M1)
            .await
            .unwrap()
            .is_some_and(|l| l.forming && l.bar_open == forming.time())
    })
    .await;
    assert!(RunCounters::get(&counters.errors) == 0);
    stop.send(()).unwrap();
    task.await.unwrap();

    // Every closed bar from 11:59 on once, in order, with the values recomputed from history.
    let history = w.history().await;
    let times: Vec<_> = history.iter().map(|s| s.bar_open).collect();
    let expected: Vec<_> = (-1..8)
        .map(|i| noon() + chrono::Duration::minutes(i))
        .collect();
    assert_eq!(times, expected);
    let engine = w.engine();
    for s in &history {
        let again = engine
            .compute_at(&eurusd(), Timeframe::M1, s.bar_open)
            .await
            .unwrap();
        assert_eq!(again.as_ref(), Some(s), "at {}", s.bar_open);
    }
    let latest = w
        .store
        .latest(&eurusd(), Timeframe::M1)
        .await
        .unwrap()
        .unwrap();
    let again = engine
        .compute_at(&eurusd(), Timeframe::M1, w.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, latest);
}
