use std::collections::BTreeMap;

use chrono::{Duration, TimeZone};
use proptest::prelude::*;

use super::columns::{check_row, times_hold, values_hold};
use super::*;
use crate::bar::BarError;
use crate::calendar::MarketCalendar;
use crate::{AlwaysOpen, FxCalendar, bar::Field};

fn sym() -> Symbol {
    "USDJPY".parse().unwrap()
}

fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn bar(ms: i64, p: f64) -> Bar {
    Bar::new(millis_to_time(ms), p, p + 0.5, p - 0.5, p + 0.25, 10.0).unwrap()
}

fn m1_frame(start: DateTime<Utc>, n: i64) -> OhlcvFrame {
    let s = start.timestamp_millis();
    OhlcvFrame::from_bars(
        sym(),
        Timeframe::M1,
        (0..n).map(|i| bar(s + i * 60_000, 150.0 + i as f64 * 0.01)),
    )
    .unwrap()
}

fn cols(ts: Vec<i64>) -> OhlcvColumns {
    let n = ts.len();
    OhlcvColumns {
        timestamps: ts,
        open: vec![1.0; n],
        high: vec![2.0; n],
        low: vec![0.5; n],
        close: vec![1.5; n],
        volume: vec![0.0; n],
    }
}

#[test]
fn construction_enforces_every_invariant() {
    let tf = Timeframe::M1;
    let base = t(2026, 1, 5, 0, 0).timestamp_millis();
    assert!(OhlcvFrame::from_columns(sym(), tf, cols(vec![base, base + 60_000])).is_ok());

    let mut c = cols(vec![base]);
    c.volume.clear();
    assert!(matches!(
        OhlcvFrame::from_columns(sym(), tf, c),
        Err(FrameError::LengthMismatch { volume: 0, .. })
    ));
    assert!(matches!(
        OhlcvFrame::from_columns(sym(), tf, cols(vec![base, base])),
        Err(FrameError::NotIncreasing { index: 1, .. })
    ));
    assert!(matches!(
        OhlcvFrame::from_columns(sym(), tf, cols(vec![base + 60_000, base])),
        Err(FrameError::NotIncreasing { index: 1, .. })
    ));
    assert!(matches!(
        OhlcvFrame::from_columns(sym(), tf, cols(vec![base + 1_000])),
        Err(FrameError::Misaligned { index: 0, .. })
    ));
    let bad = |f: fn(&mut OhlcvColumns)| {
        let mut c = cols(vec![base]);
        f(&mut c);
        OhlcvFrame::from_columns(sym(), tf, c)
    };
    assert!(matches!(
        bad(|c| c.open[0] = f64::NAN),
        Err(FrameError::InvalidBar {
            source: BarError::NotFinite { field: Field::Open },
            ..
        })
    ));
    assert!(matches!(
        bad(|c| c.high[0] = f64::INFINITY),
        Err(FrameError::InvalidBar {
            source: BarError::NotFinite { .. },
            ..
        })
    ));
    assert!(matches!(
        bad(|c| c.low[0] = 0.0),
        Err(FrameError::InvalidBar {
            source: BarError::NonPositivePrice {
                field: Field::Low,
                ..
            },
            ..
        })
    ));
    assert!(matches!(
        bad(|c| c.high[0] = 0.9),
        Err(FrameError::InvalidBar {
            source: BarError::Inconsistent { .. },
            ..
        })
    ));
    assert!(matches!(
        bad(|c| c.close[0] = 0.4),
        Err(FrameError::InvalidBar {
            source: BarError::Inconsistent { .. },
            ..
        })
    ));
    assert!(matches!(
        bad(|c| c.volume[0] = -1.0),
        Err(FrameError::InvalidBar {
            source: BarError::NegativeVolume(_),
            ..
        })
    ));
    assert!(matches!(
        bad(|c| c.timestamps[0] = MAX_TIME_MILLIS_FOR_TEST),
        Err(FrameError::InvalidBar {
            source: BarError::TimeOutOfRange(_),
            ..
        })
    ));
}

const MAX_TIME_MILLIS_FOR_TEST: i64 = crate::MAX_TIME_MILLIS;

