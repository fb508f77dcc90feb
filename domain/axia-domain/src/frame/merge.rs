//! [`OhlcvFrame::merge`]: upserting one frame of a series into another.

use super::{FrameError, OhlcvColumns, OhlcvFrame};

impl OhlcvFrame {
    fn check_same_series(&self, other: &Self) -> Result<(), FrameError> {
        if self.symbol == other.symbol && self.timeframe == other.timeframe {
            // Up to H1 both alignments give the same bars: only the label differs.
            if self.alignment == other.alignment
                || self.timeframe.is_alignment_free()
                || self.is_empty()
                || other.is_empty()
            {
                return Ok(());
            }
            Err(FrameError::AlignmentMismatch {
                symbol: self.symbol.clone(),
                timeframe: self.timeframe,
                left: self.alignment,
                right: other.alignment,
            })
        } else {
            Err(FrameError::SeriesMismatch {
                left_symbol: self.symbol.clone(),
                left_timeframe: self.timeframe,
                right_symbol: other.symbol.clone(),
                right_timeframe: other.timeframe,
            })
        }
    }

    /// Upserts `incoming` into this frame by timestamp: the union of both, and where both have a
    /// bar for the same open time, `incoming`'s bar wins.
    ///
    /// The forming label follows the newest bar: it is forming when the frame it came from said
    /// so. A forming bar that newer bars of the other frame overtake is not kept as if it were
    /// closed: this frame's forming bar is dropped when `incoming` has newer bars and does not
    /// replace it (its slot becomes a gap to fill again), and `incoming`'s forming bar is not
    /// taken when this frame already has newer bars (this frame's bar at that time, if any,
    /// stays).
    ///
    /// An empty frame takes the other's alignment. Up to `H1`, where both alignments give the
    /// same bars, frames labelled with different alignments merge and the result keeps this
    /// frame's label.
    ///
    /// # Errors
    /// [`FrameError::SeriesMismatch`] when the frames are of another symbol or timeframe;
    /// [`FrameError::AlignmentMismatch`] when both hold bars of `H4` or longer and their daily
    /// bars start at different times (mixing two alignments in one series is refused).
    pub fn merge(&self, incoming: &Self) -> Result<Self, FrameError> {
        self.check_same_series(incoming)?;
        if let Some(stale) = self.forming_millis()
            && incoming.cols.timestamps.last().is_some_and(|&t| t > stale)
            && incoming.cols.timestamps.binary_search(&stale).is_err()
        {
            return self.closed().merge(incoming);
        }
        if let Some(stale) = incoming.forming_millis()
            && self.cols.timestamps.last().is_some_and(|&t| t > stale)
        {
            return self.merge(&incoming.closed());
        }
        let newest_from_incoming =
            match (self.cols.timestamps.last(), incoming.cols.timestamps.last()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(a), Some(b)) => b >= a,
            };
        let forming = if newest_from_incoming {
            incoming.forming
        } else {
            self.forming
        };
        let grid = if self.is_empty() {
            incoming.grid()
        } else {
            self.grid()
        };
        let (a, b) = (&self.cols, &incoming.cols);
        let mut out = OhlcvColumns::with_capacity(a.timestamps.len() + b.timestamps.len());
        let (na, nb) = (a.timestamps.len(), b.timestamps.len());
        let (mut i, mut j) = (0, 0);
        while i < na || j < nb {
            // The run of existing bars strictly before the next incoming bar.
            let a_end = match b.timestamps.get(j) {
                Some(&tb) => {
                    i + a
                        .timestamps
                        .get(i..)
                        .unwrap_or(&[])
                        .partition_point(|&t| t < tb)
                }
                None => na,
            };
            out.extend_from(a, i, a_end);
            i = a_end;
            // The run of incoming bars up to and including the next existing bar's time.
            let b_end = match a.timestamps.get(i) {
                Some(&ta) => {
                    j + b
                        .timestamps
                        .get(j..)
                        .unwrap_or(&[])
                        .partition_point(|&t| t <= ta)
                }
                None => nb,
            };
            out.extend_from(b, j, b_end);
            // An existing bar replaced by an incoming one is skipped.
            if b_end > j
                && a.timestamps.get(i).is_some()
                && b.timestamps.get(b_end - 1) == a.timestamps.get(i)
            {
                i += 1;
            }
            j = b_end;
        }
        Ok(Self::trusted(self.symbol.clone(), grid, out).with_forming(forming))
    }
}
