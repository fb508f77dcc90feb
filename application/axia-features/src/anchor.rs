//! [`Anchoring`]: where a series' indicators start, so that live values equal recomputed ones.

use axia_domain::Timeframe;
use chrono::Duration;

/// Where the indicators of a series start.
///
/// EMA, RSI, MACD and ATR depend on the bar they were seeded at, so "the RSI at 14:00" is only
/// defined once its first bar is. axia defines it by a grid of **anchors** every `span` from
/// the UNIX epoch: the values at a bar that opens at `t` are those of the indicators fed, in
/// order, every bar that opened from the anchor **one before** the latest anchor at or before
/// `t`, up to that bar. So every value has between one and two spans of history behind it,
/// and the same bars always give the same values: live (the engine feeds two indicator sets,
/// one per anchor, and hands over at each anchor) and recomputed from history
/// ([`FeatureEngine::compute_at`](crate::FeatureEngine::compute_at)) agree exactly.
///
/// The span is `bars` bars of the timeframe (31 days for a month) but at least `min_span`
/// (default 500 bars and 7 days: 7 to 14 days of M1 history, 500 to 1,000 bars of H1). With the
/// standard set (longest period 26) that is far past the point where the starting value stops mattering
/// (TA-Lib's "unstable period"); values still depend on which bars exist, so a series backfilled
/// later recomputes differently before the backfill's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchoring {
    span_ms: i64,
}

impl Anchoring {
    /// Bars per span by default.
    pub const DEFAULT_BARS: u32 = 500;
    /// The shortest span by default, days.
    pub const DEFAULT_MIN_DAYS: i64 = 7;

    /// Anchors every `bars` bars of `timeframe`, spaced at least `min_span` apart (the longer of the two).
    #[must_use]
    pub fn new(timeframe: Timeframe, bars: u32, min_span: Duration) -> Self {
        let span_ms = timeframe
            .max_millis()
            .saturating_mul(i64::from(bars.max(1)))
            .max(min_span.num_milliseconds())
            .max(1);
        Self { span_ms }
    }

    /// The default anchoring of `timeframe`.
    #[must_use]
    pub fn of(timeframe: Timeframe) -> Self {
        Self::new(
            timeframe,
            Self::DEFAULT_BARS,
            Duration::days(Self::DEFAULT_MIN_DAYS),
        )
    }

    /// The span between anchors.
    #[must_use]
    pub fn span(&self) -> Duration {
        Duration::milliseconds(self.span_ms)
    }

    /// The index of the latest anchor at or before `ms`.
    #[must_use]
    pub fn index(&self, ms: i64) -> i64 {
        ms.div_euclid(self.span_ms)
    }

    /// The instant of anchor `index`, epoch milliseconds.
    #[must_use]
    pub fn at(&self, index: i64) -> i64 {
        index.saturating_mul(self.span_ms)
    }

    /// Where the history behind the values of a bar opening at `bar_open_ms` starts.
    #[must_use]
    pub fn start_for(&self, bar_open_ms: i64) -> i64 {
        self.at(self.index(bar_open_ms) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn history_is_one_to_two_spans(ms in 0i64..4_000_000_000_000, tf in 0usize..9) {
            let a = Anchoring::of(Timeframe::ALL[tf]);
            let start = a.start_for(ms);
            prop_assert!(ms - start >= a.span_ms);
            prop_assert!(ms - start < 2 * a.span_ms);
            prop_assert!(a.span() >= Duration::days(7));
        }
    }

    #[test]
    fn the_span_is_bars_or_seven_days() {
        assert_eq!(Anchoring::of(Timeframe::M1).span(), Duration::days(7));
        assert_eq!(Anchoring::of(Timeframe::H1).span(), Duration::hours(500));
        assert_eq!(Anchoring::of(Timeframe::D1).span(), Duration::days(500));
        assert_eq!(
            Anchoring::new(Timeframe::M5, 10, Duration::zero()).span(),
            Duration::minutes(50)
        );
    }
}
