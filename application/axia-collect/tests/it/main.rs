//! Use-case tests of collect with mockall mocks asserting the calls and their order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::time::Duration;

use axia_collect::{Collect, CollectPlan, TaskStatus, catch_up_window, lookback};
use axia_domain::{
    ArchiveRead, Bar, DamagedPartition, DropReason, DroppedBar, FetchedBars, ManualClock,
    MarketDataError, MockBarArchive, MockMarketData, MockOhlcvStore, NewestBar, OhlcvFrame,
    QuarantinedFile, SourceLimits, StoreError, Symbol, TimeRange, Timeframe, ValidationReport,
};
use chrono::{DateTime, TimeZone, Utc};
use mockall::Sequence;
use mockall::predicate::{always, eq, function};
use proptest::prelude::*;

/// Wednesday 2026-03-04 12:30 UTC: the H1 bar of 12:00 is forming.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 30, 0).unwrap()
}

fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

/// `n` bars of `tf` up to the one forming at now, labelled as the source labels them.
fn frame(symbol: &Symbol, tf: Timeframe, n: usize) -> OhlcvFrame {
    let mut t = tf.floor(now());
    let mut bars = Vec::new();
    for _ in 0..n {
        bars.push(Bar::new(t, 1.0, 1.1, 0.9, 1.05, 3.0).unwrap());
        t = tf.prev_open(t);
    }
    bars.reverse();
    OhlcvFrame::from_bars(symbol.clone(), tf, bars)
        .unwrap()
        .with_forming_at(now())
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
    p.backoff = axia_domain::Backoff::new(Duration::from_millis(1), Duration::from_millis(1));
    p
}

fn unlimited(source: &mut MockMarketData) {
    source.expect_limits().return_const(SourceLimits::UNLIMITED);
}

fn newest_at(archive: &mut MockBarArchive, open: Option<DateTime<Utc>>) {
    archive.expect_newest().returning(move |_, _| {
        Ok(NewestBar {
            open,
            damaged: vec![],
        })
    });
}

fn collect(
    source: MockMarketData,
    archive: MockBarArchive,
    hot: Option<MockOhlcvStore>,
) -> Collect {
    let c = Collect::new(source, archive).clock(ManualClock::new(now()));
    match hot {
        Some(h) => c.hot_cache(h),
        None => c,
    }
}

#[test]
fn lookback_reaches_the_current_coarse_bar() {
    let day = chrono::Duration::hours(24);
    assert_eq!(lookback(day, Timeframe::M1), day);
    assert_eq!(lookback(day, Timeframe::W1), chrono::Duration::days(7));
    assert_eq!(lookback(day, Timeframe::MN1), chrono::Duration::days(31));
}

#[tokio::test]
async fn closed_bars_are_archived_before_the_forming_one_is_cached() {
    let f = frame(&sym("USDJPY"), Timeframe::H1, 30);
    assert!(f.forming().is_some());
    let mut seq = Sequence::new();
    let mut source = MockMarketData::new();
    unlimited(&mut source);
    let mut archive = MockBarArchive::new();
    // The archive's newest bar is 6 hours old: the window reaches back past it (one bar of
    // overlap), and at least the 24 h lookback.
    let newest = now() - chrono::Duration::hours(6) - chrono::Duration::minutes(30);
    archive
        .expect_newest()
        .times(1)
        .in_sequence(&mut seq)
        .with(eq(sym("USDJPY")), eq(Timeframe::H1))
        .returning(move |_, _| {
            Ok(NewestBar {
                open: Some(newest),
                damaged: vec![],
            })
        });
    let f1 = f.clone();
    source
        .expect_bars()
        .times(1)
        .in_sequence(&mut seq)
        .with(
            eq(sym("USDJPY")),
            eq(Timeframe::H1),
            function(|r: &TimeRange| {
                r.end() > now() && r.start() == now() - chrono::Duration::hours(24)
            }),
        )
        .returning(move |_, _, _| Ok(fetched(f1.clone(), 2)));
    archive
        .expect_save()
        .times(1)
        .in_sequence(&mut seq)
        .with(eq(f.closed()))
        .returning(|_| Ok(()));
    let mut hot = MockOhlcvStore::new();
    let recent = f.keep_since(now() - chrono::Duration::hours(24));
    hot.expect_save()
        .times(1)
        .in_sequence(&mut seq)
        .with(eq(recent.clone()))
        .returning(|_| Ok(()));
    let report = collect(source, archive, Some(hot))
        .run(&plan(&["USDJPY"], &[Timeframe::H1]))
        .await;
    let t = &report.tasks[0];
    assert_eq!(
        (
            t.status, t.fetched, t.archived, t.cached, t.rejected, t.attempts
        ),
        (TaskStatus::Ok, 30, 29, recent.len(), 2, 1)
    );
    assert_eq!(t.forming, Some(Timeframe::H1.floor(now())));
    assert_eq!(t.newest_archived, Some(newest));
    assert_eq!((t.error.as_deref(), t.warning.as_deref()), (None, None));
    assert_eq!(report.exit_code(), 0);
}

