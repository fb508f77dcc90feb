//! The WebSocket route: hot-tier writes reach sockets through one Redis subscription.

use std::sync::Arc;
use std::time::Duration;

use axia_domain::{OhlcvFrame, OhlcvStore, Timeframe};
use axia_provider::OhlcvDataProvider;
use axia_server::{Api, Limits};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use super::{World, bar_at, eurusd, noon, redis_url, serve, weekday_frame};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Tests that open sockets run one at a time: one of them counts Redis's subscribers.
static SOCKETS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn connect(base: &str, path: &str) -> Ws {
    let url = format!("{}{path}", base.replacen("http://", "ws://", 1));
    connect_async(url).await.unwrap().0
}

/// The next `bars` message, skipping pings.
async fn next_bars(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no message within 10 s")
            .expect("the socket closed")
            .unwrap();
        match frame {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["type"], "bars");
                return v;
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads messages until one's newest bar is at `time` with `close`.
async fn wait_for(ws: &mut Ws, time: i64, close: f64) -> Value {
    loop {
        let m = next_bars(ws).await;
        let last = m["bars"]
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or(Value::Null);
        if last["time"] == time && last["close"].as_f64() == Some(close) {
            return m;
        }
    }
}

fn one(bar: axia_domain::Bar) -> OhlcvFrame {
    OhlcvFrame::from_bars(eurusd(), Timeframe::M1, vec![bar]).unwrap()
}

async fn pubsub_clients() -> usize {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut c)
        .await
        .unwrap();
    list.lines().filter(|l| !l.trim().is_empty()).count()
}

/// [`pubsub_clients`] once it holds still for 200 ms (at most 5 s): the subscription of an
/// earlier test's server closes a moment after that test ends, and Redis counts it until then.
async fn settled_pubsub_clients() -> usize {
    let mut last = pubsub_clients().await;
    for _ in 0..25 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = pubsub_clients().await;
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

#[tokio::test]
async fn a_write_through_the_hot_tier_arrives_on_a_websocket() {
    let _one = SOCKETS.lock().await;
    let w = World::new();
    w.cache
        .save(&weekday_frame(
            Timeframe::M1,
            noon() - chrono::Duration::hours(1),
            noon(),
        ))
        .await
        .unwrap();
    let api = w
        .api()
        .limits(Limits::default().with_ws_ping(Duration::from_millis(200)))
        .build();
    let base = serve(&api).await;
    let mut ws = connect(&base, "/ws/bars/EURUSD/M1").await;

    let first = next_bars(&mut ws).await;
    let bars = first["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 2, "the last two bars on connect: {first}");
    assert_eq!(
        bars[1]["time"],
        (noon() - chrono::Duration::minutes(1)).timestamp()
    );

    // A new bar, forming (it opens now), then a revision of it.
    let new = bar_at(noon(), 0.001);
    w.cache.save(&one(new)).await.unwrap();
    let m = wait_for(&mut ws, noon().timestamp(), new.close()).await;
    assert_eq!(
        m["forming"],
        noon().timestamp(),
        "the forming bar is labelled: {m}"
    );
    assert_eq!(m["bars"][1]["forming"], true);
    let revised = bar_at(noon(), 0.002);
    w.cache.save(&one(revised)).await.unwrap();
    wait_for(&mut ws, noon().timestamp(), revised.close()).await;

    // Idle, it is pinged.
    let ping = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(Message::Ping(_))) = ws.next().await {
                return;
            }
        }
    })
    .await;
    assert!(ping.is_ok(), "no ping within 5 s");
    let hub = api.hub().unwrap().counters();
    assert_eq!(hub.subscriptions(), 1);
    assert!(hub.updates() >= 2);
}

