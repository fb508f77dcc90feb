//! Version 5's patches: a write of the newest bars appended to the value (`APPEND`) instead
//! of a rewrite of the whole series.
//!
//! A patch is `[0xb5, forming, m]`, then `m` bars of 48 bytes (open time as a little-endian
//! i64 of epoch ms, then open, high, low, close and volume as little-endian f64, bit-exact),
//! then the CRC-32 of everything before it in the patch (little-endian u32). A patch starts
//! at or after the newest bar of the value it is appended to (the writer checks), so reading
//! it is what merging its bars into the series would give: the bars from its first open time
//! on are replaced by its bars, a forming newest bar that it overtakes is dropped (its slot
//! becomes a gap to fill again), and the series' forming label becomes the patch's.

use axia_domain::{OhlcvColumns, OhlcvFrame};

use super::DecodeError;

const MAGIC: u8 = 0xb5;
const HEAD_LEN: usize = 3;
const BAR_LEN: usize = 48;
const CRC_LEN: usize = 4;

/// The most bars one patch holds (a write of more rewrites the value).
pub const MAX_PATCH_BARS: usize = 8;

/// The patch of `frame`'s bars (its forming label with them); `None` when it holds no bar or
/// more than [`MAX_PATCH_BARS`].
#[must_use]
pub fn encode_patch(frame: &OhlcvFrame) -> Option<Vec<u8>> {
    let m = frame.len();
    if m == 0 || m > MAX_PATCH_BARS {
        return None;
    }
    let mut out = Vec::with_capacity(HEAD_LEN + m * BAR_LEN + CRC_LEN);
    out.extend([
        MAGIC,
        u8::from(frame.forming().is_some()),
        u8::try_from(m).ok()?,
    ]);
    for b in frame.iter() {
        out.extend(b.time_millis().to_le_bytes());
        for v in [b.open(), b.high(), b.low(), b.close(), b.volume()] {
            out.extend(v.to_le_bytes());
        }
    }
    out.extend(crc32fast::hash(&out).to_le_bytes());
    Some(out)
}

/// One parsed patch.
pub(super) struct Patch {
    forming: bool,
    bars: Vec<(i64, [f64; 5])>,
}

fn le_i64(b: &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(b.try_into().ok()?))
}

fn le_f64(b: &[u8]) -> Option<f64> {
    Some(f64::from_le_bytes(b.try_into().ok()?))
}

/// The patches in `rest` (what follows a version 5 value's fields), in the order written.
pub(super) fn parse_patches(mut rest: &[u8]) -> Result<Vec<Patch>, DecodeError> {
    let malformed = |what: &str| DecodeError::Malformed(format!("patch: {what}"));
    let mut patches = Vec::new();
    while !rest.is_empty() {
        let Some((&[magic, forming, m], _)) = rest.split_first_chunk::<HEAD_LEN>() else {
            return Err(malformed("truncated header"));
        };
        let m = usize::from(m);
        if magic != MAGIC || forming > 1 || m == 0 || m > MAX_PATCH_BARS {
            return Err(malformed("bad header"));
        }
        let len = HEAD_LEN + m * BAR_LEN;
        let (patch, after) = rest
            .split_at_checked(len + CRC_LEN)
            .ok_or_else(|| malformed("truncated"))?;
        let (body, crc) = patch.split_at(len);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(malformed("checksum mismatch"));
        }
        let bars = body
            .get(HEAD_LEN..)
            .unwrap_or_default()
            .chunks_exact(BAR_LEN)
            .map(|b| {
                let f = |i: usize| b.get(8 + i * 8..16 + i * 8).and_then(le_f64);
                Some((le_i64(b.get(..8)?)?, [f(0)?, f(1)?, f(2)?, f(3)?, f(4)?]))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| malformed("truncated bar"))?;
        patches.push(Patch {
            forming: forming == 1,
            bars,
        });
        rest = after;
    }
    Ok(patches)
}

/// Applies `patch` to the columns of a series whose newest bar is labelled `forming`.
pub(super) fn apply(
    cols: &mut OhlcvColumns,
    forming: &mut bool,
    patch: &Patch,
) -> Result<(), DecodeError> {
    let Some(&(first, _)) = patch.bars.first() else {
        return Ok(());
    };
    let newest = cols.timestamps.last().copied();
    if newest.is_some_and(|t| first < t) {
        return Err(DecodeError::Malformed(
            "a patch before the newest bar".into(),
        ));
    }
    // A forming newest bar the patch overtakes without replacing it is dropped.
    let keep = if *forming && newest.is_some_and(|t| first > t) {
        cols.timestamps.len().saturating_sub(1)
    } else {
        cols.timestamps.partition_point(|&t| t < first)
    };
    for col in [
        &mut cols.open,
        &mut cols.high,
        &mut cols.low,
        &mut cols.close,
        &mut cols.volume,
    ] {
        col.truncate(keep);
    }
    cols.timestamps.truncate(keep);
    for &(t, [o, h, l, c, v]) in &patch.bars {
        cols.timestamps.push(t);
        cols.open.push(o);
        cols.high.push(h);
        cols.low.push(l);
        cols.close.push(c);
        cols.volume.push(v);
    }
    *forming = patch.forming;
    Ok(())
}
