//! The [`MarketData`] contract.
//!
//! ```text
//! axia_testkit::market_data_contract!(simulated, || async {
//!     axia_testkit::market_data::Subject::new(Arc::new(broker), "USDJPY".parse().unwrap(), now)
//! });
//! ```
//!
//! The subject's `now` must be a weekday with the FX market open for the 24 hours before it.

use std::sync::Arc;

use axia_domain::{MarketData, MarketDataError, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Duration, Utc};

/// A source under test, a symbol it serves, and the time its clock shows.
pub struct Subject {
    /// The source.
    pub source: Arc<dyn MarketData>,
    /// A symbol it has bars for.
    pub symbol: Symbol,
    /// Its clock's now.
    pub now: DateTime<Utc>,
    /// Whatever must live as long as the test (a fake server).
    pub guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Subject {
    /// A subject.
    pub fn new(source: Arc<dyn MarketData>, symbol: Symbol, now: DateTime<Utc>) -> Self {
        Self {
            source,
            symbol,
            now,
            guard: None,
        }
    }

    /// Keeps `guard` alive for the test.
    #[must_use]
    pub fn with_guard(mut self, guard: impl std::any::Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

/// Every timeframe answers with a frame of the requested series whose bars open inside the
/// range and not after now, or with `NoData` when no bar opens in the range; the report covers
/// at least the bars returned.
pub async fn bars_are_of_the_series_and_inside_the_range(s: Subject) {
    let range = TimeRange::new(s.now - Duration::hours(20), s.now - Duration::hours(2)).unwrap();
    for tf in Timeframe::ALL {
        let got = match s.source.bars(&s.symbol, tf, range).await {
            Ok(got) => got,
            // No W1 or MN1 bar opens in these 18 hours of a Wednesday.
            Err(MarketDataError::NoData(r)) if matches!(tf, Timeframe::W1 | Timeframe::MN1) => {
                assert_eq!(r, range);
                continue;
            }
            Err(e) => panic!("{tf}: {e}"),
        };
        assert_eq!(got.frame.symbol(), &s.symbol, "{tf}");
        assert_eq!(got.frame.timeframe(), tf);
        assert!(
            got.frame
                .iter()
                .all(|b| range.contains(b.time()) && b.time() <= s.now),
            "{tf}"
        );
        assert!(
            got.frame.len() <= got.report.kept,
            "{tf}: report {:?}",
            got.report
        );
        assert_eq!(
            got.report.kept + got.report.dropped.len(),
            got.report.received,
            "{tf}"
        );
    }
}

/// Intraday bars of an open market come back: M1 over the last hours is nearly complete.
pub async fn an_open_market_gives_bars(s: Subject) {
    let range = TimeRange::new(s.now - Duration::hours(3), s.now - Duration::hours(1)).unwrap();
    let got = s
        .source
        .bars(&s.symbol, Timeframe::M1, range)
        .await
        .unwrap();
    assert!(
        got.frame.len() >= 100,
        "{} M1 bars in two open hours",
        got.frame.len()
    );
}

/// Overlapping requests agree on the bars both cover.
pub async fn overlapping_requests_agree(s: Subject) {
    let a = TimeRange::new(s.now - Duration::hours(10), s.now - Duration::hours(4)).unwrap();
    let b = TimeRange::new(s.now - Duration::hours(7), s.now - Duration::hours(1)).unwrap();
    for tf in [Timeframe::M5, Timeframe::H1] {
        let fa = s.source.bars(&s.symbol, tf, a).await.unwrap().frame;
        let fb = s.source.bars(&s.symbol, tf, b).await.unwrap().frame;
        let both = a.intersect(&b).unwrap();
        assert_eq!(fa.slice(both), fb.slice(both), "{tf}");
        assert!(!fa.slice(both).is_empty());
    }
}

/// A range in which the market was closed throughout is `NoData`.
pub async fn a_closed_market_is_no_data(s: Subject) {
    // The Saturday before `now` (FX is closed all of it).
    let mut sat = s.now.date_naive();
    while chrono::Datelike::weekday(&sat) != chrono::Weekday::Sat {
        sat = sat.pred_opt().unwrap();
    }
    let start = sat.and_hms_opt(1, 0, 0).unwrap().and_utc();
    let range = TimeRange::new(start, start + Duration::hours(20)).unwrap();
    let err = s
        .source
        .bars(&s.symbol, Timeframe::M5, range)
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketDataError::NoData(r) if r == range),
        "{err:?}"
    );
}

/// The bar that opened at or before now and has not closed is returned labelled forming; every
/// other bar is closed.
///
/// On the series' own grid (the frame's alignment): an FX pair's day opens at the New York
/// close, the evening before.
pub async fn the_forming_bar_is_labelled(s: Subject) {
    let range =
        TimeRange::new(s.now - Duration::days(2), s.now + Duration::milliseconds(1)).unwrap();
    for tf in [Timeframe::M5, Timeframe::H1, Timeframe::D1] {
        let got = s.source.bars(&s.symbol, tf, range).await.unwrap().frame;
        let grid = got.grid();
        assert!(
            got.closed()
                .iter()
                .all(|b| grid.is_closed_at(b.time(), s.now)),
            "{tf}: a bar not labelled forming has not closed"
        );
        let forming = got
            .forming()
            .unwrap_or_else(|| panic!("{tf}: no forming bar in an open market"));
        assert_eq!(forming.time(), grid.floor(s.now), "{tf}");
    }
}

/// An empty range gives no bars and no error.
pub async fn an_empty_range_gives_no_bars(s: Subject) {
    let t = s.now - Duration::hours(5);
    let got = s
        .source
        .bars(&s.symbol, Timeframe::M1, TimeRange::new(t, t).unwrap())
        .await
        .unwrap();
    assert!(got.frame.is_empty());
}

/// Instantiates every check of the [`MarketData`] contract as a `#[tokio::test]` in a module
/// named `$name`, each with a fresh subject from `$factory`.
#[macro_export]
macro_rules! market_data_contract {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::market_data_contract!(@checks $factory;
                bars_are_of_the_series_and_inside_the_range,
                an_open_market_gives_bars,
                overlapping_requests_agree,
                a_closed_market_is_no_data,
                an_empty_range_gives_no_bars,
                the_forming_bar_is_labelled,
            );
        }
    };
    (@checks $factory:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let subject = ($factory)().await;
                $crate::market_data::$check(subject).await;
            }
        )*
    };
}
