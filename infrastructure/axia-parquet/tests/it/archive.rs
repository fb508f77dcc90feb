use std::sync::Arc;

use axia_domain::{
    BarArchive, DailyAlignment, FrameError, InstrumentRegistry, OhlcvFrame, OhlcvStore, StoreError,
    TimeRange, Timeframe,
};
use axia_parquet::ParquetArchive;
use axia_parquet::layout::partition_at;
use chrono::{Datelike, Duration, TimeZone, Utc};

use crate::support::*;

/// Runs a check on a local directory and on moto S3.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod local_dir { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (a, p) = crate::support::local().await; super::$name(a, p).await; } )* }
        mod moto_s3 { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (a, p) = crate::support::s3().await; super::$name(a, p).await; } )* }
    };
}

on_both_backends!(
    round_trip_across_partition_boundaries,
    resaving_leaves_identical_objects,
    overlapping_saves_merge_and_incoming_wins,
    concurrent_writers_on_one_partition_lose_nothing,
    missing_partitions_are_reported_not_errors,
    a_damaged_partition_costs_only_its_own_bars,
    only_data_files_are_in_the_tree,
    a_bar_at_2359_lands_in_its_utc_day,
    coverage_lists_the_stored_partitions,
    a_new_york_close_series_is_laid_out_by_trading_date_and_never_mixed,
    the_legacy_layout_of_a_symbol_holding_equals_is_moved_into_place,
    realign_moves_a_utc_midnight_series_to_the_new_york_close_and_keeps_the_old_files,
    realign_finishes_a_run_stopped_after_setting_files_aside,
);

fn all() -> TimeRange {
    TimeRange::new(
        Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
    )
    .unwrap()
}

async fn round_trip_across_partition_boundaries(a: ParquetArchive, _p: Place) {
    let start = Utc.with_ymd_and_hms(2026, 2, 27, 22, 0, 0).unwrap();
    for (tf, n) in [
        (Timeframe::M1, 3 * 1440),
        (Timeframe::H1, 24 * 40),
        (Timeframe::D1, 800),
        (Timeframe::W1, 60),
        (Timeframe::MN1, 30),
    ] {
        let f = bars("USDJPY", tf, start, n, 150.0);
        a.save(&f).await.unwrap();
        let back = a.get(&sym("USDJPY"), tf, all()).await.unwrap();
        assert_eq!(back, f, "{tf}");
        // A range inside: exactly the bars that open in it.
        let r = TimeRange::new(
            f.get(n / 3).unwrap().time(),
            f.get(2 * n / 3).unwrap().time(),
        )
        .unwrap();
        assert_eq!(
            a.get(&sym("USDJPY"), tf, r).await.unwrap(),
            f.slice(r),
            "{tf}"
        );
    }
}

async fn resaving_leaves_identical_objects(a: ParquetArchive, p: Place) {
    let f = bars(
        "EURUSD",
        Timeframe::M5,
        Utc.with_ymd_and_hms(2026, 3, 2, 20, 0, 0).unwrap(),
        200,
        1.08,
    );
    a.save(&f).await.unwrap();
    let keys: Vec<String> = ["2026-03-02", "2026-03-03"]
        .iter()
        .map(|d| format!("cold/ohlcv/symbol=EURUSD/timeframe=M5/{d}.parquet"))
        .collect();
    let keys: Vec<String> = match &p {
        Place::Dir(_) => keys
            .iter()
            .map(|k| k.trim_start_matches("cold/").to_owned())
            .collect(),
        Place::Bucket(..) => keys,
    };
    let before: Vec<_> = futures_read(&p, &keys).await;
    assert!(
        before.iter().all(Option::is_some),
        "both partitions written"
    );
    a.save(&f).await.unwrap();
    a.save(
        &f.slice(
            TimeRange::new(
                f.first_time().unwrap(),
                f.first_time().unwrap() + Duration::hours(1),
            )
            .unwrap(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        futures_read(&p, &keys).await,
        before,
        "byte-identical after re-saving"
    );
    assert_eq!(
        a.get(&sym("EURUSD"), Timeframe::M5, all()).await.unwrap(),
        f
    );
}

async fn futures_read(p: &Place, keys: &[String]) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    for k in keys {
        out.push(p.read(k).await);
    }
    out
}

async fn overlapping_saves_merge_and_incoming_wins(a: ParquetArchive, _p: Place) {
    let t = Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).unwrap();
    let old = bars("GBPUSD", Timeframe::M15, t, 150, 1.27);
    let new = bars("GBPUSD", Timeframe::M15, t + Duration::hours(20), 150, 1.31);
    a.save(&old).await.unwrap();
    a.save(&new).await.unwrap();
    let got = a.get(&sym("GBPUSD"), Timeframe::M15, all()).await.unwrap();
    assert_eq!(got, old.merge(&new).unwrap());
    assert_eq!(got.len(), 80 + 150);
}

