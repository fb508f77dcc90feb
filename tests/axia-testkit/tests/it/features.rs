//! The feature engine over the real provider and in-memory adapters: live values equal the
//! values recomputed from history, whatever the refresh schedule, gaps, anchors crossed,
//! restarts and late corrections.

use std::sync::Arc;

use axia_domain::{
    Clock, FeatureStore, ManualClock, OhlcvFrame, OhlcvStore, Symbol, TimeRange, Timeframe,
};
use axia_features::{FeatureConfig, FeatureEngine};
use axia_memory::{MemoryFeatureStore, MemoryStore};
use axia_provider::OhlcvDataProvider;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

fn eurusd() -> Symbol {
    "EURUSD".parse().unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

/// M5 bars at `minutes` after t0 with closes from `closes`.
fn frame(minutes: &[i64], closes: &[f64]) -> OhlcvFrame {
    let mut b = OhlcvFrame::builder(eurusd(), Timeframe::M5, minutes.len());
    for (m, c) in minutes.iter().zip(closes) {
        let t = (t0() + Duration::minutes(*m)).timestamp_millis();
        b.push(t, *c, c + 0.0004, c - 0.0003, *c, 10.0).unwrap();
    }
    b.finish()
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

/// Anchors every 10 M5 bars, so that the tests cross many; short indicators.
fn config() -> FeatureConfig {
    FeatureConfig::standard()
        .indicators(&[
            "sma_3".parse().unwrap(),
            "ema_4".parse().unwrap(),
            "rsi_3".parse().unwrap(),
            "bb_5_2".parse().unwrap(),
        ])
        .unwrap()
        .anchoring(10, Duration::zero())
        .max_backfill(1_000)
}

struct World {
    archive: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    provider: OhlcvDataProvider,
    store: Arc<MemoryFeatureStore>,
}

async fn world(bars: &OhlcvFrame, now: DateTime<Utc>) -> World {
    let archive = Arc::new(MemoryStore::new());
    archive.save(bars).await.unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let provider = OhlcvDataProvider::builder()
        .cold_archive(Arc::clone(&archive))
        .clock(Arc::clone(&clock))
        .build();
    World {
        archive,
        clock,
        provider,
        store: Arc::new(MemoryFeatureStore::new()),
    }
}

impl World {
    fn engine(&self) -> FeatureEngine {
        FeatureEngine::new(self.provider.clone(), Arc::clone(&self.store))
            .clock(Arc::clone(&self.clock))
            .config(config())
    }

    async fn published(&self) -> Vec<axia_domain::FeatureSnapshot> {
        self.store
            .history(
                &eurusd(),
                Timeframe::M5,
                TimeRange::new(t0(), t0() + Duration::days(30)).unwrap(),
            )
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_corrected_closed_bar_rebuilds_the_series_from_history() {
    let minutes: Vec<i64> = (0..60).map(|i| i * 5).collect();
    let closes = walk(60, 11);
    let w = world(&frame(&minutes, &closes), t0() + Duration::minutes(281)).await;
    let engine = w.engine();
    let first = engine.refresh(&eurusd(), Timeframe::M5).await.unwrap();
    assert!(first.warmed_up);
    // The newest closed bar (04:35) is corrected in the archive after its values went out.
    let mut corrected = closes.clone();
    corrected[55] += 0.002;
    w.archive
        .save(&frame(&minutes[55..56], &corrected[55..56]))
        .await
        .unwrap();
    w.clock.set(t0() + Duration::minutes(286));
    let r = engine.refresh(&eurusd(), Timeframe::M5).await.unwrap();
    assert!(r.warmed_up, "rebuilt from history");
    let latest = w
        .store
        .latest(&eurusd(), Timeframe::M5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.bar_open, t0() + Duration::minutes(280));
    let again = w
        .engine()
        .compute_at(&eurusd(), Timeframe::M5, latest.bar_open)
        .await
        .unwrap();
    assert_eq!(again, Some(latest));
    // The history holds each bar once: the corrected bar's entry keeps the values first
    // published (the history is append-only; replays are refused), the bars after it follow
    // the correction.
    let times: Vec<_> = w.published().await.iter().map(|s| s.bar_open).collect();
    assert_eq!(
        times,
        vec![t0() + Duration::minutes(275), t0() + Duration::minutes(280)]
    );
}

/// The history behind a value must reach its anchor. Over the real provider: an archive whose
/// series starts after the anchor, with no source to ask for the rest, gives no value and names
/// the missing range (the feature engine of a fresh machine read only what was there); a hole
/// inside a stored series is bars the source never had; a fallback fills what the archive
/// lacks, and then the values are those of the whole history.
#[tokio::test]
async fn a_history_that_does_not_reach_its_anchor_is_refused_unless_a_source_has_it() {
    let minutes: Vec<i64> = (0..150).map(|i| i * 5).collect();
    let closes = walk(150, 21);
    let all = frame(&minutes, &closes);
    let at = |m: i64| t0() + Duration::minutes(m);
    let target = at(700);
    let anchor = config()
        .anchoring_for(Timeframe::M5)
        .start_for(target.timestamp_millis());
    let anchor = DateTime::from_timestamp_millis(anchor).unwrap();
    assert!(anchor > at(0) && anchor < at(660));

    // Only the bars from 11:00 on: short of the anchor, and nothing older.
    let late = all.slice(TimeRange::new(at(660), at(750)).unwrap());
    let w = world(&late, at(702)).await;
    let e = w
        .engine()
        .compute_at(&eurusd(), Timeframe::M5, target)
        .await
        .unwrap_err();
    match &e {
        axia_features::FeatureError::IncompleteHistory { missing, why, .. } => {
            // From where the read started (the span before the anchor: the bar at or before
            // the instant asked may belong to it) to the first bar there is.
            assert!(missing.start() <= anchor, "{missing:?}");
            assert_eq!(missing.end(), at(660));
            assert!(why.contains("no broker or fallback"), "{why}");
        }
        other => panic!("expected IncompleteHistory, got {other:?}"),
    }
    assert!(
        e.to_string().contains("are missing from the history"),
        "{e}"
    );

    // A hole at the anchor inside a series the archive holds from t0: no bar was there.
    let holed: Vec<i64> = minutes
        .iter()
        .copied()
        .filter(|m| !(anchor..at(660)).contains(&at(*m)))
        .collect();
    let w = world(&frame(&holed, &walk(holed.len(), 21)), at(702)).await;
    assert!(
        w.engine()
            .compute_at(&eurusd(), Timeframe::M5, target)
            .await
            .unwrap()
            .is_some()
    );

    // The same short archive with the simulated broker as the fallback: the values equal those
    // computed from every bar since the anchor (the fallback's: the provider's plan asks it for
    // the last 24 h before the archive).
    let clock = Arc::new(ManualClock::new(at(702)));
    let archive = Arc::new(MemoryStore::new());
    archive.save(&late).await.unwrap();
    let sim = axia_simbroker::SimulatedBroker::new(5, Arc::clone(&clock));
    let provider = OhlcvDataProvider::builder()
        .cold_archive(Arc::clone(&archive))
        .fallback(sim.clone())
        .clock(Arc::clone(&clock))
        .build();
    let engine = FeatureEngine::new(provider, MemoryFeatureStore::new())
        .clock(Arc::clone(&clock))
        .config(config());
    let values = engine
        .compute_at(&eurusd(), Timeframe::M5, target)
        .await
        .unwrap()
        .unwrap();
    use axia_domain::MarketData as _;
    let history = sim
        .bars(
            &eurusd(),
            Timeframe::M5,
            TimeRange::new(anchor, target + Duration::minutes(1)).unwrap(),
        )
        .await
        .unwrap()
        .frame;
    let specs = config().specs_for(&eurusd(), Timeframe::M5).to_vec();
    let mut reference = axia_features::FeatureSet::new(&specs).unwrap();
    for b in history.iter() {
        reference
            .update(axia_indicators::Hlc {
                high: b.high(),
                low: b.low(),
                close: b.close(),
            })
            .unwrap();
    }
    assert_eq!(values.values, reference.values());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Live values equal the values recomputed from history, bit for bit, whatever the refresh
    /// schedule, gaps, anchors crossed and restarts; and the history holds every closed bar
    /// after the first published once, in order.
    #[test]
    fn live_equals_recomputed_across_restarts(
        seed in any::<u64>(),
        gaps in proptest::collection::vec(0i64..4, 120),
        steps in proptest::collection::vec(1i64..40, 1..25),
        restart_at in 0usize..25,
    ) {
        // The series starts at t0, before every anchor the engine reads from (a history that
        // does not reach its anchor is refused: see the next test); gaps come after.
        let mut m = 0i64;
        let minutes: Vec<i64> = std::iter::once(0)
            .chain(gaps.iter().map(|g| {
                m += 5 * (1 + g * i64::from(*g == 3) * 6);
                m
            }))
            .collect();
        let all = frame(&minutes, &walk(minutes.len(), seed));
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let w = world(&all, t0() + Duration::minutes(200)).await;
            let mut live = w.engine();
            for (i, step) in steps.iter().enumerate() {
                if i == restart_at {
                    live = w.engine();
                }
                w.clock.advance(Duration::minutes(*step * 3));
                live.refresh(&eurusd(), Timeframe::M5).await.unwrap();
            }
            let published = w.published().await;
            let closed = all.closed_at(w.clock.now());
            if let Some(first) = published.first() {
                let expected: Vec<_> = closed
                    .iter()
                    .map(|b| b.time())
                    .filter(|t| *t >= first.bar_open)
                    .collect();
                let got: Vec<_> = published.iter().map(|s| s.bar_open).collect();
                prop_assert_eq!(got, expected, "no hole, no bar twice");
            }
            let fresh = w.engine();
            for s in &published {
                let again = fresh.compute_at(&eurusd(), Timeframe::M5, s.bar_open).await.unwrap();
                prop_assert_eq!(again.as_ref(), Some(s));
            }
            if let Some(latest) = w.store.latest(&eurusd(), Timeframe::M5).await.unwrap() {
                let again = fresh
                    .compute_at(&eurusd(), Timeframe::M5, latest.bar_open)
                    .await
                    .unwrap();
                prop_assert_eq!(again, Some(latest));
            }
            Ok(())
        })?;
    }
}
