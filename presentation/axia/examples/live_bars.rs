//! Live bars from a price stream, offline: an hour of the simulated market's quotes made into
//! bars of every timeframe (`cargo run -p axia --example live_bars`). The bars the quotes make
//! equal the simulated broker's candles; a service runs `axia::live::LiveFeed` instead, which
//! takes a `PriceStream` (the simulated one, or OANDA's with the `oanda` feature) and writes the
//! bars into the hot tier (or runs the `axia-live` binary).

use axia::domain::{InstrumentRegistry, TimeRange, Timeframe};
use axia::live::{LiveBarsConfig, QuotesToBars};
use axia::simulated::{SimulatedQuotes, generate_for};
use chrono::{Duration, TimeZone, Utc};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let eurusd = InstrumentRegistry::shared_builtin().resolve(&"EURUSD".parse()?);
    let start = Utc
        .with_ymd_and_hms(2026, 3, 4, 12, 0, 0)
        .single()
        .ok_or("no such instant")?;
    let end = start + Duration::hours(1);

    // Every quote of the hour, in time order, into bars of all nine timeframes.
    let mut bars = QuotesToBars::new(&LiveBarsConfig::default(), [eurusd.clone()]);
    let mut changes = Vec::new();
    let mut closed_h1 = None;
    let mut quotes = 0;
    for quote in SimulatedQuotes::new(42, &eurusd, start) {
        if quote.time >= end {
            break;
        }
        quotes += 1;
        bars.on_quote(&quote, &mut changes)
            .map_err(|why| format!("a simulated quote was dropped: {why:?}"))?;
        changes.clear();
    }
    // The hour is over: the timer closes what has ended.
    bars.close_until(end, &mut changes);
    for c in &changes {
        if let Some((_, Timeframe::H1, _)) = bars.series(c.series) {
            closed_h1 = Some(c.bar);
        }
    }
    let h1 = closed_h1.ok_or("the H1 bar did not close")?;
    println!(
        "{quotes} quotes -> the H1 bar of {start}: open {} high {} low {} close {} ({} quotes)",
        h1.open, h1.high, h1.low, h1.close, h1.volume
    );

    // The simulated broker's own candle of that hour: the same bar.
    let candles = generate_for(42, &eurusd, Timeframe::H1, TimeRange::new(start, end)?, end)?;
    let candle = candles.last().ok_or("no candle")?;
    assert_eq!(
        (h1.open, h1.high, h1.low, h1.close, h1.volume),
        (
            candle.open(),
            candle.high(),
            candle.low(),
            candle.close(),
            candle.volume()
        )
    );
    println!("the broker's candle of that hour is the same bar");
    println!(
        "dropped quotes: {} (crossed, stale, outliers, outside the hours …)",
        bars.counts().dropped_total()
    );
    Ok(())
}
