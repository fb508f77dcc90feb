//! 30 days of H1 bars for USDJPY through the provider, in a service that knows only `axia`.
//!
//! Offline by default: the simulated broker archives into a local directory, then the provider
//! reads the archive. With `--features redis,s3`: the archive is on S3 (`AXIA_CONSUMER_ARCHIVE`,
//! an `s3://bucket/prefix` that exists) and the hot tier on Redis (`REDIS_URL`).

use axia::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usdjpy: Symbol = "USDJPY".parse()?;
    let broker = SimulatedBroker::seeded(42);
    let archive = archive().await?;
    let plan = CollectPlan::new(vec![usdjpy.clone()], vec![Timeframe::H1]);
    let collect = Collect::new(broker.clone(), archive.clone());
    let provider = OhlcvDataProvider::builder()
        .cold_archive(archive)
        .fallback(broker);
    #[cfg(feature = "redis")]
    let (provider, collect) = {
        let hot = hot_cache()?;
        (provider.hot_cache(hot.clone()), collect.hot_cache(hot))
    };
    let report = collect.run(&plan).await;
    if report.exit_code() != 0 {
        return Err(format!("collect: {:?}", report.tasks).into());
    }
    let provider = provider.build();
    let answer = provider
        .get(OhlcvRequest::new(
            usdjpy,
            Timeframe::H1,
            Window::last_days(30),
            UseCase::Chart,
        ))
        .await?;
    let sources: Vec<String> = answer
        .meta
        .attempts
        .iter()
        .map(|a| format!("{}:{:?}:{}", a.source.as_str(), a.outcome, a.bars))
        .collect();
    println!(
        "{} H1 bars of USDJPY over 30 days, complete: {}, served by {:?}, sources {}",
        answer.frame.len(),
        answer.meta.complete,
        answer.meta.served_by,
        sources.join(" ")
    );
    if !answer.meta.complete || answer.frame.len() < 20 * 24 {
        return Err("expected 30 complete days".into());
    }
    if answer.meta.served_by != Some(Role::ColdArchive) {
        return Err("the archive serves a chart over 24 h".into());
    }
    #[cfg(feature = "redis")]
    if !answer.meta.attempts.iter().any(|a| a.source == Role::HotCache && a.bars > 0) {
        return Err("the hot tier answers the last 24 h".into());
    }
    Ok(())
}

#[cfg(not(feature = "s3"))]
async fn archive() -> Result<ParquetArchive, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("axia-consumer-{}", std::process::id()));
    Ok(ParquetArchive::local(dir))
}

#[cfg(feature = "s3")]
async fn archive() -> Result<ParquetArchive, Box<dyn std::error::Error>> {
    let location = std::env::var("AXIA_CONSUMER_ARCHIVE")?;
    Ok(ParquetArchive::open(&location, &axia::aws::AwsSettings::default(), true).await?)
}

#[cfg(feature = "redis")]
fn hot_cache() -> Result<RedisBarCache, Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL")?;
    let namespace = format!("axia-consumer-{}", std::process::id());
    Ok(RedisBarCache::new(
        RedisCacheConfig::new(url).namespace(namespace),
        SystemClock,
    )?)
}
