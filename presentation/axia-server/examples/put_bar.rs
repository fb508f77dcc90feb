//! Writes one bar into the hot tier, as a collector would, so a chart open on the series moves:
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p axia-server --example put_bar -- USDJPY M1 151.234
//! ```
//!
//! The bar opens at the start of the current period (it is the forming bar) with the given
//! close; open, high and low follow from the bar already there, if any. `AXIA_NAMESPACE` picks
//! the hot tier's namespace (default `axia`, the binaries' default); `AXIA_AT` (RFC 3339) puts
//! the bar in the period of that instant instead of now's (for a server run with `--at`).

use std::process::ExitCode;
use std::sync::Arc;

use axia_domain::{
    Bar, Clock, ManualClock, OhlcvFrame, OhlcvStore, Symbol, SystemClock, Timeframe,
};
use axia_redis::{RedisBarCache, RedisCacheConfig};

async fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [symbol, timeframe, close] = args.as_slice() else {
        return Err("usage: put_bar SYMBOL TIMEFRAME CLOSE".into());
    };
    let symbol: Symbol = symbol.parse().map_err(|e| format!("symbol: {e}"))?;
    let timeframe: Timeframe = timeframe.parse().map_err(|e| format!("timeframe: {e}"))?;
    let close: f64 = close.parse().map_err(|e| format!("close: {e}"))?;
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set".to_owned())?;
    let namespace = std::env::var("AXIA_NAMESPACE").unwrap_or_else(|_| "axia".to_owned());
    let config = RedisCacheConfig::new(url).namespace(namespace);
    let now = match std::env::var("AXIA_AT") {
        Ok(at) => chrono::DateTime::parse_from_rfc3339(&at)
            .map_err(|e| format!("AXIA_AT {at:?}: {e}"))?
            .with_timezone(&chrono::Utc),
        Err(_) => SystemClock.now(),
    };
    // The hot tier keeps the last 24 h of its clock's now: the bar's.
    let clock = Arc::new(ManualClock::new(now));
    let cache = RedisBarCache::new(config, clock).map_err(|e| e.to_string())?;
    let open_time = timeframe.floor(now);
    let range =
        axia_domain::TimeRange::new(open_time, open_time + chrono::Duration::milliseconds(1))
            .map_err(|e| e.to_string())?;
    let held = cache
        .get(&symbol, timeframe, range)
        .await
        .map_err(|e| e.to_string())?
        .last();
    let open = held.map_or(close, |b| b.open());
    let high = held.map_or(close, |b| b.high()).max(close).max(open);
    let low = held.map_or(close, |b| b.low()).min(close).min(open);
    let volume = held.map_or(1.0, |b| b.volume() + 1.0);
    let bar = Bar::new(open_time, open, high, low, close, volume).map_err(|e| e.to_string())?;
    let frame = OhlcvFrame::from_bars(symbol, timeframe, vec![bar]).map_err(|e| e.to_string())?;
    cache.save(&frame).await.map_err(|e| e.to_string())?;
    Ok(format!(
        "{} {timeframe} {} close {close}",
        frame.symbol(),
        open_time.to_rfc3339()
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("put_bar: {e}");
            ExitCode::from(2)
        }
    }
}
