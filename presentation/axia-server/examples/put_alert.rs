//! Records one alert in the alert history, as the feature engine would when a rule fires, so
//! a chart open on the series shows its marker:
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p axia-server --example put_alert -- EURUSD H1 my-rule
//! ```
//!
//! The alert is at the bar before the forming one (a closed bar), its condition `close > 0`.
//! `AXIA_NAMESPACE` picks the namespace (default `axia`).

use std::process::ExitCode;
use std::sync::Arc;

use axia_domain::{AlertLog, AlertRule, Bar, Clock, Symbol, SystemClock, Timeframe};
use axia_redis::{RedisAlertLog, RedisBarCache, RedisCacheConfig};

async fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [symbol, timeframe, rule] = args.as_slice() else {
        return Err("usage: put_alert SYMBOL TIMEFRAME RULE".into());
    };
    let symbol: Symbol = symbol.parse().map_err(|e| format!("symbol: {e}"))?;
    let timeframe: Timeframe = timeframe.parse().map_err(|e| format!("timeframe: {e}"))?;
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set".to_owned())?;
    let namespace = std::env::var("AXIA_NAMESPACE").unwrap_or_else(|_| "axia".to_owned());
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(url).namespace(namespace),
        Arc::new(SystemClock),
    )
    .map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    let forming = timeframe.floor(now);
    let open = timeframe.floor(forming - chrono::Duration::milliseconds(1));
    let bar = Bar::new(open, 1.0, 1.0, 1.0, 1.0, 0.0).map_err(|e| e.to_string())?;
    let rule = AlertRule::new(
        rule.parse().map_err(|e| format!("rule: {e}"))?,
        symbol,
        timeframe,
        "close > 0".parse().map_err(|e| format!("condition: {e}"))?,
    );
    let alert = rule.fire(&bar, false, [("close".to_owned(), 1.0)].into());
    let recorded = RedisAlertLog::new(cache)
        .record(&alert)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("{} {recorded:?}", alert.id))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("put_alert: {e}");
            ExitCode::FAILURE
        }
    }
}
