//! Use-case tests of collect with mockall mocks asserting the calls and their order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::sync::Arc;
use std::time::Duration;

use axia_collect::{Collect, CollectPlan, TaskStatus, lookback};
use axia_domain::{
    Bar, DropReason, DroppedBar, FetchedBars, ManualClock, MarketDataError, MockMarketData,
    MockOhlcvStore, OhlcvFrame, StoreError, Symbol, Timeframe, ValidationReport,
};
use chrono::{DateTime, TimeZone, Utc};
use mockall::Sequence;
use mockall::predicate::{always, eq, function};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

fn frame(symbol: &Symbol, tf: Timeframe, n: usize) -> OhlcvFrame {
    let mut t = tf.floor(now());
    let mut bars = Vec::new();
    for _ in 0..n {
        bars.push(Bar::new(t, 1.0, 1.1, 0.9, 1.05, 3.0).unwrap());
        t = tf.floor(t - chrono::Duration::milliseconds(1));
    }
    bars.reverse();
    OhlcvFrame::from_bars(symbol.clone(), tf, bars).unwrap()
}

fn fetched(f: OhlcvFrame, dropped: usize) -> FetchedBars {
    let n = f.len();
    FetchedBars {
        frame: f,
        report: ValidationReport {
            received: n + dropped,
            kept: n,
            dropped: (0..dropped)
                .map(|i| DroppedBar {
                    index: i,
                    time_millis: 0,
                    reason: DropReason::MissingValue,
                })
                .collect(),
        },
    }
}

fn plan(symbols: &[&str], tfs: &[Timeframe]) -> CollectPlan {
    let mut p = CollectPlan::new(symbols.iter().map(|s| sym(s)).collect(), tfs.to_vec());
    p.backoff = Duration::from_millis(1);
    p
}

fn collect(
    source: MockMarketData,
    archive: MockOhlcvStore,
    hot: Option<MockOhlcvStore>,
) -> Collect {
    Collect::new(
        Arc::new(source),
        Arc::new(archive),
        hot.map(|h| Arc::new(h) as Arc<dyn axia_domain::OhlcvStore>),
        Arc::new(ManualClock::new(now())),
    )
}

#[test]
fn lookback_reaches_the_current_coarse_bar() {
    let day = chrono::Duration::hours(24);
    assert_eq!(lookback(day, Timeframe::M1), day);
    assert_eq!(lookback(day, Timeframe::W1), chrono::Duration::days(7));
    assert_eq!(lookback(day, Timeframe::MN1), chrono::Duration::days(31));
}

#[tokio::test]
async fn archives_before_caching_each_task() {
    let f = frame(&sym("USDJPY"), Timeframe::H1, 24);
    let mut seq = Sequence::new();
    let mut source = MockMarketData::new();
    let f1 = f.clone();
    source
        .expect_bars()
        .times(1)
        .in_sequence(&mut seq)
        .with(
            eq(sym("USDJPY")),
            eq(Timeframe::H1),
            function(|r: &axia_domain::TimeRange| {
                r.end() > now() && r.duration() >= chrono::Duration::hours(24)
            }),
        )
        .returning(move |_, _, _| Ok(fetched(f1.clone(), 2)));
    let mut archive = MockOhlcvStore::new();
    archive
        .expect_save()
        .times(1)
        .in_sequence(&mut seq)
        .with(eq(f.clone()))
        .returning(|_| Ok(()));
    let mut hot = MockOhlcvStore::new();
    hot.expect_save()
        .times(1)
        .in_sequence(&mut seq)
        .with(eq(f.clone()))
        .returning(|_| Ok(()));
    let report = collect(source, archive, Some(hot))
        .run(&plan(&["USDJPY"], &[Timeframe::H1]))
        .await;
    let t = &report.tasks[0];
    assert_eq!(
        (t.status, t.fetched, t.stored, t.rejected, t.attempts),
        (TaskStatus::Ok, 24, 24, 2, 1)
    );
    assert_eq!(t.error, None);
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let f = frame(&sym("EURUSD"), Timeframe::M5, 10);
    let mut seq = Sequence::new();
    let mut source = MockMarketData::new();
    source
        .expect_bars()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(MarketDataError::Unavailable("refused".into())));
    let f1 = f.clone();
    source
        .expect_bars()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| Ok(fetched(f1.clone(), 0)));
    let mut archive = MockOhlcvStore::new();
    // The archive fails once too: the whole task is tried again from the fetch.
    archive
        .expect_save()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(StoreError::Timeout(Duration::from_secs(1))));
    let f2 = f.clone();
    source
        .expect_bars()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| Ok(fetched(f2.clone(), 0)));
    archive
        .expect_save()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    let mut p = plan(&["EURUSD"], &[Timeframe::M5]);
    p.retries = 3;
    let report = collect(source, archive, None).run(&p).await;
    let t = &report.tasks[0];
    assert_eq!((t.status, t.attempts, t.stored), (TaskStatus::Ok, 4, 10));
}

