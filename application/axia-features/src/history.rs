//! [`BarHistory`]: where the engine reads bars, and its implementation over the provider.

use async_trait::async_trait;
use axia_domain::{OhlcvFrame, Symbol, TimeRange, Timeframe, UseCase};
use axia_provider::{OhlcvDataProvider, OhlcvRequest, OhlcvResponse, Outcome, Role, Window};

/// Why no history could be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The bars could not be read at all.
    #[error("{0}")]
    Unreadable(String),
    /// Part of the range was asked of no source that could have its bars (the archive lacks
    /// them and no market source is configured), or every such source failed: values computed
    /// without them would not be the documented ones.
    #[error(
        "bars from {} to {} could not be read: {why}",
        missing.start().to_rfc3339(),
        missing.end().to_rfc3339()
    )]
    Missing {
        /// The first run of missing bar slots.
        missing: TimeRange,
        /// Why they are missing: which sources were asked and what they said.
        why: String,
    },
}

/// The bars of a series in a range, oldest first; the newest may be forming (and is labelled
/// so). The engine asks for its warm-up history and, on each update, for the bars since the
/// last one it applied.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait BarHistory: Send + Sync {
    /// The bars of `symbol` `timeframe` that open in `range`.
    ///
    /// # Errors
    /// [`HistoryError`]: nothing could be read, or bars the range should hold could not be
    /// (logged and returned by the engine).
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, HistoryError>;
}

/// Hours at the end of a range read as a short window (the hot tier first).
const TAIL_HOURS: i64 = 24;

/// The provider: the last 24 h of the range for the chart use case (the hot tier first, and
/// the forming bar with it), from the open of the range's last bar when that is older (a W1 or
/// MN1 bar forms for days), completed from the analysis use case when that answer lacks bars
/// before its newest one (the chart's bars win); anything older for the analysis use case
/// (archive, then fallback).
///
/// A history that does not reach back to the start of the range, where the calendar expects
/// bars, no market source answered for (the archive lacks them and no broker or fallback
/// serves the use case, or those asked failed), and the stores hold nothing of the series
/// before the range either, is [`HistoryError::Missing`]: a history is what the sources hold
/// or an error naming the range, never silently shorter. Where a market source answered, its
/// answer is the truth; gaps inside a stored series are bars the source never had (an
/// illiquid minute, an unmodelled holiday).
#[async_trait]
impl BarHistory for OhlcvDataProvider {
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, HistoryError> {
        let unreadable = |e: String| HistoryError::Unreadable(e);
        let ask = |r: TimeRange, use_case: UseCase| async move {
            self.get(OhlcvRequest::new(
                symbol.clone(),
                timeframe,
                Window::Range(r),
                use_case,
            ))
            .await
            .map_err(|e| HistoryError::Unreadable(e.to_string()))
        };
        let last_open = self
            .grid(symbol, timeframe)
            .floor(range.end() - chrono::Duration::milliseconds(1));
        let split = (range.end() - chrono::Duration::hours(TAIL_HOURS))
            .min(last_open)
            .max(range.start());
        let tail = TimeRange::new(split, range.end()).map_err(|e| unreadable(e.to_string()))?;
        let mut answers = Vec::new();
        let live = ask(tail, UseCase::Chart).await;
        let mut frame = match live {
            Ok(r) if unanswered(&r.frame, &r.meta.completeness.gaps, &[&r]).is_none() => {
                let f = r.frame.clone();
                answers.push(r);
                f
            }
            live => {
                let closed = ask(tail, UseCase::Analysis).await?;
                let f = match &live {
                    // The chart's bars win.
                    Ok(r) => closed
                        .frame
                        .merge(&r.frame)
                        .map_err(|e| unreadable(e.to_string()))?,
                    Err(_) => closed.frame.clone(),
                };
                answers.push(closed);
                answers.extend(live.ok());
                f
            }
        };
        if split > range.start() {
            let head =
                TimeRange::new(range.start(), split).map_err(|e| unreadable(e.to_string()))?;
            let older = ask(head, UseCase::Analysis).await?;
            frame = older
                .frame
                .merge(&frame)
                .map_err(|e| unreadable(e.to_string()))?;
            answers.push(older);
        }
        let calendar = self.calendar_of(symbol);
        let gaps = frame.completeness(calendar.as_ref(), range).gaps;
        let answers: Vec<&OhlcvResponse> = answers.iter().collect();
        let Some((gap, why, market_failed)) = unanswered(&frame, &gaps, &answers) else {
            return Ok(frame);
        };
        if market_failed {
            return Err(HistoryError::Missing { missing: gap, why });
        }
        // No market source serves the use case, and the series starts later than the range in
        // every store. If the stores hold it before the range (within a week, or the range's
        // length: past any market closure), the gap is inside the series: bars the source
        // never had.
        let reach = (range.end() - range.start()).max(chrono::Duration::days(7));
        let before = TimeRange::new(range.start() - reach, range.start())
            .map_err(|e| unreadable(e.to_string()))?;
        if ask(before, UseCase::Analysis)
            .await
            .is_ok_and(|r| !r.frame.is_empty())
        {
            return Ok(frame);
        }
        Err(HistoryError::Missing { missing: gap, why })
    }
}

/// The leading run of `gaps`, before the frame's first bar (the history does not reach back
/// to the start of the range), when no market source answered for it, and why: the stores lack
/// it and no broker or fallback was asked, or those asked failed. Gaps further in are bars the
/// sources never had (an illiquid minute, an unmodelled holiday), and the slots after the newest
/// bar, at the live edge, are in no source yet.
fn unanswered(
    frame: &OhlcvFrame,
    gaps: &[TimeRange],
    answers: &[&OhlcvResponse],
) -> Option<(TimeRange, String, bool)> {
    let market = |role: Role| matches!(role, Role::Broker | Role::Fallback);
    let failed = |o: &Outcome| {
        matches!(
            o,
            Outcome::Error(_) | Outcome::Timeout | Outcome::CircuitOpen
        )
    };
    let attempts = || answers.iter().flat_map(|r| r.meta.attempts.iter());
    let gap = gaps
        .first()
        .filter(|g| frame.first_time().is_none_or(|first| g.start() < first))?;
    // A market source that answered for the gap had what exists there.
    if attempts()
        .any(|a| market(a.source) && !failed(&a.outcome) && a.asked.intersect(gap).is_some())
    {
        return None;
    }
    let asked: Vec<String> = attempts()
        .map(|a| format!("{} {}", a.source, outcome(&a.outcome)))
        .collect();
    let market_failed = attempts().any(|a| market(a.source));
    let why = if market_failed {
        format!("every market source asked failed ({})", asked.join(", "))
    } else {
        format!(
            "the stores lack them ({}) and no broker or fallback serves the use case; fill the archive (axia-collector backfill) or configure a source",
            if asked.is_empty() {
                "none asked".to_owned()
            } else {
                asked.join(", ")
            }
        )
    };
    Some((*gap, why, market_failed))
}

fn outcome(o: &Outcome) -> &'static str {
    match o {
        Outcome::Hit => "had them",
        Outcome::Partial => "had some",
        Outcome::Miss => "had none",
        Outcome::Error(_) => "failed",
        Outcome::Timeout => "timed out",
        Outcome::CircuitOpen => "was skipped (circuit open)",
    }
}