#[tokio::test]
async fn a_run_catches_up_from_the_newest_archived_bar() {
    // Missed runs: the archive's newest M5 bar is 5 days old.
    let newest = Timeframe::M5.floor(now() - chrono::Duration::days(5));
    let mut source = MockMarketData::new();
    unlimited(&mut source);
    source
        .expect_bars()
        .times(1)
        .with(
            always(),
            eq(Timeframe::M5),
            function(move |r: &TimeRange| r.start() == newest - chrono::Duration::minutes(5)),
        )
        .returning(|s, tf, _| Ok(fetched(frame(s, tf, 12 * 24 * 5), 0)));
    let mut archive = MockBarArchive::new();
    newest_at(&mut archive, Some(newest));
    archive.expect_save().times(1).returning(|_| Ok(()));
    let report = collect(source, archive, None)
        .run(&plan(&["EURUSD"], &[Timeframe::M5]))
        .await;
    assert_eq!(report.tasks[0].status, TaskStatus::Ok);
    assert!(report.tasks[0].unreachable.is_empty());
}

#[tokio::test]
async fn what_the_source_cannot_reach_is_reported() {
    // A new series, and a source that serves 1m bars for 30 days only.
    let mut source = MockMarketData::new();
    source.expect_limits().return_const(SourceLimits {
        reach: Some(chrono::Duration::days(30)),
        max_span: Some(chrono::Duration::days(7)),
    });
    source
        .expect_bars()
        .times(1)
        .with(
            always(),
            always(),
            function(|r: &TimeRange| r.start() == now() - chrono::Duration::days(30)),
        )
        .returning(|s, tf, _| Ok(fetched(frame(s, tf, 10), 0)));
    let mut archive = MockBarArchive::new();
    newest_at(&mut archive, None);
    archive.expect_save().times(1).returning(|_| Ok(()));
    let mut p = plan(&["AAPL"], &[Timeframe::M1]);
    p.catch_up = chrono::Duration::days(40);
    let report = collect(source, archive, None).run(&p).await;
    let t = &report.tasks[0];
    assert_eq!(t.status, TaskStatus::Ok);
    assert_eq!(
        t.unreachable,
        [TimeRange::new(
            now() - chrono::Duration::days(40),
            now() - chrono::Duration::days(30)
        )
        .unwrap()]
    );
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let f = frame(&sym("EURUSD"), Timeframe::M5, 10);
    let mut seq = Sequence::new();
    let mut source = MockMarketData::new();
    unlimited(&mut source);
    let mut archive = MockBarArchive::new();
    newest_at(&mut archive, None);
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
    assert_eq!((t.status, t.attempts, t.archived), (TaskStatus::Ok, 4, 9));
}

