//! Hot-cache figures, printed (release: `cargo bench -p axia-redis --bench hot_cache`).
//!
//! Needs a Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`); `source scripts/services.sh`
//! starts one. Measures:
//! 1. a `get` of 1 440 M1 bars through the cache vs a bare `GET` of the same bytes on an
//!    identically configured connection (goal: ratio <= 1.15), with the decoded copy of the
//!    unchanged value reused (the default) and with every get decoding;
//! 2. Redis bytes (MEMORY USAGE) for 5 FX pairs x 9 timeframes x 24 h, in the current format
//!    (goal: <= 160 KB) and in version 2 (431 KB when it was current; the replaced Python system's
//!    layout: 1.09 MB);
//! 3. encode and decode time per bar, both versions (goal: decode no slower than version 2's
//!    7.3 ns/bar);
//! 4. 1 000 000 corrupted values: each decodes to an error (the checksum), never a panic.
//!
//! The bars are a deterministic random walk on each pair's tick grid (3 decimals for yen
//! pairs, 5 otherwise) with whole volumes, as every tier holds them since validation
//! quantizes prices.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::{
    Bar, InstrumentRegistry, ManualClock, OhlcvFrame, OhlcvStore, Symbol, TimeRange, Timeframe,
};
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
    let tick = InstrumentRegistry::builtin()
        .resolve(&symbol.parse().unwrap())
        .tick();
    let q = |p: f64| tick.quantize(p).unwrap();
    let mut p = start_price;
    let bars = opens.into_iter().map(|t| {
        let o = p;
        let c = o * (1.0 + rnd() * 0.002);
        let h = o.max(c) * (1.0 + rnd().abs() * 0.001);
        let l = o.min(c) * (1.0 - rnd().abs() * 0.001);
        p = c;
        Bar::new(t, q(o), q(h), q(l), q(c), ((rnd() + 0.5) * 1000.0).round()).unwrap()
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
    // The same cache with no decoded values kept: every get decodes.
    let decoding = RedisBarCache::new(
        RedisCacheConfig::new(url.clone())
            .namespace(ns.clone())
            .decoded_memo_bytes(0),
        Arc::new(ManualClock::new(now)),
    )
    .unwrap();
    let (mut t_cache, mut t_bare, mut t_decoding) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..4_000 {
        // Interleaved, so all see the same machine conditions.
        let s = Instant::now();
        let f = cache.get(&sym, Timeframe::M1, range).await.unwrap();
        let d_cache = s.elapsed();
        let s = Instant::now();
        let g = decoding.get(&sym, Timeframe::M1, range).await.unwrap();
        let d_decoding = s.elapsed();
        assert_eq!(f, g);
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
            t_decoding.push(d_decoding);
        }
    }
    let (mc, mb, md) = (median(t_cache), median(t_bare), median(t_decoding));
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
        "   ratio            : {:.2} (goal <= 1.15; the value is unchanged, so its decoded copy is reused: {} of {} gets)",
        mc.as_secs_f64() / mb.as_secs_f64(),
        cache.counters().reused,
        cache.counters().hits
    );
    println!(
        "   decoding each get: median {:>8.1} us, ratio {:.2}",
        md.as_secs_f64() * 1e6,
        md.as_secs_f64() / mb.as_secs_f64()
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
        "   version {} (current): MEMORY USAGE {total} bytes = {:.1} KB (goal <= 160 KB), {:.1} bytes/bar",
        codec::SCHEMA_VERSION,
        total as f64 / 1e3,
        total as f64 / bars as f64
    );
    // The same bars in version 2, written as raw values beside them.
    let mut v2_total = 0u64;
    for (s, p) in pairs {
        for tf in Timeframe::ALL {
            let n = (24 * 3_600_000 / tf.max_millis()).max(1) as usize;
            let f = walk(s, tf, now, n, p);
            let key = format!("bench-v2-{}:{s}:{tf}", std::process::id());
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg(codec::encode_version_2(&f))
                .query_async(&mut bare)
                .await
                .unwrap();
            let used: u64 = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&key)
                .query_async(&mut bare)
                .await
                .unwrap();
            v2_total += used;
            let _: i64 = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut bare)
                .await
                .unwrap();
        }
    }
    println!(
        "   version 2 (f64 columns): MEMORY USAGE {v2_total} bytes = {:.1} KB, {:.1} bytes/bar",
        v2_total as f64 / 1e3,
        v2_total as f64 / bars as f64
    );

    // 3. Codec.
    let iters = 2_000;
    let s = Instant::now();
    let mut bytes = Vec::new();
    for _ in 0..iters {
        bytes = black_box(codec::encode(black_box(&day)));
    }
    let enc = s.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(iters) / 1440.0;
    // Decoding, both versions alternately in batches (the machine's noise hits both), best
    // batch of each.
    let v2 = codec::encode_version_2(&day);
    let mut best = [f64::MAX; 2];
    for _ in 0..30 {
        for (i, v) in [&bytes, &v2].into_iter().enumerate() {
            let s = Instant::now();
            for _ in 0..200 {
                black_box(codec::decode(black_box(v), &sym, Timeframe::M1).unwrap());
            }
            best[i] = best[i].min(s.elapsed().as_secs_f64() * 1e9 / 200.0 / 1440.0);
        }
    }
    println!(
        "3. codec on 1440 M1 bars, version {} ({} bytes): encode {:.1} ns/bar, decode {:.1} ns/bar (goal <= 7.3, and no slower than version 2)",
        codec::SCHEMA_VERSION,
        bytes.len(),
        per(enc),
        best[0]
    );
    println!(
        "   version 2 ({} bytes): decode {:.1} ns/bar (best batch of 30, alternating with the current version)",
        v2.len(),
        best[1]
    );

    // 4. Corrupted values: every series of the collection, mutated a million times.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let samples: Vec<(Vec<u8>, Timeframe, OhlcvFrame)> = Timeframe::ALL
        .iter()
        .map(|&tf| {
            let n = (24 * 3_600_000 / tf.max_millis()).max(1) as usize;
            let f = walk("USDJPY", tf, now, n, 150.0);
            (codec::encode(&f), tf, f)
        })
        .collect();
    let (mut errors, mut same, mut other) = (0u64, 0u64, 0u64);
    let cases = 1_000_000u64;
    let s = Instant::now();
    for i in 0..cases {
        let (value, tf, original) = &samples[(i % samples.len() as u64) as usize];
        let mut v = value.clone();
        match next() % 3 {
            // Flip a few bytes.
            0 => {
                for _ in 0..=(next() % 4) {
                    let at = (next() % v.len() as u64) as usize;
                    v[at] ^= (next() % 255 + 1) as u8;
                }
            }
            // Cut it short.
            1 => v.truncate((next() % v.len() as u64) as usize),
            // Random bytes after a valid header.
            _ => {
                let keep = (next() % 24) as usize;
                v.truncate(keep.min(v.len()));
                v.extend((0..next() % 64).map(|_| next() as u8));
            }
        }
        match codec::decode(&v, &sym, *tf) {
            // A flip that only re-spells a msgpack number (int64 as uint64) reads the same bars.
            Ok(f) if f == *original => same += 1,
            Ok(_) => other += 1,
            Err(_) => errors += 1,
        }
    }
    println!(
        "4. {cases} corrupted values in {:.1} s: {errors} errors, {same} read as the bars written (a re-spelt number), {other} read as other bars (goal 0), no panic",
        s.elapsed().as_secs_f64()
    );

    // 5. Forming-bar updates of a day of M1: a patch (the newest bar, appended) against a
    //    whole rewrite (the same update written with the 8 bars before it: more than a patch
    //    holds), alternately, the median of each.
    let day = walk("USDJPY", Timeframe::M1, now, 1440, 150.0).with_forming(true);
    cache.save(&day).await.unwrap();
    let newest = day.last_n(1);
    let with_before = day.last_n(9);
    let (mut patched, mut whole) = (Vec::new(), Vec::new());
    for i in 0..2_000 {
        let moved = |f: &OhlcvFrame| {
            let bump = if i % 2 == 0 { 0.001 } else { -0.001 };
            let mut b = OhlcvFrame::builder(sym.clone(), Timeframe::M1, f.len());
            // On the pair's 0.001 tick, as every stored price is.
            let tick = |p: f64| (p * 1e3).round() / 1e3;
            for bar in f.iter() {
                b.push(
                    bar.time_millis(),
                    bar.open(),
                    tick(bar.high() + 0.01),
                    tick(bar.low() - 0.01),
                    tick(bar.close() + bump),
                    bar.volume() + f64::from(i),
                )
                .unwrap();
            }
            b.finish().with_forming(true)
        };
        let (a, b) = (moved(&newest), moved(&with_before));
        let s = Instant::now();
        cache.save(&a).await.unwrap();
        patched.push(s.elapsed());
        let s = Instant::now();
        cache.save(&b).await.unwrap();
        whole.push(s.elapsed());
    }
    let strlen = |mut con: ConnectionManager| {
        let key = key.clone();
        async move {
            redis::cmd("STRLEN")
                .arg(&key)
                .query_async::<usize>(&mut con)
                .await
                .unwrap()
        }
    };
    let before_len = strlen(bare.clone()).await;
    cache.save(&newest.with_forming(true)).await.unwrap();
    let after_one = strlen(bare.clone()).await;
    println!(
        "5. update of a day of M1's forming bar: patch {:.0} us (median of 2000, {} bytes appended to a {before_len}-byte value), whole rewrite {:.0} us",
        median(patched).as_secs_f64() * 1e6,
        after_one.saturating_sub(before_len),
        median(whole).as_secs_f64() * 1e6,
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
