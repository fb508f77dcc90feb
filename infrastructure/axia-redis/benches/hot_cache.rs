//! Hot-cache figures, printed (release: `cargo bench -p axia-redis --bench hot_cache`).
//!
//! Needs a Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`); `source scripts/services.sh`
//! starts one. Measures:
//! 1. a `get` of 1 440 M1 bars through the cache vs a bare `GET` of the same bytes on an
//!    identically configured connection (goal: ratio <= 1.3);
//! 2. Redis bytes (MEMORY USAGE) for 5 FX pairs x 9 timeframes x 24 h (goal: <= 1 MB; the seed
//!    system used 8.84 MB);
//! 3. encode and decode time per bar.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::{Bar, ManualClock, OhlcvFrame, OhlcvStore, Symbol, TimeRange, Timeframe};
use axia_redis::{RedisBarCache, RedisCacheConfig, codec};
use chrono::{DateTime, TimeZone, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A deterministic random walk: `n` bars of `tf` ending at or before `end`.
fn walk(symbol: &str, tf: Timeframe, end: DateTime<Utc>, n: usize, start_price: f64) -> OhlcvFrame {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ symbol.len() as u64;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    };
    let mut opens = vec![tf.floor(end)];
    while opens.len() < n {
        let prev = *opens.last().unwrap();
        opens.push(tf.floor(prev - chrono::Duration::milliseconds(1)));
    }
    opens.reverse();
    let mut p = start_price;
    let bars = opens.into_iter().map(|t| {
        let o = p;
        let c = o * (1.0 + rnd() * 0.002);
        let h = o.max(c) * (1.0 + rnd().abs() * 0.001);
        let l = o.min(c) * (1.0 - rnd().abs() * 0.001);
        p = c;
        Bar::new(t, o, h, l, c, (rnd() + 0.5) * 1000.0).unwrap()
    });
    OhlcvFrame::from_bars(symbol.parse().unwrap(), tf, bars.collect::<Vec<_>>()).unwrap()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let ns = format!("bench-{}", std::process::id());
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(url.clone()).namespace(ns.clone()),
        clock,
    )
    .unwrap();
    let range = TimeRange::new(
        now - chrono::Duration::hours(24),
        now + chrono::Duration::minutes(1),
    )
    .unwrap();

    // 1. get vs bare GET.
    let sym: Symbol = "USDJPY".parse().unwrap();
    let day = walk("USDJPY", Timeframe::M1, now, 1440, 150.0);
    cache.save(&day).await.expect("Redis answers at REDIS_URL");
    let key = cache.key(&sym, Timeframe::M1);
    let mut bare = ConnectionManager::new_with_config(
        redis::Client::open(url.as_str()).unwrap(),
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(200)))
            .set_response_timeout(Some(Duration::from_millis(500))),
    )
    .await
    .unwrap();
    let value_len: usize = redis::cmd("STRLEN")
        .arg(&key)
        .query_async(&mut bare)
        .await
        .unwrap();
    let (mut t_cache, mut t_bare) = (Vec::new(), Vec::new());
    for i in 0..4_000 {
        // Interleaved, so both see the same machine conditions.
        let s = Instant::now();
        let f = cache.get(&sym, Timeframe::M1, range).await.unwrap();
        let d_cache = s.elapsed();
        let s = Instant::now();
        let raw: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut bare)
            .await
            .unwrap();
        let d_bare = s.elapsed();
        black_box((f.len(), raw.len()));
        if i >= 500 {
            t_cache.push(d_cache);
            t_bare.push(d_bare);
        }
    }
    let (mc, mb) = (median(t_cache), median(t_bare));
    println!("1. get of 1440 M1 bars ({value_len} bytes)");
    println!(
        "   through the cache: median {:>8.1} us",
        mc.as_secs_f64() * 1e6
    );
    println!(
        "   bare GET         : median {:>8.1} us",
        mb.as_secs_f64() * 1e6
    );
    println!(
        "   ratio            : {:.2} (goal <= 1.30)",
        mc.as_secs_f64() / mb.as_secs_f64()
    );

    // 2. The 45-dataset collection.
    let pairs = [
        ("USDJPY", 150.0),
        ("EURUSD", 1.08),
        ("EURJPY", 162.0),
        ("GBPUSD", 1.27),
        ("GBPJPY", 190.0),
    ];
    let ns2 = format!("bench45-{}", std::process::id());
    let clock2 = Arc::new(ManualClock::new(now));
    let cache45 =
        RedisBarCache::new(RedisCacheConfig::new(url.clone()).namespace(ns2), clock2).unwrap();
    let mut bars = 0;
    for (s, p) in pairs {
        for tf in Timeframe::ALL {
            // 24 h of bars, and at least the current one.
            let n = (24 * 3_600_000 / tf.max_millis()).max(1) as usize;
            let f = walk(s, tf, now, n, p);
            cache45.save(&f).await.unwrap();
        }
    }
    let info = cache45.info().await.unwrap();
    for d in &info.datasets {
        bars += d.bars.unwrap_or(0);
    }
    let total = info.bytes_used.unwrap();
    println!(
        "2. 45 datasets (5 pairs x 9 timeframes, 24 h): {} keys, {bars} bars",
        info.datasets.len()
    );
    println!(
        "   MEMORY USAGE total: {total} bytes = {:.3} MB (goal <= 1 MB; seed 8.84 MB), {:.1} bytes/bar",
        total as f64 / 1e6,
        total as f64 / bars as f64
    );

    // 3. Codec.
    let iters = 2_000;
    let s = Instant::now();
    let mut bytes = Vec::new();
    for _ in 0..iters {
        bytes = black_box(codec::encode(black_box(&day)));
    }
    let enc = s.elapsed();
    let s = Instant::now();
    for _ in 0..iters {
        black_box(codec::decode(black_box(&bytes), &sym, Timeframe::M1).unwrap());
    }
    let dec = s.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(iters) / 1440.0;
    println!(
        "3. codec on 1440 M1 bars ({} bytes): encode {:.1} ns/bar, decode {:.1} ns/bar",
        bytes.len(),
        per(enc),
        per(dec)
    );

    // Leave nothing behind.
    let mut con = bare;
    for prefix in [ns, format!("bench45-{}", std::process::id())] {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut con)
            .await
            .unwrap();
        for k in keys {
            let _: i64 = redis::cmd("DEL")
                .arg(k)
                .query_async(&mut con)
                .await
                .unwrap();
        }
    }
}
