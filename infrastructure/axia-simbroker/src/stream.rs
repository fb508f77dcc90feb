//! [`SimulatedStream`]: the simulated market's quotes, live, as a [`PriceStream`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    Clock, Instrument, InstrumentRegistry, MarketCalendar, PriceStream, Quote, QuoteStream,
    StreamError, StreamEvent, Symbol,
};
use chrono::{DateTime, Utc};

use crate::generator::MinuteModel;

const MINUTE_MS: i64 = 60_000;

/// The quotes of one instrument from an instant on, in time order, forever (the minutes its
/// market is open). Their mids make exactly the simulated broker's M1 bars for the same seed
/// (and so every coarser bar): a bar built from them, once closed, equals the broker's candle.
/// The spread is the largest power of two not above the tick, so `(bid + ask) / 2` is the mid
/// exactly (where it would not be, bid and ask are both the mid).
pub struct SimulatedQuotes {
    symbol: Symbol,
    model: MinuteModel,
    calendar: Arc<dyn MarketCalendar>,
    half_spread: f64,
    /// The next minute to generate (minutes since the epoch).
    minute: i64,
    from_ms: i64,
    pending: std::collections::VecDeque<(i64, f64)>,
    scratch: Vec<(i64, f64)>,
}

impl std::fmt::Debug for SimulatedQuotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedQuotes")
            .field("symbol", &self.symbol)
            .field("minute", &self.minute)
            .finish_non_exhaustive()
    }
}

impl SimulatedQuotes {
    /// The quotes of `instrument` for `seed` whose time is at or after `from`.
    #[must_use]
    pub fn new(seed: u64, instrument: &Instrument, from: DateTime<Utc>) -> Self {
        let model = MinuteModel::new(seed, instrument);
        let tick = model.tick().value();
        let tick = rust_decimal::prelude::ToPrimitive::to_f64(&tick).unwrap_or(0.0001);
        // The largest power of two not above the tick.
        let half_spread = if tick > 0.0 {
            2f64.powi(tick.log2().floor() as i32)
        } else {
            0.0
        };
        let from_ms = from.timestamp_millis();
        Self {
            symbol: instrument.symbol().clone(),
            model,
            calendar: instrument.calendar(),
            half_spread,
            minute: from_ms.div_euclid(MINUTE_MS),
            from_ms,
            pending: std::collections::VecDeque::new(),
            scratch: Vec::new(),
        }
    }

    /// The time of the next quote, without taking it.
    pub fn peek_time(&mut self) -> Option<DateTime<Utc>> {
        self.fill()?;
        self.pending
            .front()
            .and_then(|(t, _)| DateTime::from_timestamp_millis(*t))
    }

    /// Generates minutes until one has quotes at or after `from`; `None` past year 2200.
    fn fill(&mut self) -> Option<()> {
        while self.pending.is_empty() {
            let start = self.minute.checked_mul(MINUTE_MS)?;
            if start > axia_domain::MAX_TIME_MILLIS {
                return None;
            }
            let at = DateTime::from_timestamp_millis(start)?;
            let open = self.calendar.next_open(at);
            if open > at {
                // Closed: on to the first whole minute of the next session.
                let ms = open.timestamp_millis();
                self.minute = ms.div_euclid(MINUTE_MS) + i64::from(ms.rem_euclid(MINUTE_MS) != 0);
                continue;
            }
            self.scratch.clear();
            self.model.quotes(self.minute, &mut self.scratch);
            let from = self.from_ms;
            self.pending
                .extend(self.scratch.iter().copied().filter(|(t, _)| *t >= from));
            self.minute += 1;
        }
        Some(())
    }

    fn quote(&self, time_ms: i64, mid: f64) -> Option<Quote> {
        let (mut bid, mut ask) = (mid - self.half_spread, mid + self.half_spread);
        #[allow(clippy::float_cmp)]
        if bid <= 0.0 || (bid + ask) / 2.0 != mid {
            (bid, ask) = (mid, mid);
        }
        Some(Quote {
            symbol: self.symbol.clone(),
            time: DateTime::from_timestamp_millis(time_ms)?,
            bid,
            ask,
            size: None,
        })
    }
}

impl Iterator for SimulatedQuotes {
    type Item = Quote;

    fn next(&mut self) -> Option<Quote> {
        self.fill()?;
        let (t, mid) = self.pending.pop_front()?;
        self.quote(t, mid)
    }
}