#[tokio::test]
async fn permanent_failures_are_not_retried_and_failed_archives_skip_the_cache() {
    let mut source = MockMarketData::new();
    source
        .expect_bars()
        .with(eq(sym("NOSUCH")), always(), always())
        .times(1)
        .returning(|s, _, _| Err(MarketDataError::SymbolNotFound(s.clone())));
    let good = frame(&sym("USDJPY"), Timeframe::H1, 5);
    let g = good.clone();
    source
        .expect_bars()
        .with(eq(sym("USDJPY")), always(), always())
        .times(3)
        .returning(move |_, _, _| Ok(fetched(g.clone(), 0)));
    let mut archive = MockOhlcvStore::new();
    archive
        .expect_save()
        .times(3)
        .returning(|_| Err(StoreError::Unavailable("s3 down".into())));
    let mut hot = MockOhlcvStore::new();
    hot.expect_save().never();
    let mut p = plan(&["NOSUCH", "USDJPY"], &[Timeframe::H1]);
    p.retries = 2;
    let report = collect(source, archive, Some(hot)).run(&p).await;
    assert_eq!(report.failed(), 2);
    assert_eq!(report.tasks[0].attempts, 1);
    assert!(report.tasks[0].error.as_deref().unwrap().contains("NOSUCH"));
    assert_eq!(report.tasks[1].attempts, 3);
    assert!(
        report.tasks[1]
            .error
            .as_deref()
            .unwrap()
            .starts_with("archive:")
    );
}

#[tokio::test]
async fn partial_success_and_no_data_are_reported_per_task() {
    let mut source = MockMarketData::new();
    source
        .expect_bars()
        .with(eq(sym("USDJPY")), always(), always())
        .returning(|s, tf, _| Ok(fetched(frame(s, tf, 3), 0)));
    source
        .expect_bars()
        .with(eq(sym("EURUSD")), always(), always())
        .returning(|_, _, _| Err(MarketDataError::Unsupported("no".into())));
    source
        .expect_bars()
        .with(eq(sym("GBPUSD")), always(), always())
        .returning(|_, _, r| Err(MarketDataError::NoData(r)));
    let mut archive = MockOhlcvStore::new();
    archive.expect_save().times(9).returning(|_| Ok(()));
    let report = collect(source, archive, None)
        .run(&plan(&["USDJPY", "EURUSD", "GBPUSD"], &Timeframe::ALL))
        .await;
    assert_eq!(report.tasks.len(), 27);
    let status = |s: &str| {
        report
            .tasks
            .iter()
            .filter(|t| t.symbol == sym(s))
            .map(|t| t.status)
            .collect::<Vec<_>>()
    };
    assert!(status("USDJPY").iter().all(|s| *s == TaskStatus::Ok));
    assert!(status("EURUSD").iter().all(|s| *s == TaskStatus::Failed));
    assert!(status("GBPUSD").iter().all(|s| *s == TaskStatus::NoData));
    assert_eq!((report.succeeded(), report.failed()), (18, 9));
    // Plan order is kept whatever order tasks finish in.
    assert_eq!(report.tasks[0].timeframe, Timeframe::M1);
    assert_eq!(report.tasks[9].symbol, sym("EURUSD"));
}
