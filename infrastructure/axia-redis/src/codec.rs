//! The value format: columnar, versioned msgpack.
//!
//! A value is the msgpack array `[version, symbol, timeframe, t0, deltas, open, high, low, close,
//! volume, forming]`:
//! - `version` (u8) is [`SCHEMA_VERSION`] (2); version 1 values (without `forming`) are still
//!   read; a reader that meets another version treats the value as a miss;
//! - `forming` (bool) says the newest bar is forming: written before its period ended, so its
//!   values are provisional ([`OhlcvFrame::forming`]);
//! - `t0` (int) is the first bar's open time in epoch milliseconds; `deltas` (bin) holds the gaps
//!   between consecutive open times in **minutes**, LEB128-encoded (one byte each for M1…H1), so
//!   timestamps stay integers;
//! - each price and volume column is a bin of little-endian f64, bit-exact. Columns as bins
//!   decode at memory speed, where an array of msgpack floats costs a branch per value.
//!
//! 1 440 M1 bars take about 59 KB.

use axia_domain::{FrameError, OhlcvColumns, OhlcvFrame, Symbol, Timeframe};
use serde::{Deserialize, Serialize};

/// The version written in every value.
pub const SCHEMA_VERSION: u8 = 2;

/// The oldest version still read.
const OLDEST_READ: u8 = 1;

const MINUTE_MS: i64 = 60_000;

#[derive(Serialize)]
struct WireRef<'a> {
    version: u8,
    symbol: &'a str,
    timeframe: &'a str,
    t0: i64,
    #[serde(with = "serde_bytes")]
    deltas: &'a [u8],
    #[serde(with = "serde_bytes")]
    open: &'a [u8],
    #[serde(with = "serde_bytes")]
    high: &'a [u8],
    #[serde(with = "serde_bytes")]
    low: &'a [u8],
    #[serde(with = "serde_bytes")]
    close: &'a [u8],
    #[serde(with = "serde_bytes")]
    volume: &'a [u8],
    forming: bool,
}

#[derive(Deserialize)]
struct Wire<'a> {
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

/// Why a stored value could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Written by another schema version.
    #[error("unknown schema version {0}")]
    UnknownVersion(u8),
    /// Not a value of this format (truncated, garbage).
    #[error("malformed value: {0}")]
    Malformed(String),
    /// A value of another series under this key.
    #[error("value of another series: {0}")]
    WrongSeries(String),
    /// The bars break a frame invariant.
    #[error("invalid bars: {0}")]
    Invalid(FrameError),
}

