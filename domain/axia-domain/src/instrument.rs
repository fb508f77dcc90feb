//! [`Instrument`]: what axia knows about a symbol beyond its name, and the
//! [`InstrumentRegistry`] that holds them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::{AlwaysOpen, CmeGlobexCalendar, FxCalendar, MarketCalendar, SessionCalendar};
use crate::{DailyAlignment, Quantity, Symbol};

/// The most decimals a tick may have.
pub const MAX_TICK_DECIMALS: u32 = 12;

/// The smallest price increment of an instrument, an exact decimal (`0.001`, `0.25`, `1`).
///
/// [`Tick::quantize`] puts a price on the tick grid: the nearest multiple of the tick, ties to
/// the even multiple, as the closest `f64` to that decimal, so every tier and every output
/// holds the same clean value (`150.14`, never `150.14000000000001`).
///
/// ```
/// use axia_domain::Tick;
///
/// let tick: Tick = "0.001".parse()?;
/// assert_eq!(tick.quantize(150.14000000000001), Some(150.14));
/// assert_eq!(tick.quantize(156.41999816894531), Some(156.42));
/// assert_eq!(tick.quantize(1.0005), Some(1.0)); // a tie goes to the even multiple
/// assert_eq!(tick.decimals(), 3);
/// let quarter: Tick = "0.25".parse()?;
/// assert_eq!(quarter.quantize(100.4), Some(100.5));
/// # Ok::<(), axia_domain::InstrumentError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Tick {
    /// The tick in units of `10^-scale`.
    units: u64,
    scale: u32,
}

impl Tick {
    /// A tick of `value`: positive, at most [`MAX_TICK_DECIMALS`] decimals.
    ///
    /// # Errors
    /// [`InstrumentError::BadTick`] otherwise.
    pub fn new(value: Decimal) -> Result<Self, InstrumentError> {
        let value = value.normalize();
        let bad = || InstrumentError::BadTick(value.to_string());
        if value <= Decimal::ZERO || value.scale() > MAX_TICK_DECIMALS {
            return Err(bad());
        }
        let units = u64::try_from(value.mantissa()).map_err(|_| bad())?;
        // Prices of up to 2^53 units must stay exact in an f64.
        if units > 1 << 40 {
            return Err(bad());
        }
        Ok(Self {
            units,
            scale: value.scale(),
        })
    }

    /// `10^-decimals` (`Tick::decimal(3)` is `0.001`).
    ///
    /// # Errors
    /// [`InstrumentError::BadTick`] above [`MAX_TICK_DECIMALS`].
    pub fn decimal(decimals: u32) -> Result<Self, InstrumentError> {
        Self::new(Decimal::new(1, decimals.min(MAX_TICK_DECIMALS + 1)))
    }

    /// The tick as a decimal.
    #[must_use]
    pub fn value(self) -> Decimal {
        Decimal::new(i64::try_from(self.units).unwrap_or(i64::MAX), self.scale)
    }

    /// The decimals a price on this grid needs (`3` for `0.001`, `2` for `0.25`, `0` for `5`).
    #[must_use]
    pub const fn decimals(self) -> u32 {
        self.scale
    }

    fn pow10(self) -> f64 {
        10f64.powi(i32::try_from(self.scale).unwrap_or(0))
    }

    /// The number of ticks in `price` (half-even), `None` for a non-finite price or one too
    /// large for the grid to be exact (beyond 2^53 units of `10^-decimals`).
    #[must_use]
    pub fn ticks_in(self, price: f64) -> Option<i64> {
        #[allow(clippy::cast_precision_loss)]
        let units = self.units as f64;
        let ticks = (price * self.pow10() / units).round_ties_even();
        let limit = 2f64.powi(53) / units;
        #[allow(clippy::cast_possible_truncation)]
        (ticks.is_finite() && ticks.abs() <= limit).then_some(ticks as i64)
    }

    /// `ticks` ticks as the closest `f64` to their exact decimal value.
    #[must_use]
    pub fn price_of(self, ticks: i64) -> f64 {
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
        let units = ticks.saturating_mul(self.units as i64) as f64;
        units / self.pow10()
    }

    /// `price` on the grid: the nearest multiple of the tick (ties to even), `None` when
    /// [`Tick::ticks_in`] is.
    #[must_use]
    pub fn quantize(self, price: f64) -> Option<f64> {
        self.ticks_in(price).map(|t| self.price_of(t))
    }

    /// `price` on the grid, read as a value the source stored as a 32-bit float (Yahoo's chart
    /// API sends `2034.1` as `2034.0999755859375`). Where the tick is finer than the float's
    /// resolution (a `0.0001` tick from 1,024, a `0.00000001` one from 0.125), [`Tick::quantize`]
    /// would keep that noise: `2034.09997559`. If `price` is exactly a binary32 value, this is
    /// the grid price with the fewest decimals among those that round to that same binary32
    /// (the nearest of them to `price` if several): the decimal the source rounded. Otherwise
    /// (a double that is no binary32, or a tick coarse enough to tell the binary32 values
    /// apart), [`Tick::quantize`].
    ///
    /// It keeps the order of prices, as [`Tick::quantize`] does, among prices that are all
    /// binary32 values. What the float lost it cannot restore: a coin at 43,210.128 arrives as
    /// the binary32 value nearest 43,210.13 and comes out 43,210.13, and a price in binary
    /// fractions finer than the float (a Treasury future's 102.94140625, in 256ths) needs its
    /// own tick (`0.00390625`), on which plain rounding is exact.
    ///
    /// ```
    /// use axia_domain::Tick;
    ///
    /// let fine = Tick::decimal(8)?;
    /// assert_eq!(fine.quantize(f64::from(2034.1f32)), Some(2034.09997559));
    /// assert_eq!(fine.quantize_binary32(f64::from(2034.1f32)), Some(2034.1));
    /// assert_eq!(fine.quantize_binary32(2034.099_975_6), Some(2034.099_975_6)); // no binary32
    /// let in_256ths: Tick = "0.00390625".parse()?;
    /// assert_eq!(in_256ths.quantize_binary32(102.941_406_25), Some(102.941_406_25));
    /// # Ok::<(), axia_domain::InstrumentError>(())
    /// ```
    #[must_use]
    pub fn quantize_binary32(self, price: f64) -> Option<f64> {
        let plain = self.quantize(price)?;
        #[allow(clippy::cast_possible_truncation)]
        let single = price as f32;
        if f64::from(single) != price || price == 0.0 {
            return Some(plain);
        }
        // The distance to the next binary32 value: with a tick at least that wide, at most one
        // grid price rounds to `single`, and the nearest one is it if any is.
        let ulp = f64::from(f32::from_bits(single.to_bits().wrapping_add(1))) - price;
        if self.value_f64() >= ulp.abs() {
            return Some(plain);
        }
        let pow10 = 10i128.pow(self.scale);
        let mut q = 1i128;
        while q <= pow10 {
            #[allow(clippy::cast_precision_loss)]
            let m = (price * q as f64).round();
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            if m.abs() < 2f64.powi(62) && (m / q as f64) as f32 == single {
                // On the grid: a whole number of ticks.
                #[allow(clippy::cast_possible_truncation)]
                let units = (m as i128) * (pow10 / q);
                let per_tick = i128::from(self.units);
                if units % per_tick == 0 {
                    let ticks = i64::try_from(units / per_tick).ok()?;
                    return Some(self.price_of(ticks));
                }
            }
            q *= 10;
        }
        Some(plain)
    }

