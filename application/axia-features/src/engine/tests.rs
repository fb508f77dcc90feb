use std::sync::Arc;

use axia_domain::{ManualClock, MockFeatureStore, OhlcvFrame};

use crate::AlertRules;
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

#[tokio::test]
async fn tails_are_applied_without_reading_and_publish_what_history_gives() {
    let minutes: Vec<i64> = (0..80).map(|i| i * 5).collect();
    let closes = walk(80, 11);
    let all = frame(&minutes, &closes);
    let at = |m: i64| t0() + Duration::minutes(m);
    let clock = Arc::new(ManualClock::new(at(201)));
    // What the history holds; a bar is corrected later in the test.
    let held = Arc::new(Mutex::new(all.clone()));
    let mut history = MockBarHistory::new();
    let (h, c) = (Arc::clone(&held), Arc::clone(&clock));
    history
        .expect_bars()
        .times(2)
        .returning(move |_, _, r| Ok(lock(&h).slice(r).with_forming_at(c.now())));
    let mut store = MockFeatureStore::new();
    store.expect_latest().times(1).returning(|_, _| Ok(None));
    let published = Arc::new(Mutex::new(Vec::<FeatureSnapshot>::new()));
    let p = Arc::clone(&published);
    store.expect_publish().returning(move |s| {
        lock(&p).push(s.clone());
        Ok(if s.forming {
            FeaturePublished::Forming
        } else {
            FeaturePublished::Appended
        })
    });
    let engine = FeatureEngine::new(history, store)
        .clock(Arc::clone(&clock))
        .config(config());
    assert!(
        engine
            .refresh(&eurusd(), Timeframe::M5)
            .await
            .unwrap()
            .warmed_up
    );
    lock(&published).clear();

    // Each write: the bar that just closed and the new forming one, as the hot tier's
    // message carries them. No read: the history mock allows only one more call.
    let anchoring = config().anchoring_for(Timeframe::M5);
    for m in (205..=300).step_by(5) {
        clock.set(at(m + 1));
        let tail = all
            .slice(TimeRange::new(at(m - 5), at(m + 1)).unwrap())
            .with_forming(true);
        let r = engine.update(&tail).await.unwrap();
        assert!(!r.warmed_up);
        assert_eq!((r.closed, r.forming), (1, true));
        let sent = std::mem::take(&mut *lock(&published));
        let closed_ms = at(m - 5).timestamp_millis();
        let from = DateTime::from_timestamp_millis(anchoring.start_for(closed_ms)).unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].bar_open, at(m - 5));
        assert_eq!(
            sent[0].values,
            folded(&all.slice(TimeRange::new(from, at(m - 4)).unwrap())),
            "the values of {m} - 5 are those recomputed from its anchor"
        );
        assert!(sent[1].forming && sent[1].bar_open == at(m));
        // The same tail again (a replay) publishes the forming bar's values only.
        let again = engine.update(&tail).await.unwrap();
        assert_eq!((again.closed, again.forming), (0, true));
        lock(&published).clear();
    }

    // A tail whose copy of the newest applied bar differs (a late correction): the series
    // is rebuilt from history (the second and last read).
    let last_closed = 295;
    let corrected = {
        let mut b = OhlcvFrame::builder(eurusd(), Timeframe::M5, 1);
        let t = at(last_closed).timestamp_millis();
        b.push(t, 1.2, 1.2004, 1.1997, 1.2, 10.0).unwrap();
        all.slice(TimeRange::new(at(0), at(last_closed)).unwrap())
            .merge(&b.finish())
            .unwrap()
    };
    *lock(&held) = corrected.clone();
    clock.set(at(last_closed + 6));
    let r = engine.update(&corrected.last_n(1)).await.unwrap();
    assert!(r.warmed_up, "rebuilt from history");
    let sent = lock(&published).clone();
    let fixed = sent
        .iter()
        .find(|s| s.bar_open == at(last_closed))
        .expect("the corrected bar's values");
    let from =
        DateTime::from_timestamp_millis(anchoring.start_for(at(last_closed).timestamp_millis()))
            .unwrap();
    assert_eq!(
        fixed.values,
        folded(&corrected.slice(TimeRange::new(from, at(last_closed + 1)).unwrap()))
    );
}

/// A history with bars that could not be read gives no value: both the recomputation and a
/// starting series say which range is missing, and nothing is published.
#[tokio::test]
async fn a_history_with_missing_bars_is_refused_with_the_range() {
    let at = |m: i64| t0() + Duration::minutes(m);
    let clock = Arc::new(ManualClock::new(at(722)));
    let gap = TimeRange::new(at(630), at(700)).unwrap();
    let mut history = MockBarHistory::new();
    history
        .expect_bars()
        .with(
            mockall::predicate::eq(eurusd()),
            mockall::predicate::eq(Timeframe::M5),
            mockall::predicate::always(),
        )
        .times(2)
        .returning(move |_, _, _| {
            Err(crate::HistoryError::Missing {
                missing: gap,
                why: "the stores lack them".into(),
            })
        });
    let mut store = MockFeatureStore::new();
    store.expect_latest().times(1).returning(|_, _| Ok(None));
    store.expect_publish().never();
    let engine = FeatureEngine::new(history, store)
        .clock(Arc::clone(&clock))
        .config(config());
    for result in [
        engine
            .compute_at(&eurusd(), Timeframe::M5, at(722))
            .await
            .map(|_| ()),
        engine.refresh(&eurusd(), Timeframe::M5).await.map(|_| ()),
    ] {
        let e = result.unwrap_err();
        assert!(
            matches!(&e, FeatureError::IncompleteHistory { missing, .. } if *missing == gap),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("are missing from the history"),
            "{e}"
        );
    }
}