fn f64_bytes(col: &[f64]) -> Vec<u8> {
    col.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f64_column(bytes: &[u8], n: usize, name: &str) -> Result<Vec<f64>, DecodeError> {
    if bytes.len() != n * 8 {
        return Err(DecodeError::Malformed(format!(
            "{name} holds {} bytes for {n} bars",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| c.try_into().map_or(f64::NAN, f64::from_le_bytes))
        .collect())
}

fn put_leb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn leb128_values(bytes: &[u8]) -> Result<Vec<u64>, DecodeError> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut v, mut shift) = (0u64, 0u32);
    for &b in bytes {
        if shift > 56 {
            return Err(DecodeError::Malformed("delta too long".into()));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            out.push(v);
            (v, shift) = (0, 0);
        } else {
            shift += 7;
        }
    }
    if shift != 0 {
        return Err(DecodeError::Malformed("truncated delta".into()));
    }
    Ok(out)
}

/// Encodes `frame`. Frames hold minute-aligned, increasing timestamps, so the deltas are exact.
#[must_use]
pub fn encode(frame: &OhlcvFrame) -> Vec<u8> {
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
        version: SCHEMA_VERSION,
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

/// The schema version of a value, read from its first bytes without decoding the rest.
fn peek_version(bytes: &[u8]) -> Result<u8, DecodeError> {
    match bytes {
        // fixarray header, then a positive fixint version
        [0x90..=0x9f, v @ 0x00..=0x7f, ..] => Ok(*v),
        _ => Err(DecodeError::Malformed("no version header".into())),
    }
}

/// Decodes a value stored under the key of `symbol` / `timeframe`, checking every frame
/// invariant.
///
/// # Errors
/// [`DecodeError`] for another version, malformed bytes, another series, or invalid bars.
pub fn decode(
    bytes: &[u8],
    symbol: &Symbol,
    timeframe: Timeframe,
) -> Result<OhlcvFrame, DecodeError> {
    let version = peek_version(bytes)?;
    if !(OLDEST_READ..=SCHEMA_VERSION).contains(&version) {
        return Err(DecodeError::UnknownVersion(version));
    }
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

#[cfg(test)]
mod tests {
    use axia_domain::Bar;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use proptest::prelude::*;

    use super::*;

    fn sym() -> Symbol {
        "USDJPY".parse().unwrap()
    }

    fn frame(tf: Timeframe, opens: &[i64], seed: f64) -> OhlcvFrame {
        let bars = opens.iter().enumerate().map(|(i, &ms)| {
            let p = seed + i as f64 * 0.001;
            Bar::new(
                DateTime::from_timestamp_millis(ms).unwrap(),
                p,
                p + 0.013,
                p - 0.007,
                p + 0.002,
                i as f64 * 1.5,
            )
            .unwrap()
        });
        OhlcvFrame::from_bars(sym(), tf, bars).unwrap()
    }

    fn arb_frame() -> impl Strategy<Value = OhlcvFrame> {
        (
            proptest::sample::select(Timeframe::ALL.to_vec()),
            prop::collection::vec(1i64..5, 0..300),
            0.0001f64..100_000.0,
        )
            .prop_map(|(tf, skips, seed)| {
                let mut t = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
                let mut opens = Vec::new();
                for s in skips {
                    for _ in 0..s {
                        t = tf.next_open(t);
                    }
                    opens.push(t.timestamp_millis());
                }
                frame(tf, &opens, seed)
            })
    }

    /// A version 1 value, as an earlier axia wrote it.
    fn encode_v1(f: &OhlcvFrame) -> Vec<u8> {
        #[derive(Serialize)]
        struct V1<'a>(
            u8,
            &'a str,
            &'a str,
            i64,
            serde_bytes::ByteBuf,
            serde_bytes::ByteBuf,
            serde_bytes::ByteBuf,
            serde_bytes::ByteBuf,
            serde_bytes::ByteBuf,
            serde_bytes::ByteBuf,
        );
        let c = f.columns();
        let deltas: Vec<u8> = c
            .timestamps
            .windows(2)
            .flat_map(|w| {
                let mut out = Vec::new();
                put_leb128(&mut out, ((w[1] - w[0]) / MINUTE_MS) as u64);
                out
            })
            .collect();
        let b = |col: &[f64]| serde_bytes::ByteBuf::from(f64_bytes(col));
        rmp_serde::to_vec(&V1(
            1,
            f.symbol().as_str(),
            f.timeframe().as_str(),
            c.timestamps.first().copied().unwrap_or(0),
            serde_bytes::ByteBuf::from(deltas),
            b(&c.open),
            b(&c.high),
            b(&c.low),
            b(&c.close),
            b(&c.volume),
        ))
        .unwrap()
    }

    proptest! {
        #[test]
        fn round_trip_is_exact(f in arb_frame(), forming in any::<bool>()) {
            let f = f.with_forming(forming);
            let bytes = encode(&f);
            let back = decode(&bytes, f.symbol(), f.timeframe()).unwrap();
            prop_assert_eq!(back, f);
        }

        #[test]
        fn version_1_values_are_still_read(f in arb_frame()) {
            let back = decode(&encode_v1(&f), f.symbol(), f.timeframe()).unwrap();
            prop_assert_eq!(back, f);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes, &sym(), Timeframe::M1);
        }

        #[test]
        fn truncation_is_an_error(f in arb_frame(), cut in 0usize..10_000) {
            let bytes = encode(&f);
            if cut < bytes.len() {
                prop_assert!(decode(&bytes[..cut], f.symbol(), f.timeframe()).is_err());
            }
        }
    }

    #[test]
    fn versions_and_series_are_checked() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        let f = frame(
            Timeframe::M1,
            &[
                t0.timestamp_millis(),
                (t0 + Duration::minutes(1)).timestamp_millis(),
            ],
            150.0,
        );
        let mut bytes = encode(&f);
        assert_eq!(bytes[1], SCHEMA_VERSION);
        assert!(matches!(
            decode(&bytes, &"EURUSD".parse().unwrap(), Timeframe::M1),
            Err(DecodeError::WrongSeries(_))
        ));
        assert!(matches!(
            decode(&bytes, &sym(), Timeframe::M5),
            Err(DecodeError::WrongSeries(_))
        ));
        bytes[1] = 9;
        assert!(matches!(
            decode(&bytes, &sym(), Timeframe::M1),
            Err(DecodeError::UnknownVersion(9))
        ));
        assert!(matches!(
            decode(b"hello", &sym(), Timeframe::M1),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode(b"", &sym(), Timeframe::M1),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn nan_in_a_stored_value_is_invalid() {
        // A hand-made value whose close is NaN: decodes as msgpack but breaks the invariants.
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let nan = f64::NAN;
        let (one, two, half, bad, zero) = (
            f64_bytes(&[1.0]),
            f64_bytes(&[2.0]),
            f64_bytes(&[0.5]),
            f64_bytes(&[nan]),
            f64_bytes(&[0.0]),
        );
        let wire = WireRef {
            version: SCHEMA_VERSION,
            symbol: "USDJPY",
            timeframe: "M1",
            t0,
            deltas: &[],
            open: &one,
            high: &two,
            low: &half,
            close: &bad,
            volume: &zero,
            forming: false,
        };
        let bytes = rmp_serde::to_vec(&wire).unwrap();
        assert!(matches!(
            decode(&bytes, &sym(), Timeframe::M1),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn a_day_of_m1_is_compact() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let opens: Vec<i64> = (0..1440).map(|i| t0 + i * 60_000).collect();
        let bytes = encode(&frame(Timeframe::M1, &opens, 150.0));
        // 5 f64 columns at 8 bytes and a 1-byte delta per bar, plus a small header.
        assert!(bytes.len() <= 1440 * 41 + 64, "{} bytes", bytes.len());
    }
}