#[test]
fn slicing_by_open_time() {
    let f = m1_frame(t(2026, 1, 5, 10, 0), 60);
    let r = TimeRange::new(t(2026, 1, 5, 10, 10), t(2026, 1, 5, 10, 20)).unwrap();
    let s = f.slice(r);
    assert_eq!(s.len(), 10);
    assert_eq!(s.first_time(), Some(t(2026, 1, 5, 10, 10)));
    assert_eq!(s.last_time(), Some(t(2026, 1, 5, 10, 19)));
    assert_eq!(f.keep_since(t(2026, 1, 5, 10, 55)).len(), 5);
    assert_eq!(f.keep_since(t(2026, 1, 5, 9, 0)).len(), 60);
    assert_eq!(f.last_n(3).first_time(), Some(t(2026, 1, 5, 10, 57)));
    assert_eq!(f.last_n(100).len(), 60);
    assert!(
        f.slice(TimeRange::new(t(2026, 1, 6, 0, 0), t(2026, 1, 7, 0, 0)).unwrap())
            .is_empty()
    );
    assert_eq!(f.iter().len(), 60);
    assert_eq!(f.get(59), f.last());
    assert_eq!(f.get(60), None);
}

#[test]
fn merge_refuses_another_series() {
    let a = m1_frame(t(2026, 1, 5, 10, 0), 2);
    let b = OhlcvFrame::empty("EURUSD".parse().unwrap(), Timeframe::M1);
    assert!(matches!(
        a.merge(&b),
        Err(FrameError::SeriesMismatch { .. })
    ));
    let c = OhlcvFrame::empty(sym(), Timeframe::M5);
    assert!(matches!(
        a.merge(&c),
        Err(FrameError::SeriesMismatch { .. })
    ));
}

#[test]
fn resample_refuses_incompatible_targets() {
    let f = m1_frame(t(2026, 1, 5, 10, 0), 2)
        .resample(Timeframe::W1)
        .unwrap();
    assert!(matches!(
        f.resample(Timeframe::MN1),
        Err(FrameError::IncompatibleResample {
            from: Timeframe::W1,
            to: Timeframe::MN1
        })
    ));
    assert!(f.resample(Timeframe::D1).is_err());
}

#[test]
fn completeness_skips_the_fx_weekend_and_finds_gaps() {
    // Friday 2026-01-09 18:00 UTC to Monday 2026-01-12 02:00 UTC, H1. Winter: closes Friday
    // 22:00 UTC, reopens Sunday 22:00 UTC. Expected slots: Fri 18..22 (4), Sun 22..Mon 02 (4).
    let start = t(2026, 1, 9, 18, 0);
    let range = TimeRange::new(start, t(2026, 1, 12, 2, 0)).unwrap();
    let hours = [18, 19, 21]; // Friday 20:00 missing
    let mut bars: Vec<Bar> = hours
        .iter()
        .map(|&h| bar(t(2026, 1, 9, h, 0).timestamp_millis(), 150.0))
        .collect();
    bars.extend([22, 23].map(|h| bar(t(2026, 1, 11, h, 0).timestamp_millis(), 151.0)));
    bars.push(bar(t(2026, 1, 12, 1, 0).timestamp_millis(), 151.0)); // Monday 00:00 missing
    let f = OhlcvFrame::from_bars(sym(), Timeframe::H1, bars).unwrap();
    let c = f.completeness(&FxCalendar, range);
    assert_eq!(c.expected, 8);
    assert_eq!(c.present, 6);
    assert_eq!(
        c.gaps,
        vec![
            TimeRange::new(t(2026, 1, 9, 20, 0), t(2026, 1, 9, 21, 0)).unwrap(),
            TimeRange::new(t(2026, 1, 12, 0, 0), t(2026, 1, 12, 1, 0)).unwrap(),
        ]
    );
    assert!((c.ratio() - 0.75).abs() < 1e-12);
    // Unaligned start: the first slot is the next bar open.
    let r2 = TimeRange::new(t(2026, 1, 9, 18, 30), t(2026, 1, 9, 20, 0)).unwrap();
    assert_eq!(f.completeness(&FxCalendar, r2).expected, 1);
    // Always open: 56 hourly slots, 6 present, one run of gaps from Friday 20:00 merged.
    let all = f.completeness(&AlwaysOpen, range);
    assert_eq!((all.expected, all.present), (56, 6));
}

