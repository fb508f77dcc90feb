//! Decoded values kept beside the exact bytes they came from.
//!
//! A series is read far more often than it is written (a chart, a trading plan polling its
//! window, the feature engine after each write), and every read of an unchanged value used to
//! decode the same bytes again. The memo keeps, per key, the last value read and its decoded
//! frame; a read whose bytes are **equal** to the kept ones (compared in full, not by hash)
//! returns a copy of the kept frame. Nothing is inferred: a value changed by any writer, in any
//! process, has other bytes and is decoded afresh. The memo is bounded in bytes; past the
//! bound, entries are dropped (any of them; a dropped entry only costs one decode).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axia_domain::OhlcvFrame;

/// Bytes a frame's columns take: a time and five f64 per bar.
const BAR_BYTES: usize = 48;

struct Entry {
    raw: Vec<u8>,
    frame: OhlcvFrame,
}

impl Entry {
    fn size(key: &str, raw: &[u8], frame: &OhlcvFrame) -> usize {
        key.len() + raw.len() + frame.len() * BAR_BYTES
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
}

/// Per key, the last value read and its decoded frame, up to `budget` bytes in all.
pub(crate) struct DecodedMemo {
    budget: usize,
    inner: Mutex<Inner>,
}

impl DecodedMemo {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::default(),
        }
    }

    /// `f` of the entry of `key`, if any (and the memo is on).
    fn with_entry<R>(&self, key: &str, f: impl FnOnce(&Entry) -> Option<R>) -> Option<R> {
        if self.budget == 0 {
            return None;
        }
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.entries.get(key).and_then(f)
    }

    /// A copy of the frame decoded from exactly `raw` under `key`, if kept.
    pub(crate) fn get(&self, key: &str, raw: &[u8]) -> Option<OhlcvFrame> {
        self.with_entry(key, |e| (e.raw == raw).then(|| e.frame.clone()))
    }

    /// The last value kept under `key` and its frame, whatever their bytes.
    pub(crate) fn latest(&self, key: &str) -> Option<(Vec<u8>, OhlcvFrame)> {
        self.with_entry(key, |e| Some((e.raw.clone(), e.frame.clone())))
    }

    /// Keeps `frame` as the decoding of `raw` under `key`, replacing the key's previous entry.
    pub(crate) fn put(&self, key: &str, raw: &[u8], frame: &OhlcvFrame) {
        let size = Entry::size(key, raw, frame);
        if size > self.budget {
            self.forget(key);
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = inner.entries.remove(key) {
            inner.bytes -= Entry::size(key, &old.raw, &old.frame);
        }
        while inner.bytes + size > self.budget {
            let Some(victim) = inner.entries.keys().next().cloned() else {
                break;
            };
            if let Some(old) = inner.entries.remove(&victim) {
                inner.bytes -= Entry::size(&victim, &old.raw, &old.frame);
            }
        }
        inner.bytes += size;
        inner.entries.insert(
            key.to_owned(),
            Entry {
                raw: raw.to_vec(),
                frame: frame.clone(),
            },
        );
    }

    /// Drops the entry of `key`, if any.
    pub(crate) fn forget(&self, key: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = inner.entries.remove(key) {
            inner.bytes -= Entry::size(key, &old.raw, &old.frame);
        }
    }

    /// Bytes held.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axia_domain::Timeframe;

    fn frame(n: i64) -> OhlcvFrame {
        let mut b = OhlcvFrame::builder("EURUSD".parse().unwrap(), Timeframe::M1, 4);
        for i in 0..n {
            b.push(i * 60_000, 1.1, 1.2, 1.0, 1.1, 1.0).unwrap();
        }
        b.finish()
    }

    #[test]
    fn only_the_same_bytes_hit() {
        let memo = DecodedMemo::new(1 << 20);
        memo.put("k", b"abc", &frame(2));
        assert_eq!(memo.get("k", b"abc").map(|f| f.len()), Some(2));
        assert!(memo.get("k", b"abd").is_none());
        assert!(memo.get("k", b"ab").is_none());
        assert!(memo.get("other", b"abc").is_none());
        memo.put("k", b"abd", &frame(3));
        assert!(memo.get("k", b"abc").is_none());
        assert_eq!(memo.get("k", b"abd").map(|f| f.len()), Some(3));
    }

    #[test]
    fn stays_within_its_budget() {
        let one = Entry::size("k0", b"raw", &frame(2));
        let memo = DecodedMemo::new(one * 3);
        for i in 0..10 {
            memo.put(&format!("k{i}"), b"raw", &frame(2));
            assert!(memo.bytes() <= one * 3);
        }
        assert!(memo.get("k9", b"raw").is_some());
        let tiny = DecodedMemo::new(one - 1);
        tiny.put("k0", b"raw", &frame(2));
        assert!(tiny.get("k0", b"raw").is_none());
        assert_eq!(tiny.bytes(), 0);
        let off = DecodedMemo::new(0);
        off.put("k0", b"raw", &frame(2));
        assert!(off.get("k0", b"raw").is_none());
    }

    #[test]
    fn forget_drops_the_entry() {
        let memo = DecodedMemo::new(1 << 20);
        memo.put("k", b"abc", &frame(2));
        memo.forget("k");
        assert!(memo.get("k", b"abc").is_none());
        assert_eq!(memo.bytes(), 0);
    }
}