    #[allow(clippy::cast_precision_loss)]
    fn value_f64(self) -> f64 {
        self.units as f64 / self.pow10()
    }

    /// Ticks of up to this many decimals are quote conventions and always shown in full
    /// ([`Tick::shown_decimals`]).
    pub const SHOWN_IN_FULL: u32 = 5;

    /// The decimals to show `prices` with: the tick's, unless the tick is a catch-all grid
    /// finer than venues quote in (over [`Tick::SHOWN_IN_FULL`] decimals: a coin's or a
    /// future's `0.00000001`); there, as many as the prices use, at least 2, so a coin quoted
    /// in cents prints `43210.12`, not `43210.12000000`. Every price printed with them reads
    /// back exactly. The chart page applies the same rule to the bars it holds.
    ///
    /// ```
    /// use axia_domain::Tick;
    ///
    /// let coin = Tick::decimal(8)?;
    /// assert_eq!(coin.shown_decimals([43_210.12, 43_210.5]), 2);
    /// assert_eq!(coin.shown_decimals([0.000_012_34]), 8);
    /// assert_eq!(Tick::decimal(5)?.shown_decimals([1.1]), 5);
    /// # Ok::<(), axia_domain::InstrumentError>(())
    /// ```
    #[must_use]
    pub fn shown_decimals(self, prices: impl IntoIterator<Item = f64>) -> u32 {
        if self.scale <= Self::SHOWN_IN_FULL {
            return self.scale;
        }
        let on = |p: f64, d: u32| Self::decimal(d).is_ok_and(|t| t.quantize(p) == Some(p));
        let mut need = 2;
        for p in prices {
            while need < self.scale && !on(p, need) {
                need += 1;
            }
            if need == self.scale {
                break;
            }
        }
        need
    }

    /// True when `price` is an exact multiple of the tick.
    #[must_use]
    pub fn contains(self, price: Decimal) -> bool {
        (price % self.value()).is_zero()
    }

    /// `price` printed with exactly [`Tick::decimals`] decimals.
    #[must_use]
    pub fn format(self, price: f64) -> String {
        format!("{price:.*}", self.scale as usize)
    }
}

impl fmt::Debug for Tick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tick({})", self.value())
    }
}

impl fmt::Display for Tick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value(), f)
    }
}

impl std::str::FromStr for Tick {
    type Err = InstrumentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d: Decimal = s
            .trim()
            .parse()
            .map_err(|_| InstrumentError::BadTick(s.to_owned()))?;
        Self::new(d)
    }
}

impl TryFrom<Decimal> for Tick {
    type Error = InstrumentError;
    fn try_from(d: Decimal) -> Result<Self, Self::Error> {
        Self::new(d)
    }
}

impl From<Tick> for Decimal {
    fn from(t: Tick) -> Self {
        t.value()
    }
}

/// Why an instrument or one of its parts is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstrumentError {
    /// A tick that is not a positive decimal with at most [`MAX_TICK_DECIMALS`] decimals.
    #[error("tick {0:?} is not a positive decimal with at most 12 decimals")]
    BadTick(String),
    /// An FX pair whose currencies are not three letters each.
    #[error("currency pair {base:?}/{quote:?} is not two three-letter codes")]
    BadCurrency {
        /// The base currency.
        base: String,
        /// The quote currency.
        quote: String,
    },
}

/// What kind of thing an instrument is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum AssetClass {
    /// A currency pair: `base` priced in `quote` (`USDJPY`: dollars in yen).
    FxPair {
        /// The currency bought.
        base: String,
        /// The currency it is priced in.
        quote: String,
    },
    /// A stock or an exchange-traded fund.
    Equity,
    /// A market index.
    Index,
    /// A futures contract (Yahoo's continuous `ES=F`, `GC=F`): volume in contracts.
    Future,
}

/// What an instrument's volume counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VolumeKind {
    /// Price changes (FX has no central volume; brokers count ticks).
    TickCount,
    /// Units traded (shares).
    Units,
}

/// When an instrument trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TradingHours {
    /// The FX week: Sunday 17:00 to Friday 17:00 New York time ([`FxCalendar`]).
    FxWeek,
    /// The Tokyo Stock Exchange: 09:00-11:30 and 12:30-15:30 JST on its trading days
    /// ([`SessionCalendar::tokyo`]).
    Tokyo,
    /// The New York exchanges: 09:30-16:00 New York time on their trading days
    /// ([`SessionCalendar::new_york`]).
    NewYork,
    /// Always open (crypto, tests).
    AlwaysOpen,
    /// The London Stock Exchange: 08:00-16:30 London time on its trading days
    /// ([`SessionCalendar::london`]).
    London,
    /// The continental European exchanges (Euronext, SIX, Borsa Italiana, BME): 09:00-17:30
    /// Central European time on Euronext's trading days ([`SessionCalendar::central_europe`]).
    CentralEurope,
    /// Hong Kong Exchanges: 09:30-12:00 and 13:00-16:00 on its trading days
    /// ([`SessionCalendar::hong_kong`]).
    HongKong,
    /// The Australian Securities Exchange: 10:00-16:00 Sydney time on its trading days
    /// ([`SessionCalendar::sydney`]).
    Sydney,
    /// CME Globex, where most US futures trade: Sunday 18:00 to Friday 17:00 New York time with
    /// a daily halt from 17:00 to 18:00, on CME's trading dates ([`CmeGlobexCalendar`]).
    CmeGlobex,
    /// Xetra (Frankfurt): 09:00-17:30 Central European time on its trading days
    /// ([`SessionCalendar::xetra`]).
    Xetra,
}

impl TradingHours {
    /// The name the settings use (`fx_week`, `new_york`, `cme_globex`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FxWeek => "fx_week",
            Self::Tokyo => "tokyo",
            Self::NewYork => "new_york",
            Self::AlwaysOpen => "always_open",
            Self::London => "london",
            Self::CentralEurope => "central_europe",
            Self::HongKong => "hong_kong",
            Self::Sydney => "sydney",
            Self::CmeGlobex => "cme_globex",
            Self::Xetra => "xetra",
        }
    }

    /// The calendar of these hours: the FX week (its holidays not modelled: brokers quote
    /// through them), or an exchange's sessions on its trading days ([`crate::ExchangeDays`]).
    #[must_use]
    pub fn calendar(self) -> Arc<dyn MarketCalendar> {
        match self {
            Self::FxWeek => Arc::new(FxCalendar),
            Self::Tokyo => Arc::new(SessionCalendar::tokyo()),
            Self::NewYork => Arc::new(SessionCalendar::new_york()),
            Self::AlwaysOpen => Arc::new(AlwaysOpen),
            Self::London => Arc::new(SessionCalendar::london()),
            Self::CentralEurope => Arc::new(SessionCalendar::central_europe()),
            Self::HongKong => Arc::new(SessionCalendar::hong_kong()),
            Self::Sydney => Arc::new(SessionCalendar::sydney()),
            Self::CmeGlobex => Arc::new(CmeGlobexCalendar),
            Self::Xetra => Arc::new(SessionCalendar::xetra()),
        }
    }
}