/// Every FX minute of the weeks around a DST change, as a NY-close M1 frame.
fn fx_minutes(first_sunday: DateTime<Utc>, weeks: i64) -> OhlcvFrame {
    let ny = DailyAlignment::NewYorkClose;
    let mut b = OhlcvFrame::builder(sym(), Timeframe::M1, 0)
        .aligned(ny)
        .unwrap();
    let end = first_sunday + Duration::weeks(weeks);
    let mut m = first_sunday;
    let mut i = 0_i64;
    while m < end {
        if FxCalendar.is_open(m) {
            let p = 150.0 + (i % 97) as f64 * 0.01;
            b.push(m.timestamp_millis(), p, p + 0.02, p - 0.01, p + 0.01, 1.0)
                .unwrap();
        }
        i += 1;
        m += Duration::minutes(1);
    }
    b.finish()
}

#[test]
fn new_york_close_frames_resample_and_measure_on_their_own_grid() {
    let ny = DailyAlignment::NewYorkClose;
    // The weeks around the spring change of 2026 (Sunday 2026-03-08) and the autumn one.
    for first_sunday in [t(2026, 3, 1, 0, 0), t(2026, 10, 25, 0, 0)] {
        let m1 = fx_minutes(first_sunday, 2);
        let range = TimeRange::new(first_sunday, first_sunday + Duration::weeks(2)).unwrap();
        let d1 = m1.resample(Timeframe::D1).unwrap();
        assert_eq!(d1.alignment(), ny);
        // Five daily bars a week, each from 17:00 New York, holding 1,440 minutes.
        assert_eq!(d1.len(), 10, "{first_sunday}");
        for b in d1.iter() {
            let local = b.time().with_timezone(&chrono_tz::America::New_York);
            assert_eq!(local.format("%H:%M").to_string(), "17:00");
            assert_eq!(b.volume(), 1_440.0, "{}", b.time());
        }
        let c = d1.completeness(&FxCalendar, range);
        assert_eq!((c.expected, c.present), (10, 10), "{first_sunday}");
        let h4 = m1.resample(Timeframe::H4).unwrap();
        assert_eq!(h4.len(), 60);
        assert!(h4.iter().all(|b| b.volume() == 240.0));
        assert_eq!(h4.completeness(&FxCalendar, range).expected, 60);
        assert_eq!(h4.resample(Timeframe::D1).unwrap(), d1);
        let w1 = d1.resample(Timeframe::W1).unwrap();
        assert_eq!(w1.len(), 2);
        assert!(w1.iter().all(|b| b.volume() == 5.0 * 1_440.0));
        // A day missing from the frame is one gap of one trading day.
        let wed = d1.get(2).unwrap().time();
        let holed = OhlcvFrame::from_columns_on(sym(), Timeframe::D1.aligned(ny), {
            let mut c = OhlcvColumns::default();
            for b in d1.iter().filter(|b| b.time() != wed) {
                c.push(
                    b.time_millis(),
                    b.open(),
                    b.high(),
                    b.low(),
                    b.close(),
                    b.volume(),
                );
            }
            c
        })
        .unwrap();
        let c = holed.completeness(&FxCalendar, range);
        assert_eq!(c.gaps.len(), 1);
        assert_eq!(c.gaps[0].start(), wed);
        assert_eq!(c.gaps[0].end(), Timeframe::D1.aligned(ny).next_open(wed));
    }
}

