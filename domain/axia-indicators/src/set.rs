//! [`FeatureSet`]: the indicators configured for a series, updated together and named.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::{Atr, Bollinger, Ema, Hlc, Indicator, IndicatorError, Input, Macd, Rsi, Sma};

/// One configured indicator, by its name: `sma_20`, `ema_20`, `rsi_14`, `macd_12_26_9`,
/// `bb_20_2`, `atr_14`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureSpec {
    /// [`Sma`] over a period.
    Sma(usize),
    /// [`Ema`] over a period.
    Ema(usize),
    /// [`Rsi`] over a period.
    Rsi(usize),
    /// [`Macd`] fast, slow, signal.
    Macd(usize, usize, usize),
    /// [`Bollinger`] period and width.
    Bollinger(usize, f64),
    /// [`Atr`] over a period.
    Atr(usize),
}

impl FeatureSpec {
    /// SMA 20, EMA 20, RSI 14, MACD 12/26/9, Bollinger 20/2, ATR 14.
    pub const STANDARD: [Self; 6] = [
        Self::Sma(20),
        Self::Ema(20),
        Self::Rsi(14),
        Self::Macd(12, 26, 9),
        Self::Bollinger(20, 2.0),
        Self::Atr(14),
    ];

    /// The names of the values it gives (`macd_12_26_9`, `macd_signal_12_26_9`,
    /// `macd_hist_12_26_9` for MACD; `bb_upper_20_2`, `bb_middle_20_2`, `bb_lower_20_2` for the
    /// bands).
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Macd(f, s, g) => ["macd", "macd_signal", "macd_hist"]
                .map(|n| format!("{n}_{f}_{s}_{g}"))
                .to_vec(),
            Self::Bollinger(n, k) => ["bb_upper", "bb_middle", "bb_lower"]
                .map(|b| format!("{b}_{n}_{k}"))
                .to_vec(),
            other => vec![other.to_string()],
        }
    }

    fn build(self) -> Result<Running, IndicatorError> {
        Ok(match self {
            Self::Sma(n) => Running::Sma(Sma::new(n)?),
            Self::Ema(n) => Running::Ema(Ema::new(n)?),
            Self::Rsi(n) => Running::Rsi(Rsi::new(n)?),
            Self::Macd(f, s, g) => Running::Macd(Macd::new(f, s, g)?),
            Self::Bollinger(n, k) => Running::Bollinger(Bollinger::new(n, k)?),
            Self::Atr(n) => Running::Atr(Atr::new(n)?),
        })
    }
}

impl fmt::Display for FeatureSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sma(n) => write!(f, "sma_{n}"),
            Self::Ema(n) => write!(f, "ema_{n}"),
            Self::Rsi(n) => write!(f, "rsi_{n}"),
            Self::Macd(a, b, c) => write!(f, "macd_{a}_{b}_{c}"),
            Self::Bollinger(n, k) => write!(f, "bb_{n}_{k}"),
            Self::Atr(n) => write!(f, "atr_{n}"),
        }
    }
}

impl FromStr for FeatureSpec {
    type Err = IndicatorError;

    /// Parses a name as [`FeatureSpec`]'s `Display` writes it, and checks its parameters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IndicatorError::InvalidParameter {
            indicator: "feature",
            parameter: "name",
            value: s.chars().take(40).collect(),
            expected: "sma_N, ema_N, rsi_N, macd_F_S_G, bb_N_K or atr_N",
        };
        let mut parts = s.trim().split('_');
        let kind = parts.next().ok_or_else(bad)?;
        let rest: Vec<&str> = parts.collect();
        let int = |i: usize| -> Result<usize, IndicatorError> {
            rest.get(i).and_then(|p| p.parse().ok()).ok_or_else(bad)
        };
        let spec = match (kind, rest.len()) {
            ("sma", 1) => Self::Sma(int(0)?),
            ("ema", 1) => Self::Ema(int(0)?),
            ("rsi", 1) => Self::Rsi(int(0)?),
            ("atr", 1) => Self::Atr(int(0)?),
            ("macd", 3) => Self::Macd(int(0)?, int(1)?, int(2)?),
            ("bb", 2) => Self::Bollinger(
                int(0)?,
                rest.get(1).and_then(|k| k.parse().ok()).ok_or_else(bad)?,
            ),
            _ => return Err(bad()),
        };
        spec.build()?;
        Ok(spec)
    }
}

/// A running indicator of any kind.
#[derive(Debug, Clone, PartialEq)]
enum Running {
    Sma(Sma),
    Ema(Ema),
    Rsi(Rsi),
    Macd(Macd),
    Bollinger(Bollinger),
    Atr(Atr),
}

impl Running {
    fn lookback(&self) -> usize {
        match self {
            Self::Sma(i) => i.lookback(),
            Self::Ema(i) => i.lookback(),
            Self::Rsi(i) => i.lookback(),
            Self::Macd(i) => i.lookback(),
            Self::Bollinger(i) => i.lookback(),
            Self::Atr(i) => i.lookback(),
        }
    }

