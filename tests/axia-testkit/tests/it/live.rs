//! The live feed's parts together: the simulated stream's quotes, made into bars, equal the
//! simulated broker's candles; the stream paces itself on the clock, snapshots, and beats; the
//! feed writes them into a hot tier and survives a hostile stream.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axia_domain::{
    Clock, DailyAlignment, Instrument, InstrumentRegistry, OhlcvStore, PriceStream, QuoteStream,
    StreamError, StreamEvent, Symbol, TimeRange, Timeframe,
};
use axia_live::{
    FeedCounters, FeedError, FeedSettings, LiveBarsConfig, LiveFeed, QuoteDrop, QuotesToBars,
};
use axia_memory::MemoryStore;
use axia_simbroker::{SimulatedBroker, SimulatedQuotes, SimulatedStream, generate_for};
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
    // EURUSD quotes 240 to 360 times a minute; AAPL from the open at 14:30 on.
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

// ---------------------------------------------------------------------------------------------
// The feed
// ---------------------------------------------------------------------------------------------

/// A simulated hour through the feed into a hot tier: every bar closed in the hour equals the
/// simulated broker's candle, in every timeframe; the newest bar of each series is labelled
/// forming; nothing was dropped.
#[tokio::test(start_paused = true)]
async fn a_simulated_hour_into_the_hot_tier_equals_the_candles() {
    // 14:00 to 15:00 UTC on a Tuesday: New York's stocks open at 14:30.
    let start = Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap();
    let end = start + chrono::Duration::hours(1);
    let clock = tokio_clock(start);
    let seed = 11;
    let registry = InstrumentRegistry::shared_builtin();
    let instruments: Vec<Instrument> = ["EURUSD", "USDJPY", "AAPL"]
        .iter()
        .map(|s| registry.resolve(&s.parse().unwrap()))
        .collect();
    let hot = Arc::new(MemoryStore::new());
    let feed = LiveFeed::new(
        Arc::new(SimulatedStream::new(seed, clock.clone())),
        hot.clone(),
        clock.clone(),
        instruments.clone(),
    )
    .source(Arc::new(SimulatedBroker::new(seed, clock.clone())));
    let counters = feed.counters();
    let quotes = feed.quote_counts();
    let run = feed.run(tokio::time::sleep(Duration::from_secs(3600)));
    run.await.unwrap();
    assert_eq!(clock.now(), end);
    let counts = quotes.lock().unwrap().clone();
    assert!(counts.accepted > 5_000, "{counts:?}");
    assert_eq!(counts.dropped_total(), 0, "{counts:?}");
    assert_eq!(FeedCounters::get(&counters.connects), 1);
    assert_eq!(FeedCounters::get(&counters.write_errors), 0);
    // Every bar closed a minute before the end was checked against the broker's candle: the
    // simulated stream's bars equal them.
    assert!(
        FeedCounters::get(&counters.reconciled_bars) > 150,
        "{counters:?}"
    );
    assert_eq!(FeedCounters::get(&counters.differing_bars), 0);
    assert_eq!(FeedCounters::get(&counters.reconcile_errors), 0);
    let everything = TimeRange::new(start - chrono::Duration::days(40), end).unwrap();
    let mut compared = 0;
    for instrument in &instruments {
        for tf in Timeframe::ALL {
            let stored = hot.get(instrument.symbol(), tf, everything).await.unwrap();
            let grid = tf.aligned(instrument.alignment());
            let candles = generate_for(seed, instrument, tf, everything, end).unwrap();
            let candle = |t: i64| candles.iter().find(|c| c.time_millis() == t);
            for bar in stored.iter() {
                let open = bar.time();
                if open < start || grid.next_open(open) > end {
                    continue;
                }
                let c = candle(bar.time_millis())
                    .unwrap_or_else(|| panic!("{} {tf} {open}: no candle", instrument.symbol()));
                assert_eq!(
                    (bar.open(), bar.high(), bar.low(), bar.close(), bar.volume()),
                    (c.open(), c.high(), c.low(), c.close(), c.volume()),
                    "{} {tf} {open}",
                    instrument.symbol()
                );
                compared += 1;
            }
            // The newest bar is the one forming at the end (the feed stopped before its end).
            let newest = stored.last().unwrap();
            assert_eq!(
                stored.forming().map(|b| b.time()),
                (grid.next_open(newest.time()) > end).then(|| newest.time()),
                "{} {tf}",
                instrument.symbol()
            );
        }
    }
    // EURUSD and USDJPY: 60 M1 + 12 M5 + 4 M15 + 2 M30 + 1 H1; AAPL from 14:30: 30 + 6 + 2 + 1,
    // and its H1 bar of 14:00 (the session's first half hour).
    assert_eq!(compared, 2 * 79 + 40, "bars compared");
}

