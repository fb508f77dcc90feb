//! The value format: columnar, versioned msgpack.
//!
//! A value is a msgpack array whose first element is its schema version. Version 4 (written):
//! `[4, token, symbol, timeframe, alignment, forming, bars, t0, price_decimals, first_close,
//! integral_volume, crc, body]`:
//! - `token` (bin, 16 bytes) is unique to the write that stored the value, always at bytes
//!   4..20 of the value ([`TOKEN_RANGE`]): a writer checks that a key still holds the value
//!   it read by comparing those 16 bytes (`GETRANGE`), not the whole value;
//! - `crc` is the CRC-32 of every other field (the token included);
//! - `alignment` (u8) is the series' daily alignment (0: UTC midnight, 1: New York close);
//! - `forming` (bool) says the newest bar is forming: written before its period ended, so its
//!   values are provisional ([`OhlcvFrame::forming`]);
//! - `bars` (u32) is the number of bars, `t0` (int) the first bar's open time in epoch ms;
//! - `body` (bin) holds, in order: the gaps between consecutive open times in **minutes**
//!   (LEB128, one byte each for M1…H1); then the prices, and then the volumes;
//! - prices: when every price is an exact decimal of `price_decimals` (0-12) digits (every
//!   price on an instrument's tick grid is), as integers of `10^-price_decimals` per bar: the
//!   close as a zigzag varint delta from the previous close (the first bar's from 0), the open
//!   as a zigzag delta from the previous close (the first bar's from its close), then
//!   `high - max(open, close)` and `min(open, close) - low` as varints. Each decodes back to
//!   the exact `f64` (the closest one to its decimal). Otherwise `price_decimals` is -1 and the
//!   four price columns are little-endian f64, bit-exact;
//! - volumes: varints when every volume is a whole number below 2^53 (`integral_volume`),
//!   otherwise little-endian f64.
//!
//! Version 3 is version 4 without the token (`[3, symbol, …]`, the CRC over the same fields).
//! Versions 1, 2 and 3 are still read (versions 1 and 2: `[version, symbol, timeframe, t0,
//! deltas, open, high, low, close, volume, forming]`, every column f64; version 1 without
//! `forming`); a reader that meets another version treats the value as a miss.
//!
//! 1 440 M1 bars of a 3-decimal FX pair take about 9 KB (version 2: 59 KB).

use axia_domain::{DailyAlignment, FrameError, Grid, OhlcvColumns, OhlcvFrame, Symbol, Timeframe};
use serde::{Deserialize, Serialize};

/// The version written in every value.
pub const SCHEMA_VERSION: u8 = 4;

/// The bytes of a version 4 value that hold its write token: after the array header (one
/// byte), the version (one byte) and the token's bin header (two bytes).
pub const TOKEN_RANGE: std::ops::Range<usize> = 4..20;

/// A write token's length in bytes.
pub const TOKEN_LEN: usize = 16;

/// A write token: unique to one encoding (a random per-process half and a counter).
pub type Token = [u8; TOKEN_LEN];

/// A token no other encoding in any process gets: 8 bytes drawn once per process from the
/// standard library's randomly keyed hasher (with the process id and the time), and an
/// 8-byte counter.
#[must_use]
pub fn new_token() -> Token {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut token = [0; TOKEN_LEN];
    let (a, b) = token.split_at_mut(8);
    a.copy_from_slice(&seed.to_le_bytes());
    b.copy_from_slice(&n.to_le_bytes());
    token
}

/// The write token of a version 4 value, read from its first bytes; `None` for a value of an
/// earlier version (or not a value at all).
#[must_use]
pub fn token_of(bytes: &[u8]) -> Option<Token> {
    match bytes {
        // fixarray, version 4, bin8 of 16 bytes
        [0x90..=0x9f, 4, 0xc4, 16, rest @ ..] => rest.get(..TOKEN_LEN)?.try_into().ok(),
        _ => None,
    }
}

/// The oldest version still read.
const OLDEST_READ: u8 = 1;

const MINUTE_MS: i64 = 60_000;

/// The most decimals a compact price column uses.
const MAX_DECIMALS: i8 = 12;

/// 2^53: integers up to it are exact in an f64.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Version 4: version 3 with the write token after the version.
#[derive(Serialize, Deserialize)]
struct WireV4<'a> {
    version: u8,
    #[serde(borrow, with = "serde_bytes")]
    token: &'a [u8],
    symbol: &'a str,
    timeframe: &'a str,
    alignment: u8,
    forming: bool,
    bars: u32,
    t0: i64,
    price_decimals: i8,
    first_close: i64,
    integral_volume: bool,
    crc: u32,
    #[serde(borrow, with = "serde_bytes")]
    body: &'a [u8],
}

impl<'a> WireV4<'a> {
    fn new(token: &'a [u8], w: WireV3<'a>) -> Self {
        Self {
            version: 4,
            token,
            symbol: w.symbol,
            timeframe: w.timeframe,
            alignment: w.alignment,
            forming: w.forming,
            bars: w.bars,
            t0: w.t0,
            price_decimals: w.price_decimals,
            first_close: w.first_close,
            integral_volume: w.integral_volume,
            crc: w.crc,
            body: w.body,
        }
    }

    /// The token, and the rest as version 3's fields (with `version` 4).
    const fn split(self) -> (&'a [u8], WireV3<'a>) {
        (
            self.token,
            WireV3 {
                version: self.version,
                symbol: self.symbol,
                timeframe: self.timeframe,
                alignment: self.alignment,
                forming: self.forming,
                bars: self.bars,
                t0: self.t0,
                price_decimals: self.price_decimals,
                first_close: self.first_close,
                integral_volume: self.integral_volume,
                crc: self.crc,
                body: self.body,
            },
        )
    }
}

