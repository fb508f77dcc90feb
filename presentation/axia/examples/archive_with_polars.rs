//! Reading the archive the way an analyst does: the whole hive-partitioned tree as one polars
//! LazyFrame, with `symbol` and `timeframe` as columns (`cargo run -p axia --features dataframe
//! --example archive_with_polars`).

use axia::parquet::dataframe::polars::prelude::*;
use axia::prelude::*;

// polars runs its own threads: a multi-threaded runtime, and its work on a blocking thread.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("axia-example-polars-{}", std::process::id()));
    // Fill an archive: 30 days of M15 for two pairs from the simulated broker.
    let broker = SimulatedBroker::seeded(7);
    let archive = ParquetArchive::local(&dir);
    let mut plan = CollectPlan::new(
        vec!["EURUSD".parse()?, "USDJPY".parse()?],
        vec![Timeframe::M15],
    );
    plan.catch_up = chrono::Duration::days(30);
    Collect::new(broker, archive).run(&plan).await;

    // Any folder of the tree reads as it is: only Parquet files are in it.
    let root = dir.join("ohlcv");
    let summary = tokio::task::spawn_blocking(move || summarize(&root)).await??;
    let names: Vec<String> = summary
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    println!("{}", names.join(" | "));
    for i in 0..summary.height() {
        let row = summary.get(i).unwrap_or_default();
        println!(
            "{}",
            row.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let rows = summary.height();
    std::fs::remove_dir_all(&dir)?;
    if rows != 2 {
        return Err(format!("expected two series, found {rows}").into());
    }
    Ok(())
}

/// Bars, range, extremes and volume per series, over the whole tree.
fn summarize(root: &std::path::Path) -> PolarsResult<DataFrame> {
    let bars = LazyFrame::scan_parquet(
        PlRefPath::new(root.display().to_string()),
        ScanArgsParquet {
            hive_options: HiveOptions::new_enabled(),
            ..Default::default()
        },
    )?;
    bars.group_by([col("symbol"), col("timeframe")])
        .agg([
            len().alias("bars"),
            col("time").min().alias("first"),
            col("time").max().alias("last"),
            col("low").min().alias("low"),
            col("high").max().alias("high"),
            col("volume").sum().alias("volume"),
        ])
        .sort(["symbol"], SortMultipleOptions::default())
        .collect()
}
