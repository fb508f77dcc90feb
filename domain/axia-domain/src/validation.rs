//! Validation of raw bars as a source returns them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bar::{BarError, check_time, check_values};
use crate::frame::{OhlcvColumns, OhlcvFrame};
use crate::{DailyAlignment, Instrument, Symbol, Tick, Timeframe};

/// A bar as a source returns it: any value may be missing (`None`, a JSON null) or bad.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RawBar {
    /// Open time, epoch milliseconds, UTC.
    pub time_millis: i64,
    /// Open price.
    pub open: Option<f64>,
    /// High price.
    pub high: Option<f64>,
    /// Low price.
    pub low: Option<f64>,
    /// Close price.
    pub close: Option<f64>,
    /// Volume.
    pub volume: Option<f64>,
}

/// Why [`validate_bars`] dropped a raw bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropReason {
    /// A value is null, not a number (a string, say), NaN or infinite.
    MissingValue,
    /// A price is zero or negative.
    NonPositivePrice,
    /// `high < low`, or open or close outside `[low, high]`.
    InconsistentPrices,
    /// The volume is negative.
    NegativeVolume,
    /// The volume has a fraction where the source counts whole units (shares, ticks).
    FractionalVolume,
    /// A bar with the same open time was already kept (the first one wins).
    Duplicate,
    /// The bar is older than a bar before it in the response.
    OutOfOrder,
    /// The open time is not a bar open time of the timeframe.
    Misaligned,
    /// The bar opens after the validation's `now`.
    InFuture,
    /// The open time is outside 1900-01-01 .. 2200-01-01.
    TimeOutOfRange,
    /// A price is too large to be put on the instrument's tick grid exactly.
    OffGrid,
}

impl DropReason {
    fn of(e: BarError) -> Self {
        match e {
            BarError::NonPositivePrice { .. } => Self::NonPositivePrice,
            BarError::Inconsistent { .. } => Self::InconsistentPrices,
            BarError::NegativeVolume(_) => Self::NegativeVolume,
            BarError::TimeOutOfRange(_) => Self::TimeOutOfRange,
            BarError::NotFinite { .. } => Self::MissingValue,
        }
    }
}

/// One bar [`validate_bars`] dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedBar {
    /// Its position in the input.
    pub index: usize,
    /// Its open time as given, epoch milliseconds.
    pub time_millis: i64,
    /// Why it was dropped.
    pub reason: DropReason,
}

/// What [`validate_bars`] kept and dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Bars received.
    pub received: usize,
    /// Bars kept in the frame.
    pub kept: usize,
    /// Every bar dropped, in input order.
    pub dropped: Vec<DroppedBar>,
}

impl ValidationReport {
    /// How many bars were dropped for each reason.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<DropReason, usize> {
        let mut counts = BTreeMap::new();
        for d in &self.dropped {
            *counts.entry(d.reason).or_insert(0) += 1;
        }
        counts
    }

    /// True when nothing was dropped.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.dropped.is_empty()
    }
}

/// Rules a source's bars are held to beyond the frame invariants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationRules {
    /// Volumes count whole units (shares traded, ticks): a fractional volume is a malformed
    /// row, dropped as [`DropReason::FractionalVolume`].
    pub integral_volume: bool,
    /// Prices are put on this grid ([`Tick::quantize`], half-even) before they are checked,
    /// so every tier holds clean values; a price too large for the grid is dropped as
    /// [`DropReason::OffGrid`], one that rounds to zero as [`DropReason::NonPositivePrice`].
    pub tick: Option<Tick>,
    /// The source stores prices as 32-bit floats (Yahoo's chart API): a bar whose four prices
    /// are all binary32 values is put on the grid with [`Tick::quantize_binary32`], which takes
    /// the float's noise out where the tick is finer than the float (`2034.0999755859375` on a
    /// `0.00000001` tick is `2034.1`); any other bar with [`Tick::quantize`].
    pub binary32_prices: bool,
    /// Where the series' daily bars start: bars off this grid are dropped as
    /// [`DropReason::Misaligned`], and the frame carries it.
    pub alignment: DailyAlignment,
}

