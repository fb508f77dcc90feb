//! ns per update of each indicator beside kand 0.2.2 (`*_inc`, the caller holding the state)
//! and yata 0.7.0 (`next`), on 2,000,000 FX-like bars streamed from memory, then on the first
//! 10,000 of them in cache, as a live update finds its input (release:
//! `cargo bench -p axia-indicators`). Goal (#17): <= 1.0x the fastest of them for each
//! indicator. Neither peer is at TA-Lib exactness everywhere: kand's MACD seeds its fast EMA
//! from bar 0 and its Bollinger Bands keep a running sum of squares; yata seeds from the first
//! value, uses an EMA for RSI and a sample standard deviation. Each loop folds its outputs into
//! a checksum so nothing is optimised away.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss
)]

use std::hint::black_box;
use std::time::Instant;

use axia_indicators::{Atr, Bollinger, Ema, FeatureSet, Hlc, Indicator, Macd, Rsi, Sma};
use yata::core::{Candle, IndicatorConfig, IndicatorInstance, Method};

const N: usize = 2_000_000;

/// Bars of the second table: 240 KB, in every core's L2 cache on the machines of this kind.
const IN_CACHE: usize = 10_000;

fn bars() -> Vec<Hlc> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut c = 1.1;
    (0..N)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let r = (x >> 11) as f64 / (1u64 << 53) as f64;
            c += (r - 0.5) * 0.0004;
            let c5 = (c * 1e5_f64).round() / 1e5;
            Hlc {
                high: c5 + 0.00012,
                low: c5 - 0.00009,
                close: c5,
            }
        })
        .collect()
}

/// ns per bar of `f` over every bar, best of `runs` runs (this kind of machine is noisy).
fn time(bars: &[Hlc], runs: usize, mut f: impl FnMut(&[Hlc]) -> f64) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        black_box(f(black_box(bars)));
        best = best.min(start.elapsed().as_nanos() as f64 / bars.len() as f64);
    }
    best
}

fn candle(b: &Hlc) -> Candle {
    Candle {
        open: b.close,
        high: b.high,
        low: b.low,
        close: b.close,
        volume: 1.0,
    }
}

fn row(name: &str, ours: f64, kand: Option<f64>, yata: Option<f64>) {
    let fastest = [kand, yata].into_iter().flatten().fold(f64::MAX, f64::min);
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    println!(
        "{name:<16} {ours:>8.2} {:>8} {:>8} {:>10}",
        show(kand),
        show(yata),
        if fastest < f64::MAX {
            format!("{:.2}x", ours / fastest)
        } else {
            "-".into()
        }
    );
}

fn main() {
    let bars = bars();
    println!(
        "{N} bars streamed from memory (24 bytes a bar: 48 MB); ns per update, best of 11; ratio = axia / the fastest peer (goal <= 1.0x)"
    );
    table(&bars, 11, true);
    println!();
    println!(
        "the first {IN_CACHE} bars, in cache (240 KB); ns per update, best of 401 (where a machine streams memory slowly, the table above measures its memory more than the indicators)"
    );
    table(&bars[..IN_CACHE], 401, false);
}

