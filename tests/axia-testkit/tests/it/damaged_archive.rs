//! A damaged archive file costs only its own bars: readers get every other partition, the
//! provider fills the hole from the next source, and a collector run or a repair moves the
//! file aside (keeping its bytes) and rebuilds the partition. On a local directory and on moto.

use std::sync::Arc;

use axia_collect::{Audit, Collect, CollectPlan};
use axia_domain::{
    BarArchive, ManualClock, OhlcvFrame, OhlcvStore, Symbol, TimeRange, Timeframe, UseCase,
};
use axia_parquet::ParquetArchive;
use axia_parquet::layout::partition_at;
use axia_provider::{OhlcvDataProvider, OhlcvRequest, Outcome, Role, Window};
use axia_simbroker::{SimulatedBroker, generate};
use chrono::{DateTime, TimeZone, Utc};

const SEED: u64 = 5;

/// Monday 2026-03-30 09:10 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 30, 9, 10, 0).unwrap()
}

fn sym() -> Symbol {
    "USDJPY".parse().unwrap()
}

fn month() -> TimeRange {
    TimeRange::new(
        Timeframe::D1.floor(now()) - chrono::Duration::days(30),
        now(),
    )
    .unwrap()
}

/// Where the archive keeps its bytes, to damage them and to look at quarantined files.
enum Place {
    Dir(std::path::PathBuf),
    Bucket(aws_sdk_s3::Client, String),
}

impl Place {
    async fn write(&self, key: &str, bytes: &[u8]) {
        match self {
            Self::Dir(root) => std::fs::write(root.join(key), bytes).unwrap(),
            Self::Bucket(c, b) => {
                c.put_object()
                    .bucket(b)
                    .key(key)
                    .body(bytes.to_vec().into())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    async fn read_located(&self, located: &str) -> Vec<u8> {
        match self {
            Self::Dir(_) => std::fs::read(located).unwrap(),
            Self::Bucket(c, b) => {
                let key = located.strip_prefix(&format!("s3://{b}/")).unwrap();
                let o = c.get_object().bucket(b).key(key).send().await.unwrap();
                o.body.collect().await.unwrap().into_bytes().to_vec()
            }
        }
    }
}

/// USDJPY laid out by UTC day, as these cases name their days.
async fn local() -> (ParquetArchive, Place) {
    let dir = std::env::temp_dir().join(format!(
        "axia-damaged-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    (
        ParquetArchive::local(&dir).instruments(axia_testkit::utc_instruments()),
        Place::Dir(dir),
    )
}

async fn moto() -> (ParquetArchive, Place) {
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let bucket = format!(
        "axia-damaged-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    (
        ParquetArchive::s3(client.clone(), bucket.clone(), "cold")
            .instruments(axia_testkit::utc_instruments()),
        Place::Bucket(client, bucket),
    )
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod local_dir { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (a, p) = super::local().await; super::$name(a, p).await; } )* }
        mod moto_s3 { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (a, p) = super::moto().await; super::$name(a, p).await; } )* }
    };
}

on_both_backends!(
    the_provider_fills_a_damaged_day_from_the_next_source,
    repair_quarantines_and_rebuilds_a_damaged_day,
    a_collector_run_quarantines_and_rebuilds_a_damaged_partition_in_its_window,
);

/// The archive filled with a month of M1, and the source's bars.
async fn filled(archive: &ParquetArchive) -> OhlcvFrame {
    let truth = generate(SEED, &sym(), Timeframe::M1, month(), now())
        .unwrap()
        .closed_at(now());
    archive.save(&truth).await.unwrap();
    truth
}

async fn damage(
    archive: &ParquetArchive,
    place: &Place,
    day: DateTime<Utc>,
    bytes: &[u8],
) -> TimeRange {
    let p = partition_at(Timeframe::M1, axia_domain::DailyAlignment::UtcMidnight, day);
    place
        .write(&archive.key(&sym(), Timeframe::M1, &p), bytes)
        .await;
    p.range
}

async fn the_provider_fills_a_damaged_day_from_the_next_source(
    archive: ParquetArchive,
    place: Place,
) {
    let truth = filled(&archive).await;
    let day = damage(
        &archive,
        &place,
        Utc.with_ymd_and_hms(2026, 3, 17, 0, 0, 0).unwrap(),
        &[7u8; 1000],
    )
    .await;
    let clock = Arc::new(ManualClock::new(now()));
    let request = OhlcvRequest::new(
        sym(),
        Timeframe::M1,
        Window::Range(month()),
        UseCase::Analysis,
    );
    // Without a fallback: the answer is every other day, marked incomplete with the day as its gap.
    let alone = OhlcvDataProvider::builder()
        .clock(clock.clone())
        .cold_archive(Arc::new(archive.clone()))
        .build();
    let r = alone.get(request.clone()).await.unwrap();
    assert!(!r.meta.complete);
    assert_eq!(r.meta.completeness.gaps, [day]);
    assert_eq!(r.frame.len(), truth.len() - truth.slice(day).len());
    // With one: complete and exact, and the fallback was asked for the damaged day only.
    let fallback = OhlcvDataProvider::builder()
        .clock(clock.clone())
        .cold_archive(Arc::new(archive.clone()))
        .fallback(Arc::new(SimulatedBroker::new(SEED, clock.clone())))
        .build();
    let r = fallback.get(request).await.unwrap();
    assert!(r.meta.complete, "{:?}", r.meta.completeness);
    assert_eq!(r.frame, truth);
    assert_eq!(r.meta.attempts[0].outcome, Outcome::Partial);
    assert_eq!(r.meta.attempts[1].source, Role::Fallback);
    assert_eq!(r.meta.attempts[1].bars, truth.slice(day).len());
}

