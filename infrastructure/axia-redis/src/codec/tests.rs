use axia_domain::Bar;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::compact::{WireV3, alignment_of, body_columns, checksum, parse_compact};
use super::legacy::WireRef;
use super::*;
use axia_domain::DailyAlignment;
use serde::Serialize;

fn sym() -> Symbol {
    "USDJPY".parse().unwrap()
}

fn frame(tf: Timeframe, opens: &[i64], seed: f64) -> OhlcvFrame {
    let bars = opens.iter().enumerate().map(|(i, &ms)| {
        let p = seed + i as f64 * 0.001;
        Bar::new(
            DateTime::from_timestamp_millis(ms).unwrap(),
            p,
            p + 0.013,
            p - 0.007,
            p + 0.002,
            i as f64 * 1.5,
        )
        .unwrap()
    });
    OhlcvFrame::from_bars(sym(), tf, bars).unwrap()
}

fn arb_frame() -> impl Strategy<Value = OhlcvFrame> {
    (
        proptest::sample::select(Timeframe::ALL.to_vec()),
        prop::collection::vec(1i64..5, 0..300),
        0.0001f64..100_000.0,
    )
        .prop_map(|(tf, skips, seed)| {
            let mut t = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
            let mut opens = Vec::new();
            for s in skips {
                for _ in 0..s {
                    t = tf.next_open(t);
                }
                opens.push(t.timestamp_millis());
            }
            frame(tf, &opens, seed)
        })
}

/// A version 1 value, as an earlier axia wrote it.
fn encode_v1(f: &OhlcvFrame) -> Vec<u8> {
    #[derive(Serialize)]
    struct V1<'a>(
        u8,
        &'a str,
        &'a str,
        i64,
        serde_bytes::ByteBuf,
        serde_bytes::ByteBuf,
        serde_bytes::ByteBuf,
        serde_bytes::ByteBuf,
        serde_bytes::ByteBuf,
        serde_bytes::ByteBuf,
    );
    let c = f.columns();
    let deltas: Vec<u8> = c
        .timestamps
        .windows(2)
        .flat_map(|w| {
            let mut out = Vec::new();
            put_leb128(&mut out, ((w[1] - w[0]) / MINUTE_MS) as u64);
            out
        })
        .collect();
    let b = |col: &[f64]| serde_bytes::ByteBuf::from(f64_bytes(col));
    rmp_serde::to_vec(&V1(
        1,
        f.symbol().as_str(),
        f.timeframe().as_str(),
        c.timestamps.first().copied().unwrap_or(0),
        serde_bytes::ByteBuf::from(deltas),
        b(&c.open),
        b(&c.high),
        b(&c.low),
        b(&c.close),
        b(&c.volume),
    ))
    .unwrap()
}

