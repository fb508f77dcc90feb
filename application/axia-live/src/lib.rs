//! Live market data: a price stream's quotes become bars.
//!
//! [`QuotesToBars`] is the core of the live feed, with no I/O: one call per quote updates the
//! forming bar of every configured timeframe of its instrument, on the instrument's grid (its
//! daily alignment: UTC midnight or the New York close) and within its trading hours, from the
//! configured price component (mid by default), counting quotes as tick volume. A bar closes
//! when the first quote of the next period arrives, or when the timer passes its end
//! ([`QuotesToBars::close_until`]), whichever comes first; the next bar opens at the next
//! accepted quote (a period without quotes has no bar).
//!
//! **Which quotes are dropped** (each counted by [`QuoteDrop`] reason, none ever written):
//!
//! | reason | rule |
//! |---|---|
//! | `unconfigured` | the instrument is not one of the feed's |
//! | `invalid` | a bid or ask that is not a positive number |
//! | `crossed` | bid above ask |
//! | `duplicate` | the same time, bid and ask as the instrument's last accepted quote |
//! | `stale` | a time not after the last accepted quote's (out of order, or a reconnect's snapshot) |
//! | `market_closed` | outside the instrument's trading hours (its calendar) |
//! | `late` | the bar of its time has already been closed by the timer |
//! | `outlier` | further from the median of the recent accepted prices than the [`OutlierRule`] allows, unless the quotes before it confirm a new level (the recent prices start over at each session's open) |
//!
//! Quotes are ordered by the source's time, never by arrival.

mod bars;
mod feed;
mod reconcile;
mod shared;

pub use bars::{
    BarChange, LiveBarsConfig, OutlierRule, QuoteCounts, QuoteDrop, QuotesToBars, SeriesId,
};
pub use feed::{FeedCounters, FeedError, FeedSettings, LiveFeed};
pub use shared::{FeedFactory, SharedFeed};
