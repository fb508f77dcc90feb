#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::Bar;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

/// A series whose closes are `xs` and whose feature `f` is `fs` (NaN: not computed there).
fn series(xs: &[f64], fs: &[f64]) -> Vec<(Bar, BTreeMap<String, f64>)> {
    xs.iter()
        .enumerate()
        .map(|(i, &x)| {
            let t = t0() + Duration::minutes(i64::try_from(i).unwrap());
            let bar = Bar::new(t, x, x, x, x, 1.0).unwrap();
            let mut values = BTreeMap::new();
            if let Some(f) = fs.get(i).filter(|f| f.is_finite()) {
                values.insert("f".to_owned(), *f);
            }
            (bar, values)
        })
        .collect()
}

/// The indices (1-based bar numbers) at which `condition` holds, evaluated bar by bar.
fn fires(condition: &str, xs: &[f64], fs: &[f64]) -> Vec<usize> {
    let condition: Condition = condition.parse().unwrap();
    let s = series(xs, fs);
    let points: Vec<AlertPoint<'_>> = s
        .iter()
        .map(|(bar, values)| AlertPoint { bar, values })
        .collect();
    (0..points.len())
        .filter(|&i| condition.holds(&points[..=i]).is_some())
        .map(|i| i + 1)
        .collect()
}

const NONE: &[f64] = &[];

#[test]
fn greater_and_less_are_strict_on_the_newest_bar() {
    assert_eq!(fires("close > 10", &[9.0, 10.0, 11.0, 10.0], NONE), vec![3]);
    assert_eq!(fires("close < 10", &[9.0, 10.0, 11.0, 10.0], NONE), vec![1]);
    assert_eq!(
        fires("greater_than(close, f)", &[5.0, 5.0, 5.0], &[4.0, 5.0, 6.0]),
        vec![1]
    );
}

#[test]
fn crossings_follow_pine_at_equality() {
    // From equal to above is a crossing up; from above to equal is not a crossing down.
    assert_eq!(
        fires("crossing_up(close, 10)", &[10.0, 11.0], NONE),
        vec![2]
    );
    assert_eq!(
        fires("crossing_down(close, 10)", &[11.0, 10.0], NONE),
        Vec::<usize>::new()
    );
    assert_eq!(
        fires("crossing_up(close, 10)", &[9.0, 10.0, 11.0], NONE),
        vec![3]
    );
    // Touch and bounce: 9, 10, 9 against 10 crosses down at the third bar (10 >= 10, 9 < 10).
    assert_eq!(
        fires("crossing_down(close, 10)", &[9.0, 10.0, 9.0], NONE),
        vec![3]
    );
    assert_eq!(
        fires("crossing_up(close, 10)", &[9.0, 10.0, 9.0], NONE),
        Vec::<usize>::new()
    );
    // Crossing is either direction.
    assert_eq!(
        fires("crossing(close, 10)", &[9.0, 11.0, 12.0, 8.0, 8.0], NONE),
        vec![2, 4]
    );
    // The first bar has no previous one: no crossing.
    assert_eq!(
        fires("crossing(close, 10)", &[11.0], NONE),
        Vec::<usize>::new()
    );
}

#[test]
fn a_crossing_of_two_series() {
    // close against feature f: below, below, above, above, below.
    let xs = [1.0, 2.0, 5.0, 6.0, 3.0];
    let fs = [2.0, 3.0, 4.0, 5.0, 4.0];
    assert_eq!(fires("crossing_up(close, f)", &xs, &fs), vec![3]);
    assert_eq!(fires("crossing_down(close, f)", &xs, &fs), vec![5]);
    assert_eq!(fires("crossing_down(f, close)", &xs, &fs), vec![3]);
}

#[test]
fn a_missing_value_at_either_bar_means_no_fire() {
    let nan = f64::NAN;
    // f warms up at bar 3: no crossing can be seen at bar 3 (its previous value is missing).
    assert_eq!(
        fires(
            "crossing_up(close, f)",
            &[1.0, 1.0, 5.0, 6.0],
            &[nan, nan, 4.0, 5.0]
        ),
        Vec::<usize>::new()
    );
    assert_eq!(fires("close > f", &[5.0, 5.0], &[nan, 4.0]), vec![2]);
    assert_eq!(
        fires("moving_up(f, 10, 1)", &[1.0, 1.0], &[nan, 4.0]),
        Vec::<usize>::new()
    );
}

#[test]
fn a_gap_in_bars_compares_with_the_previous_bar_present() {
    // Bars at minute 0 and minute 90 (a gap): the crossing is seen at the second bar.
    let s = series(&[9.0, 11.0], NONE);
    let later = Bar::new(t0() + Duration::minutes(90), 11.0, 11.0, 11.0, 11.0, 1.0).unwrap();
    let points = [
        AlertPoint {
            bar: &s[0].0,
            values: &s[0].1,
        },
        AlertPoint {
            bar: &later,
            values: &s[1].1,
        },
    ];
    let c: Condition = "crossing_up(close, 10)".parse().unwrap();
    let values = c.holds(&points).unwrap();
    assert_eq!(values, BTreeMap::from([("close".to_owned(), 11.0)]));
}

