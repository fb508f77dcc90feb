//! The alignment an archive records for a symbol ([`ParquetArchive::recorded_alignment`]) and
//! moving a symbol's series to another one ([`ParquetArchive::realign`]).

use std::sync::Arc;

use axia_domain::{
    DailyAlignment, InstrumentOverride, OhlcvFrame, OhlcvStore, StoreError, Symbol, TimeRange,
    Timeframe,
};
use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::ParquetArchive;
use crate::format;
use crate::layout::{hive_value, parse_key};
use crate::objects::{Put, Tag};

/// Where [`ParquetArchive::realign`] keeps the files it replaced, beside `ohlcv/`.
const REALIGNED: &str = "realigned";
/// How a set-aside file's name ends (never `.parquet`: readers must not take it for data).
const REALIGNED_SUFFIX: &str = ".realigned";

/// The timeframes in the order a probe looks at them: fewest files first.
const PROBE_ORDER: [Timeframe; 9] = [
    Timeframe::MN1,
    Timeframe::W1,
    Timeframe::D1,
    Timeframe::H4,
    Timeframe::H1,
    Timeframe::M30,
    Timeframe::M15,
    Timeframe::M5,
    Timeframe::M1,
];

/// How many symbols [`ParquetArchive::recorded_alignments`] probes at once.
const PROBES_AT_ONCE: usize = 16;

/// What [`ParquetArchive::realign`] did to one series of the symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realigned {
    /// The series' timeframe.
    pub timeframe: Timeframe,
    /// Bars read under another alignment (the data tree's and earlier runs' set-aside files).
    pub bars_before: usize,
    /// Bars the series holds under the new alignment.
    pub bars_after: usize,
    /// Files moved out of the data tree, to `{prefix}realigned/…` (kept, never deleted).
    pub files_set_aside: usize,
    /// Where, within the span the old series covered, the new one misses bars the market
    /// calendar expects: from `H4` up, the bars the archive's own finer bars could not rebuild
    /// (fetch them from a source: `axia audit … --repair`).
    pub gaps: Vec<TimeRange>,
}

/// One file of the series, decoded under the alignment it records.
struct Found {
    frame: OhlcvFrame,
    /// Its key and version, for a file in the data tree of another alignment (to set aside).
    replace: Option<(String, Tag)>,
}

