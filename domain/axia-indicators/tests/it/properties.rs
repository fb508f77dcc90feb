use axia_indicators::{
    Atr, Bollinger, Ema, Hlc, Indicator, IndicatorError, Macd, NonFinite, Rsi, Sma, Timed, batch,
};
use proptest::prelude::*;

/// FX-like closes: a walk around 1.1 with the occasional flat run.
fn closes() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-30i32..=30, 0u8..4), 1..160).prop_map(|steps| {
        let mut p = 1.1;
        steps
            .into_iter()
            .map(|(s, flat)| {
                if flat > 0 {
                    p += f64::from(s) * 1e-5;
                }
                p
            })
            .collect()
    })
}

fn bars(closes: &[f64]) -> Vec<Hlc> {
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| Hlc {
            high: c + 1e-5 * (i % 7) as f64,
            low: c - 1e-5 * (i % 5) as f64,
            close: c,
        })
        .collect()
}

/// The streaming properties of one indicator over `xs`, with `x` as a forming bar.
fn streaming_properties<I: Indicator + PartialEq>(
    fresh: &I,
    xs: &[I::Input],
    forming: I::Input,
    revised: I::Input,
    bad: I::Input,
) -> Result<(), TestCaseError> {
    // batch == fold(update); None for exactly the lookback.
    let out = batch(fresh.clone(), xs.iter().copied()).unwrap();
    let mut ind = fresh.clone();
    for (i, &x) in xs.iter().enumerate() {
        let v = ind.update(x).unwrap();
        prop_assert_eq!(v, out[i]);
        prop_assert_eq!(v, ind.value());
        prop_assert_eq!(
            v.is_some(),
            i >= ind.lookback(),
            "bar {} of lookback {}",
            i,
            ind.lookback()
        );
    }
    // peek == clone + update, and leaves the state as it was.
    let before = ind.clone();
    let peeked = ind.peek(forming).unwrap();
    prop_assert!(ind == before);
    prop_assert_eq!(peeked, ind.clone().update(forming).unwrap());
    // A refused input leaves the state unchanged.
    prop_assert_eq!(ind.update(bad), Err(NonFinite));
    prop_assert!(ind.peek(bad).is_err());
    prop_assert!(ind == before);
    // Timed: revising the last bar then going on equals having had the final bar all along.
    let mut revised_stream = Timed::new(fresh.clone());
    let mut straight = Timed::new(fresh.clone());
    for (i, &x) in xs.iter().enumerate() {
        let t = i as i64 * 60_000;
        revised_stream.update(t, forming).unwrap();
        revised_stream.update(t, revised).unwrap();
        prop_assert_eq!(
            revised_stream.update(t, x).unwrap(),
            straight.update(t, x).unwrap()
        );
    }
    prop_assert!(revised_stream == straight);
    prop_assert_eq!(straight.value(), ind.value());
    // An older bar and a non-finite one are refused, the state unchanged.
    if let Some(last) = straight.last_ms() {
        let kept = straight.clone();
        let older = straight.update(last - 60_000, forming);
        let is_out_of_order = matches!(older, Err(IndicatorError::OutOfOrder { .. }));
        prop_assert!(is_out_of_order);
        prop_assert!(straight.update(last + 60_000, bad).is_err());
        prop_assert!(straight == kept);
        // Peeking the forming bar after the last equals updating a copy.
        prop_assert_eq!(
            straight.peek(last + 60_000, forming).unwrap(),
            straight.indicator().clone().update(forming).unwrap()
        );
        prop_assert!(straight == kept);
    }
    Ok(())
}

