//! End to end on loopback (needs Redis: `source scripts/services.sh` first; release:
//! `cargo bench -p axia-feature-engine`): a bar written through the hot tier -> the update
//! message -> the engine's refresh (a hot-tier read, the standard six indicators, one publish
//! script) -> the feature update message, which Redis sends after the hash and the stream are
//! written, so its arrival is when the features are readable.
//!
//! - Latency: one series of M1, one bar at a time; p50 / p99 / max (goal p99 <= 1 ms).
//! - Throughput: 1,000 series of M1, a bar for every series each round, written 64 at a time;
//!   bar updates a second from the first write of a round to the last series' values
//!   (goal >= 100,000/s). Writer, engine and Redis share the machine's cores: this process
//!   runs on one thread, Redis on the other core.
//! - Redis's floor: the fewest plain commands that write both tiers for a bar, pipelined, and
//!   what they cost Redis's one thread: the bound of any design on one Redis.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::{Bar, ManualClock, OhlcvFrame, OhlcvStore, Symbol, Timeframe};
use axia_feature_engine::Runner;
use axia_features::{FeatureConfig, FeatureEngine};
use axia_provider::OhlcvDataProvider;
use axia_redis::{RedisBarCache, RedisCacheConfig, RedisFeatureStore};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::{StreamExt, stream};

/// Wednesday 2026-07-01 12:00 UTC.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap()
}

fn bar(series: usize, minute: i64) -> Bar {
    let t = noon() + chrono::Duration::minutes(minute);
    let x = minute as f64 + series as f64 * 7.0;
    let c = ((1.1 + (x * 0.37).sin() * 0.002 + (x * 0.011).cos() * 0.004) * 1e5).round() / 1e5;
    Bar::new(t, c, c + 0.0002, c - 0.0003, c, 10.0).unwrap()
}

fn frame(symbol: &Symbol, bars: Vec<Bar>) -> OhlcvFrame {
    OhlcvFrame::from_bars(symbol.clone(), Timeframe::M1, bars).unwrap()
}

