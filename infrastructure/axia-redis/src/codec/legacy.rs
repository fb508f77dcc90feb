//! Versions 1 and 2: every column f64 (read; version 2 also written, for migration tests).

use axia_domain::{OhlcvColumns, OhlcvFrame, Symbol, Timeframe};
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Serialize)]
pub(super) struct WireRef<'a> {
    pub(super) version: u8,
    pub(super) symbol: &'a str,
    pub(super) timeframe: &'a str,
    pub(super) t0: i64,
    #[serde(with = "serde_bytes")]
    pub(super) deltas: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub(super) open: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub(super) high: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub(super) low: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub(super) close: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub(super) volume: &'a [u8],
    pub(super) forming: bool,
}

#[derive(Deserialize)]
pub(super) struct Wire<'a> {
    version: u8,
    symbol: &'a str,
    timeframe: &'a str,
    t0: i64,
    #[serde(borrow, with = "serde_bytes")]
    deltas: &'a [u8],
    #[serde(borrow, with = "serde_bytes")]
    open: &'a [u8],
    #[serde(borrow, with = "serde_bytes")]
    high: &'a [u8],
    #[serde(borrow, with = "serde_bytes")]
    low: &'a [u8],
    #[serde(borrow, with = "serde_bytes")]
    close: &'a [u8],
    #[serde(borrow, with = "serde_bytes")]
    volume: &'a [u8],
    /// Absent from version 1 values.
    #[serde(default)]
    forming: bool,
}

/// Encodes `frame` as version 2 (every column f64), as axia wrote before version 3: test
/// support (migration tests and size comparisons), not part of the API.
#[must_use]
pub fn encode_version_2(frame: &OhlcvFrame) -> Vec<u8> {
    let c = frame.columns();
    let t0 = c.timestamps.first().copied().unwrap_or(0);
    let mut deltas = Vec::with_capacity(c.timestamps.len());
    for w in c.timestamps.windows(2) {
        if let [a, b] = w {
            put_leb128(&mut deltas, u64::try_from((b - a) / MINUTE_MS).unwrap_or(0));
        }
    }
    let (open, high, low, close, volume) = (
        f64_bytes(&c.open),
        f64_bytes(&c.high),
        f64_bytes(&c.low),
        f64_bytes(&c.close),
        f64_bytes(&c.volume),
    );
    let wire = WireRef {
        version: 2,
        symbol: frame.symbol().as_str(),
        timeframe: frame.timeframe().as_str(),
        t0,
        deltas: &deltas,
        open: &open,
        high: &high,
        low: &low,
        close: &close,
        volume: &volume,
        forming: frame.forming().is_some(),
    };
    // Serializing numbers, strings and byte slices into a Vec cannot fail.
    rmp_serde::to_vec(&wire).unwrap_or_default()
}

/// Decodes a version 1 or 2 value (every column f64; version 1 without `forming`).
pub(super) fn decode_f64(
    bytes: &[u8],
    version: u8,
    symbol: &Symbol,
    timeframe: Timeframe,
) -> Result<OhlcvFrame, DecodeError> {
    let wire: Wire<'_> =
        rmp_serde::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if wire.version != version || (version == OLDEST_READ && wire.forming) {
        return Err(DecodeError::Malformed("header and body disagree".into()));
    }
    if wire.symbol != symbol.as_str() || wire.timeframe != timeframe.as_str() {
        return Err(DecodeError::WrongSeries(format!(
            "{} {}",
            wire.symbol, wire.timeframe
        )));
    }
    let n = wire.open.len() / 8;
    let deltas = leb128_values(wire.deltas)?;
    if n.saturating_sub(1) != deltas.len() {
        return Err(DecodeError::Malformed(format!(
            "{} deltas for {n} bars",
            deltas.len()
        )));
    }
    let mut timestamps = Vec::with_capacity(n);
    if n > 0 {
        let mut t = wire.t0;
        timestamps.push(t);
        for d in deltas {
            t = i64::try_from(d)
                .ok()
                .and_then(|d| d.checked_mul(MINUTE_MS))
                .and_then(|d| t.checked_add(d))
                .ok_or_else(|| DecodeError::Malformed("timestamp overflow".into()))?;
            timestamps.push(t);
        }
    }
    let cols = OhlcvColumns {
        timestamps,
        open: f64_column(wire.open, n, "open")?,
        high: f64_column(wire.high, n, "high")?,
        low: f64_column(wire.low, n, "low")?,
        close: f64_column(wire.close, n, "close")?,
        volume: f64_column(wire.volume, n, "volume")?,
    };
    OhlcvFrame::from_columns(symbol.clone(), timeframe, cols)
        .map(|f| f.with_forming(wire.forming))
        .map_err(DecodeError::Invalid)
}
