//! Versions 3, 4 and 5: columnar integers, a CRC, (version 4 on) the write token, (version 5)
//! patches after the fields.

use axia_domain::{DailyAlignment, Grid, OhlcvColumns, OhlcvFrame, Symbol, Timeframe};
use serde::{Deserialize, Serialize};

use super::*;

/// Version 4: version 3 with the write token after the version.
#[derive(Serialize, Deserialize)]
pub(super) struct WireV4<'a> {
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
    fn new(version: u8, token: &'a [u8], w: WireV3<'a>) -> Self {
        Self {
            version,
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
pub(super) struct WireV3<'a> {
    pub(super) version: u8,
    pub(super) symbol: &'a str,
    pub(super) timeframe: &'a str,
    pub(super) alignment: u8,
    pub(super) forming: bool,
    pub(super) bars: u32,
    pub(super) t0: i64,
    pub(super) price_decimals: i8,
    pub(super) first_close: i64,
    pub(super) integral_volume: bool,
    pub(super) crc: u32,
    #[serde(borrow, with = "serde_bytes")]
    pub(super) body: &'a [u8],
}

/// `frame` as version 3 (no token) or, with a token, as `version` (4 or 5) without patches.
pub(super) fn encode_with(frame: &OhlcvFrame, token: Option<&Token>, version: u8) -> Vec<u8> {
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
            rmp_serde::to_vec(&WireV4::new(version, token, wire))
        }
    }
    .unwrap_or_default()
}

/// CRC-32 of every field but itself: a value changed anywhere (a flipped bit, a torn write)
/// is refused rather than read as other bars.
impl WireV3<'_> {
    /// The CRC-32 of every field but the CRC itself, and of version 4's `token` (empty for
    /// version 3).
    pub(super) fn checksum(&self, token: &[u8]) -> u32 {
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

pub(super) fn checksum(
    token: &[u8],
    symbol: &str,
    timeframe: &str,
    fields: [u64; 7],
    body: &[u8],
) -> u32 {
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

pub(super) const fn alignment_code(a: DailyAlignment) -> u8 {
    match a {
        DailyAlignment::UtcMidnight => 0,
        DailyAlignment::NewYorkClose => 1,
    }
}

pub(super) fn alignment_of(code: u8) -> Option<DailyAlignment> {
    match code {
        0 => Some(DailyAlignment::UtcMidnight),
        1 => Some(DailyAlignment::NewYorkClose),
        _ => None,
    }
}

/// `10^d` for the decimals a compact column may use.
pub(super) fn pow10(d: i8) -> f64 {
    10f64.powi(i32::from(d))
}

/// `x` rounded to a whole number (ties to even) when `|x| < 2^52`, else `x`: adding and taking
/// away 2^52 leaves no fraction bits. Two additions, where `f64::round` is a library call on
/// CPUs the build does not assume SSE4.1 of.
pub(super) fn round_fast(x: f64) -> f64 {
    let a = x.abs();
    if a < TWO_52 {
        ((a + TWO_52) - TWO_52).copysign(x)
    } else {
        x
    }
}

/// `p` in units of `10^-d` when that is exact: the integer decodes back to `p` bit for bit.
pub(super) fn units(p: f64, scale: f64) -> Option<i64> {
    let u = round_fast(p * scale);
    #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
    (u.abs() < EXACT_INT && u / scale == p).then_some(u as i64)
}

/// The fewest decimals every price is an exact decimal of, if any up to [`MAX_DECIMALS`].
pub(super) fn price_decimals(c: &OhlcvColumns) -> Option<i8> {
    let cols = [&c.open, &c.high, &c.low, &c.close];
    (0..=MAX_DECIMALS).find(|&d| {
        let scale = pow10(d);
        cols.iter()
            .all(|col| col.iter().all(|&p| units(p, scale).is_some()))
    })
}

pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)).cast_unsigned()
}

pub(super) fn unzigzag(v: u64) -> i64 {
    (v >> 1).cast_signed() ^ -((v & 1).cast_signed())
}