struct Setup {
    clock: Arc<ManualClock>,
    cache: RedisBarCache,
    symbols: Vec<Symbol>,
    feed: redis::aio::PubSubStream,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// `n` series with 120 bars of history (minutes -120 .. -1) in the hot tier and a runner on
/// them, warmed up.
async fn setup(url: &str, n: usize) -> Setup {
    let clock = Arc::new(ManualClock::new(noon()));
    let ns = format!(
        "bench-fe-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(url).namespace(ns.clone()),
        Arc::clone(&clock),
    )
    .unwrap();
    let symbols: Vec<Symbol> = (0..n)
        .map(|i| format!("S{i:04}").parse().unwrap())
        .collect();
    stream::iter(symbols.iter().enumerate())
        .for_each_concurrent(64, |(i, s)| {
            let cache = cache.clone();
            async move {
                let bars = (-120..0).map(|m| bar(i, m)).collect();
                cache.save(&frame(s, bars)).await.unwrap();
            }
        })
        .await;
    let provider = OhlcvDataProvider::builder()
        .hot_cache(cache.clone())
        .clock(Arc::clone(&clock))
        .build();
    let engine = FeatureEngine::new(
        provider,
        RedisFeatureStore::new(cache.clone()).history_len(1000),
    )
    .clock(Arc::clone(&clock))
    .config(FeatureConfig::standard().anchoring(60, chrono::Duration::zero()));
    let client = redis::Client::open(url).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .psubscribe(format!("{ns}:feature:*:updates"))
        .await
        .unwrap();
    let mut feed = pubsub.into_on_message();
    let runner = Runner::new(
        engine,
        Arc::new(cache.clone()),
        symbols.iter().map(|s| (s.clone(), Timeframe::M1)).collect(),
    )
    .resync_every(Duration::from_secs(3600));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async move {
        let _ = stopped.await;
    }));
    // The warm-up publishes each series' newest closed bar.
    for _ in 0..n {
        tokio::time::timeout(Duration::from_secs(120), feed.next())
            .await
            .expect("warm-up")
            .unwrap();
    }
    Setup {
        clock,
        cache,
        symbols,
        feed,
        stop,
        task,
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

// One thread for this process (the writer, the engine and the subscriber), the other core for
// Redis: on the 2-core machines of this kind a second worker thread cost more in wake-ups
// across threads than it gave (alternating runs: 8,700 - 8,900 bar updates/s with two workers,
// 9,500 - 10,400 with one, 9,900 - 12,200 on the current thread; latency p50 570 - 650 us
// against 400 - 510).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("REDIS_URL").expect("REDIS_URL: source scripts/services.sh first");

    // Latency, one series.
    let mut s = setup(&url, 1).await;
    let mut lat = Vec::new();
    let mut writes = Vec::new();
    for m in 0..2_000 {
        let b = bar(0, m);
        s.clock.set(b.time() + chrono::Duration::minutes(1));
        let t = Instant::now();
        s.cache.save(&frame(&s.symbols[0], vec![b])).await.unwrap();
        writes.push(t.elapsed().as_secs_f64() * 1e6);
        tokio::time::timeout(Duration::from_secs(10), s.feed.next())
            .await
            .expect("the bar's features")
            .unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "latency, hot-tier write -> features readable, 1 series, {} bars: p50 {:.0} us, p99 {:.0} us, max {:.0} us (goal p99 <= 1,000 us)",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat[lat.len() - 1]
    );
    writes.sort_by(f64::total_cmp);
    println!(
        "   of which the hot-tier write itself (a merge script and its update message): p50 {:.0} us, p99 {:.0} us",
        pct(&writes, 0.5),
        pct(&writes, 0.99)
    );
    s.stop.send(()).unwrap();
    s.task.await.unwrap();

    // One refresh on its own: a hot-tier read, the indicators, one publish script.
    let s = setup(&url, 1).await;
    let provider = OhlcvDataProvider::builder()
        .hot_cache(s.cache.clone())
        .clock(Arc::clone(&s.clock))
        .build();
    let engine = FeatureEngine::new(provider, RedisFeatureStore::new(s.cache.clone()))
        .clock(Arc::clone(&s.clock))
        .config(FeatureConfig::standard().anchoring(60, chrono::Duration::zero()));
    engine.refresh(&s.symbols[0], Timeframe::M1).await.unwrap();
    let mut refreshes = Vec::new();
    for m in 0..1_000 {
        let b = bar(0, m);
        s.clock.set(b.time() + chrono::Duration::minutes(1));
        s.cache.save(&frame(&s.symbols[0], vec![b])).await.unwrap();
        let t = Instant::now();
        engine.refresh(&s.symbols[0], Timeframe::M1).await.unwrap();
        refreshes.push(t.elapsed().as_secs_f64() * 1e6);
    }
    refreshes.sort_by(f64::total_cmp);
    println!(
        "   one refresh called directly: p50 {:.0} us, p99 {:.0} us",
        pct(&refreshes, 0.5),
        pct(&refreshes, 0.99)
    );
    s.stop.send(()).unwrap();
    s.task.await.unwrap();

    // Throughput, 1,000 series.
    let n = 1_000;
    let rounds = 10;
    let mut s = setup(&url, n).await;
    let mut stats = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (before, cpu_before) = (
        commandstats(&mut stats).await,
        main_thread_cpu(&mut stats).await,
    );
    let mut total = Duration::ZERO;
    for m in 0..rounds {
        s.clock.set(noon() + chrono::Duration::minutes(m + 1));
        let t = Instant::now();
        let cache = s.cache.clone();
        let symbols = s.symbols.clone();
        let writes = tokio::spawn(async move {
            stream::iter(symbols.iter().enumerate())
                .for_each_concurrent(64, |(i, sym)| {
                    let cache = cache.clone();
                    async move {
                        cache.save(&frame(sym, vec![bar(i, m)])).await.unwrap();
                    }
                })
                .await;
        });
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(60), s.feed.next())
                .await
                .expect("every series' features")
                .unwrap();
        }
        writes.await.unwrap();
        total += t.elapsed();
    }
    let bars = (n as u64 * rounds as u64) as f64;
    println!(
        "throughput, {n} series x {rounds} rounds: {:.0} bar updates/s ({:.1} ms a round of {n}) (goal >= 100,000/s)",
        bars / total.as_secs_f64(),
        total.as_secs_f64() * 1e3 / rounds as f64
    );
    // What Redis spent meanwhile (the whole server: run it alone): the CPU of its main
    // thread, and the calls by command (a script's time includes the calls it makes, which
    // are also counted under their own names).
    let cpu = main_thread_cpu(&mut stats).await - cpu_before;
    let after = commandstats(&mut stats).await;
    let mut spent: Vec<(String, u64, u64)> = after
        .iter()
        .map(|(cmd, &(calls, usec))| {
            let (c0, u0) = before.get(cmd).copied().unwrap_or((0, 0));
            (cmd.clone(), calls - c0, usec - u0)
        })
        .filter(|(_, calls, _)| *calls > 0)
        .collect();
    spent.sort_by_key(|(_, _, usec)| std::cmp::Reverse(*usec));
    println!(
        "   Redis main thread CPU: {:.1} us a bar update ({:.0} % of a core over the run); calls a bar x us a call: {}",
        cpu * 1e6 / bars,
        cpu * 100.0 / total.as_secs_f64(),
        spent
            .iter()
            .take(8)
            .map(|(cmd, calls, u)| format!(
                "{cmd} {:.2} x {:.1}",
                *calls as f64 / bars,
                *u as f64 / (*calls).max(1) as f64
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s.stop.send(()).unwrap();
    s.task.await.unwrap();

    redis_floor(&url, &mut stats).await;
}

/// Redis's own floor for the same work: per bar update, the fewest commands that write both
/// tiers (the series value, its update message, the latest features, the stream entry, the
/// feature message; no script, so no check of what is there), pipelined 64 bars deep on one
/// connection, with a subscriber on each kind of message as above. What Redis's main thread
/// spends a bar bounds any design on one Redis, whatever the client does.
async fn redis_floor(url: &str, stats: &mut redis::aio::MultiplexedConnection) {
    let n = 1_000usize;
    let rounds = 20i64;
    let ns = format!("bench-floor-{}-", std::process::id());
    let client = redis::Client::open(url).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.psubscribe(format!("{ns}ohlcv:*")).await.unwrap();
    pubsub.psubscribe(format!("{ns}feature:*")).await.unwrap();
    let drained = tokio::spawn(async move {
        let mut feed = pubsub.into_on_message();
        let mut count = 0u64;
        while tokio::time::timeout(Duration::from_secs(2), feed.next())
            .await
            .ok()
            .flatten()
            .is_some()
        {
            count += 1;
        }
        count
    });
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    // A series' value as the hot tier stores 120 M1 bars (about 1.1 KB), an update message
    // with a one-bar tail and a feature message as the adapters write them.
    let value = vec![0x5a_u8; 1_100];
    let update = r#"{"symbol":"S0000","timeframe":"M1","newest_open_ms":1782907200000,"bars":121,"forming_open_ms":null,"alignment":"utc_midnight","tail":[{"time_ms":1782907200000,"open":1.10234,"high":1.10254,"low":1.10204,"close":1.10234,"volume":10.0}]}"#;
    let message = r#"{"symbol":"S0000","timeframe":"M1","bar_open_ms":1782907200000,"forming":false,"values":{"atr_14":0.00023,"bb_lower":1.1012,"bb_middle":1.1023,"bb_upper":1.1034,"ema_20":1.10233,"macd":0.000123,"macd_hist":0.000012,"macd_signal":0.000111,"rsi_14":51.234,"sma_20":1.10234}}"#;
    let values: Vec<(String, String)> = [
        "atr_14",
        "bb_lower",
        "bb_middle",
        "bb_upper",
        "ema_20",
        "macd",
        "macd_hist",
        "macd_signal",
        "rsi_14",
        "sma_20",
    ]
    .iter()
    .enumerate()
    .map(|(i, k)| {
        (
            (*k).to_owned(),
            format!("{:.6}", 1.1 + i as f64 * 0.000_123),
        )
    })
    .collect();
    let round = |r: i64, series: std::ops::Range<usize>| {
        let mut pipe = redis::pipe();
        for i in series {
            let bar_ms = noon().timestamp_millis() + r * 60_000;
            let (key, feature) = (
                format!("{ns}ohlcv:{{S{i:04}:M1}}"),
                format!("{ns}feature:{{S{i:04}:M1}}"),
            );
            pipe.cmd("SET")
                .arg(&key)
                .arg(&value)
                .arg("PX")
                .arg(86_400_000)
                .ignore();
            pipe.cmd("PUBLISH")
                .arg(format!("{key}:updates"))
                .arg(update)
                .ignore();
            pipe.cmd("HSET")
                .arg(format!("{feature}:latest"))
                .arg("_bar_open_ms")
                .arg(bar_ms)
                .arg("_forming")
                .arg(0)
                .arg(&values)
                .ignore();
            pipe.cmd("XADD")
                .arg(format!("{feature}:stream"))
                .arg("MAXLEN")
                .arg("~")
                .arg(1_000)
                .arg(format!("{bar_ms}-0"))
                .arg(&values)
                .ignore();
            pipe.cmd("PUBLISH")
                .arg(format!("{feature}:updates"))
                .arg(message)
                .ignore();
        }
        pipe
    };
    let mut bars = 0u64;
    let mut cpu = 0.0;
    for r in -1..rounds {
        let cpu_before = main_thread_cpu(stats).await;
        for start in (0..n).step_by(64) {
            let () = round(r, start..(start + 64).min(n))
                .query_async(&mut con)
                .await
                .unwrap();
        }
        // The first round makes the keys; the rest are the steady state.
        if r >= 0 {
            cpu += main_thread_cpu(stats).await - cpu_before;
            bars += n as u64;
        }
    }
    let delivered = drained.await.unwrap();
    let per_bar = cpu * 1e6 / bars as f64;
    println!(
        "Redis's floor: the fewest commands that write both tiers (SET, PUBLISH, HSET, XADD, PUBLISH; no script), {bars} bar updates pipelined 64 deep: {per_bar:.1} us of its main thread a bar update, so at most {:.0} bar updates/s with that thread saturated and no client work ({delivered} messages delivered to the two subscribers)",
        1e6 / per_bar
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}*"))
        .query_async(&mut con)
        .await
        .unwrap();
    for chunk in keys.chunks(500) {
        let () = redis::cmd("DEL")
            .arg(chunk)
            .query_async(&mut con)
            .await
            .unwrap();
    }
}

/// CPU seconds (user + system) of Redis's main thread so far (`INFO cpu`).
async fn main_thread_cpu(con: &mut redis::aio::MultiplexedConnection) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(con)
        .await
        .unwrap();
    info.lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once(':')?;
            k.ends_with("_main_thread").then(|| v.parse::<f64>().ok())?
        })
        .sum()
}

/// `INFO commandstats`: calls and microseconds per command.
async fn commandstats(
    con: &mut redis::aio::MultiplexedConnection,
) -> std::collections::BTreeMap<String, (u64, u64)> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(con)
        .await
        .unwrap();
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |k: &str| -> Option<u64> {
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))?
                    .parse()
                    .ok()
            };
            Some((name.to_owned(), (field("calls")?, field("usec")?)))
        })
        .collect()
}