/// What axia knows about a symbol: what it is, its price grid, its volume, when it trades and
/// where its daily bars start. What a venue calls it is that venue's adapter's business (its
/// own table, overridable in its settings).
///
/// Build one with [`Instrument::fx_pair`], [`Instrument::equity`] or [`Instrument::index`] and
/// the `with_*` methods, or look it up in an [`InstrumentRegistry`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Instrument {
    symbol: Symbol,
    asset_class: AssetClass,
    tick: Tick,
    lot_step: Option<Quantity>,
    volume: VolumeKind,
    hours: TradingHours,
    alignment: DailyAlignment,
}

fn tick_of(decimals: u32) -> Tick {
    Tick::decimal(decimals).unwrap_or(Tick {
        units: 1,
        scale: decimals.min(MAX_TICK_DECIMALS),
    })
}

impl Instrument {
    /// The currency pair `base``quote`: 3 decimals when quoted in yen, HUF, KRW or IDR and for
    /// gold, 4 in INR, RUB, THB, TWD or CZK, 5 otherwise (silver included): the precision the
    /// venues quote them in, or finer (prices are rounded to the tick on the way in, so a
    /// coarser tick would lose digits); tick volume; the FX week; daily bars from the New York
    /// close ([`DailyAlignment::NewYorkClose`]: five a week, the FX convention).
    ///
    /// # Errors
    /// [`InstrumentError::BadCurrency`] unless both codes are three ASCII letters.
    pub fn fx_pair(base: &str, quote: &str) -> Result<Self, InstrumentError> {
        let ok = |c: &str| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic());
        let bad = || InstrumentError::BadCurrency {
            base: base.to_owned(),
            quote: quote.to_owned(),
        };
        if !ok(base) || !ok(quote) {
            return Err(bad());
        }
        let (base, quote) = (base.to_ascii_uppercase(), quote.to_ascii_uppercase());
        let symbol: Symbol = format!("{base}{quote}").parse().map_err(|_| bad())?;
        let decimals = if FOUR_DECIMALS.contains(&quote.as_str()) {
            4
        } else if is_big_unit(&quote) || base == "XAU" {
            3
        } else {
            5
        };
        Ok(Self {
            symbol,
            asset_class: AssetClass::FxPair { base, quote },
            tick: tick_of(decimals),
            lot_step: Quantity::new(Decimal::ONE).ok(),
            volume: VolumeKind::TickCount,
            hours: TradingHours::FxWeek,
            alignment: DailyAlignment::NewYorkClose,
        })
    }

    /// A stock trading `hours`, priced on `tick`, volume in shares, lots of one share.
    #[must_use]
    pub fn equity(symbol: Symbol, tick: Tick, hours: TradingHours) -> Self {
        Self {
            symbol,
            asset_class: AssetClass::Equity,
            tick,
            lot_step: Quantity::new(Decimal::ONE).ok(),
            volume: VolumeKind::Units,
            hours,
            alignment: DailyAlignment::UtcMidnight,
        }
    }

    /// An index: as [`Instrument::equity`], not tradable in lots.
    #[must_use]
    pub fn index(symbol: Symbol, tick: Tick, hours: TradingHours) -> Self {
        Self {
            asset_class: AssetClass::Index,
            lot_step: None,
            ..Self::equity(symbol, tick, hours)
        }
    }

    /// A futures contract trading `hours`, priced on `tick`, volume in contracts, whole
    /// contracts, daily bars from the New York close (17:00 New York, where CME Globex pauses
    /// each day).
    #[must_use]
    pub fn future(symbol: Symbol, tick: Tick, hours: TradingHours) -> Self {
        Self {
            asset_class: AssetClass::Future,
            alignment: DailyAlignment::NewYorkClose,
            ..Self::equity(symbol, tick, hours)
        }
    }

    /// The documented defaults for a symbol no registry knows:
    /// - an FX pair of known currencies as [`Instrument::fx_pair`], also when it is written as
    ///   Yahoo's FX ticker (`EURUSD=X`, or `JPY=X` for dollars in yen) or OANDA's instrument
    ///   (`EUR_USD`): the pair's precision and the FX week, the symbol itself as that venue's
    ///   name;
    /// - a crypto pair in Yahoo's form, `BASE-QUOTE` quoted in USD, USDT, USDC, EUR, GBP, JPY,
    ///   BTC or ETH (`BTC-USD`): always open, on a `0.00000001` tick (coins trade from
    ///   thousands down to fractions of a cent: the finest common grid loses no price), volume
    ///   in units, no lot step;
    /// - a `.T` symbol a Tokyo stock on a 0.1 yen tick;
    /// - a symbol with another exchange's Yahoo suffix a stock of that exchange, in its hours,
    ///   on a `0.0001` tick: `.L` London; `.DE` `.F` `.PA` `.AS` `.BR` `.MI` `.MC` `.SW`
    ///   continental Europe; `.HK` Hong Kong; `.AX` Sydney; `.TO` `.V` Toronto (New York's
    ///   hours);
    /// - a Yahoo futures ticker (`ES=F`, `GC=F`) a future on CME Globex hours
    ///   ([`TradingHours::CmeGlobex`]), whole contracts, on a `0.00000001` tick, which holds
    ///   every decimal tick contracts trade in (gold 0.1, the yen 0.0000005); the Treasury
    ///   futures (`ZT=F`, `Z3N=F`, `ZF=F`, `ZN=F`, `TN=F`, `ZB=F`, `UB=F`), quoted in 32nds and
    ///   fractions of them, on `0.00390625` (1/256);
    /// - a `^` symbol an index on a `0.0001` tick in New York hours (most indices print two
    ///   decimals, but yields such as `^TNX` print three; the built-in ones are on 0.01);
    /// - anything else a New York stock on a `0.0001` tick: the finest increment US equities
    ///   quote in (sub-dollar stocks, SEC Rule 612), so an unregistered penny stock is not
    ///   rounded to the cent (a price under half a cent would become zero); register a stock to
    ///   show it on a coarser tick, as the built-in registry does for the large caps.
    #[must_use]
    pub fn default_for(symbol: &Symbol) -> Self {
        if let Some(fx) = symbol.fx_pair().and_then(|(b, q)| Self::fx_pair(b, q).ok()) {
            return fx;
        }
        if let Some(pair) = Self::fx_by_written_form(symbol).or_else(|| Self::crypto_pair(symbol)) {
            return pair;
        }
        let s = symbol.as_str();
        if s.ends_with(".T") {
            Self::equity(symbol.clone(), tick_of(1), TradingHours::Tokyo)
        } else if let Some(hours) = exchange_by_suffix(s) {
            Self::equity(symbol.clone(), tick_of(4), hours)
        } else if let Some(root) = s.strip_suffix("=F").filter(|r| !r.is_empty()) {
            let tick = if TREASURY_FUTURES.contains(&root) {
                Tick {
                    units: 390_625,
                    scale: 8,
                }
            } else {
                tick_of(8)
            };
            Self::future(symbol.clone(), tick, TradingHours::CmeGlobex)
        } else if s.starts_with('^') {
            Self::index(symbol.clone(), tick_of(4), TradingHours::NewYork)
        } else {
            Self::equity(symbol.clone(), tick_of(4), TradingHours::NewYork)
        }
    }

    /// A crypto pair in Yahoo's form (`BTC-USD`): see [`Instrument::default_for`].
    fn crypto_pair(symbol: &Symbol) -> Option<Self> {
        let s = symbol.as_str();
        let (base, quote) = s.split_once('-')?;
        let coin = (2..=10).contains(&base.len())
            && base.bytes().all(|b| b.is_ascii_alphanumeric())
            && base.bytes().any(|b| b.is_ascii_alphabetic());
        (coin && CRYPTO_QUOTES.contains(&quote)).then(|| Self {
            symbol: symbol.clone(),
            asset_class: AssetClass::FxPair {
                base: base.to_owned(),
                quote: quote.to_owned(),
            },
            tick: tick_of(8),
            lot_step: None,
            volume: VolumeKind::Units,
            hours: TradingHours::AlwaysOpen,
            alignment: DailyAlignment::UtcMidnight,
        })
    }

    /// The FX pair a symbol written `EURUSD=X`, `JPY=X` (dollars in yen) or `EUR_USD` stands
    /// for, under that symbol.
    fn fx_by_written_form(symbol: &Symbol) -> Option<Self> {
        let s = symbol.as_str();
        let known = |c: &str| crate::symbol::is_currency(c);
        let (base, quote) = if let Some(stem) = s.strip_suffix("=X") {
            match stem.len() {
                6 => (stem.get(..3)?, stem.get(3..)?),
                3 => ("USD", stem),
                _ => return None,
            }
        } else {
            s.split_once('_')?
        };
        if !(known(base) && known(quote)) {
            return None;
        }
        let mut fx = Self::fx_pair(base, quote).ok()?;
        fx.symbol = symbol.clone();
        Some(fx)
    }

    /// The symbol.
    #[must_use]
    pub const fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    /// What it is.
    #[must_use]
    pub const fn asset_class(&self) -> &AssetClass {
        &self.asset_class
    }

    /// Its price grid.
    #[must_use]
    pub const fn tick(&self) -> Tick {
        self.tick
    }

    /// Decimals a price is printed with.
    #[must_use]
    pub const fn price_decimals(&self) -> u32 {
        self.tick.decimals()
    }

    /// The step an order quantity must be a multiple of (`None`: not checked).
    #[must_use]
    pub const fn lot_step(&self) -> Option<Quantity> {
        self.lot_step
    }

    /// What its volume counts.
    #[must_use]
    pub const fn volume(&self) -> VolumeKind {
        self.volume
    }

    /// When it trades.
    #[must_use]
    pub const fn hours(&self) -> TradingHours {
        self.hours
    }

    /// Its trading calendar.
    #[must_use]
    pub fn calendar(&self) -> Arc<dyn MarketCalendar> {
        self.hours.calendar()
    }

    /// Where its daily bars start.
    #[must_use]
    pub const fn alignment(&self) -> DailyAlignment {
        self.alignment
    }

    /// With another tick.
    #[must_use]
    pub fn with_tick(mut self, tick: Tick) -> Self {
        self.tick = tick;
        self
    }

    /// With another lot step (`None`: not checked).
    #[must_use]
    pub fn with_lot_step(mut self, step: Option<Quantity>) -> Self {
        self.lot_step = step;
        self
    }

    /// With another volume kind.
    #[must_use]
    pub fn with_volume(mut self, volume: VolumeKind) -> Self {
        self.volume = volume;
        self
    }

    /// With other trading hours.
    #[must_use]
    pub fn with_hours(mut self, hours: TradingHours) -> Self {
        self.hours = hours;
        self
    }

    /// With another daily alignment.
    #[must_use]
    pub fn with_alignment(mut self, alignment: DailyAlignment) -> Self {
        self.alignment = alignment;
        self
    }

    /// This instrument with `o`'s fields where it sets them.
    #[must_use]
    pub fn overridden(mut self, o: &InstrumentOverride) -> Self {
        if let Some(c) = &o.asset_class {
            self.asset_class = c.clone();
        }
        if let Some(t) = o.tick {
            self.tick = t;
        }
        if let Some(l) = o.lot_step {
            self.lot_step = Some(l);
        }
        if let Some(v) = o.volume {
            self.volume = v;
        }
        if let Some(h) = o.hours {
            self.hours = h;
        }
        if let Some(a) = o.alignment {
            self.alignment = a;
        }
        self
    }
}

