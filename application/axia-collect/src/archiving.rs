//! What every mode (run, backfill, repair) does to the archive: fetch, keep the closed bars,
//! save them, and move aside and rebuild a damaged partition met on the way.

use std::sync::Mutex;

use axia_domain::{
    BarArchive, DamagedPartition, FetchedBars, MarketData, MarketDataError, OhlcvFrame,
    QuarantinedFile, StoreError, Symbol, TimeRange, Timeframe,
};
use chrono::{DateTime, Utc};

/// A failure, and whether trying again may help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) text: String,
    pub(crate) transient: bool,
}

pub(crate) fn market_failure(e: &MarketDataError) -> Failure {
    let transient = matches!(
        e,
        MarketDataError::Unavailable(_)
            | MarketDataError::Timeout(_)
            | MarketDataError::RateLimited { .. }
            | MarketDataError::Backend(_)
    );
    Failure {
        text: format!("source: {e}"),
        transient,
    }
}

pub(crate) fn store_failure(what: &str, e: &StoreError) -> Failure {
    let transient = matches!(
        e,
        StoreError::Unavailable(_)
            | StoreError::Timeout(_)
            | StoreError::Conflict(_)
            | StoreError::Backend(_)
    );
    Failure {
        text: format!("{what}: {e}"),
        transient,
    }
}

/// The source's bars of `range`; `None` when it has none there (a closed market).
pub(crate) async fn fetch(
    source: &dyn MarketData,
    symbol: &Symbol,
    timeframe: Timeframe,
    range: TimeRange,
) -> Result<Option<FetchedBars>, Failure> {
    match source.bars(symbol, timeframe, range).await {
        Ok(f) if f.frame.is_empty() => Ok(None),
        Ok(f) => Ok(Some(f)),
        Err(MarketDataError::NoData(_)) => Ok(None),
        Err(e) => Err(market_failure(&e)),
    }
}

/// What [`Archiver::save_closed`] did.
#[derive(Debug, Default)]
pub(crate) struct Saved {
    /// Closed bars written.
    pub(crate) archived: usize,
    /// Periods of damaged partitions the source could not rebuild.
    pub(crate) unreachable: Vec<TimeRange>,
}

/// The archive, the source and the instant a task works at.
pub(crate) struct Archiver<'a> {
    pub(crate) archive: &'a dyn BarArchive,
    pub(crate) source: &'a dyn MarketData,
    pub(crate) now: DateTime<Utc>,
    /// Every partition moved aside so far.
    pub(crate) quarantined: &'a Mutex<Vec<QuarantinedFile>>,
}

impl Archiver<'_> {
    /// The newest archived bar; damaged partitions met on the way are moved aside (the
    /// window fetched from that bar on rebuilds them).
    pub(crate) async fn newest(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Option<DateTime<Utc>>, Failure> {
        let newest = self
            .archive
            .newest(symbol, timeframe)
            .await
            .map_err(|e| store_failure("archive", &e))?;
        for d in &newest.damaged {
            self.quarantine(d).await?;
        }
        Ok(newest.open)
    }

    /// Moves a damaged partition aside; one that changed meanwhile (repaired by another
    /// process) is left alone.
    pub(crate) async fn quarantine(&self, damaged: &DamagedPartition) -> Result<(), Failure> {
        match self.archive.quarantine(damaged, self.now).await {
            Ok(q) => {
                axia_domain::locks::lock(self.quarantined).push(q);
                Ok(())
            }
            Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(store_failure("archive quarantine", &e)),
        }
    }

    /// Saves the bars of `frame` that are closed at now. A damaged partition in the way is
    /// moved aside and rebuilt from the source, then the save is made again.
    pub(crate) async fn save_closed(&self, frame: &OhlcvFrame) -> Result<Saved, Failure> {
        let closed = frame.closed_at(self.now);
        let mut saved = Saved {
            archived: closed.len(),
            unreachable: Vec::new(),
        };
        let (Some(first), Some(last)) = (closed.first_time(), closed.last_time()) else {
            return Ok(saved);
        };
        match self.archive.save(&closed).await {
            Ok(()) => return Ok(saved),
            Err(StoreError::Corrupt { .. }) => {}
            Err(e) => return Err(store_failure("archive", &e)),
        }
        let span = TimeRange::covering(first, last).map_err(|e| Failure {
            text: e.to_string(),
            transient: false,
        })?;
        let read = self
            .archive
            .read(closed.symbol(), closed.timeframe(), span)
            .await
            .map_err(|e| store_failure("archive", &e))?;
        saved.unreachable = self
            .rebuild(closed.symbol(), closed.timeframe(), &read.damaged)
            .await?;
        self.archive
            .save(&closed)
            .await
            .map_err(|e| store_failure("archive", &e))?;
        Ok(saved)
    }

    /// Moves each damaged partition aside and refills its period from the source. Returns the
    /// periods (or parts) the source cannot serve.
    pub(crate) async fn rebuild(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        damaged: &[DamagedPartition],
    ) -> Result<Vec<TimeRange>, Failure> {
        let mut unreachable = Vec::new();
        let earliest = self.source.limits(timeframe).earliest(self.now);
        for d in damaged {
            self.quarantine(d).await?;
            let start = earliest.map_or(d.range.start(), |e| e.max(d.range.start()));
            let end = d.range.end().min(self.now);
            if start > d.range.start() {
                unreachable.extend(TimeRange::new(d.range.start(), start.min(end)).ok());
            }
            let Ok(reachable) = TimeRange::new(start, end) else {
                continue;
            };
            if let Some(f) = fetch(self.source, symbol, timeframe, reachable).await? {
                self.archive
                    .save(&f.frame.closed_at(self.now))
                    .await
                    .map_err(|e| store_failure("archive", &e))?;
            }
        }
        Ok(unreachable)
    }
}