#[test]
fn mixing_two_alignments_in_one_series_is_refused() {
    let ny = DailyAlignment::NewYorkClose;
    let m1 = fx_minutes(t(2026, 3, 1, 0, 0), 2);
    let ny_d1 = m1.resample(Timeframe::D1).unwrap();
    let utc_m1 = m1
        .clone()
        .with_alignment(DailyAlignment::UtcMidnight)
        .unwrap();
    let utc_d1 = utc_m1.resample(Timeframe::D1).unwrap();
    assert_ne!(ny_d1.first_time(), utc_d1.first_time());
    assert!(matches!(
        ny_d1.merge(&utc_d1),
        Err(FrameError::AlignmentMismatch { .. })
    ));
    // Up to H1 the bars are the same under both: they merge, under this frame's label.
    let merged = m1.merge(&utc_m1).unwrap();
    assert_eq!(merged.alignment(), ny);
    assert_eq!(merged.timestamps_millis(), m1.timestamps_millis());
    assert_eq!(
        utc_m1.merge(&m1).unwrap().alignment(),
        DailyAlignment::UtcMidnight
    );
    let h4 = m1.resample(Timeframe::H4).unwrap();
    assert!(matches!(
        h4.merge(&utc_m1.resample(Timeframe::H4).unwrap()),
        Err(FrameError::AlignmentMismatch { .. })
    ));
    // An empty frame takes the other's alignment.
    let merged = OhlcvFrame::empty(sym(), Timeframe::D1)
        .merge(&ny_d1)
        .unwrap();
    assert_eq!(merged.alignment(), ny);
    // NY bars are not on the UTC grid, and the reverse.
    assert!(
        ny_d1
            .clone()
            .with_alignment(DailyAlignment::UtcMidnight)
            .is_err()
    );
    assert!(utc_d1.with_alignment(ny).is_err());
    assert!(OhlcvFrame::from_columns(sym(), Timeframe::D1, ny_d1.clone().into_columns()).is_err());
    // Which bars are closed follows the grid: at 23:00 UTC on a summer Tuesday the day that
    // opened at 21:00 UTC is forming.
    let at = t(2026, 3, 10, 23, 0);
    let f = ny_d1
        .slice(TimeRange::new(t(2026, 3, 1, 0, 0), at).unwrap())
        .with_forming_at(at);
    assert_eq!(f.forming().map(|b| b.time()), Some(t(2026, 3, 10, 21, 0)));
}

#[test]
fn a_holiday_expects_no_bars() {
    let nyse = crate::SessionCalendar::new_york();
    let empty = OhlcvFrame::empty(sym(), Timeframe::H1);
    let day = |d| TimeRange::new(t(2026, 1, d, 0, 0), t(2026, 1, d + 1, 0, 0)).unwrap();
    // Martin Luther King Jr. Day 2026: nothing expected, so nothing missing.
    let holiday = empty.completeness(&nyse, day(19));
    assert_eq!((holiday.expected, holiday.present), (0, 0));
    assert!(holiday.gaps.is_empty());
    // The next day: 09:30 - 16:00 EST is 14:30 - 21:00 UTC, seven H1 slots from 14:00.
    let tuesday = empty.completeness(&nyse, day(20));
    assert_eq!(tuesday.expected, 7);
    assert_eq!(
        tuesday.gaps,
        vec![TimeRange::new(t(2026, 1, 20, 14, 0), t(2026, 1, 20, 21, 0)).unwrap()]
    );
}

// ---- property tests -----------------------------------------------------------------

/// Compares `completeness` with a walk over every H1 slot, gaps included.
fn check_completeness(f: &OhlcvFrame, len_h: i64, offset_m: i64) -> Result<(), TestCaseError> {
    let start = t(2026, 1, 5, 0, 0) + Duration::minutes(offset_m);
    let range = TimeRange::new(start, start + Duration::hours(len_h)).unwrap();
    let tokyo = crate::SessionCalendar::tokyo();
    // From 2026-01-05 over up to 400 h: Martin Luther King Jr. Day (01-19) closes New York.
    let new_york = crate::SessionCalendar::new_york();
    let calendars: [&dyn MarketCalendar; 4] = [&FxCalendar, &tokyo, &new_york, &AlwaysOpen];
    for cal in calendars {
        let c = f.completeness(cal, range);
        let mut expected = 0;
        let mut present = 0;
        let mut gaps: Vec<TimeRange> = Vec::new();
        let mut slot = Timeframe::H1.floor(start);
        if slot < start {
            slot += Duration::hours(1);
        }
        while slot < range.end() {
            let next = slot + Duration::hours(1);
            if cal.is_open_during(TimeRange::new(slot, next).unwrap()) {
                expected += 1;
                if f.timestamps_millis().contains(&slot.timestamp_millis()) {
                    present += 1;
                } else if let Some(g) = gaps.last_mut().filter(|g| g.end() == slot) {
                    *g = TimeRange::new(g.start(), next).unwrap();
                } else {
                    gaps.push(TimeRange::new(slot, next).unwrap());
                }
            }
            slot = next;
        }
        prop_assert_eq!((c.expected, c.present), (expected, present), "{:?}", cal);
        prop_assert_eq!(&c.gaps, &gaps, "{:?}", cal);
    }
    Ok(())
}

