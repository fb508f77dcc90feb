//! [`OhlcvFrame::resample`]: a frame as bars of a coarser timeframe.

use super::{FrameError, OhlcvColumns, OhlcvFrame};
use crate::{BarAccumulator, BarValues, Timeframe};

impl OhlcvFrame {
    /// Aggregates the bars into bars of the coarser `target`: open of the first, highest high,
    /// lowest low, close of the last, summed volume, stamped with the target bar's open time.
    ///
    /// A target bar is built from whatever source bars it has: a still-forming or partly missing
    /// period gives a bar from the bars present (use [`OhlcvFrame::completeness`] to tell). The
    /// newest target bar is forming when the newest source bar is; a target bar whose period
    /// has not ended yet is labelled by [`OhlcvFrame::with_forming_at`].
    ///
    /// # Errors
    /// [`FrameError::IncompatibleResample`] unless `self.timeframe().can_resample_to(target)`.
    pub fn resample(&self, target: Timeframe) -> Result<Self, FrameError> {
        if !self.timeframe.can_resample_to(target) {
            return Err(FrameError::IncompatibleResample {
                from: self.timeframe,
                to: target,
            });
        }
        let mut out = OhlcvColumns::default();
        let grid = target.aligned(self.alignment);
        let mut acc = BarAccumulator::on(grid);
        for bar in self.iter() {
            if let Some(done) = acc.add(BarValues {
                time_millis: bar.time_millis(),
                open: bar.open(),
                high: bar.high(),
                low: bar.low(),
                close: bar.close(),
                volume: bar.volume(),
            }) {
                out.push_values(done);
            }
        }
        if let Some(done) = acc.finish() {
            out.push_values(done);
        }
        Ok(Self::trusted(self.symbol.clone(), grid, out).with_forming(self.forming))
    }
}
