//! [`Bar`]: one OHLCV candle.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The earliest bar open time accepted: 1900-01-01T00:00:00Z, in epoch milliseconds.
pub const MIN_TIME_MILLIS: i64 = -2_208_988_800_000;
/// The first bar open time refused: 2200-01-01T00:00:00Z, in epoch milliseconds.
pub const MAX_TIME_MILLIS: i64 = 7_258_118_400_000;

/// One OHLCV candle.
///
/// Its timestamp is the bar's **open** time, in UTC: the H1 bar stamped 10:00 covers
/// `[10:00, 11:00)`. Prices are finite and `> 0`, `low <= min(open, close) <= max(open, close)
/// <= high`, and the volume is finite and `>= 0`; [`Bar::new`] refuses anything else.
///
/// ```
/// use axia_domain::Bar;
/// use chrono::{TimeZone, Utc};
///
/// let t = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
/// let bar = Bar::new(t, 150.10, 150.40, 149.90, 150.20, 1234.0)?;
/// assert_eq!(bar.time(), t);
/// assert!(Bar::new(t, 150.10, 149.0, 149.90, 150.20, 1.0).is_err()); // high below low
/// assert!(Bar::new(t, f64::NAN, 150.4, 149.9, 150.2, 1.0).is_err());
/// # Ok::<(), axia_domain::BarError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawBarFields")]
pub struct Bar {
    time: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

#[derive(Deserialize)]
struct RawBarFields {
    time: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

impl TryFrom<RawBarFields> for Bar {
    type Error = BarError;
    fn try_from(r: RawBarFields) -> Result<Self, Self::Error> {
        Self::new(r.time, r.open, r.high, r.low, r.close, r.volume)
    }
}

/// A column of a bar, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The open time.
    Time,
    /// The open price.
    Open,
    /// The high price.
    High,
    /// The low price.
    Low,
    /// The close price.
    Close,
    /// The volume.
    Volume,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Time => "time",
            Self::Open => "open",
            Self::High => "high",
            Self::Low => "low",
            Self::Close => "close",
            Self::Volume => "volume",
        })
    }
}

/// Why values do not make a [`Bar`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BarError {
    /// A value is NaN or infinite.
    #[error("{field} is not a finite number")]
    NotFinite {
        /// The column.
        field: Field,
    },
    /// A price is zero or negative.
    #[error("{field} price {value} is not above zero")]
    NonPositivePrice {
        /// The column.
        field: Field,
        /// The value.
        value: f64,
    },
    /// The prices break `low <= min(open, close) <= max(open, close) <= high`.
    #[error("prices are inconsistent: open {open}, high {high}, low {low}, close {close}")]
    Inconsistent {
        /// Open.
        open: f64,
        /// High.
        high: f64,
        /// Low.
        low: f64,
        /// Close.
        close: f64,
    },
    /// The volume is negative.
    #[error("volume {0} is negative")]
    NegativeVolume(f64),
    /// The open time is outside 1900-01-01 .. 2200-01-01.
    #[error("open time {0} ms is outside 1900-01-01 .. 2200-01-01")]
    TimeOutOfRange(i64),
}

/// Checks the value invariants of one bar.
pub(crate) fn check_values(
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
) -> Result<(), BarError> {
    for (field, v) in [
        (Field::Open, open),
        (Field::High, high),
        (Field::Low, low),
        (Field::Close, close),
        (Field::Volume, volume),
    ] {
        if !v.is_finite() {
            return Err(BarError::NotFinite { field });
        }
        if field != Field::Volume && v <= 0.0 {
            return Err(BarError::NonPositivePrice { field, value: v });
        }
    }
    if !(low <= open.min(close) && open.max(close) <= high) {
        return Err(BarError::Inconsistent {
            open,
            high,
            low,
            close,
        });
    }
    if volume < 0.0 {
        return Err(BarError::NegativeVolume(volume));
    }
    Ok(())
}

/// Checks a bar open time is inside the supported range.
pub(crate) fn check_time(ms: i64) -> Result<(), BarError> {
    if (MIN_TIME_MILLIS..MAX_TIME_MILLIS).contains(&ms) {
        Ok(())
    } else {
        Err(BarError::TimeOutOfRange(ms))
    }
}

/// Epoch milliseconds to a UTC time, for values already checked by [`check_time`].
pub(crate) fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

impl Bar {
    /// A bar that opens at `time`.
    ///
    /// # Errors
    /// [`BarError`] when a value breaks the invariants above.
    pub fn new(
        time: DateTime<Utc>,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<Self, BarError> {
        check_time(time.timestamp_millis())?;
        check_values(open, high, low, close, volume)?;
        Ok(Self {
            time,
            open,
            high,
            low,
            close,
            volume,
        })
    }

    /// Builds a bar from values the caller has already checked (a valid frame's columns).
    pub(crate) fn from_parts(
        ms: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Self {
        Self {
            time: millis_to_time(ms),
            open,
            high,
            low,
            close,
            volume,
        }
    }

    /// The open time (UTC).
    #[must_use]
    pub const fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// The open time in epoch milliseconds.
    #[must_use]
    pub fn time_millis(&self) -> i64 {
        self.time.timestamp_millis()
    }

    /// The first price.
    #[must_use]
    pub const fn open(&self) -> f64 {
        self.open
    }

    /// The highest price.
    #[must_use]
    pub const fn high(&self) -> f64 {
        self.high
    }

    /// The lowest price.
    #[must_use]
    pub const fn low(&self) -> f64 {
        self.low
    }

    /// The last price.
    #[must_use]
    pub const fn close(&self) -> f64 {
        self.close
    }

    /// The traded volume (tick volume for FX).
    #[must_use]
    pub const fn volume(&self) -> f64 {
        self.volume
    }
}