/// A valid frame of `tf` with random holes, starting near 2026-01-05.
fn arb_frame(tf: Timeframe, max_len: usize) -> impl Strategy<Value = OhlcvFrame> {
    let step = tf.fixed_millis().unwrap_or(31 * 86_400_000);
    prop::collection::vec(
        (
            1i64..4,
            1.0f64..200.0,
            0.0f64..1.0,
            0.0f64..1.0,
            0.0f64..1.0,
            0.0f64..1e6,
        ),
        0..max_len,
    )
    .prop_map(move |rows| {
        let mut ts = t(2026, 1, 5, 0, 0).timestamp_millis();
        let mut bars = Vec::new();
        for (skip, low, span, o, c, v) in rows {
            ts = tf.floor_millis(ts + skip * step).unwrap();
            let high = low + span * low * 0.01;
            let open = low + o * (high - low);
            let close = low + c * (high - low);
            bars.push(Bar::new(millis_to_time(ts), open, high, low, close, v).unwrap());
        }
        OhlcvFrame::from_bars(sym(), tf, bars).unwrap()
    })
}

fn assert_invariants(f: &OhlcvFrame) {
    let again = OhlcvFrame::from_columns(f.symbol().clone(), f.timeframe(), f.columns().clone())
        .map(|g| g.with_forming(f.forming().is_some()));
    assert_eq!(
        again.as_ref(),
        Ok(f),
        "a frame operation broke an invariant"
    );
}

/// Merge by a map: insert existing, then incoming (overwriting).
fn naive_merge(a: &OhlcvFrame, b: &OhlcvFrame) -> Vec<Bar> {
    let mut m = BTreeMap::new();
    for x in a.iter().chain(b.iter()) {
        m.insert(x.time_millis(), x);
    }
    m.into_values().collect()
}

/// Resample by grouping on the target's floor.
fn naive_resample(f: &OhlcvFrame, to: Timeframe) -> Vec<(i64, f64, f64, f64, f64, f64)> {
    let mut groups: BTreeMap<i64, Vec<Bar>> = BTreeMap::new();
    for b in f.iter() {
        groups
            .entry(to.floor_millis(b.time_millis()).unwrap())
            .or_default()
            .push(b);
    }
    groups
        .into_iter()
        .map(|(k, g)| {
            let high = g.iter().map(Bar::high).fold(f64::MIN, f64::max);
            let low = g.iter().map(Bar::low).fold(f64::MAX, f64::min);
            let vol: f64 = g.iter().map(Bar::volume).sum();
            (k, g[0].open(), high, low, g[g.len() - 1].close(), vol)
        })
        .collect()
}

fn tf_and_coarser() -> impl Strategy<Value = (Timeframe, Timeframe)> {
    let pairs: Vec<_> = Timeframe::ALL
        .iter()
        .flat_map(|&a| Timeframe::ALL.iter().map(move |&b| (a, b)))
        .filter(|(a, b)| a.can_resample_to(*b))
        .collect();
    proptest::sample::select(pairs)
}