/// One table: every indicator beside its peers over `bars`, best of `runs`, then (with `set`)
/// the standard set and its peek.
fn table(bars: &[Hlc], runs: usize, set: bool) {
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    println!(
        "{:<16} {:>8} {:>8} {:>8} {:>10}",
        "indicator", "axia", "kand", "yata", "ratio"
    );

    // SMA 20
    let ours = time(bars, runs, |b| {
        let mut i = Sma::new(20).unwrap();
        b.iter().filter_map(|x| i.update(x.close).unwrap()).sum()
    });
    let kand = time(bars, runs, |b| {
        let (mut sum, mut sma, mut acc) = (0.0, 0.0, 0.0);
        for (j, x) in b.iter().enumerate() {
            if j < 20 {
                sum += x.close;
                if j == 19 {
                    sma = sum / 20.0;
                }
            } else {
                sma = kand::ohlcv::sma::sma_inc(sma, x.close, closes[j - 20], 20).unwrap();
                acc += sma;
            }
        }
        acc
    });
    let yata = time(bars, runs, |b| {
        let mut m = yata::methods::SMA::new(20, &b[0].close).unwrap();
        b.iter().map(|x| m.next(&x.close)).sum()
    });
    row("sma_20", ours, Some(kand), Some(yata));

    // EMA 20
    let ours = time(bars, runs, |b| {
        let mut i = Ema::new(20).unwrap();
        b.iter().filter_map(|x| i.update(x.close).unwrap()).sum()
    });
    let kand = time(bars, runs, |b| {
        let mut ema = b[..20].iter().map(|x| x.close).sum::<f64>() / 20.0;
        let mut acc = 0.0;
        for x in &b[20..] {
            ema = kand::ohlcv::ema::ema_inc(x.close, ema, 20, None).unwrap();
            acc += ema;
        }
        acc
    });
    let yata = time(bars, runs, |b| {
        let mut m = yata::methods::EMA::new(20, &b[0].close).unwrap();
        b.iter().map(|x| m.next(&x.close)).sum()
    });
    row("ema_20", ours, Some(kand), Some(yata));

    // RSI 14
    let ours = time(bars, runs, |b| {
        let mut i = Rsi::new(14).unwrap();
        b.iter().filter_map(|x| i.update(x.close).unwrap()).sum()
    });
    let kand = time(bars, runs, |b| {
        let (mut g, mut l) = (0.0, 0.0);
        for w in b[..15].windows(2) {
            let d = w[1].close - w[0].close;
            if d > 0.0 {
                g += d;
            } else {
                l -= d;
            }
        }
        let (mut g, mut l, mut acc) = (g / 14.0, l / 14.0, 0.0);
        for j in 15..b.len() {
            let (r, ng, nl) =
                kand::ohlcv::rsi::rsi_inc(b[j].close, b[j - 1].close, g, l, 14).unwrap();
            (g, l) = (ng, nl);
            acc += r;
        }
        acc
    });
    let yata = time(bars, runs, |b| {
        let mut i = yata::indicators::RelativeStrengthIndex::default()
            .init(&candle(&b[0]))
            .unwrap();
        b.iter().map(|x| i.next(&candle(x)).value(0)).sum()
    });
    row("rsi_14", ours, Some(kand), Some(yata));

    // MACD 12/26/9
    let ours = time(bars, runs, |b| {
        let mut i = Macd::standard();
        b.iter()
            .filter_map(|x| i.update(x.close).unwrap())
            .map(|m| m.hist)
            .sum()
    });
    let kand = time(bars, runs, |b| {
        let seed = |n: usize| b[..n].iter().map(|x| x.close).sum::<f64>() / n as f64;
        let (mut fast, mut slow, mut signal, mut acc) = (seed(12), seed(26), 0.0, 0.0);
        for x in &b[26..] {
            let (m, s, h) =
                kand::ohlcv::macd::macd_inc(x.close, fast, slow, signal, 12, 26, 9).unwrap();
            fast = kand::ohlcv::ema::ema_inc(x.close, fast, 12, None).unwrap();
            slow = kand::ohlcv::ema::ema_inc(x.close, slow, 26, None).unwrap();
            signal = s;
            acc += m + h;
        }
        acc
    });
    let yata = time(bars, runs, |b| {
        let mut i = yata::indicators::MACD::default()
            .init(&candle(&b[0]))
            .unwrap();
        b.iter().map(|x| i.next(&candle(x)).value(0)).sum()
    });
    row("macd_12_26_9", ours, Some(kand), Some(yata));

    // Bollinger 20/2
    let ours = time(bars, runs, |b| {
        let mut i = Bollinger::standard();
        b.iter()
            .filter_map(|x| i.update(x.close).unwrap())
            .map(|v| v.upper)
            .sum()
    });
    let kand = time(bars, runs, |b| {
        let sum: f64 = b[..20].iter().map(|x| x.close).sum();
        let sq: f64 = b[..20].iter().map(|x| x.close * x.close).sum();
        let (mut sma, mut sum, mut sq, mut acc) = (sum / 20.0, sum, sq, 0.0);
        for j in 20..b.len() {
            let (upper, mid, _lower, _, nsum, nsq) = kand::ohlcv::bbands::bbands_inc(
                b[j].close,
                sma,
                sum,
                sq,
                closes[j - 20],
                20,
                2.0,
                2.0,
            )
            .unwrap();
            (sma, sum, sq) = (mid, nsum, nsq);
            acc += upper;
        }
        acc
    });
    let yata = time(bars, runs, |b| {
        let mut i = yata::indicators::BollingerBands::default()
            .init(&candle(&b[0]))
            .unwrap();
        b.iter().map(|x| i.next(&candle(x)).value(0)).sum()
    });
    row("bb_20_2", ours, Some(kand), Some(yata));

    // ATR 14
    let ours = time(bars, runs, |b| {
        let mut i = Atr::new(14).unwrap();
        b.iter().filter_map(|x| i.update(*x).unwrap()).sum()
    });
    let kand = time(bars, runs, |b| {
        let tr = |j: usize| {
            let (h, l, pc) = (b[j].high, b[j].low, b[j - 1].close);
            (h - l).max((h - pc).abs()).max((l - pc).abs())
        };
        let mut atr = (1..15).map(tr).sum::<f64>() / 14.0;
        let mut acc = 0.0;
        for j in 15..b.len() {
            atr = kand::ohlcv::atr::atr_inc(b[j].high, b[j].low, b[j - 1].close, atr, 14).unwrap();
            acc += atr;
        }
        acc
    });
    let yata = time(bars, runs, |b| {
        let c0 = candle(&b[0]);
        let mut tr = yata::methods::TR::new(&c0).unwrap();
        let mut rma = yata::methods::RMA::new(14, &(b[0].high - b[0].low)).unwrap();
        b.iter().map(|x| rma.next(&tr.next(&candle(x)))).sum()
    });
    row("atr_14", ours, Some(kand), Some(yata));

    if !set {
        return;
    }
    // The standard set together, as the feature engine runs it.
    let ours = time(bars, runs, |b| {
        let mut set = FeatureSet::standard();
        b.iter()
            .map(|x| {
                set.update(*x).unwrap();
                set.get("rsi_14").unwrap_or(0.0)
            })
            .sum()
    });
    row("standard set", ours, None, None);
    let mut set = FeatureSet::standard();
    for x in &bars[..100] {
        set.update(*x).unwrap();
    }
    let ours = time(&bars[..bars.len() / 10], runs, |b| {
        b.iter().map(|x| set.peek(*x).unwrap().len() as f64).sum()
    });
    row("standard peek", ours, None, None);
}