#[tokio::test]
async fn two_hundred_sockets_share_one_redis_subscription() {
    let _one = SOCKETS.lock().await;
    let w = World::new();
    w.cache
        .save(&weekday_frame(
            Timeframe::M1,
            noon() - chrono::Duration::minutes(10),
            noon(),
        ))
        .await
        .unwrap();
    let api = w.api().build();
    let base = serve(&api).await;
    let before = settled_pubsub_clients().await;
    let mut sockets = Vec::new();
    for _ in 0..200 {
        let mut ws = connect(&base, "/ws/bars/EURUSD/M1").await;
        next_bars(&mut ws).await;
        sockets.push(ws);
    }
    assert_eq!(
        pubsub_clients().await,
        before + 1,
        "one Redis subscription for 200 sockets"
    );
    let new = bar_at(noon(), 0.003);
    w.cache.save(&one(new)).await.unwrap();
    let received = futures_util::future::join_all(
        sockets
            .iter_mut()
            .map(|ws| wait_for(ws, noon().timestamp(), new.close())),
    )
    .await;
    assert_eq!(received.len(), 200);
    let hub = api.hub().unwrap().counters();
    assert_eq!(hub.subscriptions(), 1);
    // The update's tail was read from Redis once and shared by the 200 sockets.
    assert_eq!(hub.updates(), 1);
    assert_eq!(
        hub.tail_reads(),
        1,
        "one read of the hot tier for 200 sockets"
    );
    assert_eq!(hub.sockets(), 200);
    assert_eq!(hub.open(), 200);
    drop(sockets);
    for _ in 0..100 {
        if hub.open() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hub.open(), 0, "closed sockets are let go");
}

/// A client that stops reading is dropped once a send takes longer than the limit; a client
/// that reads (on its own task) gets every update meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_dropped_and_never_blocks_the_others() {
    let _one = SOCKETS.lock().await;
    let w = World::new();
    w.cache
        .save(&weekday_frame(
            Timeframe::M1,
            noon() - chrono::Duration::hours(20),
            noon(),
        ))
        .await
        .unwrap();
    let mut limits = Limits::default();
    limits.ws_tail = 1_000;
    limits.ws_send_timeout = Duration::from_millis(250);
    let api = w.api().limits(limits).build();
    let base = serve(&api).await;
    let _slow = connect(&base, "/ws/bars/EURUSD/M1").await;
    let mut fast = connect(&base, "/ws/bars/EURUSD/M1").await;
    next_bars(&mut fast).await;
    // The fast client reads continuously and reports the newest close of each message.
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        loop {
            let m = next_bars(&mut fast).await;
            let close = m["bars"].as_array().unwrap().last().unwrap()["close"].as_f64();
            if seen_tx.send(close).is_err() {
                return;
            }
        }
    });
    let hub = api.hub().unwrap().counters();
    let mut last = bar_at(noon(), 0.0);
    for i in 0..400 {
        last = bar_at(noon(), f64::from(i) * 0.00001);
        w.cache.save(&one(last)).await.unwrap();
        if hub.dropped_slow() > 0 && i >= 20 {
            break;
        }
    }
    let got_last = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(close) = seen.recv().await {
            if close == Some(last.close()) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got_last, Ok(true), "the reading client got the last update");
    assert_eq!(
        hub.dropped_slow(),
        1,
        "the slow client, and only it, was dropped"
    );
    reader.abort();
}

/// Without a hot tier (offline), a socket polls the provider and sends what changed.
#[tokio::test]
async fn without_a_hot_tier_sockets_poll_the_provider() {
    let clock = Arc::new(axia_domain::ManualClock::new(noon()));
    let broker = axia_simbroker::SimulatedBroker::new(7, Arc::clone(&clock));
    let provider = OhlcvDataProvider::builder()
        .broker(broker)
        .clock(Arc::clone(&clock))
        .build();
    let api = Api::builder(provider)
        .clock(clock.clone())
        .limits(Limits::default().with_ws_poll(Duration::from_millis(100)))
        .build();
    assert!(api.hub().is_none());
    let base = serve(&api).await;
    let mut ws = connect(&base, "/ws/bars/EURUSD/M1").await;
    let first = next_bars(&mut ws).await;
    let newest = first["bars"].as_array().unwrap().last().unwrap()["time"]
        .as_i64()
        .unwrap();
    assert_eq!(newest, noon().timestamp(), "the forming bar: {first}");
    clock.advance(chrono::Duration::minutes(1));
    let next = next_bars(&mut ws).await;
    let newest = next["bars"].as_array().unwrap().last().unwrap()["time"]
        .as_i64()
        .unwrap();
    assert_eq!(newest, noon().timestamp() + 60);
}
