//! Indicators kept up to date by the feature engine, offline: the simulated broker as the
//! source, features in memory (`cargo run -p axia --example features`). A service does the
//! same with `axia::redis::RedisFeatureStore` and calls `refresh` after it writes bars (or
//! runs the `axia-features` binary on the hot tier's update messages).

use std::sync::Arc;

use axia::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let eurusd: Symbol = "EURUSD".parse()?;
    // A clock that stands still, so the example prints the same every time.
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-03-04T12:30:20Z")?.to_utc(),
    ));
    let broker = SimulatedBroker::new(42, Arc::clone(&clock));
    let provider = OhlcvDataProvider::builder()
        .broker(broker.clone())
        .fallback(broker)
        .clock(Arc::clone(&clock))
        .build();
    let store = Arc::new(MemoryFeatureStore::new());
    let engine = FeatureEngine::new(provider, Arc::clone(&store))
        .clock(Arc::clone(&clock))
        .config(FeatureConfig::standard());

    // Warm-up from history (from the series' anchor), then the values of the newest closed bar
    // and the forming one are published.
    let first = engine.refresh(&eurusd, Timeframe::M5).await?;
    let latest = first.latest.ok_or("no values")?;
    println!(
        "EURUSD M5 at {} ({}):",
        latest.bar_open,
        if latest.forming { "forming" } else { "closed" }
    );
    for (name, value) in &latest.values {
        println!("  {name:<22} {value:.6}");
    }
    assert_eq!(latest.values.len(), 10, "every standard value is warmed up");

    // Ten minutes later: the bars closed meanwhile are applied and published, nothing else.
    clock.advance(chrono::Duration::minutes(10));
    let later = engine.refresh(&eurusd, Timeframe::M5).await?;
    println!(
        "10 minutes later: {} closed bars published, forming bar: {}",
        later.closed, later.forming
    );
    assert_eq!(later.closed, 2);

    // Live equals recomputed from history, bit for bit.
    let closed = store
        .history(
            &eurusd,
            Timeframe::M5,
            TimeRange::last(chrono::Duration::hours(1), clock.now()),
        )
        .await?;
    for s in &closed {
        let again = engine
            .compute_at(&eurusd, Timeframe::M5, s.bar_open)
            .await?;
        assert_eq!(again.as_ref(), Some(s));
    }
    println!(
        "{} published bars recomputed from history: identical",
        closed.len()
    );
    Ok(())
}
