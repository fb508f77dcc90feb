//! The archive is the system of record: after any run schedule it holds exactly the source's
//! closed bars (the simulated broker is deterministic: it is the truth). Backfill, audit and
//! repair, and the provider's write-through, keep it so.

use std::sync::Arc;
use std::time::Duration;

use axia_collect::{Audit, Collect, CollectPlan, TaskStatus, catch_up_window};
use axia_domain::{
    Bar, DailyAlignment, InstrumentRegistry, ManualClock, OhlcvFrame, OhlcvStore, SourceLimits,
    Symbol, TimeRange, Timeframe, UseCase,
};
use axia_memory::MemoryStore;
use axia_parquet::ParquetArchive;
use axia_provider::{OhlcvDataProvider, OhlcvRequest, Window};
use axia_simbroker::{SimulatedBroker, generate};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

const SEED: u64 = 11;

fn symbols() -> Vec<Symbol> {
    // The FX week and an exchange's sessions, UTC midnight; the FX week on the New York close.
    vec![
        "USDJPY".parse().unwrap(),
        "7203.T".parse().unwrap(),
        "EURUSD".parse().unwrap(),
    ]
}

/// The built-in instruments with EURUSD's daily bars on the New York close.
fn registry() -> Arc<InstrumentRegistry> {
    let mut r = InstrumentRegistry::builtin();
    r.insert(
        r.resolve(&"EURUSD".parse().unwrap())
            .with_alignment(DailyAlignment::NewYorkClose),
    );
    Arc::new(r)
}

/// Longer than any schedule below (at most 5 steps of at most 3 days): every miss is within
/// reach. A miss beyond the horizon is the other property below.
fn plan() -> CollectPlan {
    let mut p = CollectPlan::new(symbols(), Timeframe::ALL.to_vec());
    p.catch_up = chrono::Duration::days(16);
    p.backoff = axia_domain::Backoff::new(Duration::from_millis(1), Duration::from_millis(1));
    p.concurrency = 4;
    p
}

fn temp_dir(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "axia-truth-{what}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ))
}

