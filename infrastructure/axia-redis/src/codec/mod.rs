//! The value format: columnar, versioned msgpack.
//!
//! A value is a msgpack array whose first element is its schema version. Version 5 (written)
//! is version 4's array followed by zero or more patches ([`patch`]): a write of the newest bars
//! appends one (`APPEND`, a few dozen bytes) instead of rewriting the series. Version 4:
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
//!
//! By version: [`compact`] holds versions 3 and 4 (written: 4), [`legacy`] versions 1 and 2
//! (read only; their encoders are test support).

use axia_domain::{FrameError, OhlcvFrame, Symbol, Timeframe};

mod compact;
mod legacy;
pub mod patch;
#[cfg(test)]
mod tests;

use compact::{decode_compact, encode_with};
#[doc(hidden)]
pub use legacy::encode_version_2;

/// The version written in every value.
pub const SCHEMA_VERSION: u8 = 5;

pub use patch::{MAX_PATCH_BARS, encode_patch};

/// The bytes of a version 4 or 5 value that hold its write token: after the array header (one
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

/// The write token of a version 4 or 5 value, read from its first bytes; `None` for a value
/// of an earlier version (or not a value at all).
#[must_use]
pub fn token_of(bytes: &[u8]) -> Option<Token> {
    match bytes {
        // fixarray, version 4 or 5, bin8 of 16 bytes
        [0x90..=0x9f, 4 | 5, 0xc4, 16, rest @ ..] => rest.get(..TOKEN_LEN)?.try_into().ok(),
        _ => None,
    }
}

/// How many patches a version 5 value holds; `None` for another version or a value whose
/// fields do not parse (the patches themselves are checked when it is decoded).
#[must_use]
pub fn patch_count(bytes: &[u8]) -> Option<usize> {
    if peek_version(bytes).ok()? != 5 {
        return None;
    }
    let rest = compact::after_fields(bytes, 5).ok()?;
    patch::parse_patches(rest).ok().map(|p| p.len())
}

/// The oldest version still read.
pub(super) const OLDEST_READ: u8 = 1;

pub(super) const MINUTE_MS: i64 = 60_000;

/// The most decimals a compact price column uses.
pub(super) const MAX_DECIMALS: i8 = 12;

/// 2^53: integers up to it are exact in an f64.
pub(super) const EXACT_INT: f64 = 9_007_199_254_740_992.0;

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

pub(super) fn f64_bytes(col: &[f64]) -> Vec<u8> {
    col.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(super) fn f64_column(bytes: &[u8], n: usize, name: &str) -> Result<Vec<f64>, DecodeError> {
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

pub(super) fn put_leb128(out: &mut Vec<u8>, mut v: u64) {
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

pub(super) fn leb128_values(bytes: &[u8]) -> Result<Vec<u64>, DecodeError> {
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

/// Encodes `frame` (version 5 without patches, with a [`new_token`]). Frames hold minute-aligned, increasing
/// timestamps, so the deltas are exact; prices and volumes are compact integers when they are
/// exact decimals and whole numbers, bit-exact f64 otherwise.
#[must_use]
pub fn encode(frame: &OhlcvFrame) -> Vec<u8> {
    encode_with(frame, Some(&new_token()), SCHEMA_VERSION)
}

/// Encodes `frame` as version 4 (version 5 without its patches), as axia wrote before
/// version 5: test support (migration tests), not part of the API.
#[doc(hidden)]
#[must_use]
pub fn encode_version_4(frame: &OhlcvFrame) -> Vec<u8> {
    encode_with(frame, Some(&new_token()), 4)
}

/// Encodes `frame` as version 3 (version 4 without the write token), as axia wrote before
/// version 4: test support (migration tests and the benchmark), not part of the API.
#[doc(hidden)]
#[must_use]
pub fn encode_version_3(frame: &OhlcvFrame) -> Vec<u8> {
    encode_with(frame, None, 3)
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
    legacy::decode_f64(bytes, version, symbol, timeframe)
}