/// The hours of the exchange a Yahoo suffix names (`VOD.L`, `SAP.DE`), for the exchanges
/// [`TradingHours`] knows besides Tokyo.
fn exchange_by_suffix(symbol: &str) -> Option<TradingHours> {
    let (name, suffix) = symbol.rsplit_once('.')?;
    if name.is_empty() {
        return None;
    }
    Some(match suffix {
        "L" => TradingHours::London,
        "DE" | "F" => TradingHours::Xetra,
        "PA" | "AS" | "BR" | "LS" | "MI" | "MC" | "SW" => TradingHours::CentralEurope,
        "HK" => TradingHours::HongKong,
        "AX" => TradingHours::Sydney,
        "TO" | "V" => TradingHours::NewYork,
        _ => return None,
    })
}

/// The roots of CBOT's Treasury futures (`ZN=F`), quoted in 32nds of a point and fractions of
/// them down to an eighth: every price is a multiple of 1/256.
const TREASURY_FUTURES: [&str; 7] = ["ZT", "Z3N", "ZF", "ZN", "TN", "ZB", "UB"];

/// What a crypto pair in Yahoo's form (`BTC-USD`) may be quoted in.
const CRYPTO_QUOTES: [&str; 8] = ["USD", "USDT", "USDC", "EUR", "GBP", "JPY", "BTC", "ETH"];

/// True for a currency a unit of which is worth little (a dollar is tens to thousands of them):
/// its pairs are quoted to 3 or 4 decimals rather than 5 ([`FOUR_DECIMALS`]), and orders in it
/// get the yen-like safe limits.
pub(crate) fn is_big_unit(code: &str) -> bool {
    BIG_UNIT.contains(&code)
}

/// Currencies a unit of which is worth little; see [`is_big_unit`].
const BIG_UNIT: [&str; 9] = [
    "JPY", "HUF", "KRW", "IDR", "INR", "RUB", "THB", "TWD", "CZK",
];

/// Big-unit currencies whose pairs are quoted to 4 decimals (a dollar is tens of them, not
/// hundreds): 3 would round the last digit of USD/INR at 83.1925 away.
const FOUR_DECIMALS: [&str; 5] = ["INR", "RUB", "THB", "TWD", "CZK"];

