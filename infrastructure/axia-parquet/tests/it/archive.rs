use std::sync::Arc;

use axia_domain::{OhlcvStore, StoreError, TimeRange, Timeframe};
use axia_parquet::ParquetArchive;
use axia_parquet::layout::partition_at;
use chrono::{Duration, TimeZone, Utc};

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
    a_corrupt_object_is_a_typed_error_naming_it,
    a_bar_at_2359_lands_in_its_utc_day,
    coverage_lists_the_stored_partitions,
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

async fn a_corrupt_object_is_a_typed_error_naming_it(a: ParquetArchive, p: Place) {
    let f = bars(
        "USDJPY",
        Timeframe::H1,
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        48,
        150.0,
    );
    a.save(&f).await.unwrap();
    let partition = partition_at(Timeframe::H1, f.first_time().unwrap());
    let key = a.key(&sym("USDJPY"), Timeframe::H1, &partition);
    let stored = p.read(&key).await.unwrap();
    for bad in [
        b"garbage, not parquet".to_vec(),
        stored[..stored.len() / 2].to_vec(),
    ] {
        p.write(&key, &bad).await;
        let err = a
            .get(&sym("USDJPY"), Timeframe::H1, all())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { location, .. } if location.ends_with("timeframe=H1/2026-03.parquet")),
            "{err:?}"
        );
        // A save into a corrupt partition refuses rather than overwrite what it cannot read.
        let err = a.save(&f).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert_eq!(p.read(&key).await.unwrap(), bad, "left as it was");
    }
    // A file of another series under this key is corrupt too.
    let other = ParquetArchive::local(
        std::env::temp_dir().join(format!("axia-other-{}", std::process::id())),
    );
    let eur = bars("EURUSD", Timeframe::H1, f.first_time().unwrap(), 2, 1.08);
    other.save(&eur).await.unwrap();
    let eur_bytes = std::fs::read(
        std::env::temp_dir()
            .join(format!("axia-other-{}", std::process::id()))
            .join(other.key(&sym("EURUSD"), Timeframe::H1, &partition)),
    )
    .unwrap();
    p.write(&key, &eur_bytes).await;
    assert!(matches!(
        a.get(&sym("USDJPY"), Timeframe::H1, all()).await,
        Err(StoreError::Corrupt { .. })
    ));
}

async fn a_bar_at_2359_lands_in_its_utc_day(a: ParquetArchive, p: Place) {
    let t = Utc.with_ymd_and_hms(2026, 3, 4, 23, 59, 0).unwrap();
    let f = bars("EURJPY", Timeframe::M1, t, 2, 162.0); // 23:59 and 00:00 the next day
    a.save(&f).await.unwrap();
    let k1 = a.key(
        &sym("EURJPY"),
        Timeframe::M1,
        &partition_at(Timeframe::M1, t),
    );
    let k2 = a.key(
        &sym("EURJPY"),
        Timeframe::M1,
        &partition_at(Timeframe::M1, t + Duration::minutes(1)),
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
