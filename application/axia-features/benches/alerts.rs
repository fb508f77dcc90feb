//! Alert rules evaluated per bar update: 10,000 rules over 1,000 series (10 per series, every
//! kind of condition), each series fed closed bars with the standard features' names. Prints
//! ns per rule and the p50/p99 time one series' closed bar adds to a feature update (the
//! evaluation only: recording a fired alert is one Redis round trip, measured apart).
//!
//! `cargo bench -p axia-features --bench alerts`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::time::Instant;

use axia_domain::{AlertRule, Bar, Frequency, Symbol, Timeframe};
use axia_features::{AlertEvaluator, AlertRules, FeatureConfig};
use chrono::{Duration, TimeZone, Utc};

const SERIES: usize = 1_000;
const RULES_PER_SERIES: usize = 10;
const BARS: usize = 200;

const CONDITIONS: [&str; RULES_PER_SERIES] = [
    "rsi_14 > 70",
    "rsi_14 < 30",
    "crossing(ema_20, sma_20)",
    "crossing_up(close, bb_upper_20_2)",
    "crossing_down(close, bb_lower_20_2)",
    "entering_channel(close, bb_lower_20_2, bb_upper_20_2)",
    "exiting_channel(rsi_14, 30, 70)",
    "crossing_up(macd_12_26_9, macd_signal_12_26_9)",
    "moving_up(close, 0.2, 5)",
    "moving_down(close, 0.2, 20)",
];

fn main() {
    let symbols: Vec<Symbol> = (0..SERIES)
        .map(|i| format!("S{i:04}").parse().unwrap())
        .collect();
    let mut rules = Vec::with_capacity(SERIES * RULES_PER_SERIES);
    for s in &symbols {
        for (k, c) in CONDITIONS.iter().enumerate() {
            let mut r = AlertRule::new(
                format!("{s}-{k}").parse().unwrap(),
                s.clone(),
                Timeframe::M1,
                c.parse().unwrap(),
            );
            r.frequency = Frequency::OncePerBarClose;
            rules.push(r);
        }
    }
    let rules = AlertRules::new(rules, &FeatureConfig::standard()).unwrap();
    let mut evaluator = AlertEvaluator::new(rules);
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let mut x: u64 = 7;
    let mut price = vec![1.1_f64; SERIES];
    let mut per_update = Vec::with_capacity(SERIES * BARS);
    let mut fired = 0usize;
    for b in 0..BARS {
        let t = t0 + Duration::minutes(i64::try_from(b).unwrap());
        for (i, s) in symbols.iter().enumerate() {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            price[i] += ((x >> 32) as f64 / f64::from(u32::MAX) - 0.5) * 0.002;
            let c = price[i];
            let bar = Bar::new(t, c, c + 0.0005, c - 0.0005, c, 10.0).unwrap();
            let values: BTreeMap<String, f64> = [
                ("sma_20", c - 0.0002),
                ("ema_20", c + 0.0001 * ((b % 7) as f64 - 3.0)),
                ("rsi_14", 50.0 + 30.0 * ((b + i) as f64 / 9.0).sin()),
                ("macd_12_26_9", ((b + i) as f64 / 5.0).sin()),
                ("macd_signal_12_26_9", ((b + i) as f64 / 6.0).sin()),
                ("macd_hist_12_26_9", 0.0),
                ("bb_upper_20_2", c + 0.001 * ((b as f64) / 4.0).cos()),
                ("bb_middle_20_2", c),
                ("bb_lower_20_2", c - 0.001 * ((b as f64) / 4.0).cos()),
                ("atr_14", 0.001),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let start = Instant::now();
            fired += evaluator.closed(s, Timeframe::M1, &bar, &values).len();
            per_update.push(start.elapsed().as_nanos());
        }
    }
    per_update.sort_unstable();
    let n = per_update.len();
    let total: u128 = per_update.iter().sum();
    let pct = |p: f64| per_update[((n as f64 * p) as usize).min(n - 1)] as f64 / 1_000.0;
    println!(
        "alerts: {} rules over {SERIES} series, {BARS} closed bars each ({n} updates, {fired} alerts fired)",
        SERIES * RULES_PER_SERIES
    );
    println!(
        "  per rule {:.0} ns; per series update p50 {:.1} us, p99 {:.1} us, max {:.1} us (goal: p99 <= 100 us added)",
        total as f64 / (n * RULES_PER_SERIES) as f64,
        pct(0.50),
        pct(0.99),
        per_update[n - 1] as f64 / 1_000.0
    );
}
