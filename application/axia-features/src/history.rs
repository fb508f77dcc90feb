//! [`BarHistory`]: where the engine reads bars, and its implementation over the provider.

use async_trait::async_trait;
use axia_domain::{OhlcvFrame, Symbol, TimeRange, Timeframe, UseCase};
use axia_provider::{OhlcvDataProvider, OhlcvRequest, Window};

/// The bars of a series in a range, oldest first; the newest may be forming (and is labelled
/// so). The engine asks for its warm-up history and, on each update, for the bars since the
/// last one it applied.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait BarHistory: Send + Sync {
    /// The bars of `symbol` `timeframe` that open in `range`.
    ///
    /// # Errors
    /// A message saying why no bars could be read (logged and returned by the engine).
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, String>;
}

/// Hours at the end of a range read as a short window (the hot tier first).
const TAIL_HOURS: i64 = 24;

/// The provider: the last 24 h of the range for the chart use case (the hot tier first, and
/// the forming bar with it), completed from the analysis use case when that answer lacks bars
/// before its newest one (the chart's bars win); anything older for the analysis use case
/// (archive, then fallback).
#[async_trait]
impl BarHistory for OhlcvDataProvider {
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, String> {
        let ask = |r: TimeRange, use_case: UseCase| async move {
            self.get(OhlcvRequest::new(
                symbol.clone(),
                timeframe,
                Window::Range(r),
                use_case,
            ))
            .await
            .map_err(|e| e.to_string())
        };
        let split = (range.end() - chrono::Duration::hours(TAIL_HOURS)).max(range.start());
        let tail = TimeRange::new(split, range.end()).map_err(|e| e.to_string())?;
        let live = ask(tail, UseCase::Chart).await;
        // Good enough when nothing is missing before its newest bar: the slots after it (the
        // bar opening now, not written yet) are not in any other source either.
        let whole = |r: &axia_provider::OhlcvResponse| {
            r.frame
                .last_time()
                .is_some_and(|last| r.meta.completeness.gaps.iter().all(|g| g.start() > last))
        };
        let mut frame = match live {
            Ok(r) if r.meta.complete || whole(&r) => r.frame,
            live => {
                let closed = ask(tail, UseCase::Analysis).await?.frame;
                match live {
                    Ok(r) => closed.merge(&r.frame).map_err(|e| e.to_string())?,
                    Err(_) => closed,
                }
            }
        };
        if split > range.start() {
            let head = TimeRange::new(range.start(), split).map_err(|e| e.to_string())?;
            frame = ask(head, UseCase::Analysis)
                .await?
                .frame
                .merge(&frame)
                .map_err(|e| e.to_string())?;
        }
        Ok(frame)
    }
}