/// Version 3, and the fields version 4 shares with it.
#[derive(Serialize, Deserialize)]
struct WireV3<'a> {
    version: u8,
    symbol: &'a str,
    timeframe: &'a str,
    alignment: u8,
    forming: bool,
    bars: u32,
    t0: i64,
    price_decimals: i8,
    first_close: i64,
    integral_volume: bool,
    crc: u32,
    #[serde(borrow, with = "serde_bytes")]
    body: &'a [u8],
}

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

/// Encodes `frame` (version 4, with a [`new_token`]). Frames hold minute-aligned, increasing
/// timestamps, so the deltas are exact; prices and volumes are compact integers when they are
/// exact decimals and whole numbers, bit-exact f64 otherwise.
#[must_use]
pub fn encode(frame: &OhlcvFrame) -> Vec<u8> {
    encode_with(frame, Some(&new_token()))
}

/// Encodes `frame` as version 3 (version 4 without the write token), as axia wrote before
/// version 4: for migration tests and the benchmark.
#[must_use]
pub fn encode_version_3(frame: &OhlcvFrame) -> Vec<u8> {
    encode_with(frame, None)
}

fn encode_with(frame: &OhlcvFrame, token: Option<&Token>) -> Vec<u8> {
    let c = frame.columns();
    let n = c.timestamps.len();
    let mut body = Vec::with_capacity(n * 8 + 64);
    let minutes: Vec<u64> = c
        .timestamps
        .windows(2)
        .map(|w| match w {
            [a, b] => u64::try_from((b - a) / MINUTE_MS).unwrap_or(0),
            _ => 0,
        })
        .collect();
    put_column(&mut body, &minutes);
    let (price_decimals, first_close) = match price_decimals(c) {
        Some(d) => (d, put_prices(&mut body, c, d)),
        None => {
            for col in [&c.open, &c.high, &c.low, &c.close] {
                body.extend(col.iter().flat_map(|v| v.to_le_bytes()));
            }
            (-1, 0)
        }
    };
    let integral_volume = c
        .volume
        .iter()
        .all(|v| (0.0..EXACT_INT).contains(v) && round_fast(*v) == *v);
    if integral_volume {
        // Whole and below 2^53: exact as u64.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let volumes: Vec<u64> = c.volume.iter().map(|v| *v as u64).collect();
        put_column(&mut body, &volumes);
    } else {
        body.extend(c.volume.iter().flat_map(|v| v.to_le_bytes()));
    }
    let mut wire = WireV3 {
        version: 3,
        symbol: frame.symbol().as_str(),
        timeframe: frame.timeframe().as_str(),
        alignment: alignment_code(frame.alignment()),
        forming: frame.forming().is_some(),
        bars: u32::try_from(n).unwrap_or(u32::MAX),
        t0: c.timestamps.first().copied().unwrap_or(0),
        price_decimals,
        first_close,
        integral_volume,
        crc: 0,
        body: &body,
    };
    // Serializing numbers, strings and byte slices into a Vec cannot fail.
    match token {
        None => {
            wire.crc = wire.checksum(&[]);
            rmp_serde::to_vec(&wire)
        }
        Some(token) => {
            wire.crc = wire.checksum(token);
            rmp_serde::to_vec(&WireV4::new(token, wire))
        }
    }
    .unwrap_or_default()
}

/// CRC-32 of every field but itself: a value changed anywhere (a flipped bit, a torn write)
/// is refused rather than read as other bars.
impl WireV3<'_> {
    /// The CRC-32 of every field but the CRC itself, and of version 4's `token` (empty for
    /// version 3).
    fn checksum(&self, token: &[u8]) -> u32 {
        checksum(
            token,
            self.symbol,
            self.timeframe,
            [
                u64::from(self.alignment),
                u64::from(self.forming),
                u64::from(self.bars),
                self.t0.cast_unsigned(),
                u64::from(self.price_decimals.cast_unsigned()),
                self.first_close.cast_unsigned(),
                u64::from(self.integral_volume),
            ],
            self.body,
        )
    }
}

fn checksum(token: &[u8], symbol: &str, timeframe: &str, fields: [u64; 7], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(token);
    h.update(symbol.as_bytes());
    h.update(&[0]);
    h.update(timeframe.as_bytes());
    for f in fields {
        h.update(&f.to_le_bytes());
    }
    h.update(body);
    h.finalize()
}

const fn alignment_code(a: DailyAlignment) -> u8 {
    match a {
        DailyAlignment::UtcMidnight => 0,
        DailyAlignment::NewYorkClose => 1,
    }
}

fn alignment_of(code: u8) -> Option<DailyAlignment> {
    match code {
        0 => Some(DailyAlignment::UtcMidnight),
        1 => Some(DailyAlignment::NewYorkClose),
        _ => None,
    }
}

/// `10^d` for the decimals a compact column may use.
fn pow10(d: i8) -> f64 {
    10f64.powi(i32::from(d))
}

/// `x` rounded to a whole number (ties to even) when `|x| < 2^52`, else `x`: adding and taking
/// away 2^52 leaves no fraction bits. Two additions, where `f64::round` is a library call on
/// CPUs the build does not assume SSE4.1 of.
fn round_fast(x: f64) -> f64 {
    let a = x.abs();
    if a < TWO_52 {
        ((a + TWO_52) - TWO_52).copysign(x)
    } else {
        x
    }
}

