//! Provider figures, printed (release: `cargo bench -p axia-testkit --bench provider`; needs
//! the Redis at `REDIS_URL`, which `source scripts/services.sh` starts).
//! 1. A hot-cache hit through the provider vs the hot tier's own get: overhead ratio (goal <= 1.1).
//! 2. Single-flight fan-in: 1 000 concurrent identical requests, backend calls and wall time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axia_domain::{
    FetchedBars, ManualClock, MarketData, MarketDataError, OhlcvStore, Symbol, TimeRange,
    Timeframe, UseCase, ValidationReport,
};
use axia_provider::{OhlcvDataProvider, OhlcvRequest, Window};
use axia_redis::{RedisBarCache, RedisCacheConfig};
use chrono::{TimeZone, Utc};

struct Slow {
    calls: AtomicUsize,
    now: chrono::DateTime<Utc>,
}

#[async_trait]
impl MarketData for Slow {
    async fn bars(
        &self,
        s: &Symbol,
        tf: Timeframe,
        r: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let frame = axia_simbroker::generate(1, s, tf, r, self.now).unwrap();
        let n = frame.len();
        Ok(FetchedBars {
            frame,
            report: ValidationReport {
                received: n,
                kept: n,
                dropped: vec![],
            },
        })
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let hot = RedisBarCache::new(
        RedisCacheConfig::new(url).namespace(format!("bench-prov-{}", std::process::id())),
        clock.clone(),
    )
    .unwrap();
    let sym: Symbol = "USDJPY".parse().unwrap();
    // The window of Last(24 h): from the minute 24 h ago to the forming one, both included.
    let day = TimeRange::last(
        chrono::Duration::hours(24) + chrono::Duration::milliseconds(1),
        now + chrono::Duration::milliseconds(1),
    );
    hot.save(&axia_simbroker::generate(1, &sym, Timeframe::M1, day, now).unwrap())
        .await
        .expect("Redis at REDIS_URL");
    let provider = OhlcvDataProvider::builder()
        .clock(clock.clone())
        .hot_cache(Arc::new(hot.clone()))
        .without_write_through()
        .build();
    let req = OhlcvRequest::new(
        sym.clone(),
        Timeframe::M1,
        Window::last_hours(24),
        UseCase::Chart,
    );
    let r = provider.get(req.clone()).await.unwrap();
    assert!(
        r.meta.complete && r.meta.attempts.len() == 1,
        "a hot hit: {:?}",
        r.meta.attempts
    );
    let (mut via, mut direct) = (Vec::new(), Vec::new());
    for i in 0..3_000 {
        let t = Instant::now();
        black_box(provider.get(req.clone()).await.unwrap());
        let a = t.elapsed();
        let t = Instant::now();
        black_box(hot.get(&sym, Timeframe::M1, day).await.unwrap());
        let b = t.elapsed();
        if i >= 300 {
            via.push(a);
            direct.push(b);
        }
    }
    let (v, d) = (median(via), median(direct));
    println!(
        "1. hot hit of 1440 M1 bars: provider {:.1} us, hot tier {:.1} us, ratio {:.2} (goal <= 1.10)",
        v.as_secs_f64() * 1e6,
        d.as_secs_f64() * 1e6,
        v.as_secs_f64() / d.as_secs_f64()
    );

    let slow = Arc::new(Slow {
        calls: AtomicUsize::new(0),
        now,
    });
    let p = OhlcvDataProvider::builder()
        .clock(clock)
        .broker(slow.clone())
        .build();
    let req = OhlcvRequest::new(sym, Timeframe::H1, Window::last_hours(24), UseCase::Trading);
    let t = Instant::now();
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let (p, req) = (p.clone(), req.clone());
            tokio::spawn(async move { p.get(req).await.unwrap().frame.len() })
        })
        .collect();
    for task in tasks {
        black_box(task.await.unwrap());
    }
    println!(
        "2. single-flight: 1000 concurrent identical requests -> {} backend call(s) (50 ms each), all answered in {:.1} ms",
        slow.calls.load(Ordering::SeqCst),
        t.elapsed().as_secs_f64() * 1e3
    );
}
