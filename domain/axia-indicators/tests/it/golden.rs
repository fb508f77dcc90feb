use axia_indicators::{Atr, Bollinger, Ema, Hlc, Indicator, Macd, Rsi, Sma, batch};

/// The periods each golden file was written with (see `generate.py`).
struct Params {
    sma: usize,
    ema: usize,
    rsi: usize,
    macd: (usize, usize, usize),
    bb: (usize, f64),
    atr: usize,
}

const DEFAULT: Params = Params {
    sma: 20,
    ema: 20,
    rsi: 14,
    macd: (12, 26, 9),
    bb: (20, 2.0),
    atr: 14,
};

const OTHER: Params = Params {
    sma: 7,
    ema: 9,
    rsi: 5,
    macd: (5, 13, 4),
    bb: (10, 1.5),
    atr: 7,
};

struct Golden {
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<Option<f64>>>,
}

impl Golden {
    fn read(name: &str) -> Self {
        let path = format!("{}/tests/golden/{name}.csv", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header = lines
            .next()
            .unwrap()
            .split(',')
            .map(str::to_owned)
            .collect();
        let rows = lines
            .map(|l| {
                l.split(',')
                    .map(|f| (!f.is_empty()).then(|| f.parse::<f64>().unwrap()))
                    .collect()
            })
            .collect();
        Self {
            name: name.to_owned(),
            header,
            rows,
        }
    }

    fn column(&self, name: &str) -> Vec<Option<f64>> {
        let i = self.header.iter().position(|h| h == name).unwrap();
        self.rows.iter().map(|r| r[i]).collect()
    }

    fn prices(&self, name: &str) -> Vec<f64> {
        self.column(name).into_iter().map(Option::unwrap).collect()
    }

    /// Checks `ours` against the column `name`: the same warm-up (TA-Lib's NaNs), and values
    /// within `tol` relative error (absolute below `floor`, for values that cross zero).
    fn check(&self, name: &str, ours: &[Option<f64>], lookback: usize, tol: f64, floor: f64) {
        let theirs = self.column(name);
        assert_eq!(ours.len(), theirs.len());
        let warm_up = theirs.iter().take_while(|v| v.is_none()).count();
        assert_eq!(warm_up, lookback, "{} {name}: TA-Lib's lookback", self.name);
        let mut worst = 0.0_f64;
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            match (a, b) {
                (None, None) => {}
                (Some(a), Some(b)) => {
                    let err = (a - b).abs() / b.abs().max(floor);
                    worst = worst.max(err);
                    assert!(
                        err <= tol,
                        "{} {name} bar {i}: {a} vs TA-Lib {b} (relative error {err:e})",
                        self.name
                    );
                }
                _ => panic!("{} {name} bar {i}: {a:?} vs TA-Lib {b:?}", self.name),
            }
        }
        eprintln!("{} {name}: worst relative error {worst:e}", self.name);
    }
}

fn check_file(name: &str, p: &Params) {
    let g = Golden::read(name);
    let close = g.prices("close");
    let hlc: Vec<Hlc> = g
        .prices("high")
        .into_iter()
        .zip(g.prices("low"))
        .zip(close.iter().copied())
        .map(|((high, low), close)| Hlc { high, low, close })
        .collect();
    let exact = 1e-12;
    // A floor of 1e-3 of a typical price for the columns that cross zero (MACD's), so a value
    // near zero is held to an absolute error there.
    let scale = close[0].abs() * 1e-9;

    let sma = Sma::new(p.sma).unwrap();
    let lb = sma.lookback();
    g.check(
        "sma",
        &batch(sma, close.clone()).unwrap(),
        lb,
        exact,
        f64::MIN_POSITIVE,
    );

    let ema = Ema::new(p.ema).unwrap();
    let lb = ema.lookback();
    g.check(
        "ema",
        &batch(ema, close.clone()).unwrap(),
        lb,
        exact,
        f64::MIN_POSITIVE,
    );

    let rsi = Rsi::new(p.rsi).unwrap();
    let lb = rsi.lookback();
    g.check("rsi", &batch(rsi, close.clone()).unwrap(), lb, exact, 1e-9);

    let macd = Macd::new(p.macd.0, p.macd.1, p.macd.2).unwrap();
    let lb = macd.lookback();
    let out = batch(macd, close.clone()).unwrap();
    for (col, f) in [
        (
            "macd",
            (|m: &axia_indicators::MacdValue| m.macd) as fn(&_) -> f64,
        ),
        ("macd_signal", |m| m.signal),
        ("macd_hist", |m| m.hist),
    ] {
        let v: Vec<_> = out.iter().map(|o| o.as_ref().map(f)).collect();
        g.check(col, &v, lb, exact, scale);
    }

    let bb = Bollinger::new(p.bb.0, p.bb.1).unwrap();
    let lb = bb.lookback();
    let out = batch(bb, close.clone()).unwrap();
    for (col, f) in [
        (
            "bb_upper",
            (|b: &axia_indicators::Bands| b.upper) as fn(&_) -> f64,
        ),
        ("bb_middle", |b| b.middle),
        ("bb_lower", |b| b.lower),
    ] {
        let v: Vec<_> = out.iter().map(|o| o.as_ref().map(f)).collect();
        let tol = if col == "bb_middle" { exact } else { 1e-9 };
        g.check(col, &v, lb, tol, f64::MIN_POSITIVE);
    }

    let atr = Atr::new(p.atr).unwrap();
    let lb = atr.lookback();
    g.check(
        "atr",
        &batch(atr, hlc).unwrap(),
        lb,
        exact,
        f64::MIN_POSITIVE,
    );
}

#[test]
fn eurusd_matches_ta_lib_in_the_default_periods() {
    check_file("eurusd.default", &DEFAULT);
}

#[test]
fn eurusd_matches_ta_lib_in_other_periods() {
    check_file("eurusd.other", &OTHER);
}

#[test]
fn usdjpy_matches_ta_lib_in_the_default_periods() {
    check_file("usdjpy.default", &DEFAULT);
}

#[test]
fn usdjpy_matches_ta_lib_in_other_periods() {
    check_file("usdjpy.other", &OTHER);
}

#[test]
fn a_series_that_starts_flat_matches_ta_lib() {
    check_file("flat_start.default", &DEFAULT);
    check_file("flat_start.other", &OTHER);
    // RSI is 0 on a flat series, the bands collapse onto the mean.
    let g = Golden::read("flat_start.default");
    let close = g.prices("close");
    let rsi = batch(Rsi::new(14).unwrap(), close[..40].iter().copied()).unwrap();
    assert_eq!(rsi[14], Some(0.0));
    let bb = batch(Bollinger::standard(), close[..40].iter().copied()).unwrap();
    let b = bb[39].unwrap();
    assert_eq!((b.upper, b.lower), (b.middle, b.middle));
}