fn rule(id: &str, condition: &str, frequency: axia_domain::Frequency) -> axia_domain::AlertRule {
    let mut r = axia_domain::AlertRule::new(
        id.parse().unwrap(),
        eurusd(),
        Timeframe::M5,
        condition.parse().unwrap(),
    );
    r.frequency = frequency;
    r
}

/// An alert is recorded before its bar's values are published: when the log is down, nothing
/// of that bar is published and the next refresh evaluates it again.
#[tokio::test]
async fn an_alert_log_failure_publishes_nothing_and_the_bar_fires_on_the_next_refresh() {
    use axia_domain::{AlertRecorded, Frequency, MockAlertLog};
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
    let newest = t0() + Duration::minutes(145);
    let id = format!("always:1:{}", newest.timestamp_millis());
    let mut log = MockAlertLog::new();
    let mut seq = mockall::Sequence::new();
    let first = id.clone();
    log.expect_record()
        .withf(move |a| a.id.as_str() == first && !a.forming)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    let second = id.clone();
    log.expect_record()
        .withf(move |a| a.id.as_str() == second)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(AlertRecorded::New("1-0".into())));
    let mut store = MockFeatureStore::new();
    store.expect_latest().times(2).returning(|_, _| Ok(None));
    // Published once: after the log took the alert. The forming bar fires nothing (a
    // once-per-bar-close rule) and is published.
    store
        .expect_publish()
        .withf(move |s| !s.forming && s.bar_open == newest)
        .times(1)
        .returning(|_| Ok(FeaturePublished::Appended));
    store
        .expect_publish()
        .withf(|s| s.forming)
        .times(1)
        .returning(|_| Ok(FeaturePublished::Forming));
    let rules = AlertRules::new(
        [rule("always", "close > 0", Frequency::OncePerBarClose)],
        &config(),
    )
    .unwrap();
    let engine = FeatureEngine::new(history, store)
        .clock(Arc::clone(&clock))
        .config(config())
        .alerts(rules, log);
    let e = engine.refresh(&eurusd(), Timeframe::M5).await.unwrap_err();
    assert!(matches!(e, FeatureError::AlertLog(_)), "{e}");
    let r = engine.refresh(&eurusd(), Timeframe::M5).await.unwrap();
    assert_eq!(r.alerts.len(), 1);
    assert_eq!(r.alerts[0].id.as_str(), id);
    assert_eq!((r.closed, r.forming), (1, true));
}

/// A once-per-bar rule is evaluated on the forming bar; the log's answer decides what is new.
#[tokio::test]
async fn a_once_per_bar_rule_fires_on_the_forming_bar_and_a_duplicate_is_not_reported() {
    use axia_domain::{AlertRecorded, Frequency, MockAlertLog};
    let minutes: Vec<i64> = (0..40).map(|i| i * 5).collect();
    let all = frame(&minutes, &walk(40, 3));
    let clock = Arc::new(ManualClock::new(t0() + Duration::minutes(150)));
    let mut history = MockBarHistory::new();
    let bars = all.clone();
    let c = Arc::clone(&clock);
    history
        .expect_bars()
        .times(1)
        .returning(move |_, _, r| Ok(bars.slice(r).with_forming_at(c.now())));
    let forming = t0() + Duration::minutes(150);
    let mut log = MockAlertLog::new();
    log.expect_record()
        .withf(|a| !a.forming)
        .times(1)
        .returning(|_| Ok(AlertRecorded::Duplicate));
    log.expect_record()
        .withf(move |a| a.forming && a.bar_open == forming)
        .times(1)
        .returning(|_| Ok(AlertRecorded::New("2-0".into())));
    let mut store = MockFeatureStore::new();
    store.expect_latest().times(1).returning(|_, _| Ok(None));
    store.expect_publish().times(2).returning(|s| {
        Ok(if s.forming {
            FeaturePublished::Forming
        } else {
            FeaturePublished::Appended
        })
    });
    let rules = AlertRules::new(
        [rule("each", "close > 0", Frequency::OncePerBar)],
        &config(),
    )
    .unwrap();
    let engine = FeatureEngine::new(history, store)
        .clock(Arc::clone(&clock))
        .config(config())
        .alerts(rules, log);
    let r = engine.refresh(&eurusd(), Timeframe::M5).await.unwrap();
    assert_eq!(r.alerts.len(), 1, "the duplicate is not reported");
    assert!(r.alerts[0].forming);
}
