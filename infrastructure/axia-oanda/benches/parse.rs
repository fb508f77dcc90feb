//! Bars per second parsed from candle pages (release: `cargo bench -p axia-oanda`): pages of
//! 5,000 M1 candles in OANDA's documented shape (decimal-string prices, nanosecond RFC 3339
//! times, `complete`, `volume`, `mid`), parsed and validated into bars (prices onto the tick,
//! the grid checked) as the gateway does each page. Goal: >= 2 M bars/s. No network: the pages
//! are built here (nothing can be recorded from OANDA on this machine).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::time::Instant;

use axia_domain::{InstrumentRegistry, Symbol, Timeframe};
use chrono::{Duration, TimeZone, Utc};

fn page(start: chrono::DateTime<Utc>, n: i64, decimals: usize) -> Vec<u8> {
    let mut candles = Vec::with_capacity(usize::try_from(n).unwrap());
    for i in 0..n {
        let t = start + Duration::minutes(i);
        let x = i as f64;
        let c = 150.0 + (x * 0.37).sin() * 0.2 + (x * 0.011).cos() * 0.4;
        let p = |v: f64| format!("{v:.decimals$}");
        candles.push(format!(
            r#"{{"complete":true,"volume":{},"time":"{}","mid":{{"o":"{}","h":"{}","l":"{}","c":"{}"}}}}"#,
            100 + i % 50,
            t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            p(c),
            p(c + 0.021),
            p(c - 0.019),
            p(c + 0.003)
        ));
    }
    format!(
        r#"{{"instrument":"USD_JPY","granularity":"M1","candles":[{}]}}"#,
        candles.join(",")
    )
    .into_bytes()
}

fn main() {
    let symbol: Symbol = "USDJPY".parse().unwrap();
    let instrument = InstrumentRegistry::builtin().resolve(&symbol);
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let now = start + Duration::days(30);
    let pages: Vec<Vec<u8>> = (0..8)
        .map(|k| page(start + Duration::minutes(5_000 * k), 5_000, 3))
        .collect();
    let bytes: usize = pages.iter().map(Vec::len).sum();
    for round in 0..3 {
        let t0 = Instant::now();
        let mut read = 0;
        for p in &pages {
            read += axia_oanda::parse_only(p).unwrap();
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "round {round}: parse only: {:.2} M candles/s, {:.0} ns a candle",
            read as f64 / secs / 1e6,
            secs * 1e9 / read as f64
        );
        let t0 = Instant::now();
        let mut bars = 0;
        let reps = 10;
        for _ in 0..reps {
            for p in &pages {
                bars += axia_oanda::parse_and_validate(p, &instrument, Timeframe::M1, now).unwrap();
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "round {round}: {bars} bars from {} pages of 5,000 candles ({:.1} MB) in {:.3} s: {:.2} M bars/s, {:.0} ns a bar, {:.0} MB/s",
            pages.len() * reps,
            (bytes * reps) as f64 / 1e6,
            secs,
            bars as f64 / secs / 1e6,
            secs * 1e9 / bars as f64,
            (bytes * reps) as f64 / secs / 1e6,
        );
    }
}