impl ParquetArchive {
    /// The symbols the archive holds a folder of: one listing of `ohlcv/`.
    ///
    /// # Errors
    /// The store's error.
    pub async fn symbols(&self) -> Result<Vec<Symbol>, StoreError> {
        let dirs = self
            .objects
            .list_dirs(&format!("{}ohlcv/", self.prefix))
            .await?;
        let mut out: Vec<Symbol> = dirs
            .iter()
            .filter_map(|d| d.strip_prefix("symbol="))
            .filter_map(|s| s.replace("%3D", "=").replace("%3d", "=").parse().ok())
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The timeframes the archive holds a folder of for `symbol` (the current folder and, for a
    /// symbol holding `=`, the legacy one).
    async fn timeframes_of(&self, symbol: &Symbol) -> Result<Vec<Timeframe>, StoreError> {
        let base = format!("{}ohlcv/symbol=", self.prefix);
        let mut dirs = self
            .objects
            .list_dirs(&format!("{base}{}/", hive_value(symbol)))
            .await?;
        if symbol.as_str().contains('=') {
            dirs.extend(self.objects.list_dirs(&format!("{base}{symbol}/")).await?);
        }
        let mut out: Vec<Timeframe> = dirs
            .iter()
            .filter_map(|d| d.strip_prefix("timeframe="))
            .filter_map(|t| t.parse().ok())
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The keys of a series' files in the data tree (current and legacy folder), oldest first.
    async fn series_keys(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Vec<String>, StoreError> {
        let mut dirs = vec![crate::layout::series_dir(&self.prefix, symbol, timeframe)];
        dirs.extend(crate::layout::legacy_series_dir(
            &self.prefix,
            symbol,
            timeframe,
        ));
        let mut keys = Vec::new();
        for dir in dirs {
            for o in self.list_objects(&format!("{dir}/")).await? {
                if parse_key(&self.prefix, &o.key)
                    .is_some_and(|(s, tf, _)| s == *symbol && tf == timeframe)
                {
                    keys.push(o.key);
                }
            }
        }
        keys.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        Ok(keys)
    }

    /// The daily alignment the files of `symbol` record (`axia.alignment`; files written before
    /// it was recorded are UTC midnight), or `None` when the archive holds no readable file of
    /// the symbol. Reads the newest file of the timeframe with the fewest files: two or three
    /// requests.
    ///
    /// # Errors
    /// The store's error.
    pub async fn recorded_alignment(
        &self,
        symbol: &Symbol,
    ) -> Result<Option<DailyAlignment>, StoreError> {
        let held = self.timeframes_of(symbol).await?;
        for tf in PROBE_ORDER.into_iter().filter(|tf| held.contains(tf)) {
            let keys = self.series_keys(symbol, tf).await?;
            // A damaged newest file is passed over for the one before it.
            for key in keys.iter().rev().take(3) {
                let Some((bytes, _)) = self.get_object(key).await? else {
                    continue;
                };
                let read = tokio::task::spawn_blocking(move || format::recorded_alignment(&bytes))
                    .await
                    .map_err(|e| StoreError::Backend(format!("decode task failed: {e}").into()))?;
                if let Ok(a) = read {
                    return Ok(Some(a));
                }
            }
        }
        Ok(None)
    }

    /// The alignment recorded for each symbol the archive holds that `wanted` selects, probed
    /// 16 at a time ([`ParquetArchive::recorded_alignment`]); symbols with no readable file
    /// are left out.
    ///
    /// # Errors
    /// The store's error.
    pub async fn recorded_alignments(
        &self,
        wanted: impl Fn(&Symbol) -> bool,
    ) -> Result<Vec<(Symbol, DailyAlignment)>, StoreError> {
        let symbols: Vec<Symbol> = self
            .symbols()
            .await?
            .into_iter()
            .filter(|s| wanted(s))
            .collect();
        let found: Vec<Option<(Symbol, DailyAlignment)>> = stream::iter(symbols)
            .map(|s| async move {
                Ok::<_, StoreError>(self.recorded_alignment(&s).await?.map(|a| (s, a)))
            })
            .buffered(PROBES_AT_ONCE)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// This archive with `symbol`'s series laid out under `alignment`.
    #[must_use]
    pub fn aligning(&self, symbol: &Symbol, alignment: DailyAlignment) -> Self {
        let mut registry = (*self.instruments).clone();
        registry.override_with(
            symbol,
            &InstrumentOverride {
                alignment: Some(alignment),
                ..InstrumentOverride::default()
            },
        );
        Self {
            instruments: Arc::new(registry),
            ..self.clone()
        }
    }

    /// Moves every series of `symbol` to the daily alignment `to`, keeping each file it
    /// replaces under `{prefix}realigned/…` (outside the data tree, never deleted):
    /// - up to `H1` the bars are the same under both alignments: they move to the partitions
    ///   of the new layout (a day partition of the New York close holds a trading date);
    /// - `H4`, `D1`, `W1` and `MN1` bars are rebuilt from the symbol's `H1` bars (or its
    ///   finest series below) for every period those cover completely on the instrument's
    ///   calendar; [`Realigned::gaps`] names what is left, for `axia audit --repair` to fetch.
    ///
    /// Files already under `to` win over rebuilt bars. Running it again is harmless, and
    /// finishes a run that was stopped part-way (it reads the set-aside files too). Writers of
    /// the symbol should be stopped meanwhile: a process that still lays it out under the
    /// old alignment has its reads and writes refused until it restarts.
    ///
    /// # Errors
    /// The store's error; [`StoreError::Corrupt`] for a damaged file of the symbol (quarantine
    /// it first: `axia audit … --repair`); a frame error for bars that do not fit the new grid.
    pub async fn realign(
        &self,
        symbol: &Symbol,
        to: DailyAlignment,
    ) -> Result<Vec<Realigned>, StoreError> {
        let target = self.aligning(symbol, to);
        let mut timeframes = self.timeframes_of(symbol).await?;
        for tf in self.set_aside_timeframes(symbol).await? {
            if !timeframes.contains(&tf) {
                timeframes.push(tf);
            }
        }
        timeframes.sort();
        // Everything first: the rebuilt timeframes need the finer ones.
        let mut read = Vec::new();
        for &tf in &timeframes {
            read.push((tf, self.read_for_realign(symbol, tf, to).await?));
        }
        let calendar = self.instruments.resolve(symbol).calendar();
        let mut finest: Option<OhlcvFrame> = None;
        let mut out = Vec::new();
        for (tf, (old, current)) in read {
            let old_frames: Vec<&OhlcvFrame> = old.iter().map(|f| &f.frame).collect();
            let bars_before = old_frames.iter().map(|f| f.len()).sum();
            let span = span_of(&old_frames);
            let grid = tf.aligned(to);
            let mut frame = if grid.is_shifted() {
                match &finest {
                    Some(base) if base.timeframe().can_resample_to(tf) => {
                        complete_bars(base, tf, &*calendar)?
                    }
                    _ => OhlcvFrame::empty_on(symbol.clone(), grid),
                }
            } else {
                let mut f = OhlcvFrame::empty_on(symbol.clone(), grid);
                for o in &old_frames {
                    f = f.merge(&(*o).clone().with_alignment(to)?)?;
                }
                f
            };
            for c in &current {
                frame = frame.merge(c)?;
            }
            if !grid.is_shifted() && (tf == Timeframe::H1 || finest.is_none()) {
                finest = Some(frame.clone());
            }
            let mut files_set_aside = 0;
            for (key, tag) in old.iter().filter_map(|f| f.replace.as_ref()) {
                let Some(aside) = self.aside_key(key, REALIGNED, Utc::now(), REALIGNED_SUFFIX)
                else {
                    continue;
                };
                match self.objects.rename(key, &aside, tag).await? {
                    Put::Written => files_set_aside += 1,
                    Put::Conflict => {
                        return Err(StoreError::Backend(
                            format!(
                                "{} changed while {symbol} was being realigned: stop its writers and run the realignment again",
                                self.objects.locate(key)
                            )
                            .into(),
                        ));
                    }
                }
            }
            target.save(&frame).await?;
            let gaps = span.map_or_else(Vec::new, |s| frame.gaps(&*calendar, s));
            out.push(Realigned {
                timeframe: tf,
                bars_before,
                bars_after: frame.len(),
                files_set_aside,
                gaps,
            });
        }
        Ok(out)
    }

    /// The timeframes with files an earlier realignment set aside.
    async fn set_aside_timeframes(&self, symbol: &Symbol) -> Result<Vec<Timeframe>, StoreError> {
        let dirs = self
            .objects
            .list_dirs(&format!(
                "{}{REALIGNED}/ohlcv/symbol={}/",
                self.prefix,
                hive_value(symbol)
            ))
            .await?;
        Ok(dirs
            .iter()
            .filter_map(|d| d.strip_prefix("timeframe="))
            .filter_map(|t| t.parse().ok())
            .collect())
    }

    /// A series' files under other alignments (set-aside ones first, then the data tree's),
    /// and those already under `to`.
    async fn read_for_realign(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        to: DailyAlignment,
    ) -> Result<(Vec<Found>, Vec<OhlcvFrame>), StoreError> {
        let aside_dir = format!(
            "{}{REALIGNED}/ohlcv/symbol={}/timeframe={timeframe}/",
            self.prefix,
            hive_value(symbol)
        );
        let mut aside: Vec<String> = self
            .list_objects(&aside_dir)
            .await?
            .into_iter()
            .map(|o| o.key)
            .filter(|k| k.ends_with(REALIGNED_SUFFIX))
            .collect();
        aside.sort();
        let live = self.series_keys(symbol, timeframe).await?;
        let (mut old, mut current) = (Vec::new(), Vec::new());
        for (key, in_tree) in aside
            .into_iter()
            .map(|k| (k, false))
            .chain(live.into_iter().map(|k| (k, true)))
        {
            let Some((bytes, tag)) = self.get_object(&key).await? else {
                continue;
            };
            let location = self.objects.locate(&key);
            let (s, tf) = (symbol.clone(), timeframe);
            let decoded = tokio::task::spawn_blocking(move || {
                let recorded = format::recorded_alignment(&bytes)?;
                Ok::<_, format::FormatError>((recorded, format::decode(&bytes, &s, tf, recorded)?))
            })
            .await
            .map_err(|e| StoreError::Backend(format!("decode task failed: {e}").into()))?;
            let (recorded, frame) = decoded.map_err(|e| StoreError::Corrupt {
                location,
                detail: format!("{e}: quarantine it first (axia audit --repair)"),
            })?;
            if !in_tree {
                old.push(Found {
                    frame,
                    replace: None,
                });
            } else if recorded == to {
                current.push(frame);
            } else {
                old.push(Found {
                    frame,
                    replace: Some((key, tag)),
                });
            }
        }
        Ok((old, current))
    }
}

fn at(ms: i64) -> Option<chrono::DateTime<Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
}

/// A partition's name from its key (`…/2026-03.parquet` → `2026-03`), for ordering.
fn name_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// From the first bar's open to the last bar's close of `frames`.
fn span_of(frames: &[&OhlcvFrame]) -> Option<TimeRange> {
    let first = frames
        .iter()
        .filter_map(|f| f.first())
        .map(|b| b.time_millis())
        .min()?;
    let (last, grid) = frames
        .iter()
        .filter_map(|f| f.last().map(|b| (b.time_millis(), f.grid())))
        .max_by_key(|(t, _)| *t)?;
    let end = grid.next_open_millis(last)?;
    TimeRange::new(at(first)?, at(end)?).ok()
}

/// The bars of `target` built from `base` whose whole period `base` covers on `calendar`.
fn complete_bars(
    base: &OhlcvFrame,
    target: Timeframe,
    calendar: &dyn axia_domain::MarketCalendar,
) -> Result<OhlcvFrame, StoreError> {
    let built = base.resample(target)?;
    let grid = built.grid();
    let mut out = OhlcvFrame::builder(base.symbol().clone(), target, built.len())
        .aligned(grid.alignment())?;
    for bar in built.iter() {
        let open = bar.time_millis();
        let Some(period) = grid
            .next_open_millis(open)
            .and_then(|next| at(open).zip(at(next)))
            .and_then(|(a, b)| TimeRange::new(a, b).ok())
        else {
            continue;
        };
        if base.completeness(calendar, period).gaps.is_empty() {
            out.push_bar(&bar)?;
        }
    }
    Ok(out.finish())
}