/// `p` in units of `10^-d` when that is exact: the integer decodes back to `p` bit for bit.
fn units(p: f64, scale: f64) -> Option<i64> {
    let u = round_fast(p * scale);
    #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
    (u.abs() < EXACT_INT && u / scale == p).then_some(u as i64)
}

/// The fewest decimals every price is an exact decimal of, if any up to [`MAX_DECIMALS`].
fn price_decimals(c: &OhlcvColumns) -> Option<i8> {
    let cols = [&c.open, &c.high, &c.low, &c.close];
    (0..=MAX_DECIMALS).find(|&d| {
        let scale = pow10(d);
        cols.iter()
            .all(|col| col.iter().all(|&p| units(p, scale).is_some()))
    })
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)).cast_unsigned()
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1).cast_signed() ^ -((v & 1).cast_signed())
}

/// A column of integers as frame of reference: its width in bytes (0, 1, 2, 4 or 8), its
/// smallest value as a varint, then each value minus it in that many little-endian bytes. A
/// column of equal values (every gap one minute, every open at the previous close) takes two
/// bytes whatever its length.
fn put_column(body: &mut Vec<u8>, values: &[u64]) {
    let base = values.iter().copied().min().unwrap_or(0);
    let span = values.iter().copied().max().unwrap_or(0) - base;
    let width: u8 = match span {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    };
    body.push(width);
    put_leb128(body, base);
    // One loop per width, each a fixed-size copy (the span bounds every value: no truncation).
    #[allow(clippy::cast_possible_truncation)]
    match width {
        0 => {}
        1 => body.extend(values.iter().map(|v| (v - base) as u8)),
        2 => {
            for v in values {
                body.extend_from_slice(&((v - base) as u16).to_le_bytes());
            }
        }
        4 => {
            for v in values {
                body.extend_from_slice(&((v - base) as u32).to_le_bytes());
            }
        }
        _ => {
            for v in values {
                body.extend_from_slice(&(v - base).to_le_bytes());
            }
        }
    }
}

/// The prices as integers of `10^-d`, in four columns: the close as a zigzag delta from the
/// previous close (the first close is returned, for the header), the open as a zigzag delta
/// from the previous close (the first bar's from its own close), and the high's and low's
/// distance beyond the body (never negative: frame invariants, kept exactly by the exact
/// integers).
fn put_prices(body: &mut Vec<u8>, c: &OhlcvColumns, d: i8) -> i64 {
    let scale = pow10(d);
    let u = |p: f64| units(p, scale).unwrap_or(0);
    let n = c.close.len();
    let (mut closes, mut opens, mut above, mut below) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut prev_close: Option<i64> = None;
    for (((&o, &h), &l), &cl) in c.open.iter().zip(&c.high).zip(&c.low).zip(&c.close) {
        let (o, h, l, cl) = (u(o), u(h), u(l), u(cl));
        if let Some(p) = prev_close {
            closes.push(zigzag(cl.wrapping_sub(p)));
        }
        opens.push(zigzag(o.wrapping_sub(prev_close.unwrap_or(cl))));
        above.push(u64::try_from(h.wrapping_sub(o.max(cl))).unwrap_or(0));
        below.push(u64::try_from(o.min(cl).wrapping_sub(l)).unwrap_or(0));
        prev_close = Some(cl);
    }
    for col in [&closes, &opens, &above, &below] {
        put_column(body, col);
    }
    c.close.first().map_or(0, |&p| u(p))
}

/// Reads a version 3 body.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn truncated() -> DecodeError {
        DecodeError::Malformed("truncated body".into())
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.at).ok_or_else(Self::truncated)?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(DecodeError::Malformed("varint too long".into()));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError::Malformed("varint too long".into()));
            }
        }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(len).ok_or_else(Self::truncated)?;
        let part = self.bytes.get(self.at..end).ok_or_else(Self::truncated)?;
        self.at = end;
        Ok(part)
    }

    /// A column written by [`put_column`] of `n` values, read in place.
    fn view(&mut self, n: usize) -> Result<Column<'a>, DecodeError> {
        let width = self.byte()?;
        let base = self.varint()?;
        if !matches!(width, 0 | 1 | 2 | 4 | 8) {
            return Err(DecodeError::Malformed(format!("column width {width}")));
        }
        let len = n
            .checked_mul(usize::from(width))
            .ok_or_else(Self::truncated)?;
        Ok(Column {
            bytes: self.take(len)?,
            width,
            base,
        })
    }

    fn f64s(&mut self, n: usize) -> Result<Vec<f64>, DecodeError> {
        Ok(self
            .take(n.checked_mul(8).ok_or_else(Self::truncated)?)?
            .chunks_exact(8)
            .map(|c| c.try_into().map_or(f64::NAN, f64::from_le_bytes))
            .collect())
    }
}

/// A column of [`put_column`] in the body: value `i` is its `width` bytes plus `base`.
struct Column<'a> {
    bytes: &'a [u8],
    width: u8,
    base: u64,
}