#[tokio::test]
async fn permanent_failures_are_not_retried_and_failed_archives_skip_the_cache() {
    let mut source = MockMarketData::new();
    unlimited(&mut source);
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
    let mut archive = MockBarArchive::new();
    newest_at(&mut archive, None);
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
    assert_eq!(report.exit_code(), 2);
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
async fn a_cache_failure_after_the_archive_is_degraded_not_failed() {
    let mut source = MockMarketData::new();
    unlimited(&mut source);
    source
        .expect_bars()
        .times(2)
        .returning(|s, tf, _| Ok(fetched(frame(s, tf, 5), 0)));
    let mut archive = MockBarArchive::new();
    newest_at(&mut archive, None);
    archive.expect_save().times(2).returning(|_| Ok(()));
    let mut hot = MockOhlcvStore::new();
    hot.expect_save()
        .times(2)
        .returning(|_| Err(StoreError::Unavailable("redis down".into())));
    let report = collect(source, archive, Some(hot))
        .run(&plan(&["USDJPY", "EURUSD"], &[Timeframe::H1]))
        .await;
    for t in &report.tasks {
        assert_eq!(
            (t.status, t.archived, t.cached),
            (TaskStatus::Degraded, 4, 0)
        );
        assert!(t.warning.as_deref().unwrap().contains("redis down"));
        assert_eq!(t.attempts, 1, "the archived data is not fetched again");
    }
    assert_eq!(
        (report.succeeded(), report.degraded(), report.failed()),
        (2, 2, 0)
    );
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn a_damaged_partition_in_the_way_is_quarantined_and_rebuilt() {
    let sym_ = sym("GBPUSD");
    let day = TimeRange::new(
        Timeframe::D1.floor(now()) - chrono::Duration::days(1),
        Timeframe::D1.floor(now()),
    )
    .unwrap();
    let damaged = DamagedPartition {
        object: "archive/ohlcv/symbol=GBPUSD/timeframe=M15/2026-03-03.parquet".into(),
        range: day,
        reason: "not parquet".into(),
    };
    let mut seq = Sequence::new();
    let mut source = MockMarketData::new();
    unlimited(&mut source);
    let mut archive = MockBarArchive::new();
    newest_at(&mut archive, Some(now() - chrono::Duration::hours(2)));
    source
        .expect_bars()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|s, tf, _| Ok(fetched(frame(s, tf, 96), 0)));
    archive
        .expect_save()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            Err(StoreError::Corrupt {
                location: "x".into(),
                detail: "not parquet".into(),
            })
        });
    let d = damaged.clone();
    archive
        .expect_read()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |s, tf, _| {
            Ok(ArchiveRead {
                frame: OhlcvFrame::empty(s.clone(), tf),
                damaged: vec![d.clone()],
            })
        });
    archive
        .expect_quarantine()
        .times(1)
        .in_sequence(&mut seq)
        .with(eq(damaged.clone()), eq(now()))
        .returning(|d, t| {
            Ok(QuarantinedFile {
                object: format!("{}.damaged", d.object),
                original: d.object.clone(),
                found_at: t,
                bytes: 1000,
            })
        });
    // The partition's whole day is fetched again and saved, then the run's bars.
    source
        .expect_bars()
        .times(1)
        .in_sequence(&mut seq)
        .with(eq(sym_.clone()), eq(Timeframe::M15), eq(day))
        .returning(|s, tf, r| {
            let bars: Vec<_> = frame(s, tf, 200)
                .iter()
                .filter(|b| r.contains(b.time()))
                .collect();
            Ok(fetched(
                OhlcvFrame::from_bars(s.clone(), tf, bars).unwrap(),
                0,
            ))
        });
    archive
        .expect_save()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    let report = collect(source, archive, None)
        .run(&plan(&["GBPUSD"], &[Timeframe::M15]))
        .await;
    let t = &report.tasks[0];
    assert_eq!(t.status, TaskStatus::Ok, "{:?}", t.error);
    assert_eq!(t.quarantined.len(), 1);
    assert_eq!(t.quarantined[0].original, damaged.object);
}

#[tokio::test]
async fn a_damaged_newest_partition_is_moved_aside_before_the_window_is_chosen() {
    let damaged = DamagedPartition {
        object: "ohlcv/symbol=USDJPY/timeframe=H4/2026-03.parquet".into(),
        range: TimeRange::new(Timeframe::MN1.floor(now()), Timeframe::MN1.next_open(now()))
            .unwrap(),
        reason: "truncated".into(),
    };
    let mut archive = MockBarArchive::new();
    let older = Timeframe::MN1.floor(now()) - chrono::Duration::hours(4);
    let d = damaged.clone();
    archive.expect_newest().times(1).returning(move |_, _| {
        Ok(NewestBar {
            open: Some(older),
            damaged: vec![d.clone()],
        })
    });
    archive
        .expect_quarantine()
        .times(1)
        .with(eq(damaged), always())
        .returning(|d, t| {
            Ok(QuarantinedFile {
                object: "q".into(),
                original: d.object.clone(),
                found_at: t,
                bytes: 0,
            })
        });
    let mut source = MockMarketData::new();
    unlimited(&mut source);
    // The window reaches back past the damaged month, so this one fetch rebuilds it.
    source
        .expect_bars()
        .times(1)
        .with(
            always(),
            always(),
            function(move |r: &TimeRange| r.start() <= older),
        )
        .returning(|s, tf, _| Ok(fetched(frame(s, tf, 30), 0)));
    archive.expect_save().times(1).returning(|_| Ok(()));
    let report = collect(source, archive, None)
        .run(&plan(&["USDJPY"], &[Timeframe::H4]))
        .await;
    assert_eq!(report.tasks[0].status, TaskStatus::Ok);
    assert_eq!(report.tasks[0].quarantined.len(), 1);
}

