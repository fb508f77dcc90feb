//! The server on loopback (needs Redis: `source scripts/services.sh` first; release:
//! `cargo bench -p axia-server --no-default-features`). Prints figures; asserts nothing about
//! speed.
//!
//! - REST: `wrk -t2 -c64 -d10s --latency` on the last 24 h of H1 from the hot tier (the legacy
//!   path, `days=1`): requests per second and p50 / p99 (goal >= 20,000/s, p99 <= 10 ms).
//!   wrk is installed with apt-get when missing. wrk, the server and Redis share the machine's
//!   two cores.
//! - The chart page's first request, server side: 30 days of M1 (about 31,700 bars) and of H1
//!   from the archive and the hot tier, JSON, in-process client; p50 of 20.
//! - Live: a bar written through the hot tier -> the update message -> the socket's tail read
//!   -> the WebSocket message at a client; p50 / p99 of 500 (goal p50 <= 5 ms).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::{Bar, Clock, OhlcvFrame, OhlcvStore, Symbol, SystemClock, Timeframe};
use axia_memory::MemoryStore;
use axia_provider::OhlcvDataProvider;
use axia_redis::{RedisBarCache, RedisCacheConfig};
use axia_server::Api;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

fn bar(t: DateTime<Utc>, bump: f64) -> Bar {
    let x = (t.timestamp() / 60) as f64;
    let q = |p: f64| (p * 1000.0).round() / 1000.0;
    let c = q(150.0 + (x * 0.37).sin() * 0.2 + (x * 0.011).cos() * 0.4 + bump);
    Bar::new(t, c, q(c + 0.02), q(c - 0.03), c, 10.0).unwrap()
}

fn frame(symbol: &Symbol, tf: Timeframe, from: DateTime<Utc>, to: DateTime<Utc>) -> OhlcvFrame {
    let step = chrono::Duration::milliseconds(tf.fixed_millis().unwrap());
    let mut bars = Vec::new();
    let mut t = tf.floor(from);
    while t < to {
        bars.push(bar(t, 0.0));
        t += step;
    }
    OhlcvFrame::from_bars(symbol.clone(), tf, bars).unwrap()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let url = std::env::var("REDIS_URL").expect("REDIS_URL: run `source scripts/services.sh`");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(url));
}

async fn run(url: String) {
    let now = SystemClock.now();
    let namespace = format!("bench-serve-{}-{}", std::process::id(), now.timestamp());
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(url).namespace(namespace),
        Arc::new(SystemClock),
    )
    .unwrap();
    let archive = Arc::new(MemoryStore::new());
    let usdjpy: Symbol = "USDJPY".parse().unwrap();
    let eurjpy: Symbol = "EURJPY".parse().unwrap();
    let month = now - chrono::Duration::days(31);
    let day = now - chrono::Duration::hours(24);
    archive
        .save(&frame(&usdjpy, Timeframe::M1, month, day))
        .await
        .unwrap();
    archive
        .save(&frame(&usdjpy, Timeframe::H1, month, day))
        .await
        .unwrap();
    cache
        .save(&frame(&usdjpy, Timeframe::M1, day, now))
        .await
        .unwrap();
    cache
        .save(&frame(&usdjpy, Timeframe::H1, day, now))
        .await
        .unwrap();
    cache
        .save(&frame(
            &eurjpy,
            Timeframe::M1,
            now - chrono::Duration::hours(2),
            now,
        ))
        .await
        .unwrap();
    let provider = OhlcvDataProvider::builder()
        .hot_cache(cache.clone())
        .cold_archive(archive)
        .build();
    let api = Api::builder(provider)
        .hot_tier(Arc::new(cache.clone()), Arc::new(cache.clone()))
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = api.router();
    // The binary's own serving path: hyper with its timer and limits, every guard layer.
    tokio::spawn(axia_server::serve(
        listener,
        router,
        axia_server::ServeOptions::default(),
        std::future::pending(),
    ));
    let base = format!("http://{addr}");

    chart_payloads(&base, now).await;
    live(&base, &cache, &eurjpy).await;
    rest(&base);
}

