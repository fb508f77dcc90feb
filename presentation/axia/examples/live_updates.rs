//! Live updates from the hot tier: subscribe once to a namespace's update feed, write bars, and
//! watch them arrive, the forming bar labelled (`REDIS_URL=redis://127.0.0.1:6379 cargo run -p
//! axia --features redis --example live_updates`).

use std::time::Duration;

use axia::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let namespace = format!("axia-example-live-{}", std::process::id());
    let hot = RedisBarCache::new(RedisCacheConfig::new(url).namespace(namespace), SystemClock)?;
    let mut feed = hot.updates().await?;

    // A writer: the last six hours of three pairs from the simulated broker, as the collector
    // or the provider's write-through would put them.
    let broker = SimulatedBroker::seeded(42);
    let writer = {
        let hot = hot.clone();
        tokio::spawn(async move {
            let mut written = 0;
            for s in ["USDJPY", "EURUSD", "GBPJPY"] {
                let symbol: Symbol = s.parse()?;
                let now = chrono::Utc::now();
                let range = TimeRange::covering(now - chrono::Duration::hours(6), now)?;
                match broker.bars(&symbol, Timeframe::M5, range).await {
                    Ok(fetched) => {
                        hot.save(&fetched.frame).await?;
                        written += 1;
                    }
                    // A closed market (the weekend): nothing to write.
                    Err(e) => println!("{symbol}: {e}"),
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(written)
        })
    };
    let written = writer.await?.map_err(|e| e.to_string())?;

    let mut seen = 0;
    while let Ok(Some(update)) = tokio::time::timeout(Duration::from_secs(2), feed.next()).await {
        seen += 1;
        println!(
            "{} {}: {} bars, newest opens {}{}",
            update.symbol,
            update.timeframe,
            update.bars,
            chrono::DateTime::from_timestamp_millis(update.newest_open_ms)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            if update.forming_open_ms.is_some() {
                " (forming)"
            } else {
                ""
            }
        );
    }
    println!("{seen} updates for {written} writes");
    if seen != written {
        return Err(format!("expected one update per write, saw {seen} for {written}").into());
    }
    Ok(())
}