impl ValidationRules {
    /// The frame invariants only.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            integral_volume: false,
            tick: None,
            binary32_prices: false,
            alignment: DailyAlignment::UtcMidnight,
        }
    }

    /// The rules of `instrument`: its tick, its daily alignment, and whole volumes where it
    /// counts ticks or trades in whole lots (shares). An instrument traded in any amount (a
    /// crypto pair: 0.5234 BTC) may have a fractional volume.
    #[must_use]
    pub const fn for_instrument(instrument: &Instrument) -> Self {
        Self {
            integral_volume: matches!(instrument.volume(), crate::VolumeKind::TickCount)
                || instrument.lot_step().is_some(),
            tick: Some(instrument.tick()),
            binary32_prices: false,
            alignment: instrument.alignment(),
        }
    }

    /// Bars on the grid of `alignment`.
    #[must_use]
    pub const fn alignment(mut self, alignment: DailyAlignment) -> Self {
        self.alignment = alignment;
        self
    }

    /// Prices put on `tick`'s grid.
    #[must_use]
    pub const fn tick(mut self, tick: Tick) -> Self {
        self.tick = Some(tick);
        self
    }

    /// The source's prices went through 32-bit floats (see
    /// [`ValidationRules::binary32_prices`]).
    #[must_use]
    pub const fn binary32_prices(mut self, on: bool) -> Self {
        self.binary32_prices = on;
        self
    }

    /// Volumes must be whole numbers.
    #[must_use]
    pub const fn integral_volume(mut self, on: bool) -> Self {
        self.integral_volume = on;
        self
    }
}

/// Checks raw bars of one series and keeps those that hold every [`OhlcvFrame`] invariant;
/// [`validate_bars_with`] with the default [`ValidationRules`].
///
/// Rules, applied to each bar in input order:
/// - a null, NaN or infinite value, a price `<= 0`, inconsistent prices, a negative volume, an
///   open time outside 1900..2200 or not aligned to `timeframe`: dropped;
/// - an open time after `now`: dropped as [`DropReason::InFuture`] (a still-forming bar, which
///   opened at or before `now`, is kept);
/// - an open time equal to one already kept: dropped as a duplicate (the first wins);
///   older than the newest kept: dropped as out of order.
///
/// The newest bar kept is labelled forming ([`OhlcvFrame::forming`]) when its period has not
/// ended at `now`. Never fails: the report says what was dropped and why, so one bad row costs
/// one bar.
///
/// ```
/// use axia_domain::{validate_bars, DropReason, RawBar, Symbol, Timeframe};
/// use chrono::{TimeZone, Utc};
///
/// let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
/// let t = now.timestamp_millis() - 120_000;
/// let raw = |t: i64, c: Option<f64>| RawBar {
///     time_millis: t, open: Some(1.0), high: Some(1.2), low: Some(0.9), close: c, volume: Some(5.0),
/// };
/// let (frame, report) = validate_bars(
///     "EURUSD".parse()?, Timeframe::M1,
///     [raw(t, Some(1.1)), raw(t + 60_000, None), raw(t, Some(1.0))],
///     now,
/// );
/// assert_eq!(frame.len(), 1);
/// assert_eq!(report.dropped.iter().map(|d| d.reason).collect::<Vec<_>>(),
///            [DropReason::MissingValue, DropReason::Duplicate]);
/// # Ok::<(), axia_domain::SymbolError>(())
/// ```
pub fn validate_bars(
    symbol: Symbol,
    timeframe: Timeframe,
    raw: impl IntoIterator<Item = RawBar>,
    now: DateTime<Utc>,
) -> (OhlcvFrame, ValidationReport) {
    validate_bars_with(symbol, timeframe, raw, now, ValidationRules::new())
}

