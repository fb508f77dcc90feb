//! The stateless price model.

use axia_domain::{
    AssetClass, BarAccumulator, BarValues, FrameError, Instrument, InstrumentRegistry,
    MarketCalendar, OhlcvFrame, Symbol, Tick, TimeRange, Timeframe,
};
use chrono::{DateTime, Utc};

const MINUTE_MS: i64 = 60_000;

/// Units of each currency (and the largest coins) per US dollar, the anchor of every simulated
/// FX level; a pair of another code starts near one.
const PER_USD: &[(&str, f64)] = &[
    ("USD", 1.0),
    ("JPY", 150.0),
    ("EUR", 0.926),
    ("GBP", 0.787),
    ("CHF", 0.88),
    ("CAD", 1.36),
    ("AUD", 1.515),
    ("NZD", 1.64),
    ("SEK", 10.4),
    ("NOK", 10.6),
    ("DKK", 6.9),
    ("HKD", 7.8),
    ("SGD", 1.34),
    ("CNH", 7.2),
    ("CNY", 7.2),
    ("MXN", 17.1),
    ("ZAR", 18.5),
    ("TRY", 32.0),
    ("PLN", 3.95),
    ("HUF", 360.0),
    ("CZK", 23.0),
    ("ILS", 3.7),
    ("KRW", 1350.0),
    ("INR", 83.0),
    ("BRL", 5.0),
    ("IDR", 15800.0),
    ("THB", 36.0),
    ("TWD", 32.0),
    ("RUB", 92.0),
    ("XAU", 0.0005),
    ("XAG", 0.04),
    ("USDT", 1.0),
    ("USDC", 1.0),
    ("BTC", 0.000_011),
    ("ETH", 0.000_3),
];

/// The market calendar the simulated broker trades `symbol` in: the domain's
/// [`default_calendar`](axia_domain::default_calendar).
#[must_use]
pub fn calendar_for(symbol: &Symbol) -> std::sync::Arc<dyn MarketCalendar> {
    axia_domain::default_calendar(symbol)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Uniform in [-1, 1).
fn unit(h: u64) -> f64 {
    // The top 53 bits as a fraction: exact in f64.
    #[allow(clippy::cast_precision_loss)]
    let f = (h >> 11) as f64 / (1u64 << 53) as f64;
    2.0 * f - 1.0
}

/// One series' model: its base level, tick and noise keys.
struct Model {
    key: u64,
    log_base: f64,
    tick: Tick,
    vol: f64,
}

/// The grid the simulator quotes on: the instrument's tick, or, where that tick is a decimal
/// finer than seven significant digits at the series' level (a coin or a future on the
/// `0.00000001` catch-all), the decimal of seven significant digits, as venues quote them (a
/// coin near 90,000 in cents). Every price on it is also on the instrument's grid.
fn quote_grid(tick: Tick, base: f64) -> Tick {
    // 7 significant digits: 10^(floor(log10(base)) - 6).
    #[allow(clippy::cast_possible_truncation)]
    let decimals = 6 - base.log10().floor() as i32;
    let Ok(decimals) = u32::try_from(decimals) else {
        return tick;
    };
    // A multiple of the tick only when the tick is itself a power of ten.
    let power_of_ten = Tick::decimal(tick.decimals()).is_ok_and(|t| t == tick);
    if power_of_ten && decimals < tick.decimals() {
        Tick::decimal(decimals).unwrap_or(tick)
    } else {
        tick
    }
}

/// (period in minutes, amplitude as a fraction of the per-minute volatility unit)
const OCTAVES: [(i64, f64); 4] = [(15, 2.0), (240, 5.0), (4_320, 14.0), (28_800, 40.0)];

impl Model {
    fn new(seed: u64, instrument: &Instrument) -> Self {
        let symbol = instrument.symbol();
        let mut key = splitmix(seed);
        for b in symbol.as_str().bytes() {
            key = splitmix(key ^ u64::from(b));
        }
        let pair = match instrument.asset_class() {
            AssetClass::FxPair { base, quote } => Some((base.as_str(), quote.as_str())),
            _ => None,
        };
        let (base, vol) = match pair {
            Some((b, q)) => {
                let per = |c: &str| {
                    PER_USD
                        .iter()
                        .find(|(k, _)| *k == c)
                        .map_or(1.0, |(_, v)| *v)
                };
                (per(q) / per(b), 0.0002)
            }
            None => (20.0 + (key % 48_000) as f64 / 100.0, 0.0004),
        };
        Self {
            key,
            log_base: base.ln(),
            tick: quote_grid(instrument.tick(), base),
            vol,
        }
    }

    fn h(&self, lane: u64, i: i64) -> f64 {
        unit(splitmix(
            self.key ^ lane.wrapping_mul(0x1000_0000_01b3) ^ i.cast_unsigned(),
        ))
    }

    /// Whole ticks in `p` (half-even), at least one.
    fn ticks(&self, p: f64) -> i64 {
        self.tick.ticks_in(p).unwrap_or(1).max(1)
    }
}

/// One octave's position: knot index, minutes into the period, and the two knot values.
#[derive(Clone, Copy)]
struct Phase {
    knot: i64,
    offset: i64,
    left: f64,
    right: f64,
}

/// Walks minutes in increasing order, reusing what the previous minute computed: each octave's
/// phase advances by one minute without a division, its knots change once a period, and a
/// minute's close is the next minute's open.
struct Cursor<'a> {
    model: &'a Model,
    phases: [Phase; 4],
    at: Option<i64>,
    last: Option<(i64, i64)>,
}

