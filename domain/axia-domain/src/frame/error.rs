//! [`FrameError`].

use crate::bar::BarError;
use crate::{DailyAlignment, Symbol, Timeframe};

/// Why columns or bars do not make an [`OhlcvFrame`](crate::OhlcvFrame), or why an operation
/// on frames is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The columns differ in length.
    #[error(
        "columns differ in length: {timestamps} timestamps, {open} open, {high} high, {low} low, {close} close, {volume} volume"
    )]
    LengthMismatch {
        /// Timestamps.
        timestamps: usize,
        /// Open.
        open: usize,
        /// High.
        high: usize,
        /// Low.
        low: usize,
        /// Close.
        close: usize,
        /// Volume.
        volume: usize,
    },
    /// The bar at `index` has bad values.
    #[error("bar {index} ({time_millis} ms): {source}")]
    InvalidBar {
        /// Its position.
        index: usize,
        /// Its open time.
        time_millis: i64,
        /// What is wrong.
        #[source]
        source: BarError,
    },
    /// The timestamp at `index` is not after the one before it.
    #[error(
        "bar {index}: timestamp {time_millis} ms is not after the previous one ({previous_millis} ms)"
    )]
    NotIncreasing {
        /// Its position.
        index: usize,
        /// Its timestamp.
        time_millis: i64,
        /// The timestamp before it.
        previous_millis: i64,
    },
    /// The timestamp at `index` is not a bar open time of the frame's timeframe.
    #[error("bar {index}: timestamp {time_millis} ms is not aligned to {timeframe}")]
    Misaligned {
        /// Its position.
        index: usize,
        /// Its timestamp.
        time_millis: i64,
        /// The frame's timeframe.
        timeframe: Timeframe,
    },
    /// Two frames of one series whose daily bars start at different times were combined.
    #[error("frames of {symbol} {timeframe} differ in alignment: {left} vs {right}")]
    AlignmentMismatch {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
        /// The receiver's alignment.
        left: DailyAlignment,
        /// The argument's alignment.
        right: DailyAlignment,
    },
    /// Two frames of different series were combined.
    #[error("frames differ: {left_symbol} {left_timeframe} vs {right_symbol} {right_timeframe}")]
    SeriesMismatch {
        /// The receiver's symbol.
        left_symbol: Symbol,
        /// The receiver's timeframe.
        left_timeframe: Timeframe,
        /// The argument's symbol.
        right_symbol: Symbol,
        /// The argument's timeframe.
        right_timeframe: Timeframe,
    },
    /// A resample to a timeframe that the source's bars do not fit into.
    #[error("cannot resample {from} to {to}")]
    IncompatibleResample {
        /// The frame's timeframe.
        from: Timeframe,
        /// The target.
        to: Timeframe,
    },
}