/// Fields of an [`Instrument`] to change, from configuration
/// (`[instruments.USDJPY] tick = "0.001"`); unset fields keep the built-in or default value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstrumentOverride {
    /// What it is (`{ kind = "equity" }`, `{ kind = "fx_pair", base = "EUR", quote = "USD" }`).
    pub asset_class: Option<AssetClass>,
    /// The tick (`"0.001"`).
    pub tick: Option<Tick>,
    /// The lot step orders are checked against.
    pub lot_step: Option<Quantity>,
    /// `tick_count` or `units`.
    pub volume: Option<VolumeKind>,
    /// `fx_week`, `tokyo`, `new_york`, `london`, `central_europe`, `hong_kong`, `sydney`,
    /// `cme_globex` or `always_open`.
    pub hours: Option<TradingHours>,
    /// `utc_midnight` or `new_york_close`.
    pub alignment: Option<DailyAlignment>,
}

/// The instruments axia knows, by symbol: built-in entries ([`InstrumentRegistry::builtin`])
/// extended or overridden from configuration. A symbol it does not know still resolves, to
/// [`Instrument::default_for`], and is reported once ([`InstrumentRegistry::resolve_reporting`]).
///
/// ```
/// use axia_domain::{InstrumentOverride, InstrumentRegistry, Symbol};
///
/// let mut registry = InstrumentRegistry::builtin();
/// let usdjpy: Symbol = "USDJPY".parse()?;
/// assert_eq!(registry.resolve(&usdjpy).price_decimals(), 3);
/// assert_eq!(registry.resolve(&"EURUSD".parse()?).price_decimals(), 5);
/// registry.override_with(&usdjpy, &InstrumentOverride { tick: Some("0.01".parse()?), ..Default::default() });
/// assert_eq!(registry.resolve(&usdjpy).price_decimals(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct InstrumentRegistry {
    known: BTreeMap<Symbol, Arc<Instrument>>,
    /// The daily alignment of the symbols it resolves to their defaults, when not theirs.
    alignment: Option<DailyAlignment>,
    reported: Mutex<BTreeSet<Symbol>>,
}

impl PartialEq for InstrumentRegistry {
    /// The same instruments (what was reported is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.known == other.known && self.alignment == other.alignment
    }
}

impl Eq for InstrumentRegistry {}

impl Clone for InstrumentRegistry {
    fn clone(&self) -> Self {
        Self {
            known: self.known.clone(),
            alignment: self.alignment,
            reported: Mutex::new(crate::lock(&self.reported).clone()),
        }
    }
}

/// The major and cross FX pairs built in.
const BUILTIN_PAIRS: [&str; 28] = [
    "EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDCAD", "USDCHF", "USDJPY", "EURJPY", "GBPJPY",
    "AUDJPY", "NZDJPY", "CADJPY", "CHFJPY", "EURGBP", "EURCHF", "EURAUD", "EURCAD", "EURNZD",
    "GBPCHF", "GBPAUD", "GBPCAD", "GBPNZD", "AUDCAD", "AUDCHF", "AUDNZD", "NZDCAD", "XAUUSD",
    "XAGUSD",
];

/// Tokyo stocks built in (Toyota and the other large caps the replaced system traded): 0.1 yen, the finest tick
/// TSE uses for large caps, so every traded price is on the grid.
const BUILTIN_TOKYO: [&str; 6] = ["7203.T", "6758.T", "9984.T", "8306.T", "6861.T", "9432.T"];

/// US stocks and ETFs built in: one cent.
const BUILTIN_US: [&str; 8] = [
    "AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "SPY",
];