impl<'a> Cursor<'a> {
    fn new(model: &'a Model) -> Self {
        let phase = Phase {
            knot: 0,
            offset: 0,
            left: 0.0,
            right: 0.0,
        };
        Self {
            model,
            phases: [phase; 4],
            at: None,
            last: None,
        }
    }

    fn seek(&mut self, m: i64) {
        let model = self.model;
        for ((lane, (period, _)), p) in (2u64..).zip(OCTAVES).zip(self.phases.iter_mut()) {
            let knot = m.div_euclid(period);
            *p = Phase {
                knot,
                offset: m.rem_euclid(period),
                left: model.h(lane, knot),
                right: model.h(lane, knot + 1),
            };
        }
    }

    fn step(&mut self) {
        let model = self.model;
        for ((lane, (period, _)), p) in (2u64..).zip(OCTAVES).zip(self.phases.iter_mut()) {
            p.offset += 1;
            if p.offset == period {
                p.offset = 0;
                p.knot += 1;
                p.left = p.right;
                p.right = model.h(lane, p.knot + 1);
            }
        }
    }

    /// The mid price at the start of minute `m` (minutes since the epoch), in ticks.
    fn price(&mut self, m: i64) -> i64 {
        match self.at {
            Some(prev) if prev + 1 == m => self.step(),
            Some(prev) if prev == m => {}
            _ => self.seek(m),
        }
        self.at = Some(m);
        let model = self.model;
        let mut x = model.h(1, m) * 0.6;
        for ((period, amp), p) in OCTAVES.into_iter().zip(&self.phases) {
            // offsets and periods are below 2^53: exact in f64
            #[allow(clippy::cast_precision_loss)]
            let f = p.offset as f64 / period as f64;
            let s = f * f * (3.0 - 2.0 * f);
            x += amp * (p.left * (1.0 - s) + p.right * s);
        }
        model.ticks((model.log_base + x * model.vol).exp())
    }