async fn concurrent_writers_on_one_partition_lose_nothing(a: ParquetArchive, _p: Place) {
    let whole = bars(
        "USDJPY",
        Timeframe::M1,
        Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap(),
        1440,
        150.0,
    );
    let a = Arc::new(a);
    let writers = 6;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let a = Arc::clone(&a);
            let mine: Vec<_> = whole.iter().skip(w).step_by(writers).collect();
            tokio::spawn(async move {
                for chunk in mine.chunks(60) {
                    let f = axia_domain::OhlcvFrame::from_bars(
                        sym("USDJPY"),
                        Timeframe::M1,
                        chunk.to_vec(),
                    )
                    .unwrap();
                    a.save(&f).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        a.get(&sym("USDJPY"), Timeframe::M1, all()).await.unwrap(),
        whole
    );
}

async fn missing_partitions_are_reported_not_errors(a: ParquetArchive, _p: Place) {
    let d = |day| Utc.with_ymd_and_hms(2026, 3, day, 0, 0, 0).unwrap();
    a.save(&bars("AUDUSD", Timeframe::M30, d(2), 48, 0.66))
        .await
        .unwrap();
    a.save(&bars("AUDUSD", Timeframe::M30, d(5), 48, 0.66))
        .await
        .unwrap();
    let loaded = a
        .load(
            &sym("AUDUSD"),
            Timeframe::M30,
            TimeRange::new(d(1), d(7)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(loaded.frame.len(), 96);
    assert_eq!(loaded.present, ["2026-03-02", "2026-03-05"]);
    assert_eq!(
        loaded.absent,
        ["2026-03-01", "2026-03-03", "2026-03-04", "2026-03-06"]
    );
    let none = a
        .load(
            &sym("NZDUSD"),
            Timeframe::M30,
            TimeRange::new(d(1), d(3)).unwrap(),
        )
        .await
        .unwrap();
    assert!(none.frame.is_empty() && none.present.is_empty() && none.absent.len() == 2);
}

/// The kinds of damage a partition file can suffer, each given the file's good bytes.
fn damage_kinds(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut noise = vec![0u8; 1000];
    let mut x: u32 = 0x9e37_79b9;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x.to_le_bytes()[0];
    }
    // A Parquet file of someone else's schema.
    let mut foreign = Vec::new();
    let mut df = polars::prelude::df!("a" => [1i64, 2, 3], "b" => ["x", "y", "z"]).unwrap();
    polars::prelude::ParquetWriter::new(&mut foreign)
        .finish(&mut df)
        .unwrap();
    // Our schema, but written for another symbol, or another timeframe.
    let day = partition_at(Timeframe::M1, DailyAlignment::UtcMidnight, day_of_damage());
    let other_symbol =
        axia_parquet::format::encode(&bars("EURUSD", Timeframe::M1, day.range.start(), 60, 1.08))
            .unwrap();
    let other_tf =
        axia_parquet::format::encode(&bars("USDJPY", Timeframe::M5, day.range.start(), 12, 150.0))
            .unwrap();
    vec![
        ("random bytes", noise),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("zero bytes", Vec::new()),
        ("foreign schema", foreign),
        ("another symbol", other_symbol),
        ("another timeframe", other_tf),
    ]
}

fn month_end() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 0, 0, 0).unwrap()
}

fn day_of_damage() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 17, 0, 0, 0).unwrap()
}