/// A scripted price stream: each `open` takes the next script.
struct Scripted {
    scripts: std::sync::Mutex<std::collections::VecDeque<Script>>,
    opens: std::sync::atomic::AtomicU32,
}

enum Script {
    Refuse(StreamError),
    /// Events, each after a pause; then the stream ends, or stays silent.
    Events(Vec<(Duration, Result<StreamEvent, StreamError>)>, bool),
}

#[async_trait::async_trait]
impl PriceStream for Scripted {
    async fn open(&self, _symbols: &[Symbol]) -> Result<QuoteStream, StreamError> {
        self.opens
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let script = self.scripts.lock().unwrap().pop_front();
        match script {
            None => Err(StreamError::Unauthorized("no more scripts".into())),
            Some(Script::Refuse(e)) => Err(e),
            Some(Script::Events(events, silent)) => {
                let s = futures_util::stream::iter(events).then(|(pause, e)| async move {
                    tokio::time::sleep(pause).await;
                    e
                });
                if silent {
                    Ok(Box::pin(s.chain(futures_util::stream::pending())))
                } else {
                    Ok(Box::pin(s))
                }
            }
        }
    }
}

/// Drops, silence, malformed lines, 429 and 401, each handled as documented: the quotes of
/// every stream reach the hot tier, the silent stream is reopened after `silence`, a 429's
/// `retry_after` is waited, and a 401 stops the feed with an error.
#[tokio::test(start_paused = true)]
async fn a_hostile_stream_is_survived_and_a_refusal_stops_the_feed() {
    let start = Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap();
    let clock = tokio_clock(start);
    let q = |secs: i64, mid: f64| {
        Ok(StreamEvent::Quote(axia_domain::Quote {
            symbol: "EURUSD".parse().unwrap(),
            time: start + chrono::Duration::seconds(secs),
            bid: mid - 0.00001,
            ask: mid + 0.00001,
            size: None,
        }))
    };
    let s = Duration::from_secs;
    let stream = Arc::new(Scripted {
        scripts: std::sync::Mutex::new(
            [
                Script::Refuse(StreamError::Disconnected("connection refused".into())),
                // Two quotes, then the connection drops.
                Script::Events(vec![(s(1), q(1, 1.1)), (s(1), q(2, 1.1002))], false),
                // A malformed line between quotes, then silence.
                Script::Events(
                    vec![
                        (s(1), Err(StreamError::Malformed("{\"type\":\"PRI".into()))),
                        (s(1), q(70, 1.1004)),
                    ],
                    true,
                ),
                Script::Refuse(StreamError::RateLimited {
                    retry_after: Some(s(30)),
                }),
                Script::Events(vec![(s(1), q(200, 1.1006))], false),
                Script::Refuse(StreamError::Unauthorized("401 Unauthorized".into())),
            ]
            .into_iter()
            .collect(),
        ),
        opens: std::sync::atomic::AtomicU32::new(0),
    });
    let hot = Arc::new(MemoryStore::new());
    let eurusd = InstrumentRegistry::shared_builtin().resolve(&"EURUSD".parse().unwrap());
    let settings = FeedSettings {
        silence: s(10),
        backoff: axia_domain::Backoff::new(s(1), s(4)),
        ..FeedSettings::default()
    };
    let feed =
        LiveFeed::new(stream.clone(), hot.clone(), clock.clone(), vec![eurusd]).settings(settings);
    let counters = feed.counters();
    let began = tokio::time::Instant::now();
    let result = feed.run(std::future::pending()).await;
    assert!(
        matches!(
            result,
            Err(FeedError::Refused(StreamError::Unauthorized(_)))
        ),
        "{result:?}"
    );
    assert_eq!(stream.opens.load(std::sync::atomic::Ordering::Relaxed), 6);
    assert_eq!(FeedCounters::get(&counters.connects), 3);
    assert_eq!(FeedCounters::get(&counters.malformed), 1);
    assert_eq!(FeedCounters::get(&counters.silences), 1);
    assert!(began.elapsed() >= s(30 + 10), "{:?}", began.elapsed());
    // Every quote is in a bar: minutes 14:00 (two quotes), 14:01 and 14:03.
    let m1 = hot
        .get(
            &"EURUSD".parse().unwrap(),
            Timeframe::M1,
            TimeRange::new(start, start + chrono::Duration::hours(1)).unwrap(),
        )
        .await
        .unwrap();
    let volumes: Vec<(i64, f64)> = m1
        .iter()
        .map(|b| ((b.time() - start).num_minutes(), b.volume()))
        .collect();
    assert_eq!(volumes, vec![(0, 2.0), (1, 1.0), (3, 1.0)]);
    let h1 = hot
        .get(
            &"EURUSD".parse().unwrap(),
            Timeframe::H1,
            TimeRange::new(start, start + chrono::Duration::hours(1)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(h1.len(), 1);
    assert_eq!(h1.last().unwrap().volume(), 4.0);
}

/// Live bars are provisional: a closed live bar that differs from the source's candle is
/// replaced by it, and the gap while the stream was down is filled from the candles on
/// reconnect; the hot tier ends up holding the source's candles.
#[tokio::test(start_paused = true)]
async fn provisional_bars_give_way_to_the_sources_candles_and_gaps_are_filled() {
    let start = Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap();
    let clock = tokio_clock(start);
    let seed = 5;
    // Quotes far from the simulated market's prices (a different source than the candles').
    let q = |secs: i64, mid: f64| {
        Ok(StreamEvent::Quote(axia_domain::Quote {
            symbol: "EURUSD".parse().unwrap(),
            time: start + chrono::Duration::seconds(secs),
            bid: mid - 0.00001,
            ask: mid + 0.00001,
            size: None,
        }))
    };
    let s = Duration::from_secs;
    let stream = Arc::new(Scripted {
        scripts: std::sync::Mutex::new(
            [
                // Two quotes in 14:00, one in 14:01 (closing 14:00 while connected), then the
                // connection drops.
                Script::Events(
                    vec![
                        (s(1), q(1, 1.2)),
                        (s(1), q(2, 1.2001)),
                        (s(63), q(65, 1.2003)),
                    ],
                    false,
                ),
                // Down until about 14:09.
                Script::Refuse(StreamError::RateLimited {
                    retry_after: Some(s(9 * 60)),
                }),
                // Back: one quote, then silence until the test ends.
                Script::Events(vec![(s(1), q(9 * 60 + 5, 1.2002))], true),
            ]
            .into_iter()
            .collect(),
        ),
        opens: std::sync::atomic::AtomicU32::new(0),
    });
    let hot = Arc::new(MemoryStore::new());
    let eurusd = InstrumentRegistry::shared_builtin().resolve(&"EURUSD".parse().unwrap());
    let settings = FeedSettings {
        bars: LiveBarsConfig {
            timeframes: vec![Timeframe::M1, Timeframe::M5],
            ..LiveBarsConfig::default()
        },
        silence: s(3600),
        reconcile_after: s(60),
        ..FeedSettings::default()
    };
    let feed = LiveFeed::new(stream, hot.clone(), clock.clone(), vec![eurusd.clone()])
        .source(Arc::new(SimulatedBroker::new(seed, clock.clone())))
        .settings(settings);
    let counters = feed.counters();
    feed.run(tokio::time::sleep(s(12 * 60))).await.unwrap();
    // 14:00's live M1 bar, seen whole, differed (checked a minute after it closed); 14:01's
    // and the M5 bar of 14:00 were cut by the drop (replaced, not counted); 14:02 to 14:08
    // were filled on reconnect.
    assert_eq!(
        FeedCounters::get(&counters.differing_bars),
        1,
        "{counters:?}"
    );
    assert!(FeedCounters::get(&counters.gap_bars) >= 7, "{counters:?}");
    assert_eq!(FeedCounters::get(&counters.reconcile_errors), 0);
    let range = TimeRange::new(start, start + chrono::Duration::minutes(9)).unwrap();
    let held = hot
        .get(&"EURUSD".parse().unwrap(), Timeframe::M1, range)
        .await
        .unwrap();
    let candles = generate_for(seed, &eurusd, Timeframe::M1, range, clock.now()).unwrap();
    let values = |f: &axia_domain::OhlcvFrame| -> Vec<(i64, Ohlcv)> {
        f.iter()
            .map(|b| {
                (
                    b.time_millis(),
                    (b.open(), b.high(), b.low(), b.close(), b.volume()),
                )
            })
            .collect()
    };
    assert_eq!(candles.len(), 9);
    assert_eq!(values(&held), values(&candles));
}

/// With a live feed announced for a symbol, a collector run fetches only what the archive
/// lacks and leaves that symbol's hot bars to the feed; the others are refreshed as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_leaves_a_live_symbols_hot_bars_to_the_feed() {
    use axia_collect::{Collect, CollectPlan};
    use axia_domain::LivePresence;
    let at = Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap();
    let clock = Arc::new(axia_domain::ManualClock::new(at));
    let dir = std::env::temp_dir().join(format!(
        "axia-live-collect-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    ));
    let presence = Arc::new(
        axia_redis::RedisBarCache::new(
            axia_redis::RedisCacheConfig::new(std::env::var("REDIS_URL").unwrap())
                .namespace(format!("live-collect-{}", Utc::now().timestamp_micros())),
            clock.clone(),
        )
        .unwrap(),
    );
    let hot = Arc::new(MemoryStore::new());
    let collect = Collect::new(
        SimulatedBroker::new(3, clock.clone()),
        axia_parquet::ParquetArchive::local(&dir),
    )
    .hot_cache(hot.clone())
    .live_presence(presence.clone())
    .clock(clock.clone());
    let eurusd: Symbol = "EURUSD".parse().unwrap();
    let usdjpy: Symbol = "USDJPY".parse().unwrap();
    let plan = CollectPlan::new(vec![eurusd.clone(), usdjpy.clone()], vec![Timeframe::M1]);
    // The first run archives and caches the last day of both.
    let first = collect.run(&plan).await;
    assert!(
        first
            .tasks
            .iter()
            .all(|t| !t.live_feed && t.cached >= 1_000),
        "{first:?}"
    );
    let day = TimeRange::new(
        at - chrono::Duration::days(2),
        at + chrono::Duration::days(1),
    )
    .unwrap();
    let cached = |s: Symbol| {
        let hot = hot.clone();
        async move { hot.get(&s, Timeframe::M1, day).await.unwrap().len() }
    };
    let eur_before = cached(eurusd.clone()).await;
    // A live feed writes EURUSD now; ten minutes later the collector runs again.
    presence
        .announce(&eurusd, Duration::from_secs(60))
        .await
        .unwrap();
    clock.set(at + chrono::Duration::minutes(10));
    let second = collect.run(&plan).await;
    let task = |s: &Symbol| second.tasks.iter().find(|t| &t.symbol == s).unwrap();
    let eur = task(&eurusd);
    assert!(eur.live_feed, "{eur:?}");
    assert_eq!(eur.cached, 0);
    // The overlap and the newest archived bar, the ten minutes since, and the forming one.
    assert!(eur.fetched <= 13, "only what the archive lacks: {eur:?}");
    assert!(eur.archived >= 9, "{eur:?}");
    assert_eq!(
        cached(eurusd.clone()).await,
        eur_before,
        "the hot tier is the feed's"
    );
    let jpy = task(&usdjpy);
    assert!(!jpy.live_feed);
    assert!(jpy.fetched >= 1_440 && jpy.cached >= 1_440, "{jpy:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Forming bars are written at most once per series per `flush_every` (100 quotes in a second
/// make about ten writes), and a quote after a quiet spell is written at once (no lag).
#[tokio::test(start_paused = true)]
async fn forming_writes_are_coalesced_and_a_quiet_series_is_written_at_once() {
    let start = Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap();
    let clock = tokio_clock(start);
    let q = |ms: i64| {
        Ok(StreamEvent::Quote(axia_domain::Quote {
            symbol: "EURUSD".parse().unwrap(),
            time: start + chrono::Duration::milliseconds(ms),
            bid: 1.1 + ms as f64 * 1e-7,
            ask: 1.1002 + ms as f64 * 1e-7,
            size: None,
        }))
    };
    let burst: Vec<_> = (1..=100)
        .map(|k| (Duration::from_millis(10), q(k * 10)))
        .collect();
    let quiet = vec![(Duration::from_millis(3_000), q(4_000))];
    let stream = Arc::new(Scripted {
        scripts: std::sync::Mutex::new([Script::Events(burst, true)].into_iter().collect()),
        opens: std::sync::atomic::AtomicU32::new(0),
    });
    let hot = Arc::new(MemoryStore::new());
    let eurusd = InstrumentRegistry::shared_builtin().resolve(&"EURUSD".parse().unwrap());
    let settings = FeedSettings {
        bars: LiveBarsConfig {
            timeframes: vec![Timeframe::M1],
            ..LiveBarsConfig::default()
        },
        silence: Duration::from_secs(3600),
        ..FeedSettings::default()
    };
    let feed = LiveFeed::new(stream, hot.clone(), clock.clone(), vec![eurusd.clone()])
        .settings(settings.clone());
    let counters = feed.counters();
    feed.run(tokio::time::sleep(Duration::from_millis(1_500)))
        .await
        .unwrap();
    let writes = FeedCounters::get(&counters.writes);
    assert!(
        (10..=13).contains(&writes),
        "100 quotes in 1 s: {writes} writes"
    );
    // A single quote after three quiet seconds: written with no lag.
    let stream = Arc::new(Scripted {
        scripts: std::sync::Mutex::new([Script::Events(quiet, true)].into_iter().collect()),
        opens: std::sync::atomic::AtomicU32::new(0),
    });
    let clock = tokio_clock(start + chrono::Duration::seconds(1));
    let feed = LiveFeed::new(stream, hot, clock, vec![eurusd]).settings(settings);
    let counters = feed.counters();
    feed.run(tokio::time::sleep(Duration::from_millis(3_050)))
        .await
        .unwrap();
    assert_eq!(FeedCounters::get(&counters.writes), 1);
    assert_eq!(
        FeedCounters::get(&counters.lag_ms),
        0,
        "written the instant it came"
    );
}

/// A hot tier that notes every save: (symbol, clock time in ms, the newest close).
struct Noting {
    inner: MemoryStore,
    clock: Arc<TokioClock>,
    saves: std::sync::Mutex<Vec<(Symbol, i64, f64)>>,
}

#[async_trait::async_trait]
impl OhlcvStore for Noting {
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<axia_domain::OhlcvFrame, axia_domain::StoreError> {
        self.inner.get(symbol, timeframe, range).await
    }

    async fn save(&self, frame: &axia_domain::OhlcvFrame) -> Result<(), axia_domain::StoreError> {
        let close = frame.last().map_or(f64::NAN, |b| b.close());
        self.saves.lock().unwrap().push((
            frame.symbol().clone(),
            self.clock.now().timestamp_millis(),
            close,
        ));
        self.inner.save(frame).await
    }

    async fn info(&self) -> Result<axia_domain::StoreInfo, axia_domain::StoreError> {
        self.inner.info().await
    }
}

/// Each series keeps its own flush interval, over random quote schedules of several
/// instruments: a series is written at most once per `flush_every`; a quote that comes when
/// its series was not written for `flush_every` is written the instant it comes, however busy
/// the other series are (the leading edge); any other quote is written by the end of its
/// series' interval (the trailing edge), with the newest price.
#[tokio::test(start_paused = true)]
async fn each_series_is_flushed_on_its_own_interval() {
    let start = Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap();
    let names = ["EURUSD", "USDJPY", "GBPUSD"];
    let every = 100i64;
    for seed in 1..=6u64 {
        let clock = tokio_clock(start);
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        // (symbol, arrival ms, price): pauses of 0 to 150 ms, bursts included.
        let (mut at, mut count, mut stamp) = (0i64, [0u32; 3], [-1i64; 3]);
        let mut quotes = Vec::new();
        let mut script = Vec::new();
        for _ in 0..300 {
            let pause = next(151) as i64;
            at += pause;
            let k = next(3) as usize;
            count[k] += 1;
            // On the instruments' 5-digit grid, as stored.
            let price = (110_000.0 + f64::from(count[k])) / 100_000.0;
            let symbol: Symbol = names[k].parse().unwrap();
            quotes.push((symbol.clone(), at, price));
            // Quote times rise per instrument (an equal time is a stale quote, dropped).
            stamp[k] = at.max(stamp[k] + 1);
            script.push((
                Duration::from_millis(pause as u64),
                Ok(StreamEvent::Quote(axia_domain::Quote {
                    symbol,
                    time: start + chrono::Duration::milliseconds(stamp[k]),
                    bid: price,
                    ask: price,
                    size: None,
                })),
            ));
        }
        assert!(at < 59_000, "one minute: no bar closes");
        let stream = Arc::new(Scripted {
            scripts: std::sync::Mutex::new([Script::Events(script, true)].into_iter().collect()),
            opens: std::sync::atomic::AtomicU32::new(0),
        });
        let hot = Arc::new(Noting {
            inner: MemoryStore::new(),
            clock: clock.clone(),
            saves: std::sync::Mutex::default(),
        });
        let registry = InstrumentRegistry::shared_builtin();
        let instruments = names
            .iter()
            .map(|n| registry.resolve(&n.parse().unwrap()))
            .collect();
        let feed =
            LiveFeed::new(stream, hot.clone(), clock.clone(), instruments).settings(FeedSettings {
                bars: LiveBarsConfig {
                    timeframes: vec![Timeframe::M1],
                    ..LiveBarsConfig::default()
                },
                flush_every: Duration::from_millis(every as u64),
                silence: Duration::from_secs(3600),
                ..FeedSettings::default()
            });
        // Stopped well after the last quote: every save is the feed's own, none the stop's.
        feed.run(tokio::time::sleep(Duration::from_millis(at as u64 + 1_000)))
            .await
            .unwrap();
        let saves = hot.saves.lock().unwrap().clone();
        let t0 = start.timestamp_millis();
        for name in names {
            let symbol: Symbol = name.parse().unwrap();
            let mine: Vec<(i64, f64)> = saves
                .iter()
                .filter(|s| s.0 == symbol)
                .map(|s| (s.1 - t0, s.2))
                .collect();
            for w in mine.windows(2) {
                assert!(
                    w[1].0 - w[0].0 >= every,
                    "seed {seed}, {name}: writes at {} and {} ms",
                    w[0].0,
                    w[1].0
                );
            }
            let theirs: Vec<(i64, f64)> = quotes
                .iter()
                .filter(|q| q.0 == symbol)
                .map(|q| (q.1, q.2))
                .collect();
            // A save at `t` carries the newest quote before `t` or one that came at `t`
            // (quotes at one instant may straddle a write); prices rise, so compare them.
            let newest = |t: i64| theirs.iter().rev().find(|q| q.0 <= t).map_or(0.0, |q| q.1);
            for &(t, close) in &mine {
                assert!(
                    close >= newest(t - 1) && close <= newest(t),
                    "seed {seed}, {name}: the write at {t} ms carries {close}"
                );
            }
            for &(t, price) in &theirs {
                // The last write that did not carry this quote, at or before it came.
                let before = mine
                    .iter()
                    .rev()
                    .find(|s| s.0 <= t && s.1 < price)
                    .map(|s| s.0);
                let by = match before {
                    Some(b) if t - b < every => b + every,
                    // The leading edge: at once.
                    _ => t,
                };
                assert!(
                    mine.iter().any(|s| s.0 >= t && s.0 <= by && s.1 >= price),
                    "seed {seed}, {name}: the quote at {t} ms not written by {by} ms; writes {mine:?}"
                );
            }
        }
    }
}
