use std::sync::Arc;
use std::time::Duration as StdDuration;

use axia_domain::{
    FxCalendar, ManualClock, MarketCalendar, MarketData, MarketDataError, Symbol, TimeRange,
    Timeframe,
};
use axia_simbroker::{Faults, SimulatedBroker, generate};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use proptest::prelude::*;

fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

/// Wednesday 2026-03-04 12:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange::new(start, end).unwrap()
}

fn symbols() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "USDJPY", "EURUSD", "GBPJPY", "XAUUSD", "AAPL", "7203.T", "EURUSD=X", "BTC-USD",
    ])
}

fn timeframes() -> impl Strategy<Value = Timeframe> {
    proptest::sample::select(Timeframe::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn overlapping_windows_agree(s in symbols(), tf in timeframes(), a in 0i64..5_000, b in 0i64..5_000, len in 1i64..3_000) {
        let base = now() - Duration::days(60);
        let far = now() + Duration::days(60);
        let r1 = range(base + Duration::hours(a), base + Duration::hours(a + len));
        let r2 = range(base + Duration::hours(b), base + Duration::hours(b + len));
        let f1 = generate(7, &sym(s), tf, r1, far).unwrap();
        let f2 = generate(7, &sym(s), tf, r2, far).unwrap();
        if let Some(both) = r1.intersect(&r2) {
            prop_assert_eq!(f1.slice(both), f2.slice(both));
        }
    }

    #[test]
    fn every_price_is_on_the_instruments_tick_grid(s in symbols(), tf in timeframes(), start_h in 0i64..2_000, len_h in 1i64..400) {
        let instrument = axia_domain::InstrumentRegistry::builtin().resolve(&sym(s));
        let tick = instrument.tick();
        let start = now() - Duration::days(100) + Duration::hours(start_h);
        let f = generate(5, &sym(s), tf, range(start, start + Duration::hours(len_h)), now()).unwrap();
        for b in f.iter() {
            for p in [b.open(), b.high(), b.low(), b.close()] {
                prop_assert_eq!(tick.quantize(p), Some(p), "{} {}: {} is off the {} grid", s, tf, p, tick);
                // Printed at the instrument's precision and read back, it is the same number.
                prop_assert_eq!(tick.format(p).parse::<f64>().unwrap(), p);
            }
        }
    }

    #[test]
    fn a_coarse_bar_is_the_resample_of_its_m1_bars(s in symbols(), tf in timeframes(), start_h in 0i64..2_000, len_h in 1i64..800) {
        // On the instrument's grid (an FX pair's days end at the New York close).
        let grid = tf.aligned(axia_domain::InstrumentRegistry::builtin().resolve(&sym(s)).alignment());
        let start = grid.floor(now() - Duration::days(100) + Duration::hours(start_h));
        let r = range(start, start + Duration::hours(len_h));
        let far = now() + Duration::days(400);
        let coarse = generate(11, &sym(s), tf, r, far).unwrap();
        // The M1 bars of every coarse bar that opens in r.
        let m1_end = coarse.last_time().map_or(r.end(), |t| grid.next_open(t));
        let fine = generate(11, &sym(s), Timeframe::M1, range(start, m1_end.max(start)), far).unwrap();
        let expected = if tf == Timeframe::M1 { fine.clone() } else { fine.resample(tf).unwrap() };
        prop_assert_eq!(coarse, expected.slice(r));
    }

    #[test]
    fn new_york_close_instruments_get_bars_on_their_grid(s in symbols(), tf in timeframes(), start_h in 0i64..2_000, len_h in 1i64..800) {
        let ny = axia_domain::DailyAlignment::NewYorkClose;
        let instrument = axia_domain::InstrumentRegistry::builtin().resolve(&sym(s)).with_alignment(ny);
        let grid = tf.aligned(ny);
        let start = grid.floor(now() - Duration::days(100) + Duration::hours(start_h));
        let r = range(start, start + Duration::hours(len_h));
        let far = now() + Duration::days(400);
        let coarse = axia_simbroker::generate_for(11, &instrument, tf, r, far).unwrap();
        prop_assert_eq!(coarse.alignment(), ny);
        prop_assert!(coarse.iter().all(|b| grid.floor(b.time()) == b.time()));
        let m1_end = coarse.last_time().map_or(r.end(), |t| grid.next_open(t));
        let fine = axia_simbroker::generate_for(11, &instrument, Timeframe::M1, range(start, m1_end.max(start)), far).unwrap();
        let expected = if tf == Timeframe::M1 { fine.clone() } else { fine.resample(tf).unwrap() };
        prop_assert_eq!(coarse, expected.slice(r));
        // Every market here but crypto trades Monday to Friday: no daily bar has a weekend
        // trading date (no Sunday stub for FX).
        if tf == Timeframe::D1 && instrument.hours() != axia_domain::TradingHours::AlwaysOpen {
            for b in expected.slice(r).iter() {
                let d = ny.date_of(b.time()).weekday();
                prop_assert!(!matches!(d, chrono::Weekday::Sat | chrono::Weekday::Sun), "{} {}", b.time(), d);
            }
        }
    }

    #[test]
    fn seeds_and_symbols_give_different_prices(a in 0u64..1000, b in 0u64..1000) {
        prop_assume!(a != b);
        let r = range(now() - Duration::hours(2), now());
        let fa = generate(a, &sym("EURUSD"), Timeframe::M1, r, now()).unwrap();
        let fb = generate(b, &sym("EURUSD"), Timeframe::M1, r, now()).unwrap();
        prop_assert_ne!(fa.columns().close.clone(), fb.columns().close.clone());
    }
}

#[test]
fn fx_levels_are_realistic_and_the_weekend_is_empty() {
    let week = range(now() - Duration::days(7), now());
    for (s, lo, hi) in [
        ("USDJPY", 120.0, 180.0),
        ("EURUSD", 0.9, 1.3),
        ("EURJPY", 140.0, 190.0),
        ("GBPUSD", 1.1, 1.45),
        ("GBPJPY", 160.0, 220.0),
        // The venues' spellings of a pair: the pair.
        ("USDJPY=X", 120.0, 180.0),
        ("EUR_USD", 0.9, 1.3),
    ] {
        let f = generate(1, &sym(s), Timeframe::M1, week, now()).unwrap();
        for b in f.iter() {
            assert!(
                (lo..hi).contains(&b.low()) && (lo..hi).contains(&b.high()),
                "{s} {b:?}"
            );
            assert!(b.volume() > 0.0);
            assert!(
                FxCalendar.is_open(b.time()),
                "{s}: a bar while the market is closed: {:?}",
                b.time()
            );
        }
        // 7 days minus the 48 h weekend: 5 days of minutes.
        assert_eq!(f.len(), 5 * 1440, "{s}");
        // Minute-to-minute moves are pips, not percent (the weekend gap aside).
        let bars: Vec<_> = f.iter().collect();
        let max_jump = bars
            .windows(2)
            .filter(|w| w[1].time() - w[0].time() == Duration::minutes(1))
            .map(|w| (w[1].close() / w[0].close() - 1.0).abs())
            .fold(0.0, f64::max);
        assert!(max_jump < 0.002, "{s}: {max_jump}");
        let day = f.slice(range(now() - Duration::days(1), now()));
        let (h, l) = day.iter().fold((0.0f64, f64::MAX), |(h, l), b| {
            (h.max(b.high()), l.min(b.low()))
        });
        assert!(
            h / l - 1.0 > 0.0005 && h / l - 1.0 < 0.05,
            "{s}: daily range {}",
            h / l - 1.0
        );
    }
    // Saturday: nothing.
    let sat = range(
        Utc.with_ymd_and_hms(2026, 2, 28, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
    );
    assert!(
        generate(1, &sym("USDJPY"), Timeframe::M1, sat, now())
            .unwrap()
            .is_empty()
    );
    // Stocks trade in their session only.
    let aapl = generate(
        1,
        &sym("AAPL"),
        Timeframe::M1,
        range(now() - Duration::days(1), now()),
        now(),
    )
    .unwrap();
    assert_eq!(aapl.len(), 390);
    // A crypto pair trades every minute of the week, at a coin's level, quoted in cents as
    // venues quote it (its tick, 0.00000001, is a catch-all grid).
    let btc = generate(1, &sym("BTC-USD"), Timeframe::M1, week, now()).unwrap();
    assert_eq!(btc.len(), 7 * 1440);
    assert!(
        btc.iter()
            .all(|b| (50_000.0..150_000.0).contains(&b.close())),
        "{:?}",
        btc.first()
    );
    let cents = axia_domain::Tick::decimal(2).unwrap();
    assert!(
        btc.iter().all(|b| [b.open(), b.high(), b.low(), b.close()]
            .into_iter()
            .all(|p| cents.quantize(p) == Some(p))),
        "{:?}",
        btc.first()
    );
    // Prices on an instrument's own grid stay there: a pair's 0.001 is not coarsened.
    let jpy = generate(1, &sym("USDJPY"), Timeframe::M1, week, now()).unwrap();
    assert!(jpy.iter().any(|b| (b.close() * 100.0).fract().abs() > 1e-6));
}

#[test]
fn no_bar_opens_after_now() {
    let r = range(now() - Duration::hours(3), now() + Duration::days(3));
    for tf in Timeframe::ALL {
        let f = generate(3, &sym("USDJPY"), tf, r, now()).unwrap();
        assert!(f.last_time().is_none_or(|t| t <= now()), "{tf}");
    }
    let m1 = generate(3, &sym("USDJPY"), Timeframe::M1, r, now()).unwrap();
    assert_eq!(m1.last_time(), Some(now()), "the forming minute is there");
}

#[tokio::test]
async fn faults_are_injected() {
    let broker = SimulatedBroker::new(5, Arc::new(ManualClock::new(now())));
    let r = range(now() - Duration::hours(1), now());
    assert_eq!(
        broker
            .bars(&sym("USDJPY"), Timeframe::M1, r)
            .await
            .unwrap()
            .frame
            .len(),
        60
    );
    broker.set_faults(Faults::down());
    assert!(matches!(
        broker.bars(&sym("USDJPY"), Timeframe::M1, r).await,
        Err(MarketDataError::Unavailable(_))
    ));
    broker.set_faults(Faults {
        error_rate: 0.3,
        ..Faults::none()
    });
    let mut failed = 0;
    for _ in 0..1000 {
        if broker.bars(&sym("USDJPY"), Timeframe::H1, r).await.is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 300, "the rate is exact over a cycle");
    broker.set_faults(Faults {
        latency: StdDuration::from_millis(50),
        ..Faults::none()
    });
    let t = std::time::Instant::now();
    broker.bars(&sym("USDJPY"), Timeframe::M1, r).await.unwrap();
    assert!(t.elapsed() >= StdDuration::from_millis(50));
    assert_eq!(broker.calls(), 1003);
}

#[tokio::test]
async fn paper_orders_fill_at_the_price_once_per_client_order_id() {
    use axia_domain::{ExecutionOutcome, Order, OrderExecutor, OrderType, Side};
    let broker = SimulatedBroker::new(5, Arc::new(ManualClock::new(now())));
    let order = |cid: &str, ty| {
        Order::new(
            "o-1".parse().unwrap(),
            cid.parse().unwrap(),
            sym("USDJPY"),
            Side::Buy,
            ty,
            "1000".parse().unwrap(),
            now(),
        )
    };
    let market = order("c-1", OrderType::Market);
    let first = broker.submit(&market).await.unwrap();
    let ExecutionOutcome::Filled(fill) = &first.outcome else {
        panic!("{first:?}")
    };
    let last = generate(
        5,
        &sym("USDJPY"),
        Timeframe::M1,
        range(now() - Duration::hours(1), now() + Duration::minutes(1)),
        now(),
    )
    .unwrap();
    let expected: f64 = last.last().unwrap().close();
    assert!((fill.price.get().to_string().parse::<f64>().unwrap() - expected).abs() < 1e-6);
    assert_eq!(broker.submit(&market).await.unwrap(), first, "idempotent");
    assert_eq!(broker.orders_placed(), 1);
    assert_eq!(
        broker.lookup(&"c-1".parse().unwrap()).await.unwrap(),
        Some(first)
    );
    assert_eq!(broker.lookup(&"c-2".parse().unwrap()).await.unwrap(), None);
    let limit = broker
        .submit(&order(
            "c-3",
            OrderType::Limit {
                price: "149".parse().unwrap(),
            },
        ))
        .await
        .unwrap();
    assert!(matches!(limit.outcome, ExecutionOutcome::Accepted { .. }));
    broker.set_faults(Faults::down());
    assert!(
        broker
            .submit(&order("c-4", OrderType::Market))
            .await
            .is_err()
    );
    assert_eq!(broker.orders_placed(), 2);
}