async fn repair_quarantines_and_rebuilds_a_damaged_day(archive: ParquetArchive, place: Place) {
    let truth = filled(&archive).await;
    let kinds: [(&str, Vec<u8>); 2] = [
        (
            "random bytes",
            (0..1000u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("zero bytes", Vec::new()),
    ];
    for (i, (kind, bytes)) in kinds.into_iter().enumerate() {
        let clock = Arc::new(ManualClock::new(
            now() + chrono::Duration::seconds(i as i64),
        ));
        let source = SimulatedBroker::new(SEED, clock.clone());
        let day = damage(
            &archive,
            &place,
            Utc.with_ymd_and_hms(2026, 3, 10 + i as u32, 0, 0, 0)
                .unwrap(),
            &bytes,
        )
        .await;
        let audit = Audit::new(archive.clone()).clock(clock.clone());
        let before = audit
            .check(&sym(), Timeframe::M1, month(), None)
            .await
            .unwrap();
        assert_eq!(before.damaged.len(), 1, "{kind}");
        assert_eq!(before.damaged[0].range, day);
        assert_eq!(before.missing, [day], "{kind}: its bars are missing");
        let r = audit
            .repair(&sym(), Timeframe::M1, month(), &source)
            .await
            .unwrap();
        assert_eq!(r.quarantined.len(), 1, "{kind}");
        assert!(r.after.is_clean(), "{kind}: {:?}", r.after);
        assert_eq!(
            archive.get(&sym(), Timeframe::M1, month()).await.unwrap(),
            truth,
            "{kind}: complete and exact"
        );
        // The damaged bytes are kept, and listed.
        assert_eq!(
            place.read_located(&r.quarantined[0].object).await,
            bytes,
            "{kind}"
        );
        assert_eq!(
            r.after.quarantined.len(),
            i + 1,
            "{kind}: the audit lists quarantined files"
        );
    }
}

async fn a_collector_run_quarantines_and_rebuilds_a_damaged_partition_in_its_window(
    archive: ParquetArchive,
    place: Place,
) {
    let truth = filled(&archive).await;
    let mut plan = CollectPlan::new(vec![sym()], vec![Timeframe::M1]);
    plan.backoff = axia_domain::Backoff::new(
        std::time::Duration::from_millis(1),
        std::time::Duration::from_millis(1),
    );
    let today = Timeframe::D1.floor(now());
    // First yesterday's file, which the run's window writes into; then today's, the newest,
    // which the run starts from.
    for (hours, day, bytes) in [
        (
            3,
            today - chrono::Duration::days(1),
            b"PAR1 truncated".to_vec(),
        ),
        (5, today, Vec::new()),
    ] {
        damage(&archive, &place, day, &bytes).await;
        let later = now() + chrono::Duration::hours(hours);
        let clock = Arc::new(ManualClock::new(later));
        let collect = Collect::new(SimulatedBroker::new(SEED, clock.clone()), archive.clone())
            .clock(clock.clone());
        let report = collect.run(&plan).await;
        let t = &report.tasks[0];
        assert_eq!(report.exit_code(), 0, "{t:?}");
        assert_eq!(t.quarantined.len(), 1, "{t:?}");
        assert!(
            t.quarantined[0]
                .original
                .ends_with(&format!("{}.parquet", day.format("%Y-%m-%d")))
        );
        assert_eq!(place.read_located(&t.quarantined[0].object).await, bytes);
        let range = TimeRange::new(month().start(), later).unwrap();
        let expected = generate(SEED, &sym(), Timeframe::M1, range, later)
            .unwrap()
            .closed_at(later);
        assert_eq!(
            archive.get(&sym(), Timeframe::M1, range).await.unwrap(),
            expected,
            "rebuilt, complete and exact"
        );
        assert_eq!(expected.slice(month()), truth);
        // A second run finds nothing to quarantine.
        let again = collect.run(&plan).await;
        assert!(again.tasks[0].quarantined.is_empty());
        assert!(
            archive
                .read(&sym(), Timeframe::M1, range)
                .await
                .unwrap()
                .damaged
                .is_empty()
        );
    }
}