proptest! {
    #[test]
    fn every_indicator_streams_as_it_batches(xs in closes(), f in -50i32..50, r in -50i32..50) {
        let forming = xs[xs.len() - 1] + f64::from(f) * 1e-5;
        let revised = xs[xs.len() - 1] + f64::from(r) * 1e-5;
        streaming_properties(&Sma::new(20).unwrap(), &xs, forming, revised, f64::NAN)?;
        streaming_properties(&Ema::new(20).unwrap(), &xs, forming, revised, f64::INFINITY)?;
        // EMA checks its weighted input (`x * k`), which must refuse exactly what `x` would.
        streaming_properties(&Ema::new(5).unwrap(), &xs, forming, revised, f64::NAN)?;
        streaming_properties(&Ema::new(5).unwrap(), &xs, forming, revised, f64::NEG_INFINITY)?;
        streaming_properties(&Rsi::new(14).unwrap(), &xs, forming, revised, f64::NAN)?;
        streaming_properties(&Macd::standard(), &xs, forming, revised, f64::NEG_INFINITY)?;
        streaming_properties(&Bollinger::standard(), &xs, forming, revised, f64::NAN)?;
        let hlc = bars(&xs);
        let fb = Hlc { high: forming + 2e-5, low: forming - 2e-5, close: forming };
        let rb = Hlc { high: revised + 1e-5, low: revised - 3e-5, close: revised };
        let bad = Hlc { high: f64::NAN, ..fb };
        streaming_properties(&Atr::new(14).unwrap(), &hlc, fb, rb, bad)?;
    }

    #[test]
    fn lookbacks_are_ta_libs(n in 2usize..200, fast in 2usize..50, gap in 1usize..50, signal in 2usize..50) {
        prop_assert_eq!(Sma::new(n).unwrap().lookback(), n - 1);
        prop_assert_eq!(Ema::new(n).unwrap().lookback(), n - 1);
        prop_assert_eq!(Rsi::new(n).unwrap().lookback(), n);
        prop_assert_eq!(Atr::new(n).unwrap().lookback(), n);
        prop_assert_eq!(Bollinger::new(n, 2.0).unwrap().lookback(), n - 1);
        let slow = fast + gap;
        prop_assert_eq!(Macd::new(fast, slow, signal).unwrap().lookback(), (slow - 1) + (signal - 1));
    }
}

#[test]
fn invalid_periods_are_typed_errors() {
    for e in [
        Sma::new(1).unwrap_err(),
        Ema::new(0).unwrap_err(),
        Rsi::new(1).unwrap_err(),
        Atr::new(0).unwrap_err(),
        Bollinger::new(1, 2.0).unwrap_err(),
        Bollinger::new(20, f64::NAN).unwrap_err(),
        Bollinger::new(20, -1.0).unwrap_err(),
        Macd::new(12, 26, 1).unwrap_err(),
        Macd::new(26, 12, 9).unwrap_err(),
        Macd::new(12, 12, 9).unwrap_err(),
        Sma::new(100_001).unwrap_err(),
    ] {
        assert!(matches!(e, IndicatorError::InvalidParameter { .. }), "{e}");
        assert!(!e.to_string().is_empty());
    }
    let e = Macd::new(12, 26, 1).unwrap_err();
    assert!(e.to_string().contains("signal"), "{e}");
    assert!(Atr::new(1).is_ok(), "ATR 1 is the true range");
}

#[test]
fn the_bollinger_deviation_does_not_drift_over_a_long_run() {
    // 200,000 FX-like closes near 1.1: the deviation stays within 1e-9 (relative) of an exact
    // two-pass computation over the window, where a running sum of squares loses digits.
    let mut bb = Bollinger::new(20, 1.0).unwrap();
    let mut window = std::collections::VecDeque::new();
    let mut p = 1.1_f64;
    let mut state = 12_345_u64;
    let mut worst = 0.0_f64;
    for i in 0..200_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let step = ((state >> 33) % 21) as f64 - 10.0;
        p += step * 1e-5;
        window.push_back(p);
        if window.len() > 20 {
            window.pop_front();
        }
        let b = bb.update(p).unwrap();
        if i % 997 == 0 && window.len() == 20 {
            let b = b.unwrap();
            let mean = window.iter().sum::<f64>() / 20.0;
            let var = window.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 20.0;
            let sd = var.sqrt();
            if sd > 0.0 {
                worst = worst.max(((b.upper - b.middle) - sd).abs() / sd);
            }
        }
    }
    eprintln!("worst relative error of sigma over 200,000 updates: {worst:e}");
    assert!(worst < 1e-9, "worst relative error of sigma {worst:e}");
}