proptest! {
    /// The one-pass check accepts exactly the columns the row-by-row check accepts.
    #[test]
    fn the_fast_column_check_agrees_with_the_row_check(
        tf in proptest::sample::select(Timeframe::ALL.to_vec()),
        ny in any::<bool>(),
        rows in proptest::collection::vec((0u8..12, 0.5f64..2.0, 0u8..6), 0..40),
    ) {
        let alignment = if ny { DailyAlignment::NewYorkClose } else { DailyAlignment::UtcMidnight };
        let tf = tf.aligned(alignment);
        let mut t = tf.floor(chrono::Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
        let mut cols = OhlcvColumns::default();
        for (i, &(corrupt, p, step)) in rows.iter().enumerate() {
            for _ in 0..step.max(1) {
                t = tf.next_open(t);
            }
            let mut ts = t.timestamp_millis();
            let (mut o, mut h, mut l, mut c, mut v) = (p, p * 1.01, p * 0.99, p * 1.005, 10.0);
            // Only some rows are corrupted, one way each.
            match corrupt {
                0 => o = f64::NAN,
                1 => h = p * 0.5,
                2 => l = -1.0,
                3 => v = -1.0,
                4 => v = f64::INFINITY,
                5 => ts += 1,
                6 if i > 0 => ts = cols.timestamps[i - 1],
                7 => { h = f64::INFINITY; }
                8 => { c = l * 0.9; }
                _ => {}
            }
            cols.push(ts, o, h, l, c, v);
        }
        let mut previous = None;
        let rows_ok = (0..cols.timestamps.len()).all(|i| {
            let ok = check_row(tf, i, previous, cols.timestamps[i],
                [cols.open[i], cols.high[i], cols.low[i], cols.close[i], cols.volume[i]]).is_ok();
            previous = Some(cols.timestamps[i]);
            ok
        });
        let fast_ok = values_hold(&cols) && times_hold(tf, &cols.timestamps);
        prop_assert_eq!(fast_ok, rows_ok);
        prop_assert_eq!(OhlcvFrame::from_columns_on("EURUSD".parse().unwrap(), tf, cols).is_ok(), rows_ok);
    }
}

proptest! {
    #[test]
    fn merge_is_idempotent_and_incoming_wins(
        a in arb_frame(Timeframe::M1, 200),
        b in arb_frame(Timeframe::M1, 200),
    ) {
        let m = a.merge(&b).unwrap();
        assert_invariants(&m);
        prop_assert_eq!(m.iter().collect::<Vec<_>>(), naive_merge(&a, &b));
        // Merging the same bars again changes nothing.
        prop_assert_eq!(&m.merge(&b).unwrap(), &m);
        prop_assert_eq!(&m.merge(&m).unwrap(), &m);
        prop_assert_eq!(&a.merge(&a).unwrap(), &a);
        // Every incoming bar is in the result as given.
        for bar in b.iter() {
            let i = m.timestamps_millis().binary_search(&bar.time_millis()).unwrap();
            prop_assert_eq!(m.get(i), Some(bar));
        }
    }

    #[test]
    fn a_forming_bar_never_passes_for_a_closed_one(
        a in arb_frame(Timeframe::M1, 120),
        b in arb_frame(Timeframe::M1, 120),
        fa in any::<bool>(),
        fb in any::<bool>(),
        cut in 0i64..3_000,
    ) {
        let (a, b) = (a.with_forming(fa), b.with_forming(fb));
        let m = a.merge(&b).unwrap();
        assert_invariants(&m);
        // Every closed bar of the result is a closed bar of `b`, or a closed bar of `a` at a
        // time `b` has no bar for (`b`'s forming bar does not count once `a` has newer bars).
        let b_overtaken = b.forming().is_some()
            && a.last().zip(b.last()).is_some_and(|(x, y)| x.time_millis() > y.time_millis());
        let b_eff = if b_overtaken { b.closed() } else { b.clone() };
        let b_times: std::collections::BTreeSet<i64> = b_eff.iter().map(|x| x.time_millis()).collect();
        let b_closed: Vec<Bar> = b.closed().iter().collect();
        let a_closed: Vec<Bar> = a.closed().iter().collect();
        for bar in m.closed().iter() {
            let from_b = b_closed.contains(&bar);
            let from_a = !b_times.contains(&bar.time_millis()) && a_closed.contains(&bar);
            prop_assert!(from_b || from_a, "{bar:?} is not a closed bar of either frame");
        }
        // The label sits on the newest bar, and only when the frame it came from said so.
        if let Some(f) = m.forming() {
            prop_assert_eq!(Some(f), m.last());
            prop_assert!(a.forming() == Some(f) || b.forming() == Some(f));
        }
        // Incoming closed bars all arrive; its forming one too, with its label, unless this
        // frame already had newer bars.
        for bar in b.closed().iter() {
            prop_assert!(m.iter().any(|x| x == bar));
        }
        if let Some(f) = b.forming() {
            let overtaken = a.last().is_some_and(|l| l.time_millis() > f.time_millis());
            prop_assert_eq!(m.forming() == Some(f), !overtaken);
        }
        // Only the forming bar separates a frame from its closed part.
        prop_assert_eq!(m.closed().forming(), None);
        prop_assert_eq!(m.closed().len() + usize::from(m.forming().is_some()), m.len());
        // Slices keep the label exactly when they keep the newest bar.
        let start = t(2026, 1, 5, 0, 0) + Duration::minutes(cut);
        let head = m.slice(TimeRange::new(t(2026, 1, 1, 0, 0), start).unwrap());
        prop_assert_eq!(head.forming().is_some(), m.forming().is_some() && head.last() == m.last());
        let tail = m.keep_since(start);
        prop_assert_eq!(tail.forming(), if tail.is_empty() { None } else { m.forming() });
        // Resampling keeps it on the newest bar.
        let h1 = m.resample(Timeframe::H1).unwrap();
        prop_assert_eq!(h1.forming().is_some(), m.forming().is_some());
    }

    #[test]
    fn closed_at_keeps_exactly_the_ended_bars(
        f in arb_frame(Timeframe::M5, 200), forming in any::<bool>(), at in 0i64..3_000,
    ) {
        let f = f.with_forming(forming);
        let now = t(2026, 1, 5, 0, 0) + Duration::minutes(at);
        let c = f.closed_at(now);
        prop_assert_eq!(c.forming(), None);
        let expected: Vec<Bar> = f
            .closed()
            .iter()
            .filter(|b| b.time() + Duration::minutes(5) <= now)
            .collect();
        prop_assert_eq!(c.iter().collect::<Vec<_>>(), expected);
        let labelled = f.clone().with_forming_at(now);
        prop_assert_eq!(
            labelled.forming().is_some(),
            f.forming().is_some() || f.last().is_some_and(|b| b.time() + Duration::minutes(5) > now)
        );
    }

    #[test]
    fn resample_equals_naive_grouping(
        (f, to) in tf_and_coarser().prop_flat_map(|(from, to)| (arb_frame(from, 300), Just(to)))
    ) {
        let r = f.resample(to).unwrap();
        assert_invariants(&r);
        let got: Vec<_> = r
            .iter()
            .map(|b| (b.time_millis(), b.open(), b.high(), b.low(), b.close(), b.volume()))
            .collect();
        prop_assert_eq!(got, naive_resample(&f, to));
    }

    #[test]
    fn slice_and_keep_since_agree_with_filtering(f in arb_frame(Timeframe::M5, 200), a in 0i64..2_000, len in 0i64..2_000) {
        let start = t(2026, 1, 5, 0, 0) + Duration::minutes(a);
        let range = TimeRange::new(start, start + Duration::minutes(len)).unwrap();
        let s = f.slice(range);
        assert_invariants(&s);
        prop_assert_eq!(&f.clone().into_slice(range), &s);
        let expected: Vec<_> = f.iter().filter(|b| range.contains(b.time())).collect();
        prop_assert_eq!(s.iter().collect::<Vec<_>>(), expected);
        let k = f.keep_since(start);
        prop_assert_eq!(k.len(), f.iter().filter(|b| b.time() >= start).count());
    }

    #[test]
    fn completeness_counts_match_a_slot_walk(f in arb_frame(Timeframe::H1, 200), len_h in 0i64..400, offset_m in 0i64..120) {
        check_completeness(&f, len_h, offset_m)?;
    }

    #[test]
    fn completeness_of_dense_frames_with_a_few_holes(
        holes in prop::collection::btree_set(0i64..400, 0..4), len_h in 0i64..400, offset_m in 0i64..120,
    ) {
        // Whole stretches present (the fast path) next to runs of missing bars.
        let bars: Vec<_> = (0..400)
            .filter(|h| !holes.contains(h))
            .map(|h| bar((t(2026, 1, 5, 0, 0) + Duration::hours(h)).timestamp_millis(), 150.0))
            .collect();
        let f = OhlcvFrame::from_bars(sym(), Timeframe::H1, bars).unwrap();
        check_completeness(&f, len_h, offset_m)?;
    }
}