    /// The M1 bar opening at minute `m`.
    fn bar(&mut self, m: i64) -> (f64, f64, f64, f64, f64) {
        let o = match self.last {
            Some((prev, close)) if prev + 1 == m => close,
            _ => self.price(m),
        };
        let c = self.price(m + 1);
        self.last = Some((m, c));
        let model = self.model;
        let price = |t| model.tick.price_of(t);
        let wiggle = |lane| {
            let w = model.h(lane, m).abs() * model.vol * 0.8 * price(o);
            model.tick.ticks_in(w).unwrap_or(0)
        };
        let h = o.max(c) + wiggle(20);
        let l = (o.min(c) - wiggle(21)).max(1);
        // 240 to 360 prices a minute (4 to 6 a second), about what a broker's conflated stream
        // sends.
        let v = (300.0 + 60.0 * model.h(22, m)).round().max(1.0);
        (price(o), price(h), price(l), price(c), v)
    }
}

/// The bars of `symbol` / `timeframe` whose open time is in `range` and not after `now`, for
/// `seed`, as [`generate_for`] the symbol's built-in instrument
/// ([`InstrumentRegistry::shared_builtin`]).
///
/// # Errors
/// [`FrameError`] only if the model broke an invariant (a bug).
pub fn generate(
    seed: u64,
    symbol: &Symbol,
    timeframe: Timeframe,
    range: TimeRange,
    now: DateTime<Utc>,
) -> Result<OhlcvFrame, FrameError> {
    let instrument = InstrumentRegistry::shared_builtin().resolve(symbol);
    generate_for(seed, &instrument, timeframe, range, now)
}

/// The bars of `instrument` / `timeframe` whose open time is in `range` and not after `now`,
/// for `seed`: every price on the instrument's tick grid, the market open per its calendar.
/// Coarser bars are aggregated from the M1 bars the market was open for; a bar whose period
/// has not ended at `now` is labelled forming.
///
/// # Errors
/// [`FrameError`] only if the model broke an invariant (a bug).
pub fn generate_for(
    seed: u64,
    instrument: &Instrument,
    timeframe: Timeframe,
    range: TimeRange,
    now: DateTime<Utc>,
) -> Result<OhlcvFrame, FrameError> {
    generate_until(
        seed,
        instrument,
        timeframe,
        range,
        now,
        &std::sync::atomic::AtomicBool::new(false),
    )
}

/// As [`generate_for`], stopping early (with the bars built so far) once `cancel` is set: the
/// caller gave up on the answer.
pub(crate) fn generate_until(
    seed: u64,
    instrument: &Instrument,
    timeframe: Timeframe,
    range: TimeRange,
    now: DateTime<Utc>,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<OhlcvFrame, FrameError> {
    let symbol = instrument.symbol();
    // Bars exist from 1900 to 2200 (`axia_domain::MIN_TIME_MILLIS` .. `MAX_TIME_MILLIS`): a
    // range reaching past them is generated inside them.
    let limit = |ms| DateTime::from_timestamp_millis(ms).unwrap_or(range.start());
    let first = range.start().max(limit(axia_domain::MIN_TIME_MILLIS));
    let range = TimeRange::new(
        first,
        range
            .end()
            .min(limit(axia_domain::MAX_TIME_MILLIS))
            .max(first),
    )
    .unwrap_or(range);
    let model = Model::new(seed, instrument);
    let mut cursor = Cursor::new(&model);
    let calendar = instrument.calendar();
    // Bars on the instrument's grid: daily bars from its daily alignment.
    let grid = timeframe.aligned(instrument.alignment());
    // Every M1 bar of the target bars that open in range: from the first such bar's open.
    let first = grid.ceil(range.start());
    let end = range.end().min(now + chrono::Duration::milliseconds(1));
    let m1_end = if first < end {
        grid.ceil(end).min(now + chrono::Duration::minutes(1))
    } else {
        first
    };
    // Room for every minute of the window (the closed hours make it an overestimate).
    let minutes = usize::try_from((m1_end - first).num_minutes().max(0)).unwrap_or(0);
    let bars = if timeframe == Timeframe::M1 {
        minutes
    } else {
        minutes / 30 + 1
    };
    let mut out = OhlcvFrame::builder(symbol.clone(), timeframe, bars.min(10_000_000))
        .aligned(instrument.alignment())?;
    let mut acc = BarAccumulator::on(grid);
    let end_ms = end.timestamp_millis();
    let mut t = first;
    while t < m1_end {
        let open = calendar.next_open(t);
        if open >= m1_end {
            break;
        }
        let close = calendar.next_close(open).min(m1_end);
        // Whole minutes from the first minute boundary at or after `open`.
        let mut ms = open.timestamp_millis();
        ms += (MINUTE_MS - ms.rem_euclid(MINUTE_MS)) % MINUTE_MS;
        let stop = close.timestamp_millis();
        while ms < stop {
            if ms > now.timestamp_millis() {
                break;
            }
            // Only target bars that open before the range's end.
            if acc.bucket(ms).is_none_or(|b| b >= end_ms) {
                break;
            }
            // Every 2^16 minutes (a couple of milliseconds), whether anyone still waits.
            if (ms / MINUTE_MS) & 0xFFFF == 0 && cancel.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(out.finish_at(now));
            }
            let (open, high, low, close, volume) = cursor.bar(ms / MINUTE_MS);
            let minute = BarValues {
                time_millis: ms,
                open,
                high,
                low,
                close,
                volume,
            };
            if let Some(done) = acc.add(minute) {
                out.push_values(done)?;
            }
            ms += MINUTE_MS;
        }
        t = close;
    }
    if let Some(done) = acc.finish() {
        out.push_values(done)?;
    }
    Ok(out.finish_at(now))
}

