//! The live feed's parts together: the simulated stream's quotes, made into bars, equal the
//! simulated broker's candles; the stream paces itself on the clock, snapshots, and beats.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axia_domain::{
    Clock, DailyAlignment, Instrument, InstrumentRegistry, PriceStream, StreamEvent, Symbol,
    TimeRange, Timeframe,
};
use axia_live::{LiveBarsConfig, QuoteDrop, QuotesToBars};
use axia_simbroker::{SimulatedQuotes, SimulatedStream, generate_for};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;

type Ohlcv = (f64, f64, f64, f64, f64);

/// Every closed bar built from the simulated stream over `[start, end)` equals the simulated
/// broker's candle, in every timeframe, for instruments of every calendar and alignment.
fn live_bars_equal_candles(symbol: &str, start: DateTime<Utc>, end: DateTime<Utc>) {
    let instrument = InstrumentRegistry::shared_builtin().resolve(&symbol.parse().unwrap());
    live_bars_equal_candles_of(instrument, start, end);
}

fn live_bars_equal_candles_of(instrument: Instrument, start: DateTime<Utc>, end: DateTime<Utc>) {
    let seed = 7;
    let symbol = instrument.symbol().to_string();
    let config = LiveBarsConfig::default();
    let mut q = QuotesToBars::new(&config, [instrument.clone()]);
    let mut closed: BTreeMap<(Timeframe, i64), Ohlcv> = BTreeMap::new();
    let mut out = Vec::new();
    let mut quotes = 0u64;
    for quote in SimulatedQuotes::new(seed, &instrument, start) {
        if quote.time >= end {
            break;
        }
        quotes += 1;
        out.clear();
        q.on_quote(&quote, &mut out).unwrap();
        for c in out.iter().filter(|c| !c.forming) {
            let (_, tf, _) = q.series(c.series).unwrap();
            let b = c.bar;
            closed.insert(
                (tf, b.time_millis),
                (b.open, b.high, b.low, b.close, b.volume),
            );
        }
    }
    out.clear();
    q.close_until(end, &mut out);
    for c in &out {
        let (_, tf, _) = q.series(c.series).unwrap();
        let b = c.bar;
        closed.insert(
            (tf, b.time_millis),
            (b.open, b.high, b.low, b.close, b.volume),
        );
    }
    assert!(quotes > 1_000, "{symbol}: {quotes} quotes");
    assert_eq!(q.counts().dropped_total(), 0, "{symbol}: {:?}", q.counts());
    for reason in QuoteDrop::ALL {
        assert_eq!(q.counts().dropped(reason), 0);
    }
    let mut compared = 0;
    for tf in Timeframe::ALL {
        let range = TimeRange::new(start, end).unwrap();
        let candles = generate_for(seed, &instrument, tf, range, end).unwrap();
        let grid = tf.aligned(instrument.alignment());
        // Candles whose whole period lies in the window: the quotes began at `start`.
        let expected: BTreeMap<i64, Ohlcv> = candles
            .iter()
            .filter(|b| grid.floor(b.time()) >= start && grid.next_open(b.time()) <= end)
            .map(|b| {
                (
                    b.time_millis(),
                    (b.open(), b.high(), b.low(), b.close(), b.volume()),
                )
            })
            .collect();
        let got: BTreeMap<i64, Ohlcv> = closed
            .iter()
            .filter(|((t, _), _)| *t == tf)
            .map(|((_, o), v)| (*o, *v))
            .filter(|(o, _)| {
                let open = DateTime::from_timestamp_millis(*o).unwrap();
                open >= start && grid.next_open(open) <= end
            })
            .collect();
        assert_eq!(got, expected, "{symbol} {tf}");
        compared += expected.len();
    }
    assert!(compared > 100, "{symbol}: only {compared} bars compared");
}

#[test]
fn an_fx_pair_across_the_weekly_close_and_open() {
    // Friday 12:00 UTC to Monday 04:00 UTC: the FX week closes at 22:00 UTC Friday and opens at
    // 22:00 UTC Sunday.
    live_bars_equal_candles(
        "EURUSD",
        Utc.with_ymd_and_hms(2026, 11, 13, 12, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 16, 4, 0, 0).unwrap(),
    );
}

