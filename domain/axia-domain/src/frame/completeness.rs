//! [`Completeness`]: how much of a window a frame covers on a market calendar.

use serde::{Deserialize, Serialize};

use super::OhlcvFrame;
use crate::TimeRange;
use crate::bar::millis_to_time;
use crate::calendar::MarketCalendar;

/// How much of a window a frame covers, measured against a market calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completeness {
    /// Bar slots in the window during which the market was open.
    pub expected: usize,
    /// Of those, the slots the frame has a bar for.
    pub present: usize,
    /// The missing slots, merged into runs.
    pub gaps: Vec<TimeRange>,
}

impl Completeness {
    /// `present / expected`, and `1.0` for a window with no expected bar.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        if self.expected == 0 {
            1.0
        } else {
            // Counts of bars are far below 2^52: exact in f64.
            #[allow(clippy::cast_precision_loss)]
            let r = self.present as f64 / self.expected as f64;
            r
        }
    }

    /// True when no expected bar is missing.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }
}

impl OhlcvFrame {
    /// Measures how much of `range` the frame covers: the bar slots that open inside `range`
    /// during which `calendar` has the market open, which of them have a bar, and the runs of
    /// missing ones. A closed market (an FX weekend) is not a gap.
    #[must_use]
    pub fn completeness(&self, calendar: &dyn MarketCalendar, range: TimeRange) -> Completeness {
        let tf = self.grid();
        let (start, end) = (range.start_millis(), range.end_millis());
        let mut result = Completeness {
            expected: 0,
            present: 0,
            gaps: Vec::new(),
        };
        // The first slot that opens in the range.
        let mut slot = match tf.floor_millis(start) {
            Some(f) if f == start => Some(f),
            _ => tf.next_open_millis(start),
        };
        let mut gap: Option<(i64, i64)> = None;
        let mut j = self.index_at_or_after(start);
        // Walk the calendar's open stretches, not every slot: a slot is expected when it overlaps
        // a stretch, and consecutive slots inside one stretch need no calendar call.
        while let Some(open_at) = slot.filter(|&o| o < end) {
            let Some(next) = tf.next_open_millis(open_at) else {
                break;
            };
            let stretch_open = calendar
                .next_open(millis_to_time(open_at))
                .timestamp_millis();
            if stretch_open >= next {
                // Closed for this whole slot: jump to the slot holding the reopening.
                slot = tf.floor_millis(stretch_open).map(|f| f.max(next));
                continue;
            }
            let stretch_close = calendar
                .next_close(millis_to_time(stretch_open))
                .timestamp_millis()
                .max(next);
            // Every slot from here that opens before the stretch closes (and in range) is expected.
            let mut o = open_at;
            let limit = end.min(stretch_close);
            // Fast path for fixed-length bars: the frame's bars are aligned and unique, so when
            // as many of them fall in the stretch's slots as there are slots, all are present.
            if let Some(len) = self.timeframe.fixed_millis().filter(|_| !tf.is_shifted()) {
                let slots = limit.saturating_sub(o).saturating_add(len - 1) / len;
                let stop = o.saturating_add(slots.saturating_mul(len));
                let hi = j + self
                    .cols
                    .timestamps
                    .get(j..)
                    .unwrap_or(&[])
                    .partition_point(|&t| t < stop);
                let lo = j + self
                    .cols
                    .timestamps
                    .get(j..hi)
                    .unwrap_or(&[])
                    .partition_point(|&t| t < o);
                if usize::try_from(slots).is_ok_and(|k| k == hi - lo) {
                    result.expected += hi - lo;
                    result.present += hi - lo;
                    j = hi;
                    slot = Some(stop);
                    continue;
                }
            }
            while o < end && o < stretch_close {
                let Some(n) = tf.next_open_millis(o) else {
                    break;
                };
                result.expected += 1;
                while self.cols.timestamps.get(j).is_some_and(|&t| t < o) {
                    j += 1;
                }
                if self.cols.timestamps.get(j) == Some(&o) {
                    result.present += 1;
                } else {
                    gap = match gap {
                        Some((s, e)) if e == o => Some((s, n)),
                        Some((s, e)) => {
                            push_gap(&mut result.gaps, s, e);
                            Some((o, n))
                        }
                        None => Some((o, n)),
                    };
                }
                o = n;
            }
            slot = Some(o);
        }
        if let Some((s, e)) = gap {
            push_gap(&mut result.gaps, s, e);
        }
        result
    }

    /// The runs of missing bars in `range`; see [`OhlcvFrame::completeness`].
    #[must_use]
    pub fn gaps(&self, calendar: &dyn MarketCalendar, range: TimeRange) -> Vec<TimeRange> {
        self.completeness(calendar, range).gaps
    }
}

pub(super) fn push_gap(gaps: &mut Vec<TimeRange>, start: i64, end: i64) {
    if let Ok(r) = TimeRange::new(millis_to_time(start), millis_to_time(end)) {
        gaps.push(r);
    }
}