#[test]
fn feature_names_round_trip_and_bad_ones_are_typed_errors() {
    for spec in axia_indicators::FeatureSpec::STANDARD {
        let back: axia_indicators::FeatureSpec = spec.to_string().parse().unwrap();
        assert_eq!(back, spec);
    }
    assert_eq!(
        "bb_10_1.5".parse::<axia_indicators::FeatureSpec>().unwrap(),
        axia_indicators::FeatureSpec::Bollinger(10, 1.5)
    );
    for bad in [
        "",
        "sma",
        "sma_x",
        "sma_1",
        "macd_12_26_1",
        "macd_26_12_9",
        "wma_10",
        "bb_20",
        "rsi_14_2",
    ] {
        assert!(
            matches!(
                bad.parse::<axia_indicators::FeatureSpec>(),
                Err(IndicatorError::InvalidParameter { .. })
            ),
            "{bad}"
        );
    }
    assert_eq!(
        axia_indicators::FeatureSpec::Macd(12, 26, 9).names(),
        ["macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9"]
    );
}

proptest! {
    #[test]
    fn a_feature_set_gives_each_indicators_own_values(xs in closes(), f in -50i32..50) {
        let hlc = bars(&xs);
        let mut set = axia_indicators::FeatureSet::standard();
        prop_assert_eq!(set.lookback(), 33);
        for b in &hlc {
            set.update(*b).unwrap();
        }
        let closes: Vec<f64> = hlc.iter().map(|b| b.close).collect();
        let last = |v: Vec<Option<f64>>| v.last().copied().flatten();
        prop_assert_eq!(set.values().get("sma_20").copied(), last(batch(Sma::new(20).unwrap(), closes.clone()).unwrap()));
        prop_assert_eq!(set.values().get("rsi_14").copied(), last(batch(Rsi::new(14).unwrap(), closes.clone()).unwrap()));
        prop_assert_eq!(set.values().get("atr_14").copied(), last(batch(Atr::new(14).unwrap(), hlc.clone()).unwrap()));
        let macd = batch(Macd::standard(), closes.clone()).unwrap().last().copied().flatten();
        prop_assert_eq!(set.values().get("macd_hist_12_26_9").copied(), macd.map(|m| m.hist));
        let bb = batch(Bollinger::standard(), closes).unwrap().last().copied().flatten();
        prop_assert_eq!(set.values().get("bb_lower_20_2").copied(), bb.map(|b| b.lower));
        // Peek leaves the set as it was; a refused bar too.
        let before = set.clone();
        let forming = Hlc { high: xs[0] + 1e-4, low: xs[0] - 1e-4, close: xs[0] + f64::from(f) * 1e-5 };
        let peeked = set.peek(forming).unwrap();
        prop_assert!(set == before);
        let mut copy = set.clone();
        copy.update(forming).unwrap();
        prop_assert_eq!(peeked, copy.values());
        let bad = Hlc { close: f64::NAN, ..forming };
        prop_assert!(set.update(bad).is_err());
        prop_assert!(set == before);
    }

    /// ATR checks its weighted true range (finite exactly when the high and the low are) and
    /// its close, then, only when that fails, the bar: it must refuse exactly the bars with a
    /// NaN or an infinity, at any point of its warm-up or after, and take a bar of finite
    /// prices whose true range is beyond f64's as the feature set's path takes it.
    #[test]
    fn atr_refuses_exactly_the_non_finite_bars(
        xs in closes(),
        at in 0usize..160,
        which in 0usize..3,
        bad in prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
    ) {
        let hlc = bars(&xs);
        let at = at % hlc.len();
        let mut atr = Atr::new(3).unwrap();
        for b in &hlc[..at] {
            atr.update(*b).unwrap();
        }
        let mut b = hlc[at];
        match which {
            0 => b.high = bad,
            1 => b.low = bad,
            _ => b.close = bad,
        }
        let before = atr.clone();
        prop_assert_eq!(atr.update(b), Err(NonFinite));
        prop_assert!(atr == before);
        prop_assert_eq!(atr.update(hlc[at]), before.clone().update(hlc[at]));
        let huge = Hlc { high: f64::MAX, low: -f64::MAX, close: 0.0 };
        let mut stepped = atr.clone();
        prop_assert_eq!(atr.update(huge), Ok(stepped.step(huge)));
        prop_assert!(atr == stepped);
    }
}