#[test]
fn an_fx_pair_on_new_york_close_days() {
    // Daily and H4 bars from 17:00 New York, across the November DST change.
    let gbpusd = InstrumentRegistry::shared_builtin()
        .resolve(&"GBPUSD".parse().unwrap())
        .with_alignment(DailyAlignment::NewYorkClose);
    live_bars_equal_candles_of(
        gbpusd,
        Utc.with_ymd_and_hms(2026, 10, 29, 21, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 4, 0, 0, 0).unwrap(),
    );
}

#[test]
fn a_yen_pair_over_a_new_york_dst_change() {
    live_bars_equal_candles(
        "USDJPY",
        Utc.with_ymd_and_hms(2026, 3, 8, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap(),
    );
}

#[test]
fn a_new_york_stock_over_two_sessions() {
    live_bars_equal_candles(
        "AAPL",
        Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 12, 0, 0, 0).unwrap(),
    );
}

#[test]
fn a_tokyo_stock_with_its_lunch_break() {
    live_bars_equal_candles(
        "7203.T",
        Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap(),
    );
}

/// A clock on tokio's (paused) time: the stream's sleeps advance it.
struct TokioClock {
    at: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.at + chrono::Duration::from_std(self.start.elapsed()).unwrap()
    }
}

fn tokio_clock(at: DateTime<Utc>) -> Arc<TokioClock> {
    Arc::new(TokioClock {
        at,
        start: tokio::time::Instant::now(),
    })
}

#[tokio::test(start_paused = true)]
async fn the_stream_snapshots_then_sends_each_quote_when_its_time_comes() {
    let at = Utc.with_ymd_and_hms(2026, 11, 10, 14, 29, 30).unwrap();
    let clock = tokio_clock(at);
    let stream = SimulatedStream::new(7, clock.clone());
    let symbols: Vec<Symbol> = vec!["EURUSD".parse().unwrap(), "AAPL".parse().unwrap()];
    let mut events = stream.open(&symbols).await.unwrap();
    let mut last: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut quotes = 0;
    let mut first_aapl = None;
    // The snapshot: the last quote of each instrument before now (AAPL: Monday's close).
    for _ in 0..2 {
        let Some(Ok(StreamEvent::Quote(q))) = events.next().await else {
            panic!("a snapshot quote first");
        };
        assert!(q.time <= at, "{q:?}");
        last.insert(q.symbol.to_string(), q.time);
    }
    assert!(last["AAPL"] < at - chrono::Duration::hours(12), "{last:?}");
    while clock.now() < at + chrono::Duration::minutes(2) {
        match events.next().await.unwrap().unwrap() {
            StreamEvent::Quote(q) => {
                quotes += 1;
                assert!(q.time <= clock.now(), "sent before its time: {q:?}");
                assert!(q.time > at, "{q:?}");
                let prev = last.insert(q.symbol.to_string(), q.time).unwrap();
                assert!(q.time > prev, "{q:?} after {prev}");
                assert!(q.bid <= q.ask && q.bid > 0.0);
                if q.symbol.as_str() == "AAPL" && first_aapl.is_none() {
                    first_aapl = Some(q.time);
                }
            }
            StreamEvent::Heartbeat(_) => {}
        }
    }
    // EURUSD quotes 20 to 100 times a minute; AAPL from the open at 14:30 on.
    assert!(quotes > 40, "{quotes}");
    assert_eq!(
        first_aapl,
        Some(Utc.with_ymd_and_hms(2026, 11, 10, 14, 30, 0).unwrap())
    );
}

#[tokio::test(start_paused = true)]
async fn a_closed_market_gets_heartbeats() {
    let saturday = Utc.with_ymd_and_hms(2026, 11, 14, 12, 0, 0).unwrap();
    let clock = tokio_clock(saturday);
    let stream = SimulatedStream::new(7, clock.clone()).heartbeat(Duration::from_secs(5));
    let mut events = stream.open(&["EURUSD".parse().unwrap()]).await.unwrap();
    let Some(Ok(StreamEvent::Quote(snapshot))) = events.next().await else {
        panic!("Friday's last quote first");
    };
    assert!(snapshot.time <= Utc.with_ymd_and_hms(2026, 11, 13, 22, 0, 0).unwrap());
    for k in 1..=3 {
        let Some(Ok(StreamEvent::Heartbeat(t))) = events.next().await else {
            panic!("a heartbeat");
        };
        assert_eq!(t, saturday + chrono::Duration::seconds(5 * k));
        assert_eq!(clock.now(), t);
    }
}
