//! The server's routes over real HTTP and WebSockets, against the real Redis (`REDIS_URL`,
//! started by `scripts/test.sh`), and jobs against the real PostgreSQL (`DATABASE_URL`), each
//! test in its own namespace.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

mod hostile;
mod jobs;
mod live;
mod rest;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axia_domain::{Bar, ManualClock, OhlcvFrame, OhlcvStore, Symbol, Timeframe};
use axia_memory::MemoryStore;
use axia_provider::OhlcvDataProvider;
use axia_redis::{RedisBarCache, RedisCacheConfig};
use axia_server::{Api, ApiBuilder};
use chrono::{DateTime, Datelike, TimeZone, Utc};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: run the suite through scripts/test.sh, which starts Redis")
    })
}

fn namespace() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "srv-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn eurusd() -> Symbol {
    "EURUSD".parse().unwrap()
}

/// Wednesday 2026-07-01 12:00 UTC: "now" in these tests.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap()
}

/// A bar at `t` on a deterministic walk, prices on the 5-decimal grid.
fn bar_at(t: DateTime<Utc>, bump: f64) -> Bar {
    let x = (t.timestamp() / 60) as f64;
    let c = 1.1 + (x * 0.37).sin() * 0.002 + (x * 0.011).cos() * 0.004 + bump;
    let q = |p: f64| (p * 100_000.0).round() / 100_000.0;
    let c = q(c);
    Bar::new(t, c, q(c + 0.0002), q(c - 0.0003), c, 10.0).unwrap()
}

/// `timeframe` bars from `from` (inclusive) to `to` (exclusive), Saturdays and Sundays (UTC)
/// left out: the archive's history has weekend holes.
fn weekday_frame(timeframe: Timeframe, from: DateTime<Utc>, to: DateTime<Utc>) -> OhlcvFrame {
    let step = chrono::Duration::milliseconds(timeframe.fixed_millis().unwrap());
    let mut bars = Vec::new();
    let mut t = from;
    while t < to {
        if t.weekday().number_from_monday() <= 5 {
            bars.push(bar_at(t, 0.0));
        }
        t += step;
    }
    OhlcvFrame::from_bars(eurusd(), timeframe, bars).unwrap()
}

/// A hot tier, an archive and a clock at [`noon`].
struct World {
    clock: Arc<ManualClock>,
    cache: RedisBarCache,
    archive: Arc<MemoryStore>,
}

impl World {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::new(noon()));
        let cache = RedisBarCache::new(
            RedisCacheConfig::new(redis_url()).namespace(namespace()),
            Arc::clone(&clock),
        )
        .unwrap();
        Self {
            clock,
            cache,
            archive: Arc::new(MemoryStore::new()),
        }
    }

    fn provider(&self) -> OhlcvDataProvider {
        OhlcvDataProvider::builder()
            .hot_cache(self.cache.clone())
            .cold_archive(Arc::clone(&self.archive))
            .clock(Arc::clone(&self.clock))
            .build()
    }

    fn api(&self) -> ApiBuilder {
        Api::builder(self.provider())
            .clock(self.clock.clone())
            .catalog("cold_archive", self.archive.clone())
            .hot_tier(Arc::new(self.cache.clone()), Arc::new(self.cache.clone()))
    }

    async fn archive(&self, frame: &OhlcvFrame) {
        self.archive.save(frame).await.unwrap();
    }
}

/// Serves `api` on a free loopback port; the base URL.
async fn serve(api: &Api) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = api.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}