impl Column<'_> {
    /// The largest value the column can hold, by its base and width (`None` for width 8 or
    /// beyond `u64`).
    fn largest(&self) -> Option<u64> {
        let widest = match self.width {
            0 => Some(0),
            1 => Some(0xff),
            2 => Some(0xffff),
            4 => Some(0xffff_ffff),
            _ => None,
        };
        widest.and_then(|w| self.base.checked_add(w))
    }

    /// True when every value the column can hold, by its base and width, is below `limit`.
    fn fits_below(&self, limit: u64) -> bool {
        self.largest().is_some_and(|max| max < limit)
    }

    /// Appends the `n` values, each read by `f` from its `width`-byte slot, in one tight loop
    /// per width (the loop the compiler vectorises).
    fn extend_into<T: Copy>(&self, out: &mut Vec<T>, n: usize, f: impl Fn(u64) -> T) {
        let base = self.base;
        match self.width {
            0 => out.extend(std::iter::repeat_n(f(base), n)),
            1 => out.extend(
                self.bytes
                    .iter()
                    .map(|&b| f(u64::from(b).wrapping_add(base))),
            ),
            2 => out.extend(self.bytes.chunks_exact(2).map(|c| {
                let v = c.try_into().map_or(0, |b| u64::from(u16::from_le_bytes(b)));
                f(v.wrapping_add(base))
            })),
            4 => out.extend(self.bytes.chunks_exact(4).map(|c| {
                let v = c.try_into().map_or(0, |b| u64::from(u32::from_le_bytes(b)));
                f(v.wrapping_add(base))
            })),
            _ => out.extend(self.bytes.chunks_exact(8).map(|c| {
                let v = c.try_into().map_or(0, u64::from_le_bytes);
                f(v.wrapping_add(base))
            })),
        }
    }
}

/// True when the open times of `m + 1` bars from `t0` by the minute gaps in `gaps` are, by
/// the column's form alone, strictly increasing and on `grid` (up to H1 on an unshifted grid:
/// `t0` on it, every gap at least one minute and a whole number of bars), with no sum able to
/// overflow. Otherwise the frame's own checks decide.
fn times_by_construction(grid: Grid, t0: i64, gaps: &Column<'_>, m: usize) -> bool {
    let Some(len) = grid.timeframe().fixed_millis() else {
        return false;
    };
    if grid.is_shifted() || len > 3_600_000 || !grid.is_aligned_millis(t0) || gaps.base == 0 {
        return false;
    }
    // The largest gap the column can hold, times the gaps, must fit after `t0`.
    let fits = gaps
        .largest()
        .and_then(|g| i64::try_from(g).ok())
        .and_then(|g| g.checked_mul(MINUTE_MS))
        .and_then(|g| g.checked_mul(i64::try_from(m).ok()?))
        .and_then(|span| t0.checked_add(span))
        .is_some();
    let bar_minutes = (len / MINUTE_MS).cast_unsigned();
    let whole_bars = bar_minutes <= 1 || {
        let mut minutes = Vec::with_capacity(m);
        gaps.extend_into(&mut minutes, m, |d| d);
        minutes
            .iter()
            .fold(true, |ok, &d| ok & (d % bar_minutes == 0))
    };
    fits && whole_bars
}

/// The bits of `col`'s values at or above bit 52, or-ed together: 0 when every value is in
/// [0, 2^52).
fn high_bits(col: &[i64]) -> u64 {
    col.iter().fold(0, |acc, &x| acc | x.cast_unsigned()) >> 52
}

/// 2^52 as an f64.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// 2^52 as a count of units.
const TWO_52_UNITS: u64 = 1 << 52;

/// `units` in [0, 2^52) as its exact f64: the integer put in the mantissa of 2^52, less 2^52
/// (a conversion the compiler packs two or four at a time, unlike `as f64` of an i64).
fn small_exact(units: i64) -> f64 {
    f64::from_bits(units.cast_unsigned() | TWO_52.to_bits()) - TWO_52
}

/// Exact integer-valued f64 of `units` (every stored price is below 2^53 units; a larger one,
/// only in a forged value, is still finite).
#[allow(clippy::cast_precision_loss)]
const fn exact(units: i64) -> f64 {
    units as f64
}

/// The fields of a version 3 or 4 value (`version` says which), and its write token (empty
/// for version 3).
fn parse_compact(bytes: &[u8], version: u8) -> Result<(&[u8], WireV3<'_>), DecodeError> {
    let malformed = |e: rmp_serde::decode::Error| DecodeError::Malformed(e.to_string());
    let (token, wire) = if version == 4 {
        let w: WireV4<'_> = rmp_serde::from_slice(bytes).map_err(malformed)?;
        if w.token.len() != TOKEN_LEN {
            return Err(DecodeError::Malformed(format!(
                "a token of {} bytes",
                w.token.len()
            )));
        }
        w.split()
    } else {
        (&[][..], rmp_serde::from_slice(bytes).map_err(malformed)?)
    };
    if wire.version != version {
        return Err(DecodeError::Malformed("header and body disagree".into()));
    }
    Ok((token, wire))
}

fn decode_compact(
    bytes: &[u8],
    version: u8,
    symbol: &Symbol,
    timeframe: Timeframe,
) -> Result<OhlcvFrame, DecodeError> {
    let (token, wire) = parse_compact(bytes, version)?;
    if wire.symbol != symbol.as_str() || wire.timeframe != timeframe.as_str() {
        return Err(DecodeError::WrongSeries(format!(
            "{} {}",
            wire.symbol, wire.timeframe
        )));
    }
    if wire.checksum(token) != wire.crc {
        return Err(DecodeError::Malformed("checksum mismatch".into()));
    }
    let Some(alignment) = alignment_of(wire.alignment) else {
        return Err(DecodeError::Malformed(format!(
            "alignment {}",
            wire.alignment
        )));
    };
    let body = body_columns(&wire, timeframe.aligned(alignment))?;
    let (cols, grid) = (body.cols, body.grid);
    if body.values_valid && body.times_valid {
        OhlcvFrame::from_valid_columns(symbol.clone(), grid, cols)
    } else if body.values_valid {
        OhlcvFrame::from_columns_with_valid_values(symbol.clone(), grid, cols)
    } else {
        OhlcvFrame::from_columns_on(symbol.clone(), grid, cols)
    }
    .map(|f| f.with_forming(wire.forming))
    .map_err(DecodeError::Invalid)
}

