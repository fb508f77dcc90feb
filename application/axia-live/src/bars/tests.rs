//! Quotes to bars: each rule on hand-made quotes, and random quote sequences (gaps,
//! duplicates, reordering, outliers, timers, DST changes, the New York close, a stock's
//! session) against a straightforward reference implementation.

use std::collections::BTreeMap;

use axia_domain::{DailyAlignment, Instrument, InstrumentRegistry, Quote, Symbol, Timeframe};
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

fn eurusd() -> Instrument {
    Instrument::fx_pair("EUR", "USD")
        .unwrap()
        .with_alignment(DailyAlignment::NewYorkClose)
}

fn usdjpy() -> Instrument {
    Instrument::fx_pair("USD", "JPY")
        .unwrap()
        .with_alignment(DailyAlignment::UtcMidnight)
}

fn aapl() -> Instrument {
    InstrumentRegistry::shared_builtin().resolve(&sym("AAPL"))
}

fn quote(s: &str, t: DateTime<Utc>, bid: f64, ask: f64) -> Quote {
    Quote {
        symbol: sym(s),
        time: t,
        bid,
        ask,
        size: None,
    }
}

/// Tuesday 2026-11-10 14:00 UTC: every market of the tests is open.
fn tuesday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap()
}

fn m1_only() -> LiveBarsConfig {
    LiveBarsConfig {
        timeframes: vec![Timeframe::M1],
        ..LiveBarsConfig::default()
    }
}