impl InstrumentRegistry {
    /// No instruments: everything resolves to its default.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in instruments: the major and cross FX pairs (yen pairs 3 decimals, others
    /// 5, gold and silver 2), large Tokyo stocks (0.1 yen), large US stocks (0.01), and the
    /// S&P 500 (`^GSPC`), Dow (`^DJI`), Nasdaq Composite (`^IXIC`) and Nikkei 225 (`^N225`).
    #[must_use]
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        for p in BUILTIN_PAIRS {
            let (base, quote) = p.split_at(3);
            if let Ok(i) = Instrument::fx_pair(base, quote) {
                r.insert(i);
            }
        }
        let sym = |s: &str| s.parse::<Symbol>().ok();
        for s in BUILTIN_TOKYO.iter().filter_map(|s| sym(s)) {
            r.insert(Instrument::equity(s, tick_of(1), TradingHours::Tokyo));
        }
        for s in BUILTIN_US.iter().filter_map(|s| sym(s)) {
            r.insert(Instrument::equity(s, tick_of(2), TradingHours::NewYork));
        }
        for (s, hours) in [
            ("^GSPC", TradingHours::NewYork),
            ("^DJI", TradingHours::NewYork),
            ("^IXIC", TradingHours::NewYork),
            ("^N225", TradingHours::Tokyo),
        ] {
            if let Some(s) = sym(s) {
                r.insert(Instrument::index(s, tick_of(2), hours));
            }
        }
        r
    }

    /// The built-in registry, shared (what [`default_calendar`](crate::default_calendar) and
    /// adapters without a registry of their own use).
    #[must_use]
    pub fn shared_builtin() -> &'static Self {
        static BUILTIN: OnceLock<InstrumentRegistry> = OnceLock::new();
        BUILTIN.get_or_init(Self::builtin)
    }

    /// This registry with every instrument's daily bars on `alignment`: the registered ones
    /// and those it resolves to their defaults (`daily_alignment = "utc_midnight"` in the
    /// settings; instruments inserted or overridden afterwards keep their own).
    ///
    /// ```
    /// use axia_domain::{DailyAlignment, InstrumentRegistry};
    ///
    /// let utc = InstrumentRegistry::builtin().with_daily_alignment(DailyAlignment::UtcMidnight);
    /// assert_eq!(utc.resolve(&"EURUSD".parse()?).alignment(), DailyAlignment::UtcMidnight);
    /// assert_eq!(utc.resolve(&"SEKNOK".parse()?).alignment(), DailyAlignment::UtcMidnight);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_daily_alignment(mut self, alignment: DailyAlignment) -> Self {
        for i in self.known.values_mut() {
            if i.alignment() != alignment {
                *i = Arc::new((**i).clone().with_alignment(alignment));
            }
        }
        self.alignment = Some(alignment);
        self
    }

    /// Adds or replaces an instrument.
    pub fn insert(&mut self, instrument: Instrument) {
        self.known
            .insert(instrument.symbol().clone(), Arc::new(instrument));
    }

    /// Changes the fields `o` sets of `symbol`'s instrument (its default first, if unknown).
    pub fn override_with(&mut self, symbol: &Symbol, o: &InstrumentOverride) {
        let base = self.resolve(symbol);
        self.insert(base.overridden(o));
    }

    /// The instrument registered for `symbol`.
    #[must_use]
    pub fn get(&self, symbol: &Symbol) -> Option<&Instrument> {
        self.known.get(symbol).map(AsRef::as_ref)
    }

    /// True when `symbol` is registered.
    #[must_use]
    pub fn knows(&self, symbol: &Symbol) -> bool {
        self.known.contains_key(symbol)
    }

    /// `symbol`'s instrument, or its default ([`Instrument::default_for`]).
    #[must_use]
    pub fn resolve(&self, symbol: &Symbol) -> Instrument {
        self.get(symbol).cloned().unwrap_or_else(|| {
            let i = Instrument::default_for(symbol);
            match self.alignment {
                Some(a) => i.with_alignment(a),
                None => i,
            }
        })
    }

    /// As [`InstrumentRegistry::resolve`], calling `unknown` the first time a symbol resolves to
    /// its default (adapters log a warning there).
    pub fn resolve_reporting(
        &self,
        symbol: &Symbol,
        unknown: impl FnOnce(&Instrument),
    ) -> Instrument {
        let instrument = self.resolve(symbol);
        if !self.knows(symbol) && crate::lock(&self.reported).insert(symbol.clone()) {
            unknown(&instrument);
        }
        instrument
    }

    /// Every registered instrument, by symbol.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.known.values().map(AsRef::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trading_hours_names_are_the_settings_names() {
        use TradingHours::*;
        for h in [
            FxWeek,
            Tokyo,
            NewYork,
            AlwaysOpen,
            London,
            CentralEurope,
            HongKong,
            Sydney,
            CmeGlobex,
            Xetra,
        ] {
            assert_eq!(serde_json::to_value(h).unwrap(), h.as_str(), "{h:?}");
        }
    }
    use proptest::prelude::*;

    fn ticks() -> impl Strategy<Value = Tick> {
        prop_oneof![
            (0u32..=8).prop_map(|d| Tick::decimal(d).unwrap()),
            (1i64..1000, 0u32..=6).prop_map(|(m, s)| Tick::new(Decimal::new(m, s)).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn quantizing_is_idempotent_and_moves_at_most_half_a_tick(
            tick in ticks(), price in 1e-3f64..1e6,
        ) {
            prop_assume!(tick.ticks_in(price).is_some());
            let q = tick.quantize(price).unwrap();
            prop_assert_eq!(tick.quantize(q), Some(q), "idempotent");
            let t = tick.value().to_string().parse::<f64>().unwrap();
            // Half a tick, measured in f64: the difference of two prices near 1e6 is only good to
            // a few units in their last place (~1e-10), more than a 1e-8 tick's rounding slack.
            let ulps = 4.0 * f64::EPSILON * price.abs().max(q.abs());
            prop_assert!((q - price).abs() <= t / 2.0 * (1.0 + 1e-9) + ulps + 1e-12,
                "{price} -> {q} moved more than half of {t}");
            // On the grid: the decimal of q is a multiple of the tick.
            let dq: Decimal = tick.format(q).parse().unwrap();
            prop_assert!(tick.contains(dq), "{q} is not a multiple of {tick}");
            prop_assert_eq!(dq.to_string().parse::<f64>().unwrap(), q, "the closest f64 to its decimal");
        }

        #[test]
        fn quantizing_keeps_the_order_of_prices(tick in ticks(), a in 1e-3f64..1e6, b in 1e-3f64..1e6) {
            prop_assume!(tick.ticks_in(a).is_some() && tick.ticks_in(b).is_some());
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(tick.quantize(lo).unwrap() <= tick.quantize(hi).unwrap());
        }

        /// A price `n / q` (a decimal, or a binary fraction down to 1/256) sent through a
        /// binary32 comes back as a grid price the same binary32 stands for, with no more
        /// decimals than the price sent, and in the order of the binary32 values.
        #[test]
        fn binary32_prices_come_back_as_simple_as_they_were_sent(
            decimals in prop::sample::select(vec![4u32, 6, 8]),
            q in prop::sample::select(vec![1i64, 2, 4, 8, 10, 16, 32, 100, 128, 256, 1_000, 10_000]),
            whole in 0i64..60_000,
            frac in 0i64..10_000,
            other in 0.01f64..60_000.0,
        ) {
            let tick = Tick::decimal(decimals).unwrap();
            let n = whole * q + frac % q;
            let sent = n as f64 / q as f64;
            prop_assume!(sent > 0.0);
            let single = sent as f32;
            let got = tick.quantize_binary32(f64::from(single)).unwrap();
            prop_assert_eq!(tick.quantize(got), Some(got), "off the grid");
            let decimals =
                |x: f64| tick.format(x).parse::<Decimal>().unwrap().normalize().scale();
            if tick.quantize(sent) == Some(sent) {
                prop_assert_eq!(got as f32, single, "{} -> {}: another binary32", sent, got);
                prop_assert!(decimals(got) <= decimals(sent), "{} -> {}: more decimals", sent, got);
            }
            let o = f64::from(other as f32);
            let back = tick.quantize_binary32(o).unwrap();
            prop_assert_eq!(f64::from(single) <= o, got <= back, "order");
            prop_assert_eq!(tick.quantize_binary32(got), Some(got), "idempotent");
        }
    }

    proptest! {
        /// Prices shown with `shown_decimals` read back exactly, and one decimal fewer would
        /// not do (unless at the floor of 2); a tick of up to 5 decimals is shown in full.
        #[test]
        fn shown_decimals_are_the_fewest_that_print_every_price_exactly(
            decimals in 0u32..=10,
            used in 0u32..=10,
            cents in prop::collection::vec(1i64..100_000_000, 1..20),
        ) {
            let tick = Tick::decimal(decimals).unwrap();
            let grid = Tick::decimal(used.min(decimals)).unwrap();
            let prices: Vec<f64> = cents.iter().map(|&n| grid.price_of(n)).collect();
            let shown = tick.shown_decimals(prices.iter().copied());
            if decimals <= Tick::SHOWN_IN_FULL {
                prop_assert_eq!(shown, decimals);
            } else {
                prop_assert!((2..=decimals).contains(&shown));
                let fits = |d: u32| prices.iter().all(|&p| format!("{p:.*}", d as usize).parse::<f64>().unwrap() == p);
                prop_assert!(fits(shown), "{:?} at {}", prices, shown);
                prop_assert!(shown == 2 || !fits(shown - 1), "{:?}: {} would do", prices, shown - 1);
            }
        }
    }

    #[test]
    fn binary32_noise_is_taken_out_where_the_tick_is_finer_than_the_float() {
        let b32 = |x: f64| f64::from(x as f32);
        let fine = Tick::decimal(8).unwrap();
        let bp = Tick::decimal(4).unwrap();
        for (tick, price) in [
            (fine, 43_210.12),   // a coin, ulp 0.0039
            (fine, 2_034.1),     // gold futures
            (fine, 0.3),         // ulp 3e-8
            (fine, 0.006_700_5), // the yen future: the float is fine enough, quantize does it
            (bp, 8_123.4),       // an index on 0.0001, ulp 0.00098
            (bp, 5_012.37),      // a stock above 4,096
            (bp, 156.42),
        ] {
            assert_eq!(
                tick.quantize_binary32(b32(price)),
                Some(price),
                "{price} on {tick}"
            );
        }
        // Prices in 256ths on their own tick, which plain rounding keeps exact.
        let in_256ths: Tick = "0.00390625".parse().unwrap();
        for price in [102.941_406_25, 110.796_875, 118.031_25] {
            assert_eq!(
                in_256ths.quantize_binary32(b32(price)),
                Some(price),
                "{price}"
            );
        }
        // Plain rounding keeps the noise there.
        assert_ne!(bp.quantize(b32(8_123.4)), Some(8_123.4));
        // A double that is no binary32 is rounded as usual.
        assert_eq!(
            fine.quantize_binary32(8_123.400_000_01),
            Some(8_123.400_000_01)
        );
        assert_eq!(fine.quantize_binary32(f64::NAN), None);
        assert_eq!(fine.quantize_binary32(0.0), Some(0.0));
        // A tick that is not a power of ten keeps its own grid.
        let quarter = Tick::new(Decimal::new(25, 2)).unwrap();
        assert_eq!(quarter.quantize_binary32(b32(5_012.25)), Some(5_012.25));
        let half_bp = Tick::new(Decimal::new(5, 8)).unwrap();
        assert_eq!(half_bp.quantize_binary32(b32(43_210.12)), Some(43_210.12));
    }

    #[test]
    fn ties_go_to_the_even_tick() {
        let t = Tick::decimal(2).unwrap();
        // 0.125 and 0.375 are exact in binary: true ties.
        assert_eq!(t.quantize(0.125), Some(0.12));
        assert_eq!(t.quantize(0.375), Some(0.38));
        let five = Tick::new(Decimal::new(5, 0)).unwrap();
        assert_eq!(five.quantize(12.5), Some(10.0));
        assert_eq!(five.quantize(17.5), Some(20.0));
    }

    #[test]
    fn bad_ticks_are_refused() {
        for bad in ["0", "-0.01", "0.0000000000001", "abc", ""] {
            assert!(bad.parse::<Tick>().is_err(), "{bad}");
        }
        assert_eq!(Tick::decimal(3).unwrap().to_string(), "0.001");
        assert_eq!("0.0010".parse::<Tick>().unwrap().decimals(), 3);
        assert_eq!(Tick::decimal(3).unwrap().quantize(f64::NAN), None);
        assert_eq!(
            Tick::decimal(12).unwrap().quantize(1e9),
            None,
            "beyond 2^53 units"
        );
    }

    #[test]
    fn builtins_cover_majors_crosses_and_stocks() {
        let r = InstrumentRegistry::builtin();
        let get = |s: &str| r.get(&s.parse().unwrap()).cloned().unwrap();
        for (s, d) in [
            ("USDJPY", 3),
            ("EURJPY", 3),
            ("EURUSD", 5),
            ("GBPCHF", 5),
            ("XAUUSD", 3),
            ("XAGUSD", 5),
        ] {
            let i = get(s);
            assert_eq!(i.price_decimals(), d, "{s}");
            assert_eq!(i.hours(), TradingHours::FxWeek);
            assert_eq!(i.volume(), VolumeKind::TickCount);
        }
        assert_eq!(get("7203.T").hours(), TradingHours::Tokyo);
        assert_eq!(get("7203.T").tick().to_string(), "0.1");
        assert_eq!(get("AAPL").tick().to_string(), "0.01");
        assert_eq!(get("AAPL").volume(), VolumeKind::Units);
        assert_eq!(get("^N225").hours(), TradingHours::Tokyo);
        assert_eq!(get("^N225").asset_class(), &AssetClass::Index);
        // FX pairs and futures: the New York close; crypto, stocks and indices: UTC midnight.
        for i in r.iter() {
            let expected = match i.asset_class() {
                AssetClass::FxPair { .. } if i.hours() == TradingHours::FxWeek => {
                    DailyAlignment::NewYorkClose
                }
                AssetClass::Future => DailyAlignment::NewYorkClose,
                _ => DailyAlignment::UtcMidnight,
            };
            assert_eq!(i.alignment(), expected, "{}", i.symbol());
        }
    }

    #[test]
    fn unknown_symbols_resolve_to_documented_defaults_reported_once() {
        let r = InstrumentRegistry::builtin();
        let mut reports = 0;
        for _ in 0..3 {
            let i = r.resolve_reporting(&"SEKJPY".parse().unwrap(), |_| reports += 1);
            assert_eq!(i.price_decimals(), 3);
            assert_eq!(i.hours(), TradingHours::FxWeek);
        }
        assert_eq!(reports, 1);
        let d = |s: &str| Instrument::default_for(&s.parse().unwrap());
        assert_eq!(d("1301.T").hours(), TradingHours::Tokyo);
        assert_eq!(d("1301.T").price_decimals(), 1);
        assert_eq!(d("^FTSE").asset_class(), &AssetClass::Index);
        assert_eq!(d("^TNX").tick().quantize(4.215), Some(4.215));
        // Other exchanges by their Yahoo suffix: their own hours, prices kept to 0.0001.
        for (s, hours) in [
            ("VOD.L", TradingHours::London),
            ("SAP.DE", TradingHours::Xetra),
            ("MC.PA", TradingHours::CentralEurope),
            ("NESN.SW", TradingHours::CentralEurope),
            ("0700.HK", TradingHours::HongKong),
            ("BHP.AX", TradingHours::Sydney),
            ("RY.TO", TradingHours::NewYork),
            ("BRK.B", TradingHours::NewYork),
        ] {
            assert_eq!(d(s).hours(), hours, "{s}");
            assert_eq!(d(s).price_decimals(), 4, "{s}");
        }
        // Sessions in each exchange's own time zone: London's opening hour is 08:00 UTC in
        // winter, 07:00 UTC in summer.
        use chrono::{DateTime, TimeZone, Utc};
        let open = |s: &str, t: DateTime<Utc>| d(s).calendar().is_open(t);
        let utc = |m, d, h, mi| Utc.with_ymd_and_hms(2026, m, d, h, mi, 0).unwrap();
        assert!(open("VOD.L", utc(1, 7, 8, 0)) && !open("VOD.L", utc(1, 7, 7, 59)));
        assert!(open("VOD.L", utc(7, 8, 7, 0)) && !open("VOD.L", utc(7, 8, 15, 30)));
        assert!(open("SAP.DE", utc(1, 7, 16, 29)) && !open("SAP.DE", utc(1, 7, 16, 30)));
        assert!(!open("0700.HK", utc(1, 7, 4, 30)) && open("0700.HK", utc(1, 7, 5, 0)));
        assert!(open("BHP.AX", utc(1, 7, 0, 0)) && !open("BHP.AX", utc(1, 7, 5, 0)));
        assert!(!open("VOD.L", utc(1, 10, 12, 0)), "a Saturday");
        assert_eq!(r.resolve(&"^GSPC".parse().unwrap()).price_decimals(), 2);
        // Pairs in currencies worth little: as finely as they are quoted (USD/INR 83.1925).
        for (s, decimals) in [
            ("USDINR", 4),
            ("EURCZK", 4),
            ("USDTHB", 4),
            ("USDHUF", 3),
            ("USDKRW", 3),
            ("XAUJPY", 3),
            ("XAUEUR", 3),
            ("XAGEUR", 5),
        ] {
            assert_eq!(d(s).price_decimals(), decimals, "{s}");
        }
        // A stock no registry knows: the finest US quoting increment (sub-dollar stocks).
        assert_eq!(d("IBM").price_decimals(), 4);
        assert_eq!(d("SNDL").tick().quantize(0.0042), Some(0.0042));
        // The registered large caps keep the cent.
        assert_eq!(r.resolve(&"AAPL".parse().unwrap()).price_decimals(), 2);
        assert_eq!(d("IBM").hours(), TradingHours::NewYork);
        // A pair written as `EURUSD=X`, `JPY=X` or `EUR_USD` is that pair, under the name given.
        for (s, base, quote, decimals) in [
            ("EURUSD=X", "EUR", "USD", 5),
            ("usdjpy=x", "USD", "JPY", 3),
            ("JPY=X", "USD", "JPY", 3),
            ("GBP_JPY", "GBP", "JPY", 3),
            ("AUD_NZD", "AUD", "NZD", 5),
        ] {
            let i = d(s);
            assert_eq!(i.symbol().as_str(), s.to_ascii_uppercase(), "{s}");
            assert_eq!(
                i.asset_class(),
                &AssetClass::FxPair {
                    base: base.into(),
                    quote: quote.into()
                },
                "{s}"
            );
            assert_eq!(i.price_decimals(), decimals, "{s}");
            assert_eq!(i.hours(), TradingHours::FxWeek, "{s}");
            assert_eq!(i.volume(), VolumeKind::TickCount, "{s}");
        }
        // Crypto pairs: always open, a grid fine enough for a coin worth a fraction of a cent.
        for s in ["BTC-USD", "ETH-EUR", "DOGE-USDT", "SHIB-USD"] {
            let i = d(s);
            assert_eq!(i.hours(), TradingHours::AlwaysOpen, "{s}");
            assert_eq!(i.price_decimals(), 8, "{s}");
            assert_eq!(i.lot_step(), None, "{s}");
            assert_eq!(i.tick().quantize(0.000_012_34), Some(0.000_012_34), "{s}");
        }
        // Futures by Yahoo's suffix: Globex hours, whole contracts, and a grid that holds
        // decimal ticks and the 32nds of Treasury futures alike.
        for s in ["ES=F", "GC=F", "ZT=F", "ZN=F", "6J=F", "EURUSD=F"] {
            let i = d(s);
            assert_eq!(i.asset_class(), &AssetClass::Future, "{s}");
            assert_eq!(i.hours(), TradingHours::CmeGlobex, "{s}");
            assert_eq!(i.volume(), VolumeKind::Units, "{s}");
            assert!(i.lot_step().is_some(), "{s}");
            let treasury = s.starts_with('Z');
            let prices: &[f64] = if treasury {
                &[102.941_406_25, 110.796_875, 118.031_25, 125.0]
            } else {
                &[5_012.25, 2_034.1, 0.006_700_5, 0.000_000_01]
            };
            for &price in prices {
                assert_eq!(i.tick().quantize(price), Some(price), "{s} {price}");
            }
            assert_eq!(i.price_decimals(), 8, "{s}");
        }
        assert!(open("GC=F", utc(7, 1, 3, 0)) && !open("GC=F", utc(7, 1, 21, 30)));
        // Not pairs: a share class, unknown codes, a ticker that only looks like one.
        for s in ["BRK-B", "ABC=X", "EUR_XYZ", "=F", "-USD", "X-USD"] {
            if let Ok(sym) = s.parse::<Symbol>() {
                let i = Instrument::default_for(&sym);
                assert_eq!(i.asset_class(), &AssetClass::Equity, "{s}");
                assert_eq!(i.hours(), TradingHours::NewYork, "{s}");
            }
        }
        let _ = r.resolve_reporting(&"USDJPY".parse().unwrap(), |_| reports += 1);
        assert_eq!(reports, 1, "a known symbol is not reported");
    }

    #[test]
    fn overrides_change_only_what_they_set() {
        let mut r = InstrumentRegistry::builtin();
        let s: Symbol = "USDJPY".parse().unwrap();
        let o: InstrumentOverride =
            serde_json::from_str(r#"{"alignment": "utc_midnight", "lot_step": "1000"}"#).unwrap();
        r.override_with(&s, &o);
        let i = r.resolve(&s);
        assert_eq!(i.alignment(), DailyAlignment::UtcMidnight);
        assert_eq!(i.lot_step().unwrap().to_string(), "1000");
        assert_eq!(i.price_decimals(), 3, "kept");
        // A new symbol: its default, changed.
        let n: Symbol = "ABCD".parse().unwrap();
        r.override_with(
            &n,
            &InstrumentOverride {
                tick: Some("0.5".parse().unwrap()),
                ..Default::default()
            },
        );
        assert_eq!(r.resolve(&n).tick().to_string(), "0.5");
        assert!(r.knows(&n));
        assert!(serde_json::from_str::<InstrumentOverride>(r#"{"tik": "0.1"}"#).is_err());
        assert!(serde_json::from_str::<InstrumentOverride>(r#"{"tick": "-1"}"#).is_err());
    }

    proptest! {
        /// An FX pair's or a future's default daily bars: five per FX week (Monday to Friday,
        /// from the New York close), as Yahoo and OANDA send them, so completeness expects no
        /// Sunday bar that never comes (under UTC midnight it would expect six). Any week of
        /// 1990-2040, across both daylight-saving changes.
        #[test]
        fn the_default_fx_and_futures_week_holds_five_daily_bars(week in 0i64..2_600, future in any::<bool>()) {
            use chrono::Datelike as _;
            let symbol: Symbol = if future { "ES=F" } else { "EURUSD" }.parse().unwrap();
            let i = InstrumentRegistry::builtin().resolve(&symbol);
            prop_assert_eq!(i.alignment(), DailyAlignment::NewYorkClose);
            let d1 = crate::Timeframe::D1.aligned(i.alignment());
            // A Wednesday noon, and the D1 slots of the seven days around it.
            let wednesday = chrono::DateTime::from_timestamp(631_972_800, 0).unwrap()
                + chrono::Duration::weeks(week);
            let calendar: &dyn crate::MarketCalendar = if future { &crate::CmeGlobexCalendar } else { &crate::FxCalendar };
            let monday = i.alignment().date_of(d1.floor(wednesday - chrono::Duration::days(2)));
            let mut slots = 0;
            let mut weekdays = Vec::new();
            for date in monday.iter_days().take(7) {
                let t = i.alignment().day_start(date);
                prop_assert_eq!(d1.floor(t), t);
                let next = d1.next_open(t);
                if calendar.is_open_during(crate::TimeRange::new(t, next).unwrap()) {
                    slots += 1;
                    weekdays.push(date.weekday());
                }
            }
            // Five, less the weekdays the market keeps as holidays: a future's CME trading
            // dates (New Year's Day and a national day of mourning made 2007's first week
            // three); the FX week closes at most for Christmas or New Year's Day.
            if future {
                let holidays = monday
                    .iter_days()
                    .take(5)
                    .filter(|d| crate::ExchangeDays::CmeGlobex.is_closed(*d))
                    .count();
                prop_assert_eq!(slots, 5 - holidays, "{:?}", weekdays);
            } else {
                prop_assert!((4..=5).contains(&slots), "{} slots: {:?}", slots, weekdays);
            }
            prop_assert!(weekdays.iter().all(|d| !matches!(d, chrono::Weekday::Sat | chrono::Weekday::Sun)), "{:?}", weekdays);
        }
    }
}