proptest! {
    #[test]
    fn new_york_close_values_keep_their_alignment(
        tf in proptest::sample::select(Timeframe::ALL.to_vec()),
        skips in prop::collection::vec(1i64..5, 0..120),
        seed in 0.5f64..200.0,
    ) {
        let g = tf.aligned(DailyAlignment::NewYorkClose);
        let mut b = OhlcvFrame::builder(sym(), tf, skips.len())
            .aligned(DailyAlignment::NewYorkClose)
            .unwrap();
        let mut t = g.ceil(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap());
        for (i, s) in skips.iter().enumerate() {
            for _ in 0..*s {
                t = g.next_open(t);
            }
            let p = seed + i as f64 * 0.001;
            b.push(t.timestamp_millis(), p, p + 0.013, p - 0.007, p + 0.002, 1.0).unwrap();
        }
        let f = b.finish();
        let back = decode(&encode(&f), f.symbol(), tf).unwrap();
        prop_assert_eq!(back.alignment(), DailyAlignment::NewYorkClose);
        prop_assert_eq!(back, f);
    }

    #[test]
    fn round_trip_is_exact(f in arb_frame(), forming in any::<bool>()) {
        let f = f.with_forming(forming);
        let bytes = encode(&f);
        let back = decode(&bytes, f.symbol(), f.timeframe()).unwrap();
        prop_assert_eq!(back, f);
    }

    #[test]
    fn version_3_values_are_still_read(f in arb_frame(), decimals in 0u32..6, forming in any::<bool>()) {
        let f = on_grid(&f.with_forming(forming), decimals);
        let v3 = encode_version_3(&f);
        prop_assert_eq!(v3[1], 3);
        prop_assert_eq!(token_of(&v3), None);
        prop_assert_eq!(decode(&v3, f.symbol(), f.timeframe()).unwrap(), f);
    }

    /// Every encoding carries its own token at the fixed place, covered by the checksum:
    /// the same bars encoded twice differ only there.
    #[test]
    fn each_value_has_its_own_token_at_a_fixed_place(f in arb_frame(), decimals in 0u32..6) {
        let f = on_grid(&f, decimals);
        let (a, b) = (encode(&f), encode(&f));
        let (ta, tb) = (token_of(&a).unwrap(), token_of(&b).unwrap());
        prop_assert_ne!(ta, tb);
        prop_assert_eq!(&a[TOKEN_RANGE], &ta[..]);
        prop_assert_eq!(&b[TOKEN_RANGE], &tb[..]);
        prop_assert_eq!(&a[..TOKEN_RANGE.start], &b[..TOKEN_RANGE.start]);
        prop_assert_eq!(decode(&a, f.symbol(), f.timeframe()).unwrap(), f.clone());
        prop_assert_eq!(decode(&b, f.symbol(), f.timeframe()).unwrap(), f.clone());
        // A token changed in place is a corrupt value, not another good one.
        let mut c = a.clone();
        c[TOKEN_RANGE.start] ^= 1;
        prop_assert!(matches!(decode(&c, f.symbol(), f.timeframe()), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn version_1_values_are_still_read(f in arb_frame()) {
        let back = decode(&encode_v1(&f), f.symbol(), f.timeframe()).unwrap();
        prop_assert_eq!(back, f);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes, &sym(), Timeframe::M1);
    }

    #[test]
    fn truncation_is_an_error(f in arb_frame(), cut in 0usize..10_000) {
        let bytes = encode(&f);
        if cut < bytes.len() {
            prop_assert!(decode(&bytes[..cut], f.symbol(), f.timeframe()).is_err());
        }
    }
}

#[test]
fn versions_and_series_are_checked() {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let f = frame(
        Timeframe::M1,
        &[
            t0.timestamp_millis(),
            (t0 + Duration::minutes(1)).timestamp_millis(),
        ],
        150.0,
    );
    let mut bytes = encode(&f);
    assert_eq!(bytes[1], SCHEMA_VERSION);
    assert!(matches!(
        decode(&bytes, &"EURUSD".parse().unwrap(), Timeframe::M1),
        Err(DecodeError::WrongSeries(_))
    ));
    assert!(matches!(
        decode(&bytes, &sym(), Timeframe::M5),
        Err(DecodeError::WrongSeries(_))
    ));
    bytes[1] = 9;
    assert!(matches!(
        decode(&bytes, &sym(), Timeframe::M1),
        Err(DecodeError::UnknownVersion(9))
    ));
    assert!(matches!(
        decode(b"hello", &sym(), Timeframe::M1),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        decode(b"", &sym(), Timeframe::M1),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn nan_in_a_stored_value_is_invalid() {
    // A hand-made value whose close is NaN: decodes as msgpack but breaks the invariants.
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .unwrap()
        .timestamp_millis();
    let nan = f64::NAN;
    let (one, two, half, bad, zero) = (
        f64_bytes(&[1.0]),
        f64_bytes(&[2.0]),
        f64_bytes(&[0.5]),
        f64_bytes(&[nan]),
        f64_bytes(&[0.0]),
    );
    let wire = WireRef {
        version: 2,
        symbol: "USDJPY",
        timeframe: "M1",
        t0,
        deltas: &[],
        open: &one,
        high: &two,
        low: &half,
        close: &bad,
        volume: &zero,
        forming: false,
    };
    let bytes = rmp_serde::to_vec(&wire).unwrap();
    assert!(matches!(
        decode(&bytes, &sym(), Timeframe::M1),
        Err(DecodeError::Invalid(_))
    ));
    // The same in version 3, raw f64 prices (after an empty column of time gaps).
    let mut body = vec![0, 0];
    for col in [&one, &two, &half, &bad, &zero] {
        body.extend_from_slice(col);
    }
    let wire = WireV3 {
        version: 3,
        symbol: "USDJPY",
        timeframe: "M1",
        alignment: 0,
        forming: false,
        bars: 1,
        t0,
        price_decimals: -1,
        first_close: 0,
        integral_volume: false,
        crc: 0,
        body: &body,
    };
    let wire = WireV3 {
        crc: checksum(
            &[],
            "USDJPY",
            "M1",
            [
                0,
                0,
                1,
                t0.cast_unsigned(),
                u64::from((-1i8).cast_unsigned()),
                0,
                0,
            ],
            &body,
        ),
        ..wire
    };
    assert!(matches!(
        decode(&rmp_serde::to_vec(&wire).unwrap(), &sym(), Timeframe::M1),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn a_day_of_m1_is_compact() {
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .unwrap()
        .timestamp_millis();
    let opens: Vec<i64> = (0..1440).map(|i| t0 + i * 60_000).collect();
    let raw = frame(Timeframe::M1, &opens, 150.0);
    let v2 = encode_version_2(&raw);
    // Version 2: 5 f64 columns at 8 bytes and a 1-byte delta per bar, plus a small header.
    assert!(v2.len() <= 1440 * 41 + 64, "{} bytes", v2.len());
    // The same bars on a 0.001 tick with whole volumes: integers of ticks, a few bytes each.
    let ticked = on_grid(&raw, 3);
    let v3 = encode(&ticked);
    assert!(v3.len() <= 1440 * 8 + 64, "{} bytes", v3.len());
    assert_eq!(decode(&v3, &sym(), Timeframe::M1).unwrap(), ticked);
}

/// `f` with every price on a `10^-decimals` grid and whole volumes.
fn on_grid(f: &OhlcvFrame, decimals: u32) -> OhlcvFrame {
    let tick = axia_domain::Tick::decimal(decimals).unwrap();
    let bars = f.iter().map(|b| {
        let q = |p: f64| tick.quantize(p).unwrap().max(tick.price_of(1));
        Bar::new(
            b.time(),
            q(b.open()),
            q(b.high()),
            q(b.low()),
            q(b.close()),
            b.volume().round(),
        )
        .unwrap()
    });
    OhlcvFrame::from_bars(f.symbol().clone(), f.timeframe(), bars.collect::<Vec<_>>())
        .unwrap()
        .with_forming(f.forming().is_some())
}

proptest! {
    #[test]
    fn prices_on_a_tick_grid_are_compact_and_exact(f in arb_frame(), decimals in 0u32..9, forming in any::<bool>()) {
        let f = on_grid(&f.with_forming(forming), decimals);
        let bytes = encode(&f);
        let (_, wire) = parse_compact(&bytes, bytes[1]).unwrap();
        prop_assert!(wire.price_decimals >= 0 && wire.price_decimals <= decimals as i8, "{}", wire.price_decimals);
        prop_assert!(wire.integral_volume);
        let back = decode(&bytes, f.symbol(), f.timeframe()).unwrap();
        // Bit-exact, not just equal.
        for (a, b) in back.iter().zip(f.iter()) {
            for (x, y) in [(a.open(), b.open()), (a.high(), b.high()), (a.low(), b.low()), (a.close(), b.close()), (a.volume(), b.volume())] {
                prop_assert_eq!(x.to_bits(), y.to_bits());
            }
        }
        prop_assert_eq!(back, f);
    }

    #[test]
    fn gapless_series_are_exact(f in arb_frame(), decimals in 0u32..9, forming in any::<bool>()) {
        // Every open at the previous close, the first at its own close (the open column
        // is then one bar behind the closes, with no division of its own).
        let f = on_grid(&f.with_forming(forming), decimals);
        let mut prev = None;
        let bars: Vec<Bar> = f.iter().map(|b| {
            let open = prev.unwrap_or(b.close());
            prev = Some(b.close());
            Bar::new(b.time(), open, b.high().max(open), b.low().min(open), b.close(), b.volume()).unwrap()
        }).collect();
        let f = OhlcvFrame::from_bars(f.symbol().clone(), f.timeframe(), bars).unwrap().with_forming(forming);
        let bytes = encode(&f);
        let back = decode(&bytes, f.symbol(), f.timeframe()).unwrap();
        for (a, b) in back.iter().zip(f.iter()) {
            for (x, y) in [(a.open(), b.open()), (a.high(), b.high()), (a.low(), b.low()), (a.close(), b.close()), (a.volume(), b.volume())] {
                prop_assert_eq!(x.to_bits(), y.to_bits());
            }
        }
        prop_assert_eq!(back, f);
    }

    #[test]
    fn version_2_values_are_still_read(f in arb_frame(), forming in any::<bool>()) {
        let f = f.with_forming(forming);
        let back = decode(&encode_version_2(&f), f.symbol(), f.timeframe()).unwrap();
        prop_assert_eq!(back, f);
    }

    #[test]
    fn corrupted_values_never_read_as_other_bars_nor_panic(
        f in arb_frame(), decimals in 0u32..6, flips in prop::collection::vec((any::<usize>(), 1u8..=255), 1..8),
    ) {
        let f = on_grid(&f, decimals);
        let good = encode(&f);
        let mut bytes = good.clone();
        for (at, x) in flips {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
        // Flips that cancel out leave the value as it was.
        prop_assume!(bytes != good);
        // An error, or (a flip that only re-spells a msgpack number, say int64 as uint64)
        // the very bars written: never other bars.
        match decode(&bytes, f.symbol(), f.timeframe()) {
            Err(_) => {}
            Ok(g) => prop_assert_eq!(g, f, "a corrupted value was read as other bars"),
        }
    }
}

/// A column laid out as `put_column` does, with any width, base and bytes.
fn arb_column(count: usize) -> impl Strategy<Value = Vec<u8>> {
    // Mostly the narrow columns `encode` writes, with the edges a forger would try.
    (
        prop_oneof![3 => Just(0u8), 4 => Just(1), 2 => Just(2), 1 => Just(4), 1 => Just(8)],
        prop_oneof![
            8 => 0u64..300,
            1 => (1u64 << 52) - 3..(1u64 << 52) + 3,
            1 => (1u64 << 63) - 3..(1u64 << 63) + 3,
            1 => any::<u64>(),
        ],
    )
        .prop_flat_map(move |(width, base)| {
            prop::collection::vec(any::<u8>(), count * usize::from(width)).prop_map(move |bytes| {
                let mut out = vec![width];
                put_leb128(&mut out, base);
                out.extend(bytes);
                out
            })
        })
}

/// Forged version 3 values: any header, any columns, a correct checksum.
fn arb_forged() -> impl Strategy<Value = (Vec<u8>, Timeframe)> {
    (
        proptest::sample::select(Timeframe::ALL.to_vec()),
        0u8..2,
        0usize..24,
        prop_oneof![
            4 => (0i64..1_000).prop_map(|h| 1_767_571_200_000 + h * 3_600_000),
            2 => (0i64..1_000_000).prop_map(|m| 1_767_571_200_000 + m * 60_000),
            1 => any::<i64>()
        ],
        prop_oneof![4 => 1i64..10_000_000, 1 => any::<i64>()],
        0i8..=MAX_DECIMALS,
    )
        .prop_flat_map(|(tf, alignment, n, t0, first_close, decimals)| {
            let m = n.saturating_sub(1);
            (
                Just((tf, alignment, n, t0, first_close, decimals)),
                (arb_column(m), arb_column(m), arb_column(n)),
                (arb_column(n), arb_column(n), arb_column(n)),
            )
        })
        .prop_map(|((tf, alignment, n, t0, first_close, decimals), a, b)| {
            let mut body = Vec::new();
            for col in [a.0, a.1, a.2, b.0, b.1, b.2] {
                body.extend(col);
            }
            let mut wire = WireV3 {
                version: 3,
                symbol: "USDJPY",
                timeframe: tf.as_str(),
                alignment,
                forming: false,
                bars: u32::try_from(n).unwrap(),
                t0,
                price_decimals: decimals,
                first_close,
                integral_volume: true,
                crc: 0,
                body: &body,
            };
            wire.crc = wire.checksum(&[]);
            (rmp_serde::to_vec(&wire).unwrap(), tf)
        })
}

#[test]
fn values_written_by_encode_need_no_second_check() {
    for tf in [Timeframe::M1, Timeframe::M5, Timeframe::H1] {
        let opens: Vec<i64> = (0..50)
            .map(|i| 1_767_571_200_000 + i * tf.max_millis())
            .collect();
        let f = on_grid(&frame(tf, &opens, 150.0), 3);
        let bytes = encode(&f);
        let (_, wire) = parse_compact(&bytes, bytes[1]).unwrap();
        let body = body_columns(&wire, f.timeframe().aligned(f.alignment())).unwrap();
        assert!(body.values_valid && body.times_valid, "{tf}");
        // A series with no missing bar (equal gaps) reads back exactly, and so does one
        // with a gap.
        assert_eq!(decode(&bytes, f.symbol(), tf).unwrap(), f, "{tf}");
        let early = frame(tf, &opens[..10], 150.0);
        let gapped = on_grid(&early, 3).merge(&f.last_n(30)).unwrap();
        assert_eq!(
            decode(&encode(&gapped), f.symbol(), tf).unwrap(),
            gapped,
            "{tf}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// What the decoder takes as established without the frame's checks holds: forged
    /// bodies (a correct checksum over any columns) that it calls valid pass those checks.
    #[test]
    fn what_the_form_establishes_holds((bytes, tf) in arb_forged()) {
        let (_, wire) = parse_compact(&bytes, bytes[1]).unwrap();
        let grid = tf.aligned(alignment_of(wire.alignment).unwrap());
        let Ok(body) = body_columns(&wire, grid) else {
            return Ok(());
        };
        let n = body.cols.timestamps.len();
        if body.values_valid {
            let mut cols = body.cols.clone();
            cols.timestamps = (0..n as i64).map(|i| i * 60_000).collect();
            prop_assert!(OhlcvFrame::from_columns(sym(), Timeframe::M1, cols).is_ok());
        }
        if body.times_valid {
            // Increasing and on the grid (the range of the first and last is checked by
            // the frame, and the others lie between them).
            let ts = &body.cols.timestamps;
            prop_assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
            prop_assert!(ts.iter().all(|&t| grid.is_aligned_millis(t)), "{ts:?}");
        }
        // And decode itself never panics on them.
        let _ = decode(&bytes, &sym(), tf);
    }
}

/// Writes of the newest bars for a patch: each starts at the series' newest bar (replacing
/// it) or after it, 1 to 3 bars, forming or not.
fn arb_writes() -> impl Strategy<Value = Vec<(u8, u8, bool, f64)>> {
    prop::collection::vec((0u8..3, 1u8..4, any::<bool>(), 0.5f64..2.0), 0..20)
}

fn write_after(current: &OhlcvFrame, skip: u8, bars: u8, forming: bool, seed: f64) -> OhlcvFrame {
    let tf = current.timeframe();
    let mut t = current
        .last_time()
        .unwrap_or_else(|| tf.floor(Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()));
    for _ in 0..skip {
        t = tf.next_open(t);
    }
    let mut opens = Vec::new();
    for _ in 0..bars {
        opens.push(t.timestamp_millis());
        t = tf.next_open(t);
    }
    frame(tf, &opens, seed).with_forming(forming)
}

proptest! {
    /// A value with patches reads as the series the writes would have made by merging: the
    /// reference is `OhlcvFrame::merge`, write after write.
    #[test]
    fn patches_read_as_the_merged_writes(
        f in arb_frame(),
        forming in any::<bool>(),
        writes in arb_writes(),
    ) {
        let base = f.with_forming(forming);
        let mut value = encode(&base);
        prop_assert_eq!(patch_count(&value), Some(0));
        let token = token_of(&value);
        let mut expected = base;
        for (n, (skip, bars, forming, seed)) in writes.into_iter().enumerate() {
            let w = write_after(&expected, skip, bars, forming, seed);
            value.extend(encode_patch(&w).unwrap());
            expected = expected.merge(&w).unwrap();
            prop_assert_eq!(patch_count(&value), Some(n + 1));
            let back = decode(&value, expected.symbol(), expected.timeframe()).unwrap();
            prop_assert_eq!(back.forming_millis(), expected.forming_millis());
            prop_assert_eq!(&back, &expected);
        }
        // Appending leaves the token where it was.
        prop_assert_eq!(token_of(&value), token);
    }

    /// A patch changed anywhere (a flipped bit, a torn append) makes the value undecodable,
    /// never other bars.
    #[test]
    fn a_damaged_patch_is_refused(
        f in arb_frame(),
        writes in arb_writes(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        cut in any::<bool>(),
    ) {
        prop_assume!(!writes.is_empty());
        let mut value = encode(&f);
        let base_len = value.len();
        let mut boundaries = vec![base_len];
        let mut current = f;
        for (skip, bars, forming, seed) in writes {
            let w = write_after(&current, skip, bars, forming, seed);
            value.extend(encode_patch(&w).unwrap());
            boundaries.push(value.len());
            current = current.merge(&w).unwrap();
        }
        let i = base_len + at.index(value.len() - base_len);
        if cut {
            // Cut between two patches, the value is a shorter valid one (an APPEND is whole:
            // that cut never happens in Redis); anywhere else it is torn.
            prop_assume!(!boundaries.contains(&i));
            value.truncate(i);
        } else {
            value[i] ^= 1 << bit;
        }
        prop_assert!(decode(&value, current.symbol(), current.timeframe()).is_err());
    }
}

#[test]
fn version_4_values_are_still_read_and_refuse_trailing_bytes() {
    let f = frame(Timeframe::M1, &[0, 60_000, 120_000], 157.2).with_forming(true);
    let v4 = encode_version_4(&f);
    assert_eq!(v4[1], 4);
    assert!(token_of(&v4).is_some());
    assert_eq!(patch_count(&v4), None, "only version 5 holds patches");
    assert_eq!(decode(&v4, f.symbol(), f.timeframe()).unwrap(), f);
    let mut longer = v4;
    longer.extend(encode_patch(&f.last_n(1)).unwrap());
    assert!(decode(&longer, f.symbol(), f.timeframe()).is_err());
    // A patch before the newest bar is refused (a writer never appends one).
    let mut v5 = encode(&f);
    v5.extend(encode_patch(&frame(Timeframe::M1, &[60_000], 157.2)).unwrap());
    assert!(decode(&v5, f.symbol(), f.timeframe()).is_err());
    // At most MAX_PATCH_BARS bars in a patch; none of an empty frame.
    assert!(encode_patch(&f.last_n(0)).is_none());
}
