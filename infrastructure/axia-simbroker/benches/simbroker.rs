//! Simulated broker throughput, printed (release: `cargo bench -p axia-simbroker`).
//! Goal: at least 10 million M1 bars per second, so it never bounds collector benchmarks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Instant;

use axia_domain::{Symbol, TimeRange, Timeframe};
use axia_simbroker::generate;
use chrono::{Duration, TimeZone, Utc};

fn main() {
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let sym: Symbol = "EURUSD".parse().unwrap();
    for (label, tf, days) in [
        ("M1, 1 year", Timeframe::M1, 365),
        ("M1, 1 day", Timeframe::M1, 1),
        ("H1 from M1, 1 year", Timeframe::H1, 365),
    ] {
        let range = TimeRange::new(now - Duration::days(days), now).unwrap();
        let _ = generate(1, &sym, tf, range, now).unwrap(); // warm up
        let runs = if days > 1 { 10 } else { 5_000 };
        let mut m1_bars = 0u64;
        let mut out_bars = 0usize;
        let start = Instant::now();
        for i in 0..runs {
            let f = black_box(generate(i, &sym, tf, range, now).unwrap());
            out_bars = f.len();
            // FX minutes of the range: 5 trading days a week.
            m1_bars += if tf == Timeframe::M1 {
                f.len() as u64
            } else {
                f.iter().count() as u64 * 60
            };
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label:>20}: {out_bars} bars per call, {:.1} M M1 bars/s (goal >= 10 M/s)",
            m1_bars as f64 / secs / 1e6
        );
    }
}