/// The simulated market as a live price stream: for each instrument, first its last quote
/// before now (as a broker's snapshot), then every quote as the clock reaches its time, and a
/// heartbeat whenever nothing was sent for [`SimulatedStream::heartbeat`]. Offline, and
/// consistent with [`SimulatedBroker`](crate::SimulatedBroker) of the same seed.
#[derive(Clone)]
pub struct SimulatedStream {
    seed: u64,
    clock: Arc<dyn Clock>,
    instruments: Arc<InstrumentRegistry>,
    heartbeat: Duration,
}

impl std::fmt::Debug for SimulatedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedStream")
            .field("seed", &self.seed)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl SimulatedStream {
    /// The stream of `seed` on `clock`, instruments from the built-in registry.
    #[must_use]
    pub fn new(seed: u64, clock: Arc<dyn Clock>) -> Self {
        Self {
            seed,
            clock,
            instruments: Arc::new(InstrumentRegistry::builtin()),
            heartbeat: Duration::from_secs(5),
        }
    }

    /// The instruments (ticks, hours); default: the built-in registry.
    #[must_use]
    pub fn instruments(mut self, instruments: Arc<InstrumentRegistry>) -> Self {
        self.instruments = instruments;
        self
    }

    /// How long without a quote before a heartbeat (default 5 s, OANDA's).
    #[must_use]
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(1));
        self
    }
}

struct Live {
    clock: Arc<dyn Clock>,
    heartbeat: chrono::Duration,
    feeds: Vec<SimulatedQuotes>,
    snapshot: std::vec::IntoIter<Quote>,
    last_sent: DateTime<Utc>,
}

impl Live {
    async fn next(&mut self) -> Option<StreamEvent> {
        if let Some(q) = self.snapshot.next() {
            return Some(StreamEvent::Quote(q));
        }
        let (i, at) = self
            .feeds
            .iter_mut()
            .enumerate()
            .filter_map(|(i, f)| f.peek_time().map(|t| (i, t)))
            .min_by_key(|(_, t)| *t)?;
        let beat = self.last_sent + self.heartbeat;
        if beat < at {
            sleep_until(&*self.clock, beat).await;
            self.last_sent = beat;
            return Some(StreamEvent::Heartbeat(beat));
        }
        sleep_until(&*self.clock, at).await;
        let q = self.feeds.get_mut(i)?.next()?;
        self.last_sent = q.time;
        Some(StreamEvent::Quote(q))
    }
}

/// The last quote of `instrument` at or before `now`, from the last minute its market was open
/// in the four days before.
fn last_quote(seed: u64, instrument: &Instrument, now: DateTime<Utc>) -> Option<Quote> {
    let calendar = instrument.calendar();
    let mut minute = now.timestamp_millis().div_euclid(MINUTE_MS);
    for _ in 0..=4 * 1440 {
        let at = DateTime::from_timestamp_millis(minute.checked_mul(MINUTE_MS)?)?;
        if calendar.is_open(at) {
            let mut quotes = SimulatedQuotes::new(seed, instrument, at);
            let mut last = None;
            while quotes.peek_time().is_some_and(|t| t <= now) {
                last = quotes.next();
            }
            if last.is_some() {
                return last;
            }
        }
        minute -= 1;
    }
    None
}

async fn sleep_until(clock: &dyn Clock, at: DateTime<Utc>) {
    let wait = (at - clock.now()).to_std().unwrap_or(Duration::ZERO);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[async_trait]
impl PriceStream for SimulatedStream {
    async fn open(&self, symbols: &[Symbol]) -> Result<QuoteStream, StreamError> {
        let now = self.clock.now();
        let mut feeds = Vec::with_capacity(symbols.len());
        let mut snapshot = Vec::new();
        for symbol in symbols {
            let instrument = self.instruments.resolve(symbol);
            snapshot.extend(last_quote(self.seed, &instrument, now));
            feeds.push(SimulatedQuotes::new(
                self.seed,
                &instrument,
                now + chrono::Duration::milliseconds(1),
            ));
        }
        let live = Live {
            clock: Arc::clone(&self.clock),
            heartbeat: chrono::Duration::from_std(self.heartbeat)
                .unwrap_or(chrono::Duration::seconds(5)),
            feeds,
            snapshot: snapshot.into_iter(),
            last_sent: now,
        };
        Ok(Box::pin(futures_util::stream::unfold(
            live,
            |mut live| async move {
                let event = live.next().await?;
                Some((Ok(event), live))
            },
        )))
    }
}