/// The columns of a version 3 body, and what their form alone establishes.
struct Body {
    cols: OhlcvColumns,
    grid: Grid,
    /// Every value holds the frame's invariants.
    values_valid: bool,
    /// The times are strictly increasing and on the grid.
    times_valid: bool,
}

fn body_columns(wire: &WireV3<'_>, grid: Grid) -> Result<Body, DecodeError> {
    let n = wire.bars as usize;
    // A count far beyond what the body could hold (a corrupted header) is refused before
    // anything is allocated for it: even all-equal columns take a few bytes per column.
    if n > wire.body.len().saturating_mul(1024) {
        return Err(DecodeError::Malformed(format!(
            "{n} bars in a {}-byte body",
            wire.body.len()
        )));
    }
    let mut r = Reader {
        bytes: wire.body,
        at: 0,
    };
    let m = n.saturating_sub(1);
    let mut cols = OhlcvColumns::with_capacity(n);
    // The open times: the gaps in minutes, then a running sum from `t0`. Wrapping: a forged
    // gap that overflows makes the times decrease, which the frame's checks refuse.
    let gaps = r.view(m)?;
    let times_valid = n > 0 && times_by_construction(grid, wire.t0, &gaps, m);
    if n > 0 && gaps.width == 0 {
        // Every gap the same (a series with no missing bar): one pass, no gap column.
        let step = gaps.base.cast_signed().wrapping_mul(MINUTE_MS);
        let mut t = wire.t0;
        cols.timestamps.extend((0..n).map(|_| {
            let open = t;
            t = t.wrapping_add(step);
            open
        }));
    } else if n > 0 {
        cols.timestamps.push(wire.t0);
        gaps.extend_into(&mut cols.timestamps, m, |d| {
            d.cast_signed().wrapping_mul(MINUTE_MS)
        });
        let mut t = 0i64;
        for slot in &mut cols.timestamps {
            t = t.wrapping_add(*slot);
            *slot = t;
        }
    }
    // Whether every value holds the frame's invariants, established while decoding.
    let mut values_valid = false;
    if (0..=MAX_DECIMALS).contains(&wire.price_decimals) {
        let scale = pow10(wire.price_decimals);
        // The four columns as integer units first (the zigzag and the frame of reference
        // undone in vectorised loops), then one pass that rebuilds the prices as exact
        // integer-valued f64, then the packed divisions.
        let mut closes = Vec::with_capacity(n);
        if n > 0 {
            closes.push(0);
        }
        r.view(m)?.extend_into(&mut closes, m, unzigzag);
        let opens_col = r.view(n)?;
        // Every open at the previous close (the first bar's at its own close): a series with
        // no gap between bars, as a feed that opens each bar at the last price writes it. Each
        // open is then the previous bar's close, already divided: no division of its own.
        let opens_at_previous_close = opens_col.width == 0 && opens_col.base == 0;
        let mut opens = Vec::with_capacity(n);
        opens_col.extend_into(&mut opens, n, unzigzag);
        let (above, below) = (r.view(n)?, r.view(n)?);
        // A value that passed its checksum was written by `encode`: the integers are as it
        // computed them. Wrapping arithmetic keeps a forged one from panicking, and each bar
        // is checked in units: `0 < low <= open, close <= high < 2^53` there makes every
        // price exact and finite, and the divisions (monotonic) keep the order.
        let mut close = wire.first_close;
        for c in &mut closes {
            close = close.wrapping_add(*c);
            *c = close;
        }
        // The first bar's open is a delta from its own close, every other one from the
        // previous close.
        if let (Some(o), Some(&c)) = (opens.first_mut(), closes.first()) {
            *o = c.wrapping_add(*o);
        }
        if let Some(rest) = opens.get_mut(1..) {
            for (o, &c) in rest.iter_mut().zip(&closes) {
                *o = c.wrapping_add(*o);
            }
        }
        // Every open, close and distance beyond the body in [0, 2^52) units (the distances'
        // columns say so by their base and width alone): each is an exact f64, and so are the
        // highs and lows made from them (below 2^53), built with packed f64 max/min (SSE2 has
        // no 64-bit integer compare). With every low above zero, each bar then holds the
        // frame's invariants, and the divisions (monotonic, and a positive whole number of
        // units stays positive) keep them.
        let small = above.fits_below(TWO_52_UNITS)
            && below.fits_below(TWO_52_UNITS)
            && (high_bits(&opens) | high_bits(&closes)) == 0;
        if small {
            // Each price column in one pass that converts, combines and divides: the packed
            // divisions bound these loops, and the conversions run beside them.
            let raw = |col: &Column<'_>| {
                let mut out = Vec::with_capacity(n);
                col.extend_into(&mut out, n, |v| v);
                out
            };
            let (above, below) = (raw(&above), raw(&below));
            let bodies = || {
                opens
                    .iter()
                    .zip(&closes)
                    .map(|(&o, &c)| (small_exact(o), small_exact(c)))
            };
            cols.high.extend(
                bodies()
                    .zip(&above)
                    .map(|((o, c), &a)| (o.max(c) + small_exact(a.cast_signed())) / scale),
            );
            cols.low.extend(
                bodies()
                    .zip(&below)
                    .map(|((o, c), &b)| (o.min(c) - small_exact(b.cast_signed())) / scale),
            );
            cols.close
                .extend(closes.iter().map(|&u| small_exact(u) / scale));
            match (opens_at_previous_close, cols.close.split_last()) {
                (true, Some((_, earlier))) => {
                    // The same integers give the same quotients.
                    cols.open.extend(cols.close.first());
                    cols.open.extend_from_slice(earlier);
                }
                _ => cols
                    .open
                    .extend(opens.iter().map(|&u| small_exact(u) / scale)),
            }
            values_valid = cols.low.iter().fold(true, |ok, &l| ok & (l > 0.0));
        } else {
            // Only a forged value gets here: wrapping integer arithmetic, then the frame's
            // own checks.
            let units = |col: &Column<'_>| {
                let mut out = Vec::with_capacity(n);
                col.extend_into(&mut out, n, u64::cast_signed);
                out
            };
            let (above, below) = (units(&above), units(&below));
            let rows = || opens.iter().zip(&closes);
            let highs = rows()
                .zip(&above)
                .map(|((&o, &c), &a)| o.max(c).wrapping_add(a));
            let lows = rows()
                .zip(&below)
                .map(|((&o, &c), &b)| o.min(c).wrapping_sub(b));
            cols.high.extend(highs.map(|u| exact(u) / scale));
            cols.low.extend(lows.map(|u| exact(u) / scale));
            cols.open.extend(opens.iter().map(|&u| exact(u) / scale));
            cols.close.extend(closes.iter().map(|&u| exact(u) / scale));
        }
    } else if wire.price_decimals == -1 {
        cols.open = r.f64s(n)?;
        cols.high = r.f64s(n)?;
        cols.low = r.f64s(n)?;
        cols.close = r.f64s(n)?;
    } else {
        return Err(DecodeError::Malformed(format!(
            "price decimals {}",
            wire.price_decimals
        )));
    }
    if wire.integral_volume {
        // Below 2^53 when written; any u64 is a finite volume of at least zero. Below 2^52
        // (what the column's base and width show of every real volume), the conversion the
        // compiler packs; `as f64` of a u64 is a sequence of its own on x86-64.
        let volumes = r.view(n)?;
        if volumes.fits_below(TWO_52_UNITS) {
            volumes.extend_into(&mut cols.volume, n, |v| small_exact(v.cast_signed()));
        } else {
            #[allow(clippy::cast_precision_loss)]
            volumes.extend_into(&mut cols.volume, n, |v| v as f64);
        }
    } else {
        cols.volume = r.f64s(n)?;
        values_valid = false;
    }
    if r.at != wire.body.len() {
        return Err(DecodeError::Malformed(format!(
            "{} bytes after the last bar",
            wire.body.len() - r.at
        )));
    }
    Ok(Body {
        cols,
        grid,
        values_valid,
        times_valid,
    })
}

