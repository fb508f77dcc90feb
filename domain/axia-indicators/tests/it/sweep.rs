//! Many periods against TA-Lib (`tests/golden/sweep.csv`, written by `tests/golden/sweep.py`):
//! the shortest period each indicator takes, periods longer than the series, MACD with
//! far-apart EMAs, bands with no width; on the golden files' FX series and an index-like one
//! around 38,000. TA-Lib's lookback for each, and sampled values.

use std::collections::BTreeMap;

use axia_indicators::{Atr, Bollinger, Ema, Hlc, Indicator, Macd, Rsi, Sma, batch};

/// One output of one indicator in one set of periods on one series, as TA-Lib wrote it.
#[derive(Default)]
struct Expected {
    lookback: usize,
    /// `(bar index, value)`.
    values: Vec<(usize, f64)>,
}

type Key = (String, String, String, String);

fn read_sweep() -> BTreeMap<Key, Expected> {
    let path = format!("{}/tests/golden/sweep.csv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: BTreeMap<Key, Expected> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let key = (f[0].into(), f[1].into(), f[2].into(), f[3].into());
        let e = out.entry(key).or_default();
        e.lookback = f[4].parse().unwrap();
        if !f[5].is_empty() {
            e.values
                .push((f[5].parse().unwrap(), f[6].parse().unwrap()));
        }
    }
    out
}

/// The close and the bars of a golden file's inputs (`{series}.default.csv`, or
/// `{series}.inputs.csv` for a series only the sweep uses).
fn inputs(series: &str) -> (Vec<f64>, Vec<Hlc>) {
    let dir = format!("{}/tests/golden", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(format!("{dir}/{series}.default.csv"))
        .or_else(|_| std::fs::read_to_string(format!("{dir}/{series}.inputs.csv")))
        .unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (h, l, c) = (col("high"), col("low"), col("close"));
    let mut close = Vec::new();
    let mut hlc = Vec::new();
    for line in lines {
        let f: Vec<f64> = line
            .split(',')
            .take(5)
            .map(|x| x.parse().unwrap())
            .collect();
        close.push(f[c]);
        hlc.push(Hlc {
            high: f[h],
            low: f[l],
            close: f[c],
        });
    }
    (close, hlc)
}

fn usize_params(params: &str) -> Vec<usize> {
    params.split('/').map(|p| p.parse().unwrap()).collect()
}

/// Our values of one output, and our lookback.
fn ours(
    indicator: &str,
    params: &str,
    output: &str,
    close: &[f64],
    hlc: &[Hlc],
) -> (Vec<Option<f64>>, usize) {
    fn run<I: Indicator>(
        i: I,
        xs: impl IntoIterator<Item = I::Input>,
        f: impl Fn(&I::Output) -> f64,
    ) -> (Vec<Option<f64>>, usize) {
        let lookback = i.lookback();
        let out = batch(i, xs).unwrap();
        (out.iter().map(|o| o.as_ref().map(&f)).collect(), lookback)
    }
    let closes = close.iter().copied();
    match indicator {
        "sma" => run(Sma::new(usize_params(params)[0]).unwrap(), closes, |v| *v),
        "ema" => run(Ema::new(usize_params(params)[0]).unwrap(), closes, |v| *v),
        "rsi" => run(Rsi::new(usize_params(params)[0]).unwrap(), closes, |v| *v),
        "atr" => run(
            Atr::new(usize_params(params)[0]).unwrap(),
            hlc.iter().copied(),
            |v| *v,
        ),
        "macd" => {
            let p = usize_params(params);
            let m = Macd::new(p[0], p[1], p[2]).unwrap();
            match output {
                "macd" => run(m, closes, |v| v.macd),
                "signal" => run(m, closes, |v| v.signal),
                _ => run(m, closes, |v| v.hist),
            }
        }
        "bbands" => {
            let (n, k) = params.split_once('/').unwrap();
            let b = Bollinger::new(n.parse().unwrap(), k.parse().unwrap()).unwrap();
            match output {
                "upper" => run(b, closes, |v| v.upper),
                "middle" => run(b, closes, |v| v.middle),
                _ => run(b, closes, |v| v.lower),
            }
        }
        other => panic!("unknown indicator {other} in sweep.csv"),
    }
}

#[test]
fn every_swept_period_matches_ta_lib() {
    let sweep = read_sweep();
    let mut series_inputs = BTreeMap::new();
    let mut checked = 0;
    for ((series, indicator, params, output), expected) in &sweep {
        let (close, hlc) = series_inputs
            .entry(series.clone())
            .or_insert_with(|| inputs(series));
        let (values, lookback) = ours(indicator, params, output, close, hlc);
        let what = format!("{series} {indicator}({params}) {output}");
        assert_eq!(lookback, expected.lookback, "{what}: lookback");
        let first = values
            .iter()
            .position(Option::is_some)
            .unwrap_or(values.len());
        assert_eq!(
            first,
            expected.lookback.min(values.len()),
            "{what}: the first value"
        );
        assert!(values[first..].iter().all(Option::is_some), "{what}");
        // Relative error, against a floor for the outputs that cross zero (MACD's, near a
        // billionth of the price) or sit at it (RSI on a flat stretch).
        let (tol, floor) = match (indicator.as_str(), output.as_str()) {
            ("bbands", "upper" | "lower") => (1e-9, f64::MIN_POSITIVE),
            ("macd", _) => (1e-12, close[0].abs() * 1e-9),
            ("rsi", _) => (1e-12, 1e-9),
            _ => (1e-12, f64::MIN_POSITIVE),
        };
        for &(i, theirs) in &expected.values {
            let ours = values[i].unwrap();
            let err = (ours - theirs).abs() / theirs.abs().max(floor);
            assert!(
                err <= tol,
                "{what} bar {i}: {ours} vs TA-Lib {theirs} (relative error {err:e})"
            );
            checked += 1;
        }
    }
    // Every indicator, output and series of the file was read (a truncated file fails here).
    assert_eq!(sweep.len(), 4 * (12 + 10 + 8 + 8 * 3 + 8 * 3 + 8));
    assert!(checked > 5_500, "{checked} values checked");
}