pub(crate) async fn moto_archive(what: &str) -> ParquetArchive {
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let bucket = format!(
        "axia-truth-{what}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    ParquetArchive::s3(client, bucket, "cold")
}

/// One run of a schedule: its instant, and whether it is killed after some milliseconds.
#[derive(Debug, Clone, Copy)]
struct Run {
    at: DateTime<Utc>,
    killed_after_ms: Option<u64>,
}

/// Runs the collector on `archive` at each run's instant.
async fn run_schedule(archive: &ParquetArchive, runs: &[Run]) {
    let clock = Arc::new(ManualClock::new(runs[0].at));
    let reg = registry();
    let source = SimulatedBroker::new(SEED, clock.clone()).instruments(reg.clone());
    let archive = archive.clone().instruments(reg.clone());
    let collect = Collect::new(source, archive)
        .clock(clock.clone())
        .alignment(move |s| reg.resolve(s).alignment());
    for r in runs {
        clock.set(r.at);
        match r.killed_after_ms {
            None => {
                let report = collect.run(&plan()).await;
                assert_eq!(report.failed(), 0, "{report:?}");
            }
            Some(ms) => {
                let _ = tokio::time::timeout(Duration::from_millis(ms), collect.run(&plan())).await;
            }
        }
    }
}

/// After `runs`, every series of the archive is a prefix of the source's closed bars from the
/// first run's window on: no partial bar, no hole, no duplicate; and it reaches at least every
/// bar closed at the last complete run.
async fn assert_archive_is_the_truth(archive: &ParquetArchive, runs: &[Run]) {
    let first = runs[0].at;
    let last_complete = runs
        .iter()
        .rev()
        .find(|r| r.killed_after_ms.is_none())
        .map(|r| r.at)
        .unwrap();
    let last = runs[runs.len() - 1].at;
    let archive = &archive.clone().instruments(registry());
    for sym in symbols() {
        let instrument = registry().resolve(&sym);
        for tf in Timeframe::ALL {
            let grid = tf.aligned(instrument.alignment());
            let start = catch_up_window(&plan(), grid, first, None, SourceLimits::UNLIMITED)
                .fetch
                .start();
            let range = TimeRange::new(start, last + chrono::Duration::days(40)).unwrap();
            let truth = axia_simbroker::generate_for(SEED, &instrument, tf, range, last)
                .unwrap()
                .closed_at(last);
            let held = archive.get(&sym, tf, range).await.unwrap();
            assert_eq!(held.forming(), None);
            assert_eq!(held.alignment(), instrument.alignment(), "{sym} {tf}");
            let n = held.len();
            let expected: Vec<Bar> = truth.iter().take(n).collect();
            let got: Vec<Bar> = held.iter().collect();
            if got != expected {
                let first_diff = got.iter().zip(&expected).position(|(a, b)| a != b);
                panic!(
                    "{sym} {tf}: the archive is not the source's closed bars (first difference at {first_diff:?}; {n} archived, {} closed at the end)\nruns: {runs:?}",
                    truth.len()
                );
            }
            let due = truth.closed_at(last_complete).len();
            assert!(
                n >= due,
                "{sym} {tf}: {n} bars archived, {due} were closed at the last complete run\nruns: {runs:?}"
            );
            // Nothing before the window either.
            let before = TimeRange::new(start - chrono::Duration::days(400), start).unwrap();
            assert!(archive.get(&sym, tf, before).await.unwrap().is_empty());
        }
    }
}

fn schedules() -> impl Strategy<Value = Vec<Run>> {
    // Bases around the March and November 2026 DST changes, and plain weeks.
    let base = prop::sample::select(vec![
        Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 30).unwrap(),
        Utc.with_ymd_and_hms(2026, 10, 29, 23, 17, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 6, 12, 21, 59, 59).unwrap(),
    ]);
    // Steps: the same minute, about an hour, about a day (daily at odd times), days missed.
    let step = prop_oneof![
        (0i64..50).prop_map(chrono::Duration::seconds),
        (40i64..100).prop_map(chrono::Duration::minutes),
        (23 * 60i64..25 * 60).prop_map(chrono::Duration::minutes),
        (2i64..=3).prop_map(chrono::Duration::days),
    ];
    let killed = prop::option::weighted(0.2, 1u64..60);
    (
        base,
        0i64..1_440,
        prop::collection::vec((step, killed), 2..6),
    )
        .prop_map(|(base, offset, steps)| {
            let mut at = base + chrono::Duration::minutes(offset);
            let mut runs = vec![Run {
                at,
                killed_after_ms: None,
            }];
            for (step, killed_after_ms) in steps {
                at += step;
                runs.push(Run {
                    at,
                    killed_after_ms,
                });
            }
            runs
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn after_any_schedule_the_archive_holds_exactly_the_closed_bars(runs in schedules()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = temp_dir("schedule");
        rt.block_on(async {
            let archive = ParquetArchive::local(&dir);
            run_schedule(&archive, &runs).await;
            assert_archive_is_the_truth(&archive, &runs).await;
        });
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_beyond_the_catch_up_horizon_is_reported_unreachable() {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let dir = temp_dir("horizon");
    let archive = ParquetArchive::local(&dir);
    let clock = Arc::new(ManualClock::new(t0));
    let collect = Collect::new(SimulatedBroker::new(SEED, clock.clone()), archive.clone())
        .clock(clock.clone());
    let mut p = plan();
    p.catch_up = chrono::Duration::days(3);
    p.timeframes = vec![Timeframe::M5, Timeframe::H1];
    assert_eq!(collect.run(&p).await.failed(), 0);
    // Ten days later.
    let later = t0 + chrono::Duration::days(10);
    clock.set(later);
    let report = collect.run(&p).await;
    for t in &report.tasks {
        let newest = t.newest_archived.unwrap();
        assert_eq!(t.unreachable.len(), 1, "{t:?}");
        let u = t.unreachable[0];
        assert_eq!(
            u.start(),
            t.timeframe.next_open(newest),
            "from the first bar the archive lacks"
        );
        assert_eq!(
            u.end(),
            t.range.unwrap().start(),
            "to where the run could start"
        );
        // Every bar outside the unreachable range is archived.
        let held = archive
            .get(
                &t.symbol,
                t.timeframe,
                TimeRange::new(u.end(), later).unwrap(),
            )
            .await
            .unwrap();
        let truth = generate(
            SEED,
            &t.symbol,
            t.timeframe,
            TimeRange::new(u.end(), later).unwrap(),
            later,
        )
        .unwrap()
        .closed_at(later);
        assert_eq!(held, truth);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_with_misses_and_a_kill_on_moto_s3() {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 6, 2, 0, 30).unwrap();
    let day = chrono::Duration::days(1);
    let runs = [
        Run {
            at: t0,
            killed_after_ms: None,
        },
        Run {
            at: t0 + day,
            killed_after_ms: Some(150),
        },
        // Missed days over a weekend and a DST change (2026-03-08).
        Run {
            at: t0 + day * 4 + chrono::Duration::minutes(7),
            killed_after_ms: None,
        },
        Run {
            at: t0 + day * 4 + chrono::Duration::minutes(7) + chrono::Duration::seconds(20),
            killed_after_ms: None,
        },
    ];
    let archive = moto_archive("schedule").await;
    run_schedule(&archive, &runs).await;
    assert_archive_is_the_truth(&archive, &runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_interrupted_and_resumed_equals_one_clean_backfill() {
    let now = Utc.with_ymd_and_hms(2026, 4, 20, 12, 0, 0).unwrap();
    let range = TimeRange::new(
        Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let source = Arc::new(SimulatedBroker::new(SEED, clock.clone()));
    let mut p = plan();
    p.timeframes = vec![Timeframe::M15, Timeframe::H1, Timeframe::D1];
    let (clean_dir, resumed_dir) = (temp_dir("clean"), temp_dir("resumed"));
    let clean = ParquetArchive::local(&clean_dir);
    let c = Collect::new(source.clone(), clean.clone()).clock(clock.clone());
    let report = c.backfill(&p, range).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    let resumed = ParquetArchive::local(&resumed_dir);
    let r = Collect::new(source.clone(), resumed.clone()).clock(clock.clone());
    let _ = tokio::time::timeout(Duration::from_millis(120), r.backfill(&p, range)).await;
    let calls_before = source.calls();
    let report = r.backfill(&p, range).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    let chunks: Vec<_> = report.tasks.iter().map(|t| t.chunks.unwrap()).collect();
    let (fetched, complete): (usize, usize) = chunks
        .iter()
        .fold((0, 0), |(f, c), x| (f + x.fetched, c + x.complete));
    assert!(
        complete > 0,
        "the resumed backfill skips what the first one archived: {chunks:?}"
    );
    assert_eq!(
        source.calls() - calls_before,
        fetched as u64,
        "one fetch per missing chunk"
    );
    for sym in symbols() {
        for tf in &p.timeframes {
            let a = clean.get(&sym, *tf, range).await.unwrap();
            let b = resumed.get(&sym, *tf, range).await.unwrap();
            assert_eq!(a, b, "{sym} {tf}");
            let truth = generate(SEED, &sym, *tf, range, now).unwrap();
            assert_eq!(a, truth, "{sym} {tf}: the backfill is the source's bars");
        }
    }
    // Again: nothing left to fetch.
    let calls_before = source.calls();
    let report = r.backfill(&p, range).await;
    assert!(
        report
            .tasks
            .iter()
            .all(|t| t.chunks.unwrap().fetched == 0 && t.status == TaskStatus::Ok)
    );
    assert_eq!(source.calls(), calls_before);
    let _ = std::fs::remove_dir_all(clean_dir);
    let _ = std::fs::remove_dir_all(resumed_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_finds_a_deleted_partition_and_a_tampered_bar_and_repair_restores_them() {
    let now = Utc.with_ymd_and_hms(2026, 3, 20, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let source = SimulatedBroker::new(SEED, clock.clone());
    let dir = temp_dir("audit");
    let archive = ParquetArchive::local(&dir);
    let sym: Symbol = "USDJPY".parse().unwrap();
    let range = TimeRange::new(now - chrono::Duration::days(10), now).unwrap();
    let truth = generate(SEED, &sym, Timeframe::M5, range, now)
        .unwrap()
        .closed_at(now);
    archive.save(&truth).await.unwrap();
    let audit = Audit::new(archive.clone()).clock(clock.clone());
    let clean = audit
        .check(&sym, Timeframe::M5, range, Some(&source))
        .await
        .unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    // Delete one day, tamper with one bar of another.
    // USDJPY's days end at the New York close: its day partitions hold trading dates.
    let gone = axia_parquet::layout::partition_at(
        Timeframe::M5,
        archive.alignment_of(&sym),
        Utc.with_ymd_and_hms(2026, 3, 17, 0, 0, 0).unwrap(),
    );
    std::fs::remove_file(dir.join(archive.key(&sym, Timeframe::M5, &gone))).unwrap();
    let victim = truth
        .iter()
        .find(|b| b.time() == Utc.with_ymd_and_hms(2026, 3, 18, 10, 35, 0).unwrap())
        .unwrap();
    let tampered = Bar::new(
        victim.time(),
        victim.open(),
        victim.high() + 1.0,
        victim.low(),
        victim.close(),
        victim.volume(),
    )
    .unwrap();
    archive
        .save(&OhlcvFrame::from_bars(sym.clone(), Timeframe::M5, [tampered]).unwrap())
        .await
        .unwrap();

    let found = audit.check(&sym, Timeframe::M5, range, None).await.unwrap();
    assert_eq!(
        found.missing,
        [gone.range],
        "the deleted day, against the calendar"
    );
    assert!(found.source.is_none());
    let found = audit
        .check(&sym, Timeframe::M5, range, Some(&source))
        .await
        .unwrap();
    let s = found.source.as_ref().unwrap();
    assert_eq!(s.differing.len(), 1);
    assert_eq!(
        (s.differing[0].archive, s.differing[0].source),
        (tampered, victim)
    );
    assert_eq!(s.missing_from_archive.len(), 288, "a whole weekday of M5");
    assert!(s.only_in_archive.is_empty());

    let repaired = audit
        .repair(&sym, Timeframe::M5, range, &source)
        .await
        .unwrap();
    assert_eq!(
        repaired.rewritten, 289,
        "exactly the missing and differing bars"
    );
    assert!(repaired.after.is_clean(), "{:?}", repaired.after);
    assert_eq!(
        archive.get(&sym, Timeframe::M5, range).await.unwrap(),
        truth
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forming_bar_never_reaches_the_archive_through_the_provider_either() {
    // 12:30: the H1 bar of 12:00 and the D1 bar of the day are forming.
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 30, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let broker = SimulatedBroker::new(SEED, clock.clone());
    let hot = Arc::new(MemoryStore::new());
    let dir = temp_dir("write-through");
    let archive = ParquetArchive::local(&dir);
    let provider = OhlcvDataProvider::builder()
        .clock(clock.clone())
        .broker(Arc::new(broker))
        .hot_cache(hot.clone())
        .cold_archive(Arc::new(archive.clone()))
        .build();
    let sym: Symbol = "EURUSD".parse().unwrap();
    for (tf, window, use_case) in [
        (Timeframe::H1, Window::last_hours(12), UseCase::Trading),
        (Timeframe::D1, Window::last_days(10), UseCase::Trading),
        (Timeframe::H1, Window::last_days(3), UseCase::Trading),
    ] {
        let r = provider
            .get(OhlcvRequest::new(sym.clone(), tf, window, use_case))
            .await
            .unwrap();
        assert_eq!(
            r.meta.forming,
            Some(tf.aligned(archive.alignment_of(&sym)).floor(now)),
            "{tf}: the provider says which bar is forming"
        );
        assert_eq!(r.frame.forming().map(|b| b.time()), r.meta.forming);
    }
    // Let the background write-through land, then look.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let all = TimeRange::new(
        now - chrono::Duration::days(30),
        now + chrono::Duration::days(30),
    )
    .unwrap();
    for tf in [Timeframe::H1, Timeframe::D1] {
        let archived = archive.get(&sym, tf, all).await.unwrap();
        assert!(
            archived
                .iter()
                .all(|b| archived.grid().is_closed_at(b.time(), now)),
            "{tf}"
        );
        let cached = hot.get(&sym, tf, all).await.unwrap();
        assert_eq!(
            cached.forming().map(|b| b.time()),
            Some(tf.aligned(archive.alignment_of(&sym)).floor(now)),
            "{tf}: the hot tier keeps it, labelled"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