/// As [`validate_bars`], holding the bars to `rules` as well.
pub fn validate_bars_with(
    symbol: Symbol,
    timeframe: Timeframe,
    raw: impl IntoIterator<Item = RawBar>,
    now: DateTime<Utc>,
    rules: ValidationRules,
) -> (OhlcvFrame, ValidationReport) {
    let raw = raw.into_iter();
    let mut cols = OhlcvColumns::with_capacity(raw.size_hint().0);
    let mut report = ValidationReport::default();
    let now_ms = now.timestamp_millis();
    let grid = timeframe.aligned(rules.alignment);
    for (index, r) in raw.enumerate() {
        report.received += 1;
        let ts = r.time_millis;
        let mut drop = |reason| {
            report.dropped.push(DroppedBar {
                index,
                time_millis: ts,
                reason,
            });
        };
        if let Err(e) = check_time(ts) {
            drop(DropReason::of(e));
            continue;
        }
        if !grid.is_aligned_millis(ts) {
            drop(DropReason::Misaligned);
            continue;
        }
        let (Some(o), Some(h), Some(l), Some(c), Some(v)) =
            (r.open, r.high, r.low, r.close, r.volume)
        else {
            drop(DropReason::MissingValue);
            continue;
        };
        let (o, h, l, c) = match rules
            .tick
            .map(|t| quantized(t, [o, h, l, c], rules.binary32_prices))
        {
            None => (o, h, l, c),
            Some(Ok([o, h, l, c])) => (o, h, l, c),
            Some(Err(reason)) => {
                drop(reason);
                continue;
            }
        };
        if let Err(e) = check_values(o, h, l, c, v) {
            drop(DropReason::of(e));
            continue;
        }
        if rules.integral_volume && v.fract() != 0.0 {
            drop(DropReason::FractionalVolume);
            continue;
        }
        if ts > now_ms {
            drop(DropReason::InFuture);
            continue;
        }
        match cols.timestamps.last() {
            Some(&last) if ts == last => {
                drop(DropReason::Duplicate);
                continue;
            }
            Some(&last) if ts < last => {
                let reason = if cols.timestamps.binary_search(&ts).is_ok() {
                    DropReason::Duplicate
                } else {
                    DropReason::OutOfOrder
                };
                drop(reason);
                continue;
            }
            _ => {}
        }
        cols.timestamps.push(ts);
        cols.open.push(o);
        cols.high.push(h);
        cols.low.push(l);
        cols.close.push(c);
        cols.volume.push(v);
    }
    let frame = OhlcvFrame::from_columns_on(symbol.clone(), grid, cols)
        // Every rule of from_columns was checked above; an empty frame is the safe answer if not.
        .map_or_else(
            |_| OhlcvFrame::empty_on(symbol, grid),
            |f| f.with_forming_at(now),
        );
    report.kept = frame.len();
    (frame, report)
}

