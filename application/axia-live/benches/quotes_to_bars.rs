//! Quotes to bars in process: quotes per second on one core through `QuotesToBars` (nine
//! timeframes, the outlier filter on), beside a bare loop that only reads the same quotes (the
//! floor). Prints figures; run with `cargo bench -p axia-live`.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap
)]

use std::hint::black_box;
use std::time::Instant;

use axia_domain::{InstrumentRegistry, Quote};
use axia_live::{LiveBarsConfig, OutlierRule, QuotesToBars};
use chrono::{Duration, TimeZone, Utc};

fn main() {
    let symbols = [
        "EURUSD", "USDJPY", "GBPUSD", "AUDUSD", "USDCHF", "EURJPY", "USDCAD", "NZDUSD",
    ];
    let registry = InstrumentRegistry::shared_builtin();
    let instruments: Vec<_> = symbols
        .iter()
        .map(|s| registry.resolve(&s.parse().unwrap()))
        .collect();
    // Tuesday: every pair trades. Quotes 4 a second per instrument, a random walk.
    let start = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
    let n = 4_000_000usize;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut mids: Vec<f64> = instruments
        .iter()
        .map(|i| {
            if i.symbol().as_str().contains("JPY") {
                150.0
            } else {
                1.1
            }
        })
        .collect();
    let quotes: Vec<Quote> = (0..n)
        .map(|k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = k % instruments.len();
            let step = ((x % 2001) as f64 - 1000.0) / 1e8;
            mids[i] *= 1.0 + step;
            let t = start + Duration::milliseconds((k / instruments.len()) as i64 * 250);
            Quote {
                symbol: instruments[i].symbol().clone(),
                time: t,
                bid: mids[i] - 0.00001,
                ask: mids[i] + 0.00001,
                size: None,
            }
        })
        .collect();
    let floor = best_of(5, || {
        let mut s = 0.0;
        for q in &quotes {
            s += black_box(q).bid + q.ask + q.time.timestamp_millis() as f64;
        }
        black_box(s);
    });
    for (name, rule) in [
        ("outlier filter on", OutlierRule::default()),
        ("outlier filter off", OutlierRule::OFF),
    ] {
        let config = LiveBarsConfig {
            outliers: rule,
            ..LiveBarsConfig::default()
        };
        let mut accepted = 0;
        let took = best_of(5, || {
            let mut q = QuotesToBars::new(&config, instruments.clone());
            let mut out = Vec::with_capacity(32);
            for quote in &quotes {
                out.clear();
                let _ = q.on_quote(quote, &mut out);
                black_box(&out);
            }
            accepted = q.counts().accepted;
        });
        println!(
            "quotes to bars, 9 timeframes, {} instruments, {name}: {:.2} M quotes/s ({:.0} ns/quote; {accepted} of {n} accepted); floor (read the quotes): {:.0} M quotes/s",
            instruments.len(),
            n as f64 / took / 1e6,
            took / n as f64 * 1e9,
            n as f64 / floor / 1e6,
        );
    }
}

fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