async fn a_damaged_partition_costs_only_its_own_bars(a: ParquetArchive, p: Place) {
    let sym = sym("USDJPY");
    let month = TimeRange::new(month_end() - Duration::days(30), month_end()).unwrap();
    // Minutes: the same bars under either alignment; labelled as this archive lays them out.
    let truth = axia_simbroker::generate(7, &sym, Timeframe::M1, month, month_end())
        .unwrap()
        .with_alignment(DailyAlignment::UtcMidnight)
        .unwrap();
    a.save(&truth).await.unwrap();
    let day = partition_at(Timeframe::M1, DailyAlignment::UtcMidnight, day_of_damage());
    let key = a.key(&sym, Timeframe::M1, &day);
    let good = p.read(&key).await.unwrap();
    let without_day: Vec<_> = truth
        .iter()
        .filter(|b| !day.range.contains(b.time()))
        .collect();
    for (kind, bytes) in damage_kinds(&good) {
        p.write(&key, &bytes).await;
        let before = a.counters().damaged_reads;
        // The read returns every other day and names the damaged one.
        let read = a.read(&sym, Timeframe::M1, month).await.unwrap();
        assert_eq!(read.frame.iter().collect::<Vec<_>>(), without_day, "{kind}");
        assert_eq!(read.damaged.len(), 1, "{kind}");
        assert_eq!(read.damaged[0].range, day.range, "{kind}");
        assert!(
            read.damaged[0]
                .object
                .ends_with("timeframe=M1/2026-03-17.parquet"),
            "{kind}: {:?}",
            read.damaged[0]
        );
        assert!(!read.damaged[0].reason.is_empty());
        // `get` (the port) answers the same bars, and counts the damage.
        let got = a.get(&sym, Timeframe::M1, month).await.unwrap();
        assert_eq!(got.len(), without_day.len(), "{kind}");
        assert_eq!(a.counters().damaged_reads, before + 2);
        // A save into it refuses rather than overwrite what it cannot read.
        let err = a.save(&truth.slice(day.range)).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{kind}: {err:?}");
        assert_eq!(p.read(&key).await.unwrap(), bytes, "{kind}: left as it was");
        // The newest bar is found past a damaged newest partition too.
        let newest = a.newest(&sym, Timeframe::M1).await.unwrap();
        assert_eq!(newest.open, truth.last_time());
        // Quarantine moves it aside, keeping its bytes; then it can be rebuilt.
        let found = Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap();
        let moved = a.quarantine(&read.damaged[0], found).await.unwrap();
        assert_eq!(moved.bytes as usize, bytes.len());
        assert!(
            p.read(&key).await.is_none(),
            "{kind}: no longer among the data files"
        );
        let q_key = moved
            .object
            .rsplit_once("quarantine/")
            .map(|(_, k)| format!("quarantine/{k}"))
            .unwrap();
        let q_key = match &p {
            Place::Dir(_) => q_key,
            Place::Bucket(..) => format!("cold/{q_key}"),
        };
        assert_eq!(
            p.read(&q_key).await.unwrap(),
            bytes,
            "{kind}: the quarantined bytes are kept"
        );
        assert!(!q_key.ends_with(".parquet"));
        assert!(
            a.coverage(&sym, Timeframe::M1)
                .await
                .unwrap()
                .iter()
                .all(|c| c.name != day.name)
        );
        a.save(&truth.slice(day.range)).await.unwrap();
        assert_eq!(
            a.get(&sym, Timeframe::M1, month).await.unwrap(),
            truth,
            "{kind}: rebuilt"
        );
        let listed = a.quarantined(&sym, Timeframe::M1).await.unwrap();
        assert!(
            listed.iter().any(|q| q.object == moved.object
                && q.found_at == found
                && q.original == read.damaged[0].object),
            "{listed:?}"
        );
        // A quarantine of what is now a good file is refused.
        assert!(matches!(
            a.quarantine(&read.damaged[0], found).await,
            Err(StoreError::Conflict(_))
        ));
        // Clear this kind's quarantined copy so the next kind's has a name of its own.
        p.remove(&q_key).await;
    }
}