/// The four prices on `tick`'s grid. Rounding to the nearest tick keeps the order of prices,
/// and so does [`Tick::quantize_binary32`] among binary32 values (used only when all four are),
/// so `low <= open, close <= high` still holds after it; a price too large for the grid is
/// [`DropReason::OffGrid`], a non-finite one [`DropReason::MissingValue`].
fn quantized(tick: Tick, prices: [f64; 4], binary32: bool) -> Result<[f64; 4], DropReason> {
    #[allow(clippy::cast_possible_truncation)]
    let binary32 = binary32 && prices.iter().all(|&p| f64::from(p as f32) == p);
    let mut out = prices;
    for p in &mut out {
        if !p.is_finite() {
            return Err(DropReason::MissingValue);
        }
        let on_grid = if binary32 {
            tick.quantize_binary32(*p)
        } else {
            tick.quantize(*p)
        };
        *p = on_grid.ok_or(DropReason::OffGrid)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn raw(ms: i64, o: f64, h: f64, l: f64, c: f64, v: f64) -> RawBar {
        RawBar {
            time_millis: ms,
            open: Some(o),
            high: Some(h),
            low: Some(l),
            close: Some(c),
            volume: Some(v),
        }
    }

    #[test]
    fn drops_each_kind_of_bad_bar_and_reports_it() {
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
        let m = 60_000;
        let t0 = now.timestamp_millis() - 30 * m;
        let ok = |ms| raw(ms, 1.10, 1.12, 1.09, 1.11, 100.0);
        let input = vec![
            ok(t0), // 0 kept
            RawBar {
                close: None,
                ..ok(t0 + m)
            }, // 1 null
            raw(t0 + 2 * m, f64::NAN, 1.12, 1.09, 1.11, 1.0), // 2 NaN
            raw(t0 + 3 * m, 1.10, 1.08, 1.09, 1.10, 1.0), // 3 high < low
            raw(t0 + 4 * m, 1.10, 1.12, 1.09, 1.13, 1.0), // 4 close above high
            raw(t0 + 5 * m, -1.0, 1.12, 1.09, 1.11, 1.0), // 5 negative price
            raw(t0 + 6 * m, 1.10, 1.12, 1.09, 1.11, -5.0), // 6 negative volume
            ok(t0 + 7 * m + 30_000), // 7 misaligned
            ok(t0 + 8 * m), // 8 kept
            ok(t0 + 8 * m), // 9 duplicate
            ok(t0 + 5 * m), // 10 out of order
            ok(t0), // 11 duplicate of an older one
            ok(now.timestamp_millis()), // 12 forming bar: kept
            ok(now.timestamp_millis() + m), // 13 in the future
            ok(crate::MAX_TIME_MILLIS + m), // 14 out of range
            RawBar {
                volume: Some(f64::INFINITY),
                ..ok(t0 + 20 * m)
            }, // 15 infinite volume
        ];
        let (frame, report) = validate_bars("EURUSD".parse().unwrap(), Timeframe::M1, input, now);
        assert_eq!(frame.len(), 3);
        assert_eq!(report.received, 16);
        assert_eq!(report.kept, 3);
        let got: Vec<_> = report.dropped.iter().map(|d| (d.index, d.reason)).collect();
        use DropReason::*;
        assert_eq!(
            got,
            vec![
                (1, MissingValue),
                (2, MissingValue),
                (3, InconsistentPrices),
                (4, InconsistentPrices),
                (5, NonPositivePrice),
                (6, NegativeVolume),
                (7, Misaligned),
                (9, Duplicate),
                (10, OutOfOrder),
                (11, Duplicate),
                (13, InFuture),
                (14, TimeOutOfRange),
                (15, MissingValue),
            ]
        );
        assert_eq!(report.counts().get(&MissingValue), Some(&3));
        assert!(!report.is_clean());
        assert_eq!(report.dropped[0].time_millis, t0 + m);
    }

    #[test]
    fn whole_unit_volumes_when_the_rules_say_so() {
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
        let t0 = now.timestamp_millis() - 3_600_000;
        let input = [
            raw(t0, 2.0, 2.5, 1.5, 2.2, 100.0),
            raw(t0 + 60_000, 2.0, 2.5, 1.5, 2.2, 100.5),
            raw(t0 + 120_000, 2.0, 2.5, 1.5, 2.2, 7.0),
        ];
        let (loose, report) = validate_bars("AAPL".parse().unwrap(), Timeframe::M1, input, now);
        assert_eq!((loose.len(), report.dropped.len()), (3, 0));
        let rules = ValidationRules::new().integral_volume(true);
        let (strict, report) =
            validate_bars_with("AAPL".parse().unwrap(), Timeframe::M1, input, now, rules);
        assert_eq!(strict.len(), 2);
        assert_eq!(
            report.dropped,
            [DroppedBar {
                index: 1,
                time_millis: t0 + 60_000,
                reason: DropReason::FractionalVolume
            }]
        );
    }

    #[test]
    fn an_instrument_traded_in_any_amount_keeps_fractional_volumes() {
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
        let t0 = now.timestamp_millis() - 3_600_000;
        let input = [raw(t0, 2.0, 2.5, 1.5, 2.2, 0.5234)];
        let kept = |symbol: &str| {
            let instrument = Instrument::default_for(&symbol.parse().unwrap());
            let rules = ValidationRules::for_instrument(&instrument);
            let (frame, _) =
                validate_bars_with(symbol.parse().unwrap(), Timeframe::M1, input, now, rules);
            frame.len()
        };
        assert_eq!(kept("BTC-USD"), 1, "a coin trades in fractions");
        assert_eq!(kept("AAPL"), 0, "shares trade whole");
        assert_eq!(kept("EURUSD"), 0, "ticks are counted");
    }

    #[test]
    fn the_newest_bar_is_labelled_forming_until_its_period_ends() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
        let ms = t0.timestamp_millis();
        let input = [
            raw(ms, 2.0, 2.5, 1.5, 2.2, 1.0),
            raw(ms + 3_600_000, 2.0, 2.5, 1.5, 2.2, 1.0),
        ];
        for (minutes, forming) in [(90, true), (119, true), (120, false), (200, false)] {
            let now = t0 + chrono::Duration::minutes(minutes);
            let (f, _) = validate_bars("AAPL".parse().unwrap(), Timeframe::H1, input, now);
            assert_eq!(f.len(), 2);
            assert_eq!(f.forming().is_some(), forming, "at +{minutes} min");
            assert_eq!(f.closed().len(), if forming { 1 } else { 2 });
        }
    }

    #[test]
    fn clean_input_is_kept_whole() {
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
        let t0 = now.timestamp_millis() - 3_600_000;
        let input = (0..60).map(|i| raw(t0 + i * 60_000, 2.0, 2.5, 1.5, 2.2, 0.0));
        let (frame, report) = validate_bars("AAPL".parse().unwrap(), Timeframe::M1, input, now);
        assert_eq!(frame.len(), 60);
        assert!(report.is_clean());
    }

    mod quantized {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// With a tick, every kept price is on the grid, moved at most half a tick, and
            /// still consistent; a bar that rounds to a zero price is refused with its reason.
            #[test]
            fn kept_prices_are_on_the_grid_and_consistent(
                decimals in 0u32..6,
                bars in proptest::collection::vec((1e-4f64..1e4, 0.0f64..0.05, 0.0f64..0.05, 0.0f64..1.0, 0.0f64..1.0), 1..40),
            ) {
                let tick = Tick::decimal(decimals).unwrap();
                let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
                let t0 = now.timestamp_millis() - 60 * 60_000;
                let raw: Vec<RawBar> = bars.iter().enumerate().map(|(i, &(mid, up, down, fo, fc))| {
                    let (h, l) = (mid * (1.0 + up), mid * (1.0 - down));
                    let o = l + (h - l) * fo;
                    let c = l + (h - l) * fc;
                    super::raw(t0 + i as i64 * 60_000, o, h, l, c, 10.0)
                }).collect();
                let rules = ValidationRules::new().tick(tick);
                let (frame, report) = validate_bars_with("EURUSD".parse().unwrap(), Timeframe::M1, raw.clone(), now, rules);
                prop_assert_eq!(report.kept + report.dropped.len(), raw.len());
                let half = 0.5 * 10f64.powi(-(decimals as i32)) * (1.0 + 1e-9);
                for d in &report.dropped {
                    prop_assert_eq!(d.reason, DropReason::NonPositivePrice, "only a zero after rounding: {:?}", d);
                    let r = raw[d.index];
                    prop_assert!(tick.quantize(r.low.unwrap()) == Some(0.0));
                }
                let by_time: std::collections::HashMap<i64, RawBar> = raw.iter().map(|r| (r.time_millis, *r)).collect();
                for b in frame.iter() {
                    let r = by_time[&b.time_millis()];
                    for (q, p) in [(b.open(), r.open), (b.high(), r.high), (b.low(), r.low), (b.close(), r.close)] {
                        prop_assert_eq!(tick.quantize(q), Some(q), "on the grid");
                        prop_assert!((q - p.unwrap()).abs() <= half, "{} moved to {}", p.unwrap(), q);
                    }
                    prop_assert!(b.high() >= b.open().max(b.close()) && b.low() <= b.open().min(b.close()));
                }
            }
        }

        #[test]
        fn noisy_source_floats_come_out_clean() {
            let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
            let t = now.timestamp_millis() - 60_000;
            let rules = ValidationRules::for_instrument(&crate::Instrument::default_for(
                &"AAPL".parse().unwrap(),
            ));
            let (frame, report) = validate_bars_with(
                "AAPL".parse().unwrap(),
                Timeframe::M1,
                [raw(
                    t,
                    f64::from(156.42f32),
                    f64::from(156.8f32),
                    f64::from(156.2f32),
                    f64::from(156.55f32),
                    1200.0,
                )],
                now,
                rules,
            );
            assert!(report.is_clean());
            let b = frame.iter().next().unwrap();
            assert_eq!(
                (b.open(), b.high(), b.low(), b.close()),
                (156.42, 156.8, 156.2, 156.55)
            );
            let (_, report) = validate_bars_with(
                "AAPL".parse().unwrap(),
                Timeframe::M1,
                [
                    raw(t, 1e300, 1e300, 1e300, 1e300, 1.0),
                    raw(t + 60_000, 1.0, 1.0, 1.0, 1.0, 1.5),
                ],
                now + chrono::Duration::minutes(2),
                rules,
            );
            let reasons: Vec<_> = report.dropped.iter().map(|d| d.reason).collect();
            assert_eq!(reasons, [DropReason::OffGrid, DropReason::FractionalVolume]);
        }

        /// A source that keeps prices in binary32: where the tick is finer than the float (a
        /// coin on 0.00000001), a bar of binary32 values loses the float's noise; a bar with
        /// any other double is rounded as it is, all four prices alike (so their order holds).
        #[test]
        fn binary32_sources_lose_the_float_noise_bar_by_bar() {
            let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
            let t = now.timestamp_millis() - 120_000;
            let b32 = |x: f64| f64::from(x as f32);
            let rules = ValidationRules::for_instrument(&crate::Instrument::default_for(
                &"BTC-USD".parse().unwrap(),
            ));
            let bars = [
                raw(
                    t,
                    b32(43_210.12),
                    b32(43_288.47),
                    b32(43_190.05),
                    b32(43_250.99),
                    1.5,
                ),
                // Its low is no binary32: the bar is rounded plainly, noise and all.
                raw(
                    t + 60_000,
                    b32(43_250.99),
                    b32(43_260.0),
                    43_201.3,
                    b32(43_222.18),
                    2.0,
                ),
            ];
            let prices = |rules: ValidationRules| {
                let (frame, report) =
                    validate_bars_with("BTC-USD".parse().unwrap(), Timeframe::M1, bars, now, rules);
                assert!(report.is_clean(), "{report:?}");
                frame
                    .iter()
                    .map(|b| [b.open(), b.high(), b.low(), b.close()])
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                prices(rules.binary32_prices(true)),
                [
                    [43_210.12, 43_288.47, 43_190.05, 43_250.99],
                    [43_250.988_281_25, 43_260.0, 43_201.3, 43_222.179_687_5],
                ]
            );
            // Without the rule, the noise stays (the first bar as the float has it).
            assert_eq!(
                prices(rules)[0],
                [
                    43_210.121_093_75,
                    43_288.468_75,
                    43_190.050_781_25,
                    43_250.988_281_25
                ]
            );
        }
    }
}
