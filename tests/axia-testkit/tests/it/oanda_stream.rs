//! OANDA's pricing stream adapter against a fake stream server written from OANDA's documented
//! shapes, alone and under the live feed: split lines, malformed and over-long lines,
//! heartbeats, a dropped connection, silence, 429 and 401.

use std::sync::Arc;
use std::time::Duration;

use axia_domain::{
    Backoff, InstrumentRegistry, OhlcvStore, PriceStream, StreamError, StreamEvent, Symbol,
    TimeRange, Timeframe,
};
use axia_live::{FeedCounters, FeedError, FeedSettings, LiveFeed};
use axia_memory::MemoryStore;
use axia_oanda::{OandaConfig, OandaStream};
use axia_testkit::fake_oanda_stream::{Connection, FakeOandaStream, heartbeat_line, price_line};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;

const TOKEN: &str = "stream-token-s3cr3t";

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

fn stream(fake: &FakeOandaStream, token: &str) -> OandaStream {
    OandaStream::new(
        OandaConfig::new(token)
            .base_url(fake.url())
            .stream_url(fake.url())
            .account_id("101-001-1234567-001"),
    )
    .unwrap()
}

fn symbols() -> Vec<Symbol> {
    vec!["EURUSD".parse().unwrap(), "USDJPY".parse().unwrap()]
}

const MS: Duration = Duration::from_millis(10);

#[tokio::test]
async fn lines_become_quotes_and_heartbeats_and_one_bad_line_costs_one_line() {
    let eur = price_line("EUR_USD", t(1), "1.08510", "1.08530");
    let (a, b) = eur.split_at(40);
    let long = format!("{}\n", "x".repeat(OandaStream::MAX_LINE + 10));
    let fake = FakeOandaStream::start(
        TOKEN,
        vec![Connection::Stream {
            chunks: vec![
                (MS, a.to_owned()),
                (MS, b.to_owned()),
                (MS, "{\"type\":\"PRICE\",\"instrument\":\"USD_JPY\"\n".to_owned()),
                (MS, heartbeat_line(t(2))),
                (MS, long),
                (MS, "{\"type\":\"SOMETHING_ELSE\"}\n\n".to_owned()),
                (
                    MS,
                    price_line("USD_JPY", t(3), "149.612", "149.618")
                        + &price_line("EUR_USD", t(4), "1.08511", "1.08531"),
                ),
                (MS, "{\"type\":\"PRICE\",\"time\":\"2026-11-10T14:00:05Z\",\"instrument\":\"EUR_USD\",\"bids\":[],\"asks\":[]}\n".to_owned()),
            ],
            silent: false,
        }],
    )
    .await;
    let s = stream(&fake, TOKEN);
    let mut events = s.open(&symbols()).await.unwrap();
    let mut got = Vec::new();
    while let Some(e) = events.next().await {
        got.push(e);
    }
    let describe: Vec<String> = got
        .iter()
        .map(|e| match e {
            Ok(StreamEvent::Quote(q)) => {
                format!("{} {} {} {}", q.symbol, q.time.format("%S"), q.bid, q.ask)
            }
            Ok(StreamEvent::Heartbeat(h)) => format!("beat {}", h.format("%S")),
            Err(StreamError::Malformed(_)) => "malformed".into(),
            Err(StreamError::Disconnected(_)) => "disconnected".into(),
            Err(e) => format!("{e}"),
        })
        .collect();
    assert_eq!(
        describe,
        vec![
            "EURUSD 01 1.0851 1.0853",
            "malformed",
            "beat 02",
            "malformed",
            "USDJPY 03 149.612 149.618",
            "EURUSD 04 1.08511 1.08531",
            "malformed",
            "disconnected",
        ]
    );
    let request = &fake.requests()[0];
    assert!(
        request.contains("/v3/accounts/101-001-1234567-001/pricing/stream?"),
        "{request}"
    );
    assert!(
        request.contains("instruments=EUR_USD%2CUSD_JPY"),
        "{request}"
    );
}