#[tokio::test]
async fn partial_success_and_no_data_are_reported_per_task() {
    let mut source = MockMarketData::new();
    unlimited(&mut source);
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
    let mut archive = MockBarArchive::new();
    newest_at(&mut archive, None);
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
    assert_eq!(report.exit_code(), 1);
    // Plan order is kept whatever order tasks finish in.
    assert_eq!(report.tasks[0].timeframe, Timeframe::M1);
    assert_eq!(report.tasks[9].symbol, sym("EURUSD"));
}

fn any_tf() -> impl Strategy<Value = Timeframe> {
    proptest::sample::select(Timeframe::ALL.to_vec())
}

proptest! {
    /// Whatever the archive holds and the source reaches, the window ends at now, covers the
    /// lookback where the source reaches it, leaves no hole behind the newest archived bar
    /// within reach, and says exactly what it cannot reach.
    #[test]
    fn the_catch_up_window_leaves_no_silent_hole(
        tf in any_tf(),
        age_min in proptest::option::of(0i64..200_000),
        reach_days in proptest::option::of(1i64..90),
        catch_up_days in 1i64..60,
        overlap in 0u32..4,
    ) {
        let mut p = plan(&["USDJPY"], &[tf]);
        p.catch_up = chrono::Duration::days(catch_up_days);
        p.overlap = overlap;
        let newest = age_min.map(|m| tf.floor(now() - chrono::Duration::minutes(m)));
        let limits = SourceLimits { reach: reach_days.map(chrono::Duration::days), max_span: None };
        let w = catch_up_window(&p, tf, now(), newest, limits);
        prop_assert_eq!(w.fetch.end(), now() + chrono::Duration::milliseconds(1));
        let earliest = limits.earliest(now());
        let horizon = now() - p.catch_up.max(lookback(p.lookback, tf)).max(chrono::Duration::milliseconds(2 * tf.max_millis()));
        let floor = earliest.map_or(horizon, |e| e.max(horizon));
        // Never less than the lookback, where reachable.
        prop_assert!(w.fetch.start() <= (now() - lookback(p.lookback, tf)).max(floor));
        // The first missing bar is fetched, or reported unreachable (the part before the window).
        let first_missing = newest.map_or(tf.ceil(horizon), |t| tf.next_open(t));
        if first_missing < w.fetch.start() {
            let u = w.unreachable.expect("a hole behind the window is reported");
            prop_assert_eq!(u.start(), first_missing);
            // ... up to where the window starts: nothing in between is silently skipped.
            prop_assert_eq!(u.end(), w.fetch.start());
            prop_assert_eq!(w.fetch.start(), floor);
        } else {
            prop_assert!(w.fetch.start() <= first_missing);
        }
        // The overlap: archived bars fetched again.
        if let Some(t) = newest && overlap > 0 && t >= floor + chrono::Duration::milliseconds(tf.max_millis() * i64::from(overlap)) {
            prop_assert!(w.fetch.start() < t);
        }
    }
}

#[test]
fn a_plan_in_json_holds_durations_as_milliseconds() {
    let plan = CollectPlan::new(vec!["USDJPY".parse().unwrap()], vec![Timeframe::H1]);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["lookback_ms"], 86_400_000);
    assert_eq!(json["catch_up_ms"], 31 * 86_400_000_i64);
    assert_eq!(
        json["backoff"],
        serde_json::json!({"base_ms": 200, "max_ms": 10_000})
    );
    assert!(!json.to_string().contains("secs"), "{json}");
    let back: CollectPlan = serde_json::from_value(json).unwrap();
    assert_eq!(back, plan);
}