#[test]
fn channels_are_inclusive_and_entering_needs_the_previous_bar_outside() {
    let xs = [5.0, 10.0, 15.0, 20.0, 21.0, 20.0, 9.0];
    assert_eq!(
        fires("inside_channel(close, 10, 20)", &xs, NONE),
        vec![2, 3, 4, 6]
    );
    assert_eq!(
        fires("outside_channel(close, 10, 20)", &xs, NONE),
        vec![1, 5, 7]
    );
    assert_eq!(
        fires("entering_channel(close, 10, 20)", &xs, NONE),
        vec![2, 6]
    );
    assert_eq!(
        fires("exiting_channel(close, 10, 20)", &xs, NONE),
        vec![5, 7]
    );
    // A channel on features, e.g. the Bollinger bands.
    assert_eq!(
        fires("exiting_channel(close, f, 12)", &[11.0, 9.0], &[10.0, 10.0]),
        vec![2]
    );
}

#[test]
fn moves_compare_with_the_bar_n_back() {
    let xs = [100.0, 101.0, 102.0, 110.0, 99.0];
    assert_eq!(fires("moving_up(close, 2, 2)", &xs, NONE), vec![3, 4]);
    assert_eq!(fires("moving_up(close, 10, 3)", &xs, NONE), vec![4]);
    assert_eq!(fires("moving_down(close, 10, 1)", &xs, NONE), vec![5]);
    // Not enough bars yet.
    assert_eq!(
        fires("moving_up(close, 1, 5)", &xs, NONE),
        Vec::<usize>::new()
    );
}

#[test]
fn expressions_round_trip_and_bad_ones_say_why() {
    for text in [
        "rsi_14 > 70",
        "close < 1.5",
        "crossing(ema_20, ema_50)",
        "crossing_up(close, bb_upper_20_2)",
        "crossing_down(macd_12_26_9, macd_signal_12_26_9)",
        "entering_channel(close, bb_lower_20_2, bb_upper_20_2)",
        "exiting_channel(close, 1, 2)",
        "inside_channel(rsi_14, 30, 70)",
        "outside_channel(rsi_14, 30, 70)",
        "moving_up(close, 0.5, 3)",
        "moving_down(volume, 50, 10)",
    ] {
        let c: Condition = text.parse().unwrap();
        assert_eq!(c.to_string(), text);
        assert_eq!(c.to_string().parse::<Condition>().unwrap(), c);
    }
    assert_eq!(
        "greater_than(rsi_14, 70)"
            .parse::<Condition>()
            .unwrap()
            .to_string(),
        "rsi_14 > 70"
    );
    for (bad, says) in [
        ("rsi_14 >", "expected a number"),
        ("crosses(a_1, b_1)", "unknown condition"),
        ("crossing_up(a_1)", "takes 2 arguments"),
        ("crossing_up(a_1, b_1", "closing parenthesis"),
        ("moving_up(close, -1, 3)", "percent"),
        ("moving_down(close, 100, 3)", "percent"),
        ("moving_up(close, 1, 0)", "bars"),
        ("moving_up(close, 1, 101)", "bars"),
        ("close > 1e999", "finite"),
        ("Close > 1", "expected a number"),
        ("", "expected"),
    ] {
        let e = bad.parse::<Condition>().unwrap_err().to_string();
        assert!(e.contains(says), "{bad:?}: {e}");
    }
}