async fn a_bar_at_2359_lands_in_its_utc_day(a: ParquetArchive, p: Place) {
    let t = Utc.with_ymd_and_hms(2026, 3, 4, 23, 59, 0).unwrap();
    let f = bars("EURJPY", Timeframe::M1, t, 2, 162.0); // 23:59 and 00:00 the next day
    a.save(&f).await.unwrap();
    let k1 = a.key(
        &sym("EURJPY"),
        Timeframe::M1,
        &partition_at(Timeframe::M1, DailyAlignment::UtcMidnight, t),
    );
    let k2 = a.key(
        &sym("EURJPY"),
        Timeframe::M1,
        &partition_at(
            Timeframe::M1,
            DailyAlignment::UtcMidnight,
            t + Duration::minutes(1),
        ),
    );
    assert!(k1.ends_with("timeframe=M1/2026-03-04.parquet") && k2.ends_with("2026-03-05.parquet"));
    assert!(p.read(&k1).await.is_some() && p.read(&k2).await.is_some());
    let day = TimeRange::new(
        Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 5, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let loaded = a.load(&sym("EURJPY"), Timeframe::M1, day).await.unwrap();
    assert_eq!(loaded.frame.len(), 1);
    assert_eq!(loaded.frame.first_time(), Some(t));
}

async fn coverage_lists_the_stored_partitions(a: ParquetArchive, _p: Place) {
    a.save(&bars(
        "USDJPY",
        Timeframe::H4,
        Utc.with_ymd_and_hms(2026, 1, 20, 0, 0, 0).unwrap(),
        6 * 30,
        150.0,
    ))
    .await
    .unwrap();
    a.save(&bars(
        "USDJPY",
        Timeframe::H1,
        Utc.with_ymd_and_hms(2026, 1, 20, 0, 0, 0).unwrap(),
        5,
        150.0,
    ))
    .await
    .unwrap();
    let cov = a.coverage(&sym("USDJPY"), Timeframe::H4).await.unwrap();
    let names: Vec<_> = cov.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["2026-01", "2026-02"]);
    assert!(cov.iter().all(|c| c.bytes > 0));
    assert_eq!(
        cov[1].range.start(),
        Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()
    );
    let info = a.info().await.unwrap();
    assert_eq!(info.datasets.len(), 2);
    assert!(info.bytes_used.unwrap() > 0);
}

async fn only_data_files_are_in_the_tree(a: ParquetArchive, p: Place) {
    let sym = sym("EURUSD");
    let end = Utc.with_ymd_and_hms(2026, 3, 6, 0, 0, 0).unwrap();
    let week = TimeRange::new(end - Duration::days(5), end).unwrap();
    let f = axia_simbroker::generate(3, &sym, Timeframe::M15, week, end).unwrap();
    a.save(&f).await.unwrap();
    a.save(&f.slice(TimeRange::new(end - Duration::days(2), end).unwrap()))
        .await
        .unwrap();
    let files = p.files_under("ohlcv").await;
    assert!(!files.is_empty());
    for file in &files {
        assert!(file.ends_with(".parquet"), "{file} is not a data file");
        assert!(file.split('/').all(|seg| !seg.starts_with('.')), "{file}");
    }
    // What an analyst does: read the whole tree with polars, hive partitions as columns.
    if let Place::Dir(root) = &p {
        use polars::prelude::*;
        let lf = LazyFrame::scan_parquet(
            PlRefPath::new(root.join("ohlcv").display().to_string()),
            ScanArgsParquet {
                hive_options: HiveOptions::new_enabled(),
                ..Default::default()
            },
        )
        .unwrap();
        let df = lf.collect().unwrap();
        assert_eq!(df.height(), f.len());
        assert!(df.column("symbol").is_ok() && df.column("timeframe").is_ok());
    }
}