#[tokio::test]
async fn refusals_are_typed_and_never_show_the_token() {
    let fake = FakeOandaStream::start(
        TOKEN,
        vec![
            Connection::Refuse {
                status: 429,
                retry_after: Some(7),
            },
            Connection::Refuse {
                status: 503,
                retry_after: None,
            },
        ],
    )
    .await;
    let s = stream(&fake, TOKEN);
    let e = s.open(&symbols()).await.err().unwrap();
    assert_eq!(
        e,
        StreamError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    let e = s.open(&symbols()).await.err().unwrap();
    assert!(
        matches!(e, StreamError::Disconnected(ref m) if m.contains("503")),
        "{e}"
    );
    assert!(e.is_retryable());
    // A wrong token: 401, not retryable, and the token is nowhere in the error.
    let wrong = stream(&fake, "wrong-token-s3cr3t");
    let e = wrong.open(&symbols()).await.err().unwrap();
    assert!(matches!(e, StreamError::Unauthorized(_)), "{e}");
    assert!(!e.is_retryable());
    assert!(!format!("{e} {e:?} {wrong:?}").contains("s3cr3t"), "{e:?}");
    // Nothing answers at all: disconnected.
    let nowhere = OandaStream::new(
        OandaConfig::new(TOKEN)
            .stream_url("http://127.0.0.1:1")
            .account_id("1"),
    )
    .unwrap();
    let e = nowhere.open(&symbols()).await.err().unwrap();
    assert!(matches!(e, StreamError::Disconnected(_)), "{e}");
    assert!(!format!("{e:?}").contains("s3cr3t"));
}

/// The feed over OANDA's stream: a drop, a 429, silence and malformed lines are survived, every
/// quote reaches the hot tier, and a 401 stops the feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_survives_the_stream_and_stops_on_401() {
    let line = |s: i64, bid: &str, ask: &str| (MS, price_line("EUR_USD", t(s), bid, ask));
    let fake = FakeOandaStream::start(
        TOKEN,
        vec![
            Connection::Stream {
                chunks: vec![line(1, "1.08510", "1.08530"), line(2, "1.08520", "1.08540")],
                silent: false,
            },
            Connection::Refuse {
                status: 429,
                retry_after: Some(1),
            },
            Connection::Stream {
                chunks: vec![
                    // The reconnect's snapshot repeats the last quote: dropped as a duplicate.
                    line(2, "1.08520", "1.08540"),
                    (MS, "not json\n".to_owned()),
                    line(65, "1.08530", "1.08550"),
                ],
                silent: true,
            },
            Connection::Refuse {
                status: 401,
                retry_after: None,
            },
        ],
    )
    .await;
    // The clock is the quotes' time: the market is open and nothing is late.
    let clock = Arc::new(axia_domain::ManualClock::new(t(0)));
    let hot = Arc::new(MemoryStore::new());
    let eurusd = InstrumentRegistry::shared_builtin().resolve(&"EURUSD".parse().unwrap());
    let settings = FeedSettings {
        silence: Duration::from_millis(700),
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(100)),
        ..FeedSettings::default()
    };
    let feed = LiveFeed::new(
        Arc::new(stream(&fake, TOKEN)),
        hot.clone(),
        clock,
        vec![eurusd],
    )
    .settings(settings);
    let counters = feed.counters();
    let quotes = feed.quote_counts();
    let began = std::time::Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), feed.run(std::future::pending()))
        .await
        .expect("the feed stops on the 401");
    assert!(
        matches!(
            result,
            Err(FeedError::Refused(StreamError::Unauthorized(_)))
        ),
        "{result:?}"
    );
    assert!(
        began.elapsed() >= Duration::from_secs(1),
        "the 429's Retry-After was waited"
    );
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(FeedCounters::get(&counters.connects), 2);
    assert_eq!(FeedCounters::get(&counters.silences), 1);
    assert_eq!(FeedCounters::get(&counters.malformed), 1);
    let q = quotes.lock().unwrap().clone();
    assert_eq!(q.accepted, 3, "{q:?}");
    assert_eq!(q.dropped(axia_live::QuoteDrop::Duplicate), 1, "{q:?}");
    let m1 = hot
        .get(
            &"EURUSD".parse().unwrap(),
            Timeframe::M1,
            TimeRange::new(t(0), t(3600)).unwrap(),
        )
        .await
        .unwrap();
    let bars: Vec<(i64, f64, f64)> = m1
        .iter()
        .map(|b| ((b.time() - t(0)).num_minutes(), b.close(), b.volume()))
        .collect();
    assert_eq!(bars, vec![(0, 1.0853, 2.0), (1, 1.0854, 1.0)]);
}