#[test]
fn serde_reads_an_expression_or_a_table_and_writes_the_expression() {
    let table: Condition =
        serde_json::from_str(r#"{"crossing_up": {"left": "ema_20", "right": "ema_50"}}"#).unwrap();
    let text: Condition = serde_json::from_str(r#""crossing_up(ema_20, ema_50)""#).unwrap();
    assert_eq!(table, text);
    assert_eq!(
        serde_json::to_string(&table).unwrap(),
        r#""crossing_up(ema_20, ema_50)""#
    );
    let moving: Condition =
        serde_json::from_str(r#"{"moving_down": {"value": "close", "percent": 2.5, "bars": 4}}"#)
            .unwrap();
    assert_eq!(moving.to_string(), "moving_down(close, 2.5, 4)");
    let numeric: Condition =
        serde_json::from_str(r#"{"greater_than": {"left": "rsi_14", "right": 70}}"#).unwrap();
    assert_eq!(numeric.to_string(), "rsi_14 > 70");
    for bad in [
        r#"{"crossing_up": {"left": "ema_20"}}"#,
        r#"{"crossing_up": {"left": "ema_20", "right": "ema_50", "extra": 1}}"#,
        r#"{"moving_up": {"value": "close", "percent": 0, "bars": 4}}"#,
        r#"{"sideways": {"left": "a_1", "right": "b_1"}}"#,
        "42",
    ] {
        assert!(serde_json::from_str::<Condition>(bad).is_err(), "{bad}");
    }
}

fn rule(frequency: Frequency) -> AlertRule {
    let mut r = AlertRule::new(
        "usdjpy-rsi".parse().unwrap(),
        "USDJPY".parse().unwrap(),
        crate::Timeframe::M5,
        "rsi_14 > 70".parse().unwrap(),
    );
    r.frequency = frequency;
    r
}

#[test]
fn an_alert_id_is_the_rule_revision_and_bar_or_once() {
    let bar = Bar::new(t0(), 1.0, 1.0, 1.0, 1.0, 0.0).unwrap();
    let mut r = rule(Frequency::OncePerBarClose);
    let a = r.fire(&bar, false, BTreeMap::new());
    assert_eq!(
        a.id.as_str(),
        format!("usdjpy-rsi:1:{}", t0().timestamp_millis())
    );
    assert_eq!(
        rule(Frequency::OncePerBar)
            .fire(&bar, true, BTreeMap::new())
            .id,
        a.id
    );
    r.revision = 2;
    assert_ne!(r.fire(&bar, false, BTreeMap::new()).id, a.id);
    let once = rule(Frequency::Once);
    let later = Bar::new(t0() + Duration::hours(1), 1.0, 1.0, 1.0, 1.0, 0.0).unwrap();
    assert_eq!(
        once.fire(&bar, false, BTreeMap::new()).id,
        once.fire(&later, false, BTreeMap::new()).id
    );
    assert_eq!(
        once.fire(&bar, false, BTreeMap::new()).id.as_str(),
        "usdjpy-rsi:1:once"
    );
}

#[test]
fn messages_render_placeholders_and_refuse_bad_ones() {
    let mut r = rule(Frequency::OncePerBarClose);
    r.message = "{{symbol}} {{timeframe}} rsi {{rsi_14}} close {{close}} {{ nope_1 }} at {{time}}"
        .parse()
        .unwrap();
    let bar = Bar::new(t0(), 1.5, 2.0, 1.0, 1.25, 7.0).unwrap();
    let a = r.fire(&bar, false, BTreeMap::from([("rsi_14".to_owned(), 71.5)]));
    assert_eq!(
        a.message,
        "USDJPY M5 rsi 71.5 close 1.25 n/a at 2026-03-02T10:00:00+00:00"
    );
    let default = rule(Frequency::OncePerBarClose).fire(&bar, false, BTreeMap::new());
    assert_eq!(
        default.message,
        "USDJPY M5: rsi_14 > 70 at 2026-03-02T10:00:00+00:00 (close 1.25)"
    );
    for bad in ["{{close", "{{}}", "{{Close}}", "{{a b}}"] {
        assert!(bad.parse::<MessageTemplate>().is_err(), "{bad}");
    }
    assert!("x".repeat(2000).parse::<MessageTemplate>().is_err());
}

#[test]
fn rules_are_read_strictly_and_live_until_they_expire() {
    let r: AlertRule = serde_json::from_str(
        r#"{"id": "a.b-c_1", "symbol": "EURUSD", "timeframe": "H1",
            "condition": {"crossing_up": {"left": "ema_20", "right": "ema_50"}},
            "frequency": "once", "expires_at": "2026-03-02T11:00:00Z",
            "message": "{{symbol}} crossed", "webhooks": ["ops"]}"#,
    )
    .unwrap();
    assert_eq!(r.frequency, Frequency::Once);
    assert!(r.live_at(t0()));
    assert!(!r.live_at(t0() + Duration::hours(1)));
    let back: AlertRule = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    for bad in [
        r#"{"id": "a b", "symbol": "EURUSD", "timeframe": "H1", "condition": "close > 1"}"#,
        r#"{"id": "a", "symbol": "EURUSD", "timeframe": "H1", "condition": "close > 1", "colour": 1}"#,
        r#"{"id": "a", "symbol": "EURUSD", "timeframe": "H1", "condition": "close >> 1"}"#,
        r#"{"id": "a", "symbol": "EURUSD", "timeframe": "H1", "condition": "close > 1", "webhooks": ["a/b"]}"#,
        r#"{"id": "a", "symbol": "EURUSD", "timeframe": "H1", "condition": "close > 1", "frequency": "hourly"}"#,
    ] {
        assert!(serde_json::from_str::<AlertRule>(bad).is_err(), "{bad}");
    }
    let mut paused = r.clone();
    paused.enabled = false;
    assert!(!paused.live_at(t0()));
}

#[test]
fn an_error_names_its_rule() {
    let e = "close >> 1"
        .parse::<Condition>()
        .unwrap_err()
        .of_rule("my-rule");
    assert!(
        e.to_string().starts_with("alert rule my-rule: condition"),
        "{e}"
    );
}
