//! 30 days of H1 bars for USDJPY through the data provider, offline: the simulated broker as
//! the source, a Parquet archive in a directory (`cargo run -p axia --example thirty_days_of_h1
//! [DIR]`).

use axia::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join(format!("axia-example-h1-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    let broker = SimulatedBroker::seeded(42);
    let archive = ParquetArchive::local(&dir);
    let usdjpy: Symbol = "USDJPY".parse()?;

    // What the collector does on each run: archive the closed bars the archive lacks.
    let plan = CollectPlan::new(vec![usdjpy.clone()], vec![Timeframe::H1]);
    let report = Collect::new(broker.clone(), archive.clone())
        .run(&plan)
        .await;
    println!(
        "archived {} closed H1 bars into {}",
        report.tasks.iter().map(|t| t.archived).sum::<usize>(),
        dir.display()
    );

    let provider = OhlcvDataProvider::builder()
        .cold_archive(archive)
        .fallback(broker)
        .build();
    let answer = provider
        .get(OhlcvRequest::new(
            usdjpy,
            Timeframe::H1,
            Window::last_days(30),
            UseCase::Chart,
        ))
        .await?;
    println!(
        "{} bars over {}, complete: {} ({} of {} expected hours)",
        answer.frame.len(),
        answer.meta.range,
        answer.meta.complete,
        answer.meta.completeness.present,
        answer.meta.completeness.expected
    );
    for a in &answer.meta.attempts {
        println!(
            "  {:<12} {:?}: {} bars in {:.1} ms",
            a.source.as_str(),
            a.outcome,
            a.bars,
            a.latency_ms
        );
    }
    let forming = answer.frame.forming_millis();
    for bar in answer.frame.last_n(5).iter() {
        println!(
            "  {}  O {:.3}  H {:.3}  L {:.3}  C {:.3}  V {:>6}{}",
            bar.time().format("%Y-%m-%d %H:%M"),
            bar.open(),
            bar.high(),
            bar.low(),
            bar.close(),
            bar.volume(),
            if forming == Some(bar.time_millis()) {
                "  (forming)"
            } else {
                ""
            }
        );
    }
    if !answer.meta.complete {
        return Err("the answer is incomplete".into());
    }
    Ok(())
}