    /// Steps with a checked bar and writes the values it gives into `out`, in
    /// [`FeatureSpec::names`] order (nothing while it warms up).
    fn step(&mut self, b: Hlc, out: &mut [Option<f64>]) {
        let mut put = |values: &[f64]| {
            for (slot, v) in out.iter_mut().zip(values) {
                *slot = Some(*v);
            }
        };
        match self {
            Self::Sma(i) => {
                if let Some(v) = i.step(b.close) {
                    put(&[v]);
                }
            }
            Self::Ema(i) => {
                if let Some(v) = i.step(b.close) {
                    put(&[v]);
                }
            }
            Self::Rsi(i) => {
                if let Some(v) = i.step(b.close) {
                    put(&[v]);
                }
            }
            Self::Macd(i) => {
                if let Some(m) = i.step(b.close) {
                    put(&[m.macd, m.signal, m.hist]);
                }
            }
            Self::Bollinger(i) => {
                if let Some(m) = i.step(b.close) {
                    put(&[m.upper, m.middle, m.lower]);
                }
            }
            Self::Atr(i) => {
                if let Some(v) = i.step(b) {
                    put(&[v]);
                }
            }
        }
    }
}

/// The indicators of one series, fed the same bars and read by name.
///
/// ```
/// use axia_indicators::{FeatureSet, Hlc};
///
/// let mut set = FeatureSet::new(&["sma_3".parse()?, "rsi_2".parse()?])?;
/// for c in [1.10, 1.12, 1.11, 1.13] {
///     set.update(Hlc { high: c + 0.01, low: c - 0.01, close: c })?;
/// }
/// let v = set.values();
/// assert!((v["sma_3"] - 1.12).abs() < 1e-12);
/// assert!(v.contains_key("rsi_2"));
/// # Ok::<(), axia_indicators::IndicatorError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSet {
    specs: Vec<FeatureSpec>,
    /// Every value's name, spec after spec, made once and shared by clones.
    names: std::sync::Arc<[String]>,
    /// Where each spec's values start in `names` and `values`.
    offsets: Vec<usize>,
    running: Vec<Running>,
    /// The latest value of each name; `None` while its indicator warms up.
    values: Vec<Option<f64>>,
}

impl FeatureSet {
    /// The indicators of `specs`.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] for a spec out of range.
    pub fn new(specs: &[FeatureSpec]) -> Result<Self, IndicatorError> {
        let running = specs.iter().map(|s| s.build()).collect::<Result<_, _>>()?;
        let mut names = Vec::new();
        let mut offsets = Vec::with_capacity(specs.len() + 1);
        for spec in specs {
            offsets.push(names.len());
            names.extend(spec.names());
        }
        offsets.push(names.len());
        Ok(Self {
            specs: specs.to_vec(),
            values: vec![None; names.len()],
            names: names.into(),
            offsets,
            running,
        })
    }

    /// [`FeatureSpec::STANDARD`].
    #[must_use]
    pub fn standard() -> Self {
        Self::new(&FeatureSpec::STANDARD).unwrap_or_else(|_| Self {
            specs: Vec::new(),
            names: std::sync::Arc::new([]),
            offsets: vec![0],
            running: Vec::new(),
            values: Vec::new(),
        })
    }

    /// The specs, as configured.
    #[must_use]
    pub fn specs(&self) -> &[FeatureSpec] {
        &self.specs
    }

    /// Bars before every indicator has a value (the largest lookback).
    #[must_use]
    pub fn lookback(&self) -> usize {
        self.running
            .iter()
            .map(Running::lookback)
            .max()
            .unwrap_or(0)
    }

    /// The latest values, by name, of the indicators that have one (no allocation).
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.names
            .iter()
            .zip(&self.values)
            .filter_map(|(n, v)| v.map(|v| (n.as_str(), v)))
    }

    /// The latest value of `name`, if its indicator has one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<f64> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The latest values by name; an indicator still warming up has none.
    #[must_use]
    pub fn values(&self) -> BTreeMap<String, f64> {
        self.iter().map(|(n, v)| (n.to_owned(), v)).collect()
    }

    /// Adds a closed bar to every indicator.
    ///
    /// # Errors
    /// [`IndicatorError::NonFinite`]; no indicator moves.
    pub fn update(&mut self, bar: Hlc) -> Result<(), IndicatorError> {
        if !bar.is_finite() {
            return Err(IndicatorError::NonFinite(format!("{bar:?}")));
        }
        for (i, running) in self.running.iter_mut().enumerate() {
            let (Some(&from), Some(&to)) = (self.offsets.get(i), self.offsets.get(i + 1)) else {
                continue;
            };
            if let Some(out) = self.values.get_mut(from..to) {
                running.step(bar, out);
            }
        }
        Ok(())
    }

    /// The values if `bar` (a forming bar) were the next closed one; nothing moves.
    ///
    /// # Errors
    /// As [`FeatureSet::update`].
    pub fn peek(&self, bar: Hlc) -> Result<BTreeMap<String, f64>, IndicatorError> {
        let mut copy = self.clone();
        copy.update(bar)?;
        Ok(copy.values())
    }
}