/// Symbols a hive reader would split wrongly if written raw (`symbol=USDJPY=X`: polars and
/// DuckDB then drop the folder's `symbol` column and refuse the tree) read back as columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_symbol_reads_back_as_a_hive_column_in_polars() {
    let (a, p) = local().await;
    let Place::Dir(root) = &p else { unreachable!() };
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let symbols = [
        "USDJPY=X", "JPY=X", "EURUSD", "^N225", "BRK-B", "AT&T", "EUR_USD",
    ];
    for (i, s) in symbols.iter().enumerate() {
        a.save(&bars(s, Timeframe::H1, start, 10 + i, 100.0))
            .await
            .unwrap();
    }
    use polars::prelude::*;
    let df = LazyFrame::scan_parquet(
        PlRefPath::new(root.join("ohlcv").display().to_string()),
        ScanArgsParquet {
            hive_options: HiveOptions::new_enabled(),
            ..Default::default()
        },
    )
    .unwrap()
    .group_by([col("symbol"), col("timeframe")])
    .agg([len().alias("bars")])
    .collect()
    .unwrap();
    let mut got: Vec<(String, String, u32)> = (0..df.height())
        .map(|i| {
            let row = df.get_row(i).unwrap().0;
            let text = |v: &AnyValue| v.get_str().map(str::to_owned).unwrap();
            let n = row[2].try_extract::<u32>().unwrap();
            (text(&row[0]), text(&row[1]), n)
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String, u32)> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| ((*s).to_owned(), "H1".to_owned(), 10 + i as u32))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let _ = std::fs::remove_dir_all(root);
}

/// An archive written before `=` was encoded keeps a series like `USDJPY=X` under the raw
/// `symbol=USDJPY=X`: the first touch merges it into place, keeps the old files outside the
/// data tree, and loses no bar.
async fn the_legacy_layout_of_a_symbol_holding_equals_is_moved_into_place(
    a: ParquetArchive,
    p: Place,
) {
    let s = sym("USDJPY=X");
    let tf = Timeframe::M15;
    let day1 = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let full = bars("USDJPY=X", tf, day1, 3 * 96, 150.0);
    // Another process writes three days in the current layout...
    let writer = p.archive();
    writer.save(&full).await.unwrap();
    let part = |i: i64| partition_at(tf, DailyAlignment::UtcMidnight, day1 + Duration::days(i));
    let key = |i: i64| writer.key(&s, tf, &part(i));
    let legacy = |i: i64| key(i).replace("%3D", "=");
    assert!(
        key(0).contains("/symbol=USDJPY%3DX/timeframe=M15/"),
        "{}",
        key(0)
    );
    // ...which is then turned into what an earlier version left: the first day only in the
    // legacy folder, the second in both (the current file with its first half only), the
    // third in the current folder only.
    for i in [0, 1] {
        let bytes = p.read(&key(i)).await.unwrap();
        p.write(&legacy(i), &bytes).await;
        p.remove(&key(i)).await;
    }
    // And a fourth day the earlier version left damaged, and a fifth it had quarantined
    // itself, in its own quarantine folder.
    p.write(&legacy(3), b"not parquet").await;
    let old_quarantine = legacy(4)
        .replacen("ohlcv/", "quarantine/ohlcv/", 1)
        .replace(".parquet", ".20260301T120000.000Z.damaged");
    p.write(&old_quarantine, b"damaged before").await;
    writer
        .save(
            &full.slice(
                TimeRange::new(day1 + Duration::days(1), day1 + Duration::hours(36)).unwrap(),
            ),
        )
        .await
        .unwrap();

    // Four days are read without listing the series: the first read lists only the legacy
    // folder, and the next one lists nothing.
    let days = TimeRange::new(day1, day1 + Duration::days(4)).unwrap();
    assert_eq!(a.get(&s, tf, days).await.unwrap(), full);
    assert_eq!(a.counters().lists, 1);
    assert_eq!(a.get(&s, tf, days).await.unwrap(), full);
    assert_eq!(a.get(&s, tf, all()).await.unwrap(), full);
    assert_eq!(a.counters().lists, 2, "the legacy folder is looked at once");
    let data = p.files_under("ohlcv").await;
    assert_eq!(data.len(), 3, "{data:?}");
    assert!(
        data.iter().all(|f| f.contains("symbol=USDJPY%3DX/")),
        "{data:?}"
    );
    let kept = p.files_under("superseded").await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|f| f.ends_with(".superseded")), "{kept:?}");
    // Both quarantined files are listed, the earlier version's first (found first) with the
    // folder it came from, then the one moved aside now.
    let damaged = a.quarantined(&s, tf).await.unwrap();
    assert_eq!(damaged.len(), 2, "{damaged:?}");
    assert!(
        damaged[0]
            .original
            .ends_with("symbol=USDJPY=X/timeframe=M15/2026-03-06.parquet"),
        "{damaged:?}"
    );
    assert!(
        damaged[1].original.ends_with("/2026-03-05.parquet"),
        "{damaged:?}"
    );
    // A process of the new version that only lists the series sees every partition.
    let names: Vec<String> = p
        .archive()
        .coverage(&s, tf)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["2026-03-02", "2026-03-03", "2026-03-04"]);
}