async fn chart_payloads(base: &str, now: DateTime<Utc>) {
    let client = reqwest::Client::new();
    let start = (now - chrono::Duration::days(30)).timestamp();
    for tf in ["M1", "H1"] {
        let url = format!("{base}/api/v1/bars/USDJPY/{tf}?start={start}&limit=50000");
        let mut times = Vec::new();
        let mut bars = 0;
        let mut bytes = 0;
        for _ in 0..20 {
            let t0 = Instant::now();
            let body = client
                .get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            times.push(ms(t0.elapsed()));
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            bars = v["bars"].as_array().unwrap().len();
            bytes = body.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "chart payload, 30 days of {tf}: {bars} bars, {:.0} KB JSON, p50 {:.1} ms, max {:.1} ms (server + client parse, no gzip)",
            bytes as f64 / 1024.0,
            quantile(&times, 0.5),
            times.last().unwrap()
        );
    }
}

async fn live(base: &str, cache: &RedisBarCache, symbol: &Symbol) {
    let ws_url = format!("{}/ws/bars/{symbol}/M1", base.replacen("http", "ws", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let _first = ws.next().await;
    let now = SystemClock.now();
    let open = Timeframe::M1.floor(now);
    let mut lat = Vec::new();
    for i in 0..500 {
        let b = bar(open, f64::from(i) * 0.001 + 0.5);
        let f = OhlcvFrame::from_bars(symbol.clone(), Timeframe::M1, vec![b]).unwrap();
        let t0 = Instant::now();
        cache.save(&f).await.unwrap();
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) => {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    let last = v["bars"].as_array().unwrap().last().unwrap().clone();
                    if last["close"].as_f64() == Some(b.close()) {
                        break;
                    }
                }
                _ => continue,
            }
        }
        lat.push(ms(t0.elapsed()));
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "hot-tier write -> WebSocket message: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} writes (the write itself included)",
        quantile(&lat, 0.5),
        quantile(&lat, 0.99),
        lat.last().unwrap(),
        lat.len()
    );
}

fn rest(base: &str) {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is missing: installing it with apt-get");
        let _ = Command::new("sh")
            .arg("-c")
            .arg("(apt-get install -y -qq wrk || sudo apt-get install -y -qq wrk) >/dev/null 2>&1")
            .status();
    }
    let url = format!("{base}/api/v1/trades/market-data/USDJPY?timeframe=H1&days=1");
    let cpu_before = process_cpu_seconds();
    let out = Command::new("wrk")
        .args(["-t2", "-c64", "-d10s", "--latency", &url])
        .output();
    let cpu = process_cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let rps = text
                .lines()
                .find(|l| l.starts_with("Requests/sec:"))
                .unwrap_or("Requests/sec: ?");
            let p = |q: &str| {
                text.lines()
                    .map(str::trim)
                    .find(|l| l.starts_with(q))
                    .unwrap_or("?")
                    .to_owned()
            };
            println!(
                "REST, last 24 h of H1 from the hot tier, wrk -t2 -c64 -d10s: {rps}; latency {} | {} | {}",
                p("50%"),
                p("99%"),
                text.lines()
                    .find(|l| l.contains("Non-2xx"))
                    .unwrap_or("all 2xx")
                    .trim()
            );
            // The server runs in this process and wrk in another, so this process's CPU
            // time over the requests served is the server's own cost per request, a
            // figure that scheduling noise on shared cores does not move.
            let served = text
                .lines()
                .find(|l| l.contains("requests in"))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok());
            if let (Some(cpu), Some(n)) = (cpu, served) {
                println!(
                    "REST server CPU: {:.1} us a request ({cpu:.2} s over {n} requests)",
                    cpu / n * 1e6
                );
            }
        }
        Ok(o) => eprintln!("wrk failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => eprintln!("wrk could not run ({e}): no REST figure"),
    }
}

/// User plus system CPU seconds of this process so far (Linux `/proc/self/stat`).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks: 100 a second on Linux for every architecture this runs on.
    Some((utime + stime) / 100.0)
}