/// A column of integers as frame of reference: its width in bytes (0, 1, 2, 4 or 8), its
/// smallest value as a varint, then each value minus it in that many little-endian bytes. A
/// column of equal values (every gap one minute, every open at the previous close) takes two
/// bytes whatever its length.
pub(super) fn put_column(body: &mut Vec<u8>, values: &[u64]) {
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
pub(super) fn put_prices(body: &mut Vec<u8>, c: &OhlcvColumns, d: i8) -> i64 {
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
pub(super) struct Reader<'a> {
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
pub(super) struct Column<'a> {
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
pub(super) fn times_by_construction(grid: Grid, t0: i64, gaps: &Column<'_>, m: usize) -> bool {
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
pub(super) fn high_bits(col: &[i64]) -> u64 {
    col.iter().fold(0, |acc, &x| acc | x.cast_unsigned()) >> 52
}

/// 2^52 as an f64.
pub(super) const TWO_52: f64 = 4_503_599_627_370_496.0;

/// 2^52 as a count of units.
pub(super) const TWO_52_UNITS: u64 = 1 << 52;

/// `units` in [0, 2^52) as its exact f64: the integer put in the mantissa of 2^52, less 2^52
/// (a conversion the compiler packs two or four at a time, unlike `as f64` of an i64).
pub(super) fn small_exact(units: i64) -> f64 {
    f64::from_bits(units.cast_unsigned() | TWO_52.to_bits()) - TWO_52
}

/// Exact integer-valued f64 of `units` (every stored price is below 2^53 units; a larger one,
/// only in a forged value, is still finite).
#[allow(clippy::cast_precision_loss)]
pub(super) const fn exact(units: i64) -> f64 {
    units as f64
}

/// The fields of a version 3 or 4 value (`version` says which), and its write token (empty
/// for version 3).
pub(super) fn parse_compact(bytes: &[u8], version: u8) -> Result<(&[u8], WireV3<'_>), DecodeError> {
    let malformed = |e: rmp_serde::decode::Error| DecodeError::Malformed(e.to_string());
    let (token, wire) = if version >= 4 {
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

/// What follows a version 5 value's fields: its patches (empty for versions 3 and 4, whose
/// array is the whole value).
pub(super) fn after_fields(bytes: &[u8], version: u8) -> Result<&[u8], DecodeError> {
    let (_, wire) = parse_compact(bytes, version)?;
    Ok(rest_after(bytes, &wire))
}

/// The bytes after `wire`'s body, the array's last element, borrowed from `bytes`.
fn rest_after<'a>(bytes: &'a [u8], wire: &WireV3<'_>) -> &'a [u8] {
    let end = wire
        .body
        .as_ptr()
        .addr()
        .saturating_sub(bytes.as_ptr().addr())
        .saturating_add(wire.body.len());
    bytes.get(end..).unwrap_or_default()
}

pub(super) fn decode_compact(
    bytes: &[u8],
    version: u8,
    symbol: &Symbol,
    timeframe: Timeframe,
) -> Result<OhlcvFrame, DecodeError> {
    let (token, wire) = parse_compact(bytes, version)?;
    let rest = rest_after(bytes, &wire);
    if version < 5 && !rest.is_empty() {
        return Err(DecodeError::Malformed(format!(
            "{} bytes after a version {version} value",
            rest.len()
        )));
    }
    let patches = super::patch::parse_patches(rest)?;
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
    let (mut cols, grid) = (body.cols, body.grid);
    let mut forming = wire.forming;
    for p in &patches {
        super::patch::apply(&mut cols, &mut forming, p)?;
    }
    if !patches.is_empty() {
        // The patches' bars are checked like any other incoming bars.
        return OhlcvFrame::from_columns_on(symbol.clone(), grid, cols)
            .map(|f| f.with_forming(forming))
            .map_err(DecodeError::Invalid);
    }
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
pub(super) struct Body {
    pub(super) cols: OhlcvColumns,
    pub(super) grid: Grid,
    /// Every value holds the frame's invariants.
    pub(super) values_valid: bool,
    /// The times are strictly increasing and on the grid.
    pub(super) times_valid: bool,
}

pub(super) fn body_columns(wire: &WireV3<'_>, grid: Grid) -> Result<Body, DecodeError> {
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
