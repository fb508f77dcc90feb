//! Helpers: namespaces, clocks, frames, private servers.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axia_domain::{Bar, ManualClock, OhlcvFrame, Symbol, Timeframe};
use axia_redis::{RedisBarCache, RedisCacheConfig};
use chrono::{DateTime, TimeZone, Utc};
use tokio::process::{Child, Command};

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: run the suite through scripts/test.sh, which starts Redis")
    })
}

/// A namespace no other test or run uses.
pub fn namespace() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "it-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Wednesday 2026-07-01 12:00 UTC (08:00 in New York): the next close is 9 h away.
pub fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap()
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(noon()))
}

pub fn cache_with(config: RedisCacheConfig, clock: Arc<ManualClock>) -> RedisBarCache {
    RedisBarCache::new(config, clock).unwrap()
}

pub fn cache(clock: Arc<ManualClock>) -> RedisBarCache {
    cache_with(
        RedisCacheConfig::new(redis_url()).namespace(namespace()),
        clock,
    )
}

pub fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

/// `n` bars of `tf` for `symbol`, the first opening at `start`, prices from `base`.
pub fn frame(symbol: &str, tf: Timeframe, start: DateTime<Utc>, n: usize, base: f64) -> OhlcvFrame {
    let mut t = tf.floor(start);
    let mut bars = Vec::with_capacity(n);
    for i in 0..n {
        let p = base + i as f64 * 0.001;
        bars.push(Bar::new(t, p, p + 0.02, p - 0.01, p + 0.005, 100.0 + i as f64).unwrap());
        t = tf.next_open(t);
    }
    OhlcvFrame::from_bars(sym(symbol), tf, bars).unwrap()
}

pub fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of this test's own, killed when dropped.
pub struct PrivateRedis {
    pub port: u16,
    child: Child,
}

impl PrivateRedis {
    pub async fn start_on(port: u16, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("axia-redis-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (scripts/services.sh installs it)");
        let server = Self { port, child };
        server.wait_ready().await;
        server
    }

    /// A TLS-only server on `tls_port` (plain port disabled); ready once it accepts TCP.
    pub async fn start_tls(tls_port: u16, extra: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &tls_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (scripts/services.sh installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
                .await
                .is_ok()
            {
                return Self {
                    port: tls_port,
                    child,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("TLS redis-server on {tls_port} did not listen");
    }

    pub async fn start(extra: &[&str]) -> Self {
        Self::start_on(spare_port(), extra).await
    }

    async fn wait_ready(&self) {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).unwrap();
        for _ in 0..100 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, redis::RedisError> =
                    redis::cmd("PING").query_async(&mut c).await;
                match pong {
                    Ok(_) => return,
                    // NOAUTH from a password-protected server: it is up.
                    Err(e) if !e.is_io_error() && !e.is_connection_refusal() => return,
                    Err(_) => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("private redis-server on {} did not answer", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
        self.child.wait().await.unwrap();
    }
}

/// A raw connection to the shared test Redis, for looking behind the cache's back.
pub async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}