/// Encodes `frame` as version 2 (every column f64), as axia wrote before version 3: for
/// migration tests and size comparisons.
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
    if version >= 3 {
        return decode_compact(bytes, version, symbol, timeframe);
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
        fn new_york_close_values_keep_their_alignment(
            tf in proptest::sample::select(Timeframe::ALL.to_vec()),
            skips in prop::collection::vec(1i64..5, 0..120),
            seed in 0.5f64..200.0,
        ) {
            let g = tf.aligned(DailyAlignment::NewYorkClose);
            let mut b = OhlcvFrame::builder(sym(), tf, skips.len())
                .aligned(DailyAlignment::NewYorkClose)
                .unwrap();
            let mut t = g.ceil(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap());
            for (i, s) in skips.iter().enumerate() {
                for _ in 0..*s {
                    t = g.next_open(t);
                }
                let p = seed + i as f64 * 0.001;
                b.push(t.timestamp_millis(), p, p + 0.013, p - 0.007, p + 0.002, 1.0).unwrap();
            }
            let f = b.finish();
            let back = decode(&encode(&f), f.symbol(), tf).unwrap();
            prop_assert_eq!(back.alignment(), DailyAlignment::NewYorkClose);
            prop_assert_eq!(back, f);
        }

        #[test]
        fn round_trip_is_exact(f in arb_frame(), forming in any::<bool>()) {
            let f = f.with_forming(forming);
            let bytes = encode(&f);
            let back = decode(&bytes, f.symbol(), f.timeframe()).unwrap();
            prop_assert_eq!(back, f);
        }

        #[test]
        fn version_3_values_are_still_read(f in arb_frame(), decimals in 0u32..6, forming in any::<bool>()) {
            let f = on_grid(&f.with_forming(forming), decimals);
            let v3 = encode_version_3(&f);
            prop_assert_eq!(v3[1], 3);
            prop_assert_eq!(token_of(&v3), None);
            prop_assert_eq!(decode(&v3, f.symbol(), f.timeframe()).unwrap(), f);
        }

        /// Every encoding carries its own token at the fixed place, covered by the checksum:
        /// the same bars encoded twice differ only there.
        #[test]
        fn each_value_has_its_own_token_at_a_fixed_place(f in arb_frame(), decimals in 0u32..6) {
            let f = on_grid(&f, decimals);
            let (a, b) = (encode(&f), encode(&f));
            let (ta, tb) = (token_of(&a).unwrap(), token_of(&b).unwrap());
            prop_assert_ne!(ta, tb);
            prop_assert_eq!(&a[TOKEN_RANGE], &ta[..]);
            prop_assert_eq!(&b[TOKEN_RANGE], &tb[..]);
            prop_assert_eq!(&a[..TOKEN_RANGE.start], &b[..TOKEN_RANGE.start]);
            prop_assert_eq!(decode(&a, f.symbol(), f.timeframe()).unwrap(), f.clone());
            prop_assert_eq!(decode(&b, f.symbol(), f.timeframe()).unwrap(), f.clone());
            // A token changed in place is a corrupt value, not another good one.
            let mut c = a.clone();
            c[TOKEN_RANGE.start] ^= 1;
            prop_assert!(matches!(decode(&c, f.symbol(), f.timeframe()), Err(DecodeError::Malformed(_))));
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
            version: 2,
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
        // The same in version 3, raw f64 prices (after an empty column of time gaps).
        let mut body = vec![0, 0];
        for col in [&one, &two, &half, &bad, &zero] {
            body.extend_from_slice(col);
        }
        let wire = WireV3 {
            version: 3,
            symbol: "USDJPY",
            timeframe: "M1",
            alignment: 0,
            forming: false,
            bars: 1,
            t0,
            price_decimals: -1,
            first_close: 0,
            integral_volume: false,
            crc: 0,
            body: &body,
        };
        let wire = WireV3 {
            crc: checksum(
                &[],
                "USDJPY",
                "M1",
                [
                    0,
                    0,
                    1,
                    t0.cast_unsigned(),
                    u64::from((-1i8).cast_unsigned()),
                    0,
                    0,
                ],
                &body,
            ),
            ..wire
        };
        assert!(matches!(
            decode(&rmp_serde::to_vec(&wire).unwrap(), &sym(), Timeframe::M1),
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
        let raw = frame(Timeframe::M1, &opens, 150.0);
        let v2 = encode_version_2(&raw);
        // Version 2: 5 f64 columns at 8 bytes and a 1-byte delta per bar, plus a small header.
        assert!(v2.len() <= 1440 * 41 + 64, "{} bytes", v2.len());
        // The same bars on a 0.001 tick with whole volumes: integers of ticks, a few bytes each.
        let ticked = on_grid(&raw, 3);
        let v3 = encode(&ticked);
        assert!(v3.len() <= 1440 * 8 + 64, "{} bytes", v3.len());
        assert_eq!(decode(&v3, &sym(), Timeframe::M1).unwrap(), ticked);
    }

    /// `f` with every price on a `10^-decimals` grid and whole volumes.
    fn on_grid(f: &OhlcvFrame, decimals: u32) -> OhlcvFrame {
        let tick = axia_domain::Tick::decimal(decimals).unwrap();
        let bars = f.iter().map(|b| {
            let q = |p: f64| tick.quantize(p).unwrap().max(tick.price_of(1));
            Bar::new(
                b.time(),
                q(b.open()),
                q(b.high()),
                q(b.low()),
                q(b.close()),
                b.volume().round(),
            )
            .unwrap()
        });
        OhlcvFrame::from_bars(f.symbol().clone(), f.timeframe(), bars.collect::<Vec<_>>())
            .unwrap()
            .with_forming(f.forming().is_some())
    }

    proptest! {
        #[test]
        fn prices_on_a_tick_grid_are_compact_and_exact(f in arb_frame(), decimals in 0u32..9, forming in any::<bool>()) {
            let f = on_grid(&f.with_forming(forming), decimals);
            let bytes = encode(&f);
            let (_, wire) = parse_compact(&bytes, bytes[1]).unwrap();
            prop_assert!(wire.price_decimals >= 0 && wire.price_decimals <= decimals as i8, "{}", wire.price_decimals);
            prop_assert!(wire.integral_volume);
            let back = decode(&bytes, f.symbol(), f.timeframe()).unwrap();
            // Bit-exact, not just equal.
            for (a, b) in back.iter().zip(f.iter()) {
                for (x, y) in [(a.open(), b.open()), (a.high(), b.high()), (a.low(), b.low()), (a.close(), b.close()), (a.volume(), b.volume())] {
                    prop_assert_eq!(x.to_bits(), y.to_bits());
                }
            }
            prop_assert_eq!(back, f);
        }

        #[test]
        fn gapless_series_are_exact(f in arb_frame(), decimals in 0u32..9, forming in any::<bool>()) {
            // Every open at the previous close, the first at its own close (the open column
            // is then one bar behind the closes, with no division of its own).
            let f = on_grid(&f.with_forming(forming), decimals);
            let mut prev = None;
            let bars: Vec<Bar> = f.iter().map(|b| {
                let open = prev.unwrap_or(b.close());
                prev = Some(b.close());
                Bar::new(b.time(), open, b.high().max(open), b.low().min(open), b.close(), b.volume()).unwrap()
            }).collect();
            let f = OhlcvFrame::from_bars(f.symbol().clone(), f.timeframe(), bars).unwrap().with_forming(forming);
            let bytes = encode(&f);
            let back = decode(&bytes, f.symbol(), f.timeframe()).unwrap();
            for (a, b) in back.iter().zip(f.iter()) {
                for (x, y) in [(a.open(), b.open()), (a.high(), b.high()), (a.low(), b.low()), (a.close(), b.close()), (a.volume(), b.volume())] {
                    prop_assert_eq!(x.to_bits(), y.to_bits());
                }
            }
            prop_assert_eq!(back, f);
        }

        #[test]
        fn version_2_values_are_still_read(f in arb_frame(), forming in any::<bool>()) {
            let f = f.with_forming(forming);
            let back = decode(&encode_version_2(&f), f.symbol(), f.timeframe()).unwrap();
            prop_assert_eq!(back, f);
        }

        #[test]
        fn corrupted_values_never_read_as_other_bars_nor_panic(
            f in arb_frame(), decimals in 0u32..6, flips in prop::collection::vec((any::<usize>(), 1u8..=255), 1..8),
        ) {
            let f = on_grid(&f, decimals);
            let good = encode(&f);
            let mut bytes = good.clone();
            for (at, x) in flips {
                let i = at % bytes.len();
                bytes[i] ^= x;
            }
            // Flips that cancel out leave the value as it was.
            prop_assume!(bytes != good);
            // An error, or (a flip that only re-spells a msgpack number, say int64 as uint64)
            // the very bars written: never other bars.
            match decode(&bytes, f.symbol(), f.timeframe()) {
                Err(_) => {}
                Ok(g) => prop_assert_eq!(g, f, "a corrupted value was read as other bars"),
            }
        }
    }

    /// A column laid out as `put_column` does, with any width, base and bytes.
    fn arb_column(count: usize) -> impl Strategy<Value = Vec<u8>> {
        // Mostly the narrow columns `encode` writes, with the edges a forger would try.
        (
            prop_oneof![3 => Just(0u8), 4 => Just(1), 2 => Just(2), 1 => Just(4), 1 => Just(8)],
            prop_oneof![
                8 => 0u64..300,
                1 => (1u64 << 52) - 3..(1u64 << 52) + 3,
                1 => (1u64 << 63) - 3..(1u64 << 63) + 3,
                1 => any::<u64>(),
            ],
        )
            .prop_flat_map(move |(width, base)| {
                prop::collection::vec(any::<u8>(), count * usize::from(width)).prop_map(
                    move |bytes| {
                        let mut out = vec![width];
                        put_leb128(&mut out, base);
                        out.extend(bytes);
                        out
                    },
                )
            })
    }

    /// Forged version 3 values: any header, any columns, a correct checksum.
    fn arb_forged() -> impl Strategy<Value = (Vec<u8>, Timeframe)> {
        (
            proptest::sample::select(Timeframe::ALL.to_vec()),
            0u8..2,
            0usize..24,
            prop_oneof![
                4 => (0i64..1_000).prop_map(|h| 1_767_571_200_000 + h * 3_600_000),
                2 => (0i64..1_000_000).prop_map(|m| 1_767_571_200_000 + m * 60_000),
                1 => any::<i64>()
            ],
            prop_oneof![4 => 1i64..10_000_000, 1 => any::<i64>()],
            0i8..=MAX_DECIMALS,
        )
            .prop_flat_map(|(tf, alignment, n, t0, first_close, decimals)| {
                let m = n.saturating_sub(1);
                (
                    Just((tf, alignment, n, t0, first_close, decimals)),
                    (arb_column(m), arb_column(m), arb_column(n)),
                    (arb_column(n), arb_column(n), arb_column(n)),
                )
            })
            .prop_map(|((tf, alignment, n, t0, first_close, decimals), a, b)| {
                let mut body = Vec::new();
                for col in [a.0, a.1, a.2, b.0, b.1, b.2] {
                    body.extend(col);
                }
                let mut wire = WireV3 {
                    version: 3,
                    symbol: "USDJPY",
                    timeframe: tf.as_str(),
                    alignment,
                    forming: false,
                    bars: u32::try_from(n).unwrap(),
                    t0,
                    price_decimals: decimals,
                    first_close,
                    integral_volume: true,
                    crc: 0,
                    body: &body,
                };
                wire.crc = wire.checksum(&[]);
                (rmp_serde::to_vec(&wire).unwrap(), tf)
            })
    }

    #[test]
    fn values_written_by_encode_need_no_second_check() {
        for tf in [Timeframe::M1, Timeframe::M5, Timeframe::H1] {
            let opens: Vec<i64> = (0..50)
                .map(|i| 1_767_571_200_000 + i * tf.max_millis())
                .collect();
            let f = on_grid(&frame(tf, &opens, 150.0), 3);
            let bytes = encode(&f);
            let (_, wire) = parse_compact(&bytes, bytes[1]).unwrap();
            let body = body_columns(&wire, f.timeframe().aligned(f.alignment())).unwrap();
            assert!(body.values_valid && body.times_valid, "{tf}");
            // A series with no missing bar (equal gaps) reads back exactly, and so does one
            // with a gap.
            assert_eq!(decode(&bytes, f.symbol(), tf).unwrap(), f, "{tf}");
            let early = frame(tf, &opens[..10], 150.0);
            let gapped = on_grid(&early, 3).merge(&f.last_n(30)).unwrap();
            assert_eq!(
                decode(&encode(&gapped), f.symbol(), tf).unwrap(),
                gapped,
                "{tf}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// What the decoder takes as established without the frame's checks holds: forged
        /// bodies (a correct checksum over any columns) that it calls valid pass those checks.
        #[test]
        fn what_the_form_establishes_holds((bytes, tf) in arb_forged()) {
            let (_, wire) = parse_compact(&bytes, bytes[1]).unwrap();
            let grid = tf.aligned(alignment_of(wire.alignment).unwrap());
            let Ok(body) = body_columns(&wire, grid) else {
                return Ok(());
            };
            let n = body.cols.timestamps.len();
            if body.values_valid {
                let mut cols = body.cols.clone();
                cols.timestamps = (0..n as i64).map(|i| i * 60_000).collect();
                prop_assert!(OhlcvFrame::from_columns(sym(), Timeframe::M1, cols).is_ok());
            }
            if body.times_valid {
                // Increasing and on the grid (the range of the first and last is checked by
                // the frame, and the others lie between them).
                let ts = &body.cols.timestamps;
                prop_assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
                prop_assert!(ts.iter().all(|&t| grid.is_aligned_millis(t)), "{ts:?}");
            }
            // And decode itself never panics on them.
            let _ = decode(&bytes, &sym(), tf);
        }
    }
}
