//! The live path end to end on loopback: quotes of 1,000 instruments at 10 a second each
//! (10,000 quotes/s) -> `LiveFeed` (M1 bars, forming bars coalesced per series per `flush_every`) -> the
//! Redis hot tier -> the update message a subscriber (the server's WebSocket hub, say)
//! receives. Each quote's price encodes its sequence number, so the close in a message names
//! the newest quote it carries: latency = that message's arrival - the quote's creation.
//! Prints p50/p99 and the process's CPU time per 1,000 quotes/s. Needs Redis at REDIS_URL.
//! `AXIA_BENCH_FLUSH_MS` sets the feed's `flush_every` (default 100).
//!
//! `cargo bench -p axia-live-feed --bench live_e2e`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axia_domain::{
    InstrumentOverride, InstrumentRegistry, PriceStream, Quote, QuoteStream, StreamError,
    StreamEvent, Symbol, SystemClock, Timeframe, TradingHours,
};
use axia_live::{FeedSettings, LiveBarsConfig, LiveFeed, OutlierRule};
use axia_redis::{RedisBarCache, RedisCacheConfig};

const INSTRUMENTS: usize = 1_000;
const PER_SECOND: usize = 10;
const RUN: Duration = Duration::from_secs(10);
const SEQS: usize = 10_000;

/// Quotes from a channel, opened once.
struct Channel(Mutex<Option<tokio::sync::mpsc::Receiver<Quote>>>);

#[async_trait]
impl PriceStream for Channel {
    async fn open(&self, _: &[Symbol]) -> Result<QuoteStream, StreamError> {
        let rx = self
            .0
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| StreamError::Disconnected("opened once".into()))?;
        Ok(Box::pin(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|q| (Ok(StreamEvent::Quote(q)), rx)) },
        )))
    }
}

fn cpu_seconds() -> f64 {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 a second).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    // The feed's coalescing interval (default 100 ms): `AXIA_BENCH_FLUSH_MS` shows what it
    // costs.
    let flush = Duration::from_millis(
        std::env::var("AXIA_BENCH_FLUSH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100),
    );
    let namespace = format!("bench-live-{}", std::process::id());
    let symbols: Vec<Symbol> = (0..INSTRUMENTS)
        .map(|i| format!("S{i:04}").parse().unwrap())
        .collect();
    let mut registry = InstrumentRegistry::builtin();
    for s in &symbols {
        registry.override_with(
            s,
            &InstrumentOverride {
                hours: Some(TradingHours::AlwaysOpen),
                ..InstrumentOverride::default()
            },
        );
    }
    let instruments: Vec<_> = symbols.iter().map(|s| registry.resolve(s)).collect();
    let hot = RedisBarCache::new(
        RedisCacheConfig::new(url).namespace(namespace.clone()),
        SystemClock,
    )
    .unwrap();
    let mut updates = hot.updates().await.expect("Redis answers at REDIS_URL");
    let (tx, rx) = tokio::sync::mpsc::channel(100_000);
    let feed = LiveFeed::new(
        Arc::new(Channel(Mutex::new(Some(rx)))),
        Arc::new(hot.clone()),
        Arc::new(SystemClock),
        instruments,
    )
    .settings(FeedSettings {
        bars: LiveBarsConfig {
            timeframes: vec![Timeframe::M1],
            outliers: OutlierRule {
                window: 0,
                ..OutlierRule::default()
            },
            ..LiveBarsConfig::default()
        },
        flush_every: flush,
        ..FeedSettings::default()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(feed.run(async {
        let _ = stopped.await;
    }));
    // Creation instants by (instrument, sequence number modulo SEQS).
    let created: Arc<Mutex<HashMap<(usize, usize), Instant>>> = Arc::default();
    let index: HashMap<Symbol, usize> = symbols.iter().cloned().zip(0..).collect();
    // The generator: every millisecond, the next 10 instruments' next quote.
    let generator = {
        let created = Arc::clone(&created);
        let symbols = symbols.clone();
        tokio::spawn(async move {
            let per_ms = INSTRUMENTS * PER_SECOND / 1_000;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let (mut next, mut seq) = (0usize, vec![0usize; INSTRUMENTS]);
            let started = Instant::now();
            let mut sent = 0u64;
            while started.elapsed() < RUN {
                tick.tick().await;
                for _ in 0..per_ms {
                    let k = next % INSTRUMENTS;
                    next += 1;
                    let j = seq[k] % SEQS;
                    seq[k] += 1;
                    let price = 100.0 + j as f64 * 0.01;
                    let price = (price * 100.0).round() / 100.0;
                    created.lock().unwrap().insert((k, j), Instant::now());
                    let q = Quote {
                        symbol: symbols[k].clone(),
                        time: chrono::Utc::now(),
                        bid: price,
                        ask: price,
                        size: None,
                    };
                    if tx.send(q).await.is_err() {
                        return sent;
                    }
                    sent += 1;
                }
            }
            sent
        })
    };
    let cpu0 = cpu_seconds();
    let wall = Instant::now();
    let mut latencies = Vec::new();
    let deadline = tokio::time::Instant::now() + RUN + Duration::from_millis(500);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, updates.next()).await {
        let arrived = Instant::now();
        let Some(k) = index.get(&m.symbol).copied() else {
            continue;
        };
        let Some(close) = m.tail.as_ref().and_then(|t| t.last()).map(|b| b.close) else {
            continue;
        };
        let j = ((close - 100.0) / 0.01).round() as usize;
        if let Some(t) = created.lock().unwrap().get(&(k, j)) {
            latencies.push(arrived.duration_since(*t).as_secs_f64() * 1e3);
        }
    }
    let sent = generator.await.unwrap();
    let cpu = cpu_seconds() - cpu0;
    let secs = wall.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = running.await;
    latencies.sort_by(f64::total_cmp);
    let rate = sent as f64 / RUN.as_secs_f64();
    println!(
        "quote -> hot tier -> update message, {INSTRUMENTS} instruments x {PER_SECOND} quotes/s (M1, flush {} ms): {} quotes sent ({rate:.0}/s), {} messages: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        flush.as_millis(),
        sent,
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "   this process (generator, feed, subscriber): {:.2} CPU seconds in {secs:.1} s = {:.0} ms of CPU a second per 1,000 quotes/s",
        cpu,
        cpu / secs / (rate / 1_000.0) * 1e3
    );
    // Leave nothing behind.
    let client = redis::Client::open(
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    )
    .unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query_async(&mut con)
        .await
        .unwrap_or_default();
    for k in keys {
        let _: Result<i64, _> = redis::cmd("DEL").arg(k).query_async(&mut con).await;
    }
}