/// The model of one instrument minute by minute, for the simulated price stream: the mids of
/// the quotes of a minute make exactly the M1 bar [`generate_for`] gives for it.
pub(crate) struct MinuteModel {
    model: Model,
}

impl MinuteModel {
    pub(crate) fn new(seed: u64, instrument: &Instrument) -> Self {
        Self {
            model: Model::new(seed, instrument),
        }
    }

    /// The quotes' (time ms, mid) of the minute opening at minute `m` (minutes since the
    /// epoch), in time order: as many as the M1 bar's volume, evenly spaced from the minute's
    /// open, the first at the bar's open price, the last at its close, its high and its low
    /// each once in between (in an order of the model's), every other one a tick price
    /// between them.
    pub(crate) fn quotes(&self, m: i64, out: &mut Vec<(i64, f64)>) {
        let model = &self.model;
        let (open, high, low, close, volume) = Cursor::new(model).bar(m);
        let ticks = |p: f64| model.tick.ticks_in(p).unwrap_or(1);
        let (lo, hi) = (ticks(low), ticks(high));
        // At least the four prices; volumes are 240 to 360.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = (volume as i64).max(4);
        let step = MINUTE_MS / n;
        let start = m * MINUTE_MS;
        // Where the high and the low go: two distinct places strictly inside.
        let inner = n - 2;
        let pick = |lane: u64| -> i64 {
            let u = (model.h(lane, m) + 1.0) / 2.0;
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let k = (u * inner as f64) as i64;
            1 + k.clamp(0, inner - 1)
        };
        let at_high = pick(30);
        let mut at_low = pick(31);
        if at_low == at_high {
            at_low = if at_high + 1 < n - 1 {
                at_high + 1
            } else {
                at_high - 1
            };
        }
        for k in 0..n {
            let price = if k == 0 {
                open
            } else if k == n - 1 {
                close
            } else if k == at_high {
                high
            } else if k == at_low {
                low
            } else {
                let u = (model.h(40 + (k.cast_unsigned() & 0xFF), m) + 1.0) / 2.0;
                #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                let t = lo + ((u * (hi - lo + 1) as f64) as i64).clamp(0, hi - lo);
                model.tick.price_of(t)
            };
            out.push((start + k * step, price));
        }
    }

    /// The instrument's tick on the model's quote grid.
    pub(crate) fn tick(&self) -> Tick {
        self.model.tick
    }
}