/// The registry with `symbol` aligned to the New York close.
fn ny_registry(symbol: &str) -> Arc<InstrumentRegistry> {
    let mut r = InstrumentRegistry::builtin();
    let i = r
        .resolve(&sym(symbol))
        .with_alignment(DailyAlignment::NewYorkClose);
    r.insert(i);
    Arc::new(r)
}

async fn a_new_york_close_series_is_laid_out_by_trading_date_and_never_mixed(
    a: ParquetArchive,
    p: Place,
) {
    let ny = DailyAlignment::NewYorkClose;
    let utc_archive = a.clone();
    let a = a.instruments(ny_registry("AUDUSD"));
    // Two weeks of NY-close D1 bars and a day of M1 around the spring DST change.
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let g = Timeframe::D1.aligned(ny);
    let mut b = OhlcvFrame::builder(sym("AUDUSD"), Timeframe::D1, 10)
        .aligned(ny)
        .unwrap();
    let mut t = g.ceil(start);
    for i in 0..14 {
        let p = 0.65 + f64::from(i) * 0.001;
        b.push(
            t.timestamp_millis(),
            p,
            p + 0.003,
            p - 0.002,
            p + 0.001,
            1_000.0,
        )
        .unwrap();
        t = g.next_open(t);
    }
    let d1 = b.finish();
    a.save(&d1).await.unwrap();
    let back = a
        .load(&sym("AUDUSD"), Timeframe::D1, all())
        .await
        .unwrap()
        .frame;
    assert_eq!(back, d1);
    assert_eq!(back.alignment(), ny);
    // An M1 bar at 21:30 UTC on Tuesday 2026-03-10 (17:30 New York, after the change) is in
    // Wednesday's file; one at 20:59 UTC in Tuesday's.
    let m1 = bars(
        "AUDUSD",
        Timeframe::M1,
        Utc.with_ymd_and_hms(2026, 3, 10, 20, 59, 0).unwrap(),
        32,
        0.65,
    )
    .with_alignment(ny)
    .unwrap();
    a.save(&m1).await.unwrap();
    let files = p.files_under("ohlcv/symbol=AUDUSD/timeframe=M1").await;
    let mut names: Vec<_> = files.iter().filter_map(|f| f.rsplit('/').next()).collect();
    names.sort_unstable();
    assert_eq!(names, ["2026-03-10.parquet", "2026-03-11.parquet"]);
    let wednesday = a
        .load(
            &sym("AUDUSD"),
            Timeframe::M1,
            TimeRange::new(
                Utc.with_ymd_and_hms(2026, 3, 10, 21, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 3, 11, 21, 0, 0).unwrap(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(wednesday.present, ["2026-03-11"]);
    assert_eq!(wednesday.frame.len(), 31);
    // Daily bars of the other alignment are refused, whole.
    let utc_d1 = bars(
        "AUDUSD",
        Timeframe::D1,
        Utc.with_ymd_and_hms(2026, 3, 16, 0, 0, 0).unwrap(),
        5,
        0.66,
    );
    assert!(matches!(
        a.save(&utc_d1).await,
        Err(StoreError::Frame(FrameError::AlignmentMismatch { .. }))
    ));
    // Up to H1 both alignments give the same bars: minutes labelled UTC join the series under
    // its own label and layout.
    let utc_m1 = bars(
        "AUDUSD",
        Timeframe::M1,
        Utc.with_ymd_and_hms(2026, 3, 12, 0, 0, 0).unwrap(),
        5,
        0.66,
    );
    a.save(&utc_m1).await.unwrap();
    assert_eq!(
        a.get(
            &sym("AUDUSD"),
            Timeframe::M1,
            TimeRange::new(
                Utc.with_ymd_and_hms(2026, 3, 12, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 3, 12, 0, 5, 0).unwrap(),
            )
            .unwrap(),
        )
        .await
        .unwrap(),
        utc_m1.clone().with_alignment(ny).unwrap()
    );
    // Files written under one alignment are refused by an archive configured for the other:
    // an error, not damage, and they stay where they are.
    let err = utc_archive
        .load(&sym("AUDUSD"), Timeframe::D1, all())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Frame(FrameError::AlignmentMismatch { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("new_york_close"), "{err}");
    assert_eq!(
        a.load(&sym("AUDUSD"), Timeframe::D1, all())
            .await
            .unwrap()
            .frame,
        d1,
        "still intact"
    );
}

/// The registry with `symbol` aligned to UTC midnight (what FX pairs defaulted to before).
fn utc_registry(symbol: &str) -> Arc<InstrumentRegistry> {
    let mut r = InstrumentRegistry::builtin();
    let i = r
        .resolve(&sym(symbol))
        .with_alignment(DailyAlignment::UtcMidnight);
    r.insert(i);
    Arc::new(r)
}

/// `n` bars of `tf` from `start`, only those the FX market is open during.
fn fx_bars(symbol: &str, tf: Timeframe, start: chrono::DateTime<Utc>, n: usize) -> OhlcvFrame {
    use axia_domain::MarketCalendar;
    let all = bars(symbol, tf, start, n, 1.08);
    let open: Vec<_> = all
        .iter()
        .filter(|b| {
            axia_domain::FxCalendar
                .is_open_during(TimeRange::new(b.time(), tf.next_open(b.time())).unwrap())
        })
        .collect();
    OhlcvFrame::from_bars(sym(symbol), tf, open).unwrap()
}

/// The New York close's daily bars of `h1`, computed the plain way: every trading date whose
/// 17:00-to-17:00 span `h1` covers from end to end, aggregated from its hourly bars.
fn ny_days_by_hand(h1: &OhlcvFrame) -> Vec<(i64, [f64; 5])> {
    let ny = DailyAlignment::NewYorkClose;
    let (first, last) = (h1.first().unwrap().time(), h1.last().unwrap().time());
    let mut out = Vec::new();
    let mut date = ny.date_of(first);
    while ny.day_start(date) <= last {
        let (start, end) = (ny.day_start(date), ny.day_start(date.succ_opt().unwrap()));
        let inside: Vec<_> = h1
            .iter()
            .filter(|b| b.time() >= start && b.time() < end)
            .collect();
        if start >= first && end <= last + Duration::hours(1) && !inside.is_empty() {
            out.push((
                start.timestamp_millis(),
                [
                    inside[0].open(),
                    inside.iter().map(|b| b.high()).fold(f64::MIN, f64::max),
                    inside.iter().map(|b| b.low()).fold(f64::MAX, f64::min),
                    inside[inside.len() - 1].close(),
                    inside.iter().map(|b| b.volume()).sum(),
                ],
            ));
        }
        date = date.succ_opt().unwrap();
    }
    out
}

async fn realign_moves_a_utc_midnight_series_to_the_new_york_close_and_keeps_the_old_files(
    a: ParquetArchive,
    p: Place,
) {
    let (s, ny) = (sym("EURUSD"), DailyAlignment::NewYorkClose);
    let old = a.clone().instruments(utc_registry("EURUSD"));
    // Three FX weeks over New York's change to daylight time (2026-03-08), written the old way.
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let h1 = fx_bars("EURUSD", Timeframe::H1, start, 24 * 21);
    let m15 = fx_bars("EURUSD", Timeframe::M15, start, 4 * 48);
    let d1 = h1.resample(Timeframe::D1).unwrap();
    let w1 = h1.resample(Timeframe::W1).unwrap();
    for f in [&h1, &m15, &d1, &w1] {
        old.save(f).await.unwrap();
    }
    let files_before = p.files_under("ohlcv/symbol=EURUSD").await.len();
    assert!(a.symbols().await.unwrap().contains(&s));
    assert_eq!(
        a.recorded_alignment(&s).await.unwrap(),
        Some(DailyAlignment::UtcMidnight)
    );
    assert_eq!(a.recorded_alignment(&sym("GBPUSD")).await.unwrap(), None);

    let done = a.realign(&s, ny).await.unwrap();
    let set_aside: usize = done.iter().map(|r| r.files_set_aside).sum();
    assert_eq!(set_aside, files_before, "every old file kept aside");
    assert_eq!(
        p.files_under("realigned/ohlcv/symbol=EURUSD").await.len(),
        files_before
    );
    assert_eq!(a.recorded_alignment(&s).await.unwrap(), Some(ny));

    let new = a.aligning(&s, ny);
    let read = |tf| {
        let new = new.clone();
        let s = s.clone();
        async move { new.get(&s, tf, all()).await.unwrap() }
    };
    // Up to H1 the same bars, in the new layout.
    assert_eq!(
        read(Timeframe::H1).await,
        h1.clone().with_alignment(ny).unwrap()
    );
    assert_eq!(
        read(Timeframe::M15).await,
        m15.clone().with_alignment(ny).unwrap()
    );
    // D1: exactly the trading dates the hourly bars cover, each from its own hours.
    let got: Vec<(i64, [f64; 5])> = read(Timeframe::D1)
        .await
        .iter()
        .map(|b| {
            (
                b.time_millis(),
                [b.open(), b.high(), b.low(), b.close(), b.volume()],
            )
        })
        .collect();
    let want = ny_days_by_hand(&h1);
    assert_eq!(got.len(), want.len());
    for ((gt, gv), (wt, wv)) in got.iter().zip(&want) {
        assert_eq!(gt, wt);
        for (g, w) in gv.iter().zip(wv) {
            assert!((g - w).abs() < 1e-9, "{gt}: {gv:?} vs {wv:?}");
        }
    }
    // Five trading dates a week, never a Sunday: the FX convention.
    assert!(got.iter().all(|(t, _)| {
        let date = ny.date_of(chrono::DateTime::from_timestamp_millis(*t).unwrap());
        !matches!(date.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun)
    }));
    let d1_report = done.iter().find(|r| r.timeframe == Timeframe::D1).unwrap();
    assert_eq!(d1_report.bars_before, d1.len());
    assert_eq!(d1_report.bars_after, want.len());
    // What the hourly bars could not rebuild is named: only the partial first and last days.
    assert!(d1_report.gaps.len() <= 2, "{:?}", d1_report.gaps);
    assert!(!read(Timeframe::W1).await.is_empty());
    // The old view is refused, not mixed; a second run changes nothing.
    assert!(matches!(
        old.load(&s, Timeframe::H1, all()).await,
        Err(StoreError::Frame(FrameError::AlignmentMismatch { .. }))
    ));
    let again = a.realign(&s, ny).await.unwrap();
    assert!(again.iter().all(|r| r.files_set_aside == 0));
    assert_eq!(read(Timeframe::H1).await, h1.with_alignment(ny).unwrap());
}

async fn realign_finishes_a_run_stopped_after_setting_files_aside(a: ParquetArchive, p: Place) {
    let (s, ny) = (sym("USDCHF"), DailyAlignment::NewYorkClose);
    let old = a.clone().instruments(utc_registry("USDCHF"));
    let start = Utc.with_ymd_and_hms(2026, 4, 27, 0, 0, 0).unwrap();
    let h1 = fx_bars("USDCHF", Timeframe::H1, start, 24 * 10);
    old.save(&h1).await.unwrap();
    // A run stopped between setting April's file aside and writing the new partitions.
    let april = "ohlcv/symbol=USDCHF/timeframe=H1/2026-04.parquet";
    let prefix = match &p {
        Place::Dir(_) => "",
        Place::Bucket(..) => "cold/",
    };
    let bytes = p.read(&format!("{prefix}{april}")).await.unwrap();
    p.write(
        &format!(
            "{prefix}realigned/ohlcv/symbol=USDCHF/timeframe=H1/2026-04.20261207T120000.000Z.realigned"
        ),
        &bytes,
    )
    .await;
    p.remove(&format!("{prefix}{april}")).await;
    a.realign(&s, ny).await.unwrap();
    assert_eq!(
        a.aligning(&s, ny)
            .get(&s, Timeframe::H1, all())
            .await
            .unwrap(),
        h1.with_alignment(ny).unwrap(),
        "April's bars back from the set-aside file"
    );
}
