use std::sync::Arc;

use axia_domain::{ManualClock, MockFeatureStore, OhlcvFrame};
use chrono::TimeZone;

use super::*;
use crate::history::MockBarHistory;

fn eurusd() -> Symbol {
    "EURUSD".parse().unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

/// M5 bars at `times` (minutes after t0) with closes from `closes`.
fn frame(minutes: &[i64], closes: &[f64]) -> OhlcvFrame {
    let mut b = OhlcvFrame::builder(eurusd(), Timeframe::M5, minutes.len());
    for (m, c) in minutes.iter().zip(closes) {
        let t = (t0() + Duration::minutes(*m)).timestamp_millis();
        b.push(t, *c, c + 0.0004, c - 0.0003, *c, 10.0).unwrap();
    }
    b.finish()
}

/// The values of the configured set fed every bar of `f`, in order.
fn folded(f: &OhlcvFrame) -> BTreeMap<String, f64> {
    let mut set = config().feature_set(&eurusd(), Timeframe::M5);
    for b in f.iter() {
        set.update(hlc(&b)).unwrap();
    }
    set.values()
}

fn walk(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut c = 1.1;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            c += ((x >> 33) as f64 / f64::from(u32::MAX) - 0.25) * 0.001;
            (c * 100_000.0).round() / 100_000.0
        })
        .collect()
}

/// A short span (10 M5 bars), so that tests cross anchors.
fn config() -> FeatureConfig {
    FeatureConfig::standard()
        .indicators(&[
            "sma_3".parse().unwrap(),
            "ema_4".parse().unwrap(),
            "rsi_3".parse().unwrap(),
        ])
        .unwrap()
        .anchoring(10, Duration::zero())
        .max_backfill(1_000)
}

#[tokio::test]
async fn warm_up_reads_from_the_anchor_then_only_what_is_new() {
    // Span 50 min: the warm-up at 12:02 (minute 722) reads from the anchor before the one of
    // 11:57 (the newest closed bar may open a bar length before now).
    let minutes: Vec<i64> = (0..150).map(|i| i * 5).collect();
    let closes = walk(150, 7);
    let all = frame(&minutes, &closes);
    let clock = Arc::new(ManualClock::new(t0() + Duration::minutes(722)));
    let anchoring = config().anchoring_for(Timeframe::M5);
    let at = |m: i64| (t0() + Duration::minutes(m)).timestamp_millis();
    let from = |m: i64| DateTime::from_timestamp_millis(anchoring.start_for(at(m))).unwrap();
    let start = anchoring.start_for(at(717));
    assert!(at(722) - start >= anchoring.span().num_milliseconds());

    let mut history = MockBarHistory::new();
    let first = all.clone();
    history
        .expect_bars()
        .withf(move |s, tf, r| {
            *s == eurusd()
                && *tf == Timeframe::M5
                && r.start_millis() == start
                && r.end() == t0() + Duration::minutes(722) + Duration::milliseconds(1)
        })
        .times(1)
        .returning(move |_, _, r| {
            Ok(first
                .slice(r)
                .with_forming_at(t0() + Duration::minutes(722)))
        });
    // The second refresh asks from the newest closed bar (11:55) on.
    let second = all.clone();
    history
        .expect_bars()
        .withf(|_, _, r| r.start() == t0() + Duration::minutes(715))
        .times(1)
        .returning(move |_, _, r| {
            Ok(second
                .slice(r)
                .with_forming_at(t0() + Duration::minutes(726)))
        });

    let mut store = MockFeatureStore::new();
    store.expect_latest().times(1).returning(|_, _| Ok(None));
    let expected_closed =
        folded(&all.slice(TimeRange::new(from(715), t0() + Duration::minutes(716)).unwrap()));
    let mut seq = mockall::Sequence::new();
    store
        .expect_publish()
        .withf(move |s| {
            !s.forming && s.bar_open == t0() + Duration::minutes(715) && s.values == expected_closed
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(FeaturePublished::Appended));
    store
        .expect_publish()
        .withf(|s| s.forming && s.bar_open == t0() + Duration::minutes(720))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(FeaturePublished::Forming));
    // Then 12:00 closed (its values from its own anchor) and 12:05 forming.
    let expected_next =
        folded(&all.slice(TimeRange::new(from(720), t0() + Duration::minutes(721)).unwrap()));
    store
        .expect_publish()
        .withf(move |s| {
            !s.forming && s.bar_open == t0() + Duration::minutes(720) && s.values == expected_next
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(FeaturePublished::Appended));
    store
        .expect_publish()
        .withf(|s| s.forming && s.bar_open == t0() + Duration::minutes(725))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(FeaturePublished::Forming));

    let engine = FeatureEngine::new(history, store)
        .clock(Arc::clone(&clock))
        .config(config());
    let first = engine.refresh(&eurusd(), Timeframe::M5).await.unwrap();
    assert!(first.warmed_up);
    assert_eq!((first.closed, first.appended, first.forming), (1, 1, true));
    clock.set(t0() + Duration::minutes(726));
    let second = engine.refresh(&eurusd(), Timeframe::M5).await.unwrap();
    assert!(!second.warmed_up);
    assert_eq!((second.closed, second.forming), (1, true));
}

#[tokio::test]
async fn a_store_failure_rebuilds_the_series_and_loses_no_bar() {
    let minutes: Vec<i64> = (0..40).map(|i| i * 5).collect();
    let all = frame(&minutes, &walk(40, 3));
    let clock = Arc::new(ManualClock::new(t0() + Duration::minutes(150)));
    let mut history = MockBarHistory::new();
    let bars = all.clone();
    let c = Arc::clone(&clock);
    history
        .expect_bars()
        .times(2)
        .returning(move |_, _, r| Ok(bars.slice(r).with_forming_at(c.now())));
    let mut store = MockFeatureStore::new();
    // Warm-up finds nothing stored, so only 02:25 (the newest closed) is published.
    store.expect_latest().times(1).returning(|_, _| Ok(None));
    let mut seq = mockall::Sequence::new();
    store
        .expect_publish()
        .withf(|s| !s.forming && s.bar_open == t0() + Duration::minutes(145))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(FeaturePublished::Appended));
    // Then the forming bar and the store is down.
    store
        .expect_publish()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    // The next refresh rebuilds from what the store holds (02:25) and publishes 02:30 and
    // 02:35, closed by then, and the forming 02:40.
    let stored = all.get(29).unwrap().time();
    store.expect_latest().times(1).returning(move |s, tf| {
        Ok(Some(FeatureSnapshot {
            symbol: s.clone(),
            timeframe: tf,
            bar_open: stored,
            forming: false,
            values: BTreeMap::new(),
        }))
    });
    store
        .expect_publish()
        .withf(|s| !s.forming && s.bar_open == t0() + Duration::minutes(145))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(FeaturePublished::AlreadyInHistory));
    for m in [150, 155] {
        store
            .expect_publish()
            .withf(move |s| !s.forming && s.bar_open == t0() + Duration::minutes(m))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(FeaturePublished::Appended));
    }
    store
        .expect_publish()
        .withf(|s| s.forming && s.bar_open == t0() + Duration::minutes(160))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(FeaturePublished::Forming));
    let engine = FeatureEngine::new(history, store)
        .clock(Arc::clone(&clock))
        .config(config());
    assert!(engine.refresh(&eurusd(), Timeframe::M5).await.is_err());
    clock.set(t0() + Duration::minutes(161));
    let r = engine.refresh(&eurusd(), Timeframe::M5).await.unwrap();
    assert!(r.warmed_up);
    assert_eq!((r.closed, r.appended, r.forming), (3, 2, true));
}