#[test]
fn quotes_make_the_forming_bar_and_the_next_period_closes_it() {
    let mut q = QuotesToBars::new(&m1_only(), [eurusd()]);
    let mut out = Vec::new();
    let t = tuesday();
    for (s, bid, ask) in [
        (0, 1.1000, 1.1002),
        (20, 1.1004, 1.1006),
        (40, 1.0998, 1.1000),
    ] {
        q.on_quote(
            &quote("EURUSD", t + Duration::seconds(s), bid, ask),
            &mut out,
        )
        .unwrap();
    }
    let last = out.last().unwrap();
    assert!(last.forming);
    assert_eq!(last.bar.time_millis, t.timestamp_millis());
    assert_eq!(
        (
            last.bar.open,
            last.bar.high,
            last.bar.low,
            last.bar.close,
            last.bar.volume
        ),
        (1.1001, 1.1005, 1.0999, 1.0999, 3.0)
    );
    out.clear();
    q.on_quote(
        &quote("EURUSD", t + Duration::seconds(61), 1.1, 1.1002),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(!out[0].forming);
    assert_eq!(out[0].bar.close, 1.0999);
    assert!(out[1].forming);
    assert_eq!(
        out[1].bar.time_millis,
        (t + Duration::minutes(1)).timestamp_millis()
    );
    assert_eq!(q.counts().accepted, 4);
}

#[test]
fn the_timer_closes_a_bar_without_a_quote_and_later_quotes_for_it_are_late() {
    let mut q = QuotesToBars::new(&m1_only(), [eurusd()]);
    let mut out = Vec::new();
    let t = tuesday();
    q.on_quote(
        &quote("EURUSD", t + Duration::seconds(5), 1.1, 1.1002),
        &mut out,
    )
    .unwrap();
    assert_eq!(q.next_end(), Some(t + Duration::minutes(1)));
    out.clear();
    q.close_until(t + Duration::seconds(59), &mut out);
    assert!(out.is_empty(), "not ended yet");
    q.close_until(t + Duration::minutes(1), &mut out);
    assert_eq!(out.len(), 1);
    assert!(!out[0].forming);
    assert_eq!(q.forming().count(), 0);
    // A quote stamped in the closed minute arrives after the timer: late.
    assert_eq!(
        q.on_quote(
            &quote("EURUSD", t + Duration::seconds(50), 1.1, 1.1002),
            &mut out
        ),
        Err(QuoteDrop::Late)
    );
    // The next bar opens at the next quote, not at the timer.
    out.clear();
    q.on_quote(
        &quote("EURUSD", t + Duration::seconds(200), 1.1, 1.1002),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out[0].bar.time_millis,
        (t + Duration::minutes(3)).timestamp_millis()
    );
    assert_eq!(q.counts().dropped(QuoteDrop::Late), 1);
}

#[test]
fn every_drop_reason_is_counted_and_changes_nothing() {
    let mut q = QuotesToBars::new(&m1_only(), [eurusd(), aapl()]);
    let mut out = Vec::new();
    let t = tuesday();
    q.on_quote(&quote("EURUSD", t, 1.1, 1.1002), &mut out)
        .unwrap();
    out.clear();
    let saturday = Utc.with_ymd_and_hms(2026, 11, 14, 12, 0, 0).unwrap();
    let cases = [
        (quote("GBPUSD", t, 1.3, 1.3002), QuoteDrop::Unconfigured),
        (
            quote("EURUSD", t + Duration::seconds(1), 0.0, 1.1),
            QuoteDrop::Invalid,
        ),
        (
            quote("EURUSD", t + Duration::seconds(1), f64::NAN, 1.1),
            QuoteDrop::Invalid,
        ),
        (
            quote("EURUSD", t + Duration::seconds(1), -1.1, 1.1),
            QuoteDrop::Invalid,
        ),
        (
            quote("EURUSD", t + Duration::seconds(1), 1.1003, 1.1001),
            QuoteDrop::Crossed,
        ),
        (quote("EURUSD", t, 1.1, 1.1002), QuoteDrop::Duplicate),
        (quote("EURUSD", t, 1.1001, 1.1003), QuoteDrop::Stale),
        (
            quote("EURUSD", t - Duration::seconds(1), 1.1, 1.1002),
            QuoteDrop::Stale,
        ),
        (
            quote("EURUSD", saturday, 1.1, 1.1002),
            QuoteDrop::MarketClosed,
        ),
        // New York is closed at 05:00 UTC.
        (
            quote("AAPL", t - Duration::hours(9), 190.0, 190.02),
            QuoteDrop::MarketClosed,
        ),
    ];
    for (quote, reason) in &cases {
        assert_eq!(q.on_quote(quote, &mut out), Err(*reason), "{quote:?}");
    }
    assert!(out.is_empty());
    for reason in QuoteDrop::ALL {
        let expected = cases.iter().filter(|(_, r)| *r == reason).count() as u64;
        assert_eq!(q.counts().dropped(reason), expected, "{reason:?}");
    }
    assert_eq!(q.counts().accepted, 1);
}

#[test]
fn an_outlier_is_dropped_and_a_confirmed_move_is_taken() {
    let mut q = QuotesToBars::new(&m1_only(), [eurusd()]);
    let mut out = Vec::new();
    let t = tuesday();
    let mut at = 0;
    let mut send = |q: &mut QuotesToBars, mid: f64| {
        at += 1;
        q.on_quote(
            &quote(
                "EURUSD",
                t + Duration::seconds(at),
                mid - 0.0001,
                mid + 0.0001,
            ),
            &mut out,
        )
    };
    for i in 0..20 {
        send(&mut q, 1.1 + f64::from(i % 3) * 0.0001).unwrap();
    }
    // 1 % away, once: dropped.
    assert_eq!(send(&mut q, 1.111), Err(QuoteDrop::Outlier));
    send(&mut q, 1.1001).unwrap();
    // A real move: two outliers, then the third at the new level is taken, and the level holds.
    assert_eq!(send(&mut q, 1.12), Err(QuoteDrop::Outlier));
    assert_eq!(send(&mut q, 1.1201), Err(QuoteDrop::Outlier));
    send(&mut q, 1.1202).unwrap();
    send(&mut q, 1.1203).unwrap();
    assert_eq!(q.counts().dropped(QuoteDrop::Outlier), 3);
    // Within 0.2 % of a flat market is never an outlier.
    let mut flat = QuotesToBars::new(&m1_only(), [eurusd()]);
    for i in 0..10 {
        flat.on_quote(
            &quote("EURUSD", t + Duration::seconds(i), 1.1, 1.1),
            &mut Vec::new(),
        )
        .unwrap();
    }
    flat.on_quote(
        &quote("EURUSD", t + Duration::seconds(11), 1.1021, 1.1021),
        &mut Vec::new(),
    )
    .unwrap();
}

#[test]
fn daily_bars_follow_the_instruments_alignment_and_the_price_component() {
    let config = LiveBarsConfig {
        timeframes: vec![Timeframe::D1, Timeframe::H4],
        component: PriceComponent::Bid,
        outliers: OutlierRule::OFF,
    };
    let mut q = QuotesToBars::new(&config, [eurusd(), usdjpy()]);
    let mut out = Vec::new();
    // 22:30 UTC in November: after the New York close (22:00 UTC), before UTC midnight.
    let t = Utc.with_ymd_and_hms(2026, 11, 10, 22, 30, 0).unwrap();
    q.on_quote(&quote("EURUSD", t, 1.1, 1.1002), &mut out)
        .unwrap();
    q.on_quote(&quote("USDJPY", t, 150.0, 150.02), &mut out)
        .unwrap();
    let opens: Vec<(String, Timeframe, DateTime<Utc>, f64)> = out
        .iter()
        .map(|c| {
            let (s, tf, _) = q.series(c.series).unwrap();
            (
                s.to_string(),
                tf,
                DateTime::from_timestamp_millis(c.bar.time_millis).unwrap(),
                c.bar.open,
            )
        })
        .collect();
    let at = |h| Utc.with_ymd_and_hms(2026, 11, 10, h, 0, 0).unwrap();
    assert_eq!(
        opens,
        vec![
            ("EURUSD".into(), Timeframe::D1, at(22), 1.1),
            ("EURUSD".into(), Timeframe::H4, at(22), 1.1),
            ("USDJPY".into(), Timeframe::D1, at(0), 150.0),
            ("USDJPY".into(), Timeframe::H4, at(20), 150.0),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Against a reference
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Event {
    Quote(Quote),
    Timer(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct RefBar {
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

#[derive(Default)]
struct RefInstrument {
    last: Option<(i64, f64, f64)>,
    /// Every accepted price since the level last started over.
    accepted: Vec<f64>,
    /// Outliers in a row.
    suspects: Vec<f64>,
}

fn sorted_median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

type RefBars = BTreeMap<(String, Timeframe, i64), RefBar>;

/// The rules of the crate's table, written out one by one with no state beyond the inputs.
fn reference(
    config: &LiveBarsConfig,
    instruments: &[Instrument],
    events: &[Event],
) -> (RefBars, BTreeMap<QuoteDrop, u64>, u64) {
    let mut bars = RefBars::new();
    let mut drops = BTreeMap::<QuoteDrop, u64>::new();
    let mut accepted = 0;
    let mut state: BTreeMap<String, RefInstrument> = BTreeMap::new();
    let mut timer_at = i64::MIN;
    for e in events {
        let q = match e {
            Event::Timer(t) => {
                timer_at = timer_at.max(t.timestamp_millis());
                continue;
            }
            Event::Quote(q) => q,
        };
        let verdict = (|| {
            let inst = instruments
                .iter()
                .find(|i| i.symbol() == &q.symbol)
                .ok_or(QuoteDrop::Unconfigured)?;
            if !(q.bid > 0.0 && q.ask > 0.0 && q.bid.is_finite() && q.ask.is_finite()) {
                return Err(QuoteDrop::Invalid);
            }
            if q.bid > q.ask {
                return Err(QuoteDrop::Crossed);
            }
            let st = state.entry(q.symbol.to_string()).or_default();
            let t = q.time.timestamp_millis();
            if let Some((lt, lb, la)) = st.last {
                if t == lt && q.bid == lb && q.ask == la {
                    return Err(QuoteDrop::Duplicate);
                }
                if t <= lt {
                    return Err(QuoteDrop::Stale);
                }
            }
            if !inst.calendar().is_open(q.time) {
                return Err(QuoteDrop::MarketClosed);
            }
            // Late: the timer passed the end of the quote's bar in some timeframe.
            for tf in &config.timeframes {
                let grid = tf.aligned(inst.alignment());
                let end = grid.next_open_millis(t).unwrap();
                if end <= timer_at {
                    return Err(QuoteDrop::Late);
                }
            }
            let p = q.price(config.component);
            if let Some((lt, _, _)) = st.last
                && inst
                    .calendar()
                    .next_close(DateTime::from_timestamp_millis(lt).unwrap())
                    <= q.time
            {
                st.accepted.clear();
                st.suspects.clear();
            }
            let rule = config.outliers;
            if rule.window > 0 && st.accepted.len() >= OutlierRule::MIN_HISTORY.min(rule.window) {
                let recent: Vec<f64> =
                    st.accepted[st.accepted.len().saturating_sub(rule.window)..].to_vec();
                let m = sorted_median(recent.clone());
                let mad = sorted_median(recent.iter().map(|x| (x - m).abs()).collect());
                let band = (rule.mads * mad).max(rule.min_fraction * m.abs());
                if (p - m).abs() > band {
                    let k = rule.confirm;
                    let n = st.suspects.len();
                    if n >= k && st.suspects[n - k..].iter().all(|s| (s - p).abs() <= band) {
                        st.accepted = st.suspects[n - k..].to_vec();
                        st.suspects.clear();
                    } else {
                        st.suspects.push(p);
                        return Err(QuoteDrop::Outlier);
                    }
                } else {
                    st.suspects.clear();
                }
            }
            st.accepted.push(p);
            st.last = Some((t, q.bid, q.ask));
            for tf in &config.timeframes {
                let open = tf.aligned(inst.alignment()).floor_millis(t).unwrap();
                bars.entry((q.symbol.to_string(), *tf, open))
                    .and_modify(|b| {
                        b.high = b.high.max(p);
                        b.low = b.low.min(p);
                        b.close = p;
                        b.volume += 1.0;
                    })
                    .or_insert(RefBar {
                        open: p,
                        high: p,
                        low: p,
                        close: p,
                        volume: 1.0,
                    });
            }
            Ok(())
        })();
        match verdict {
            Ok(()) => accepted += 1,
            Err(r) => *drops.entry(r).or_default() += 1,
        }
    }
    (bars, drops, accepted)
}

/// Interesting instants: DST changes in New York and London, the FX week's close and open,
/// New York stock sessions, month and year ends.
fn bases() -> Vec<DateTime<Utc>> {
    [
        (2026, 3, 8, 6, 30),    // New York springs forward (07:00 UTC)
        (2026, 3, 29, 0, 30),   // London springs forward
        (2026, 11, 1, 5, 0),    // New York falls back
        (2026, 11, 13, 21, 0),  // Friday: the FX week closes at 22:00 UTC
        (2026, 11, 15, 21, 30), // Sunday: it opens at 22:00 UTC
        (2026, 11, 10, 14, 0),  // a stock session opens at 14:30 UTC
        (2026, 11, 10, 20, 30), // and closes at 21:00 UTC
        (2026, 12, 31, 21, 30), // a year ends at the New York close
        (2026, 9, 30, 23, 30),  // a month ends
    ]
    .into_iter()
    .map(|(y, mo, d, h, mi)| Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
    .collect()
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let step = (
        0..3usize, // symbol
        prop_oneof![
            6 => 1i64..20_000,        // ms forward: several quotes a second
            2 => 20_000i64..900_000,  // a quiet stretch
            1 => 0i64..1,             // the same instant
            1 => -90_000i64..0,       // out of order
        ],
        -30i64..30, // mid change, in 0.01 %
        0..40u8,    // 0: a jump, 1: crossed, 2: zero, 3: a duplicate, 4-5: a timer
    );
    (0..bases().len(), prop::collection::vec(step, 1..300)).prop_map(|(b, steps)| {
        let mut t = bases()[b];
        let mut mids = [1.1_f64, 150.0, 190.0];
        let names = ["EURUSD", "USDJPY", "AAPL"];
        let mut out = Vec::new();
        let mut last: Option<Quote> = None;
        for (s, dt, dmid, kind) in steps {
            t += Duration::milliseconds(dt);
            mids[s] *= 1.0 + dmid as f64 / 10_000.0;
            let mut mid = mids[s];
            if kind == 0 {
                mid *= 1.03;
            }
            let half = mid * 0.00005;
            let (mut bid, mut ask) = (mid - half, mid + half);
            if kind == 1 {
                std::mem::swap(&mut bid, &mut ask);
            }
            if kind == 2 {
                bid = 0.0;
            }
            if kind == 3
                && let Some(l) = &last
            {
                out.push(Event::Quote(l.clone()));
                continue;
            }
            if kind == 4 || kind == 5 {
                out.push(Event::Timer(t - Duration::milliseconds(500)));
                continue;
            }
            let q = quote(names[s], t, bid, ask);
            last = Some(q.clone());
            out.push(Event::Quote(q));
        }
        out
    })
}

fn configs() -> impl Strategy<Value = LiveBarsConfig> {
    (
        prop::sample::subsequence(Timeframe::ALL.to_vec(), 1..=9),
        prop::sample::select(PriceComponent::ALL.to_vec()),
        prop_oneof![
            Just(OutlierRule::default()),
            Just(OutlierRule::OFF),
            Just(OutlierRule {
                window: 8,
                mads: 3.0,
                min_fraction: 0.0005,
                confirm: 1,
            })
        ],
    )
        .prop_map(|(timeframes, component, outliers)| LiveBarsConfig {
            timeframes,
            component,
            outliers,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The bars built equal the reference's, every bar closes at most once and never changes
    /// after closing, and the counts agree.
    #[test]
    fn equals_the_reference(config in configs(), events in events()) {
        let instruments = [eurusd(), usdjpy(), aapl()];
        let mut q = QuotesToBars::new(&config, instruments.clone());
        let mut out = Vec::new();
        let mut built: BTreeMap<(String, Timeframe, i64), (RefBar, bool)> = BTreeMap::new();
        for e in &events {
            out.clear();
            match e {
                Event::Quote(quote) => {
                    let _ = q.on_quote(quote, &mut out);
                }
                Event::Timer(t) => q.close_until(*t, &mut out),
            }
            for c in &out {
                let (s, tf, _) = q.series(c.series).unwrap();
                let key = (s.to_string(), tf, c.bar.time_millis);
                if let Some((_, closed)) = built.get(&key) {
                    prop_assert!(!closed, "{key:?} changed after it closed");
                }
                let b = c.bar;
                built.insert(key, (RefBar { open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume }, !c.forming));
            }
        }
        let (expected, drops, accepted) = reference(&config, &instruments, &events);
        let got: RefBars = built.iter().map(|(k, (b, _))| (k.clone(), *b)).collect();
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(q.counts().accepted, accepted);
        for reason in QuoteDrop::ALL {
            prop_assert_eq!(q.counts().dropped(reason), drops.get(&reason).copied().unwrap_or(0), "{:?}", reason);
        }
        // The forming bars are the newest of each series, and none has ended at the last timer.
        for c in q.forming() {
            let (s, tf, _) = q.series(c.series).unwrap();
            let newest = got.keys().filter(|(ks, ktf, _)| ks == s.as_str() && *ktf == tf).map(|k| k.2).max();
            prop_assert_eq!(newest, Some(c.bar.time_millis));
        }
    }
}
