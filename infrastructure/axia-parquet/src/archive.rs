//! [`ParquetArchive`]: the [`OhlcvStore`] on Parquet objects.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use axia_domain::{
    ArchiveRead, Backoff, BarArchive, DailyAlignment, DamagedPartition, DatasetInfo, FrameError,
    InstrumentRegistry, NewestBar, OhlcvColumns, OhlcvFrame, OhlcvStore, QuarantinedFile,
    StoreError, StoreHealth, StoreInfo, Symbol, TimeRange, Timeframe,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::format;
use crate::layout::{
    Partition, legacy_series_dir, object_key, parse_key, partitions_for, prefix_slash, series_dir,
};
#[cfg(feature = "s3")]
use crate::objects::S3Objects;
use crate::objects::{Expect, LocalObjects, Objects, Put, Tag};

mod realign;
pub use realign::Realigned;

/// Above this many partitions in a range, `load` lists the series first.
const LIST_FIRST_ABOVE: usize = 4;

/// What [`ParquetArchive::load`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The bars that open in the range, from every readable partition.
    pub frame: OhlcvFrame,
    /// Partitions read.
    pub present: Vec<String>,
    /// Partitions of the range that do not exist (not an error: nothing was archived there).
    pub absent: Vec<String>,
    /// Partitions of the range that exist but cannot be read; their bars are missing from
    /// `frame`.
    pub damaged: Vec<DamagedPartition>,
}

/// One stored partition of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// `2026-03-04`, `2026-03` or `2026`.
    pub name: String,
    /// The open times it may hold.
    pub range: TimeRange,
    /// Its size.
    pub bytes: u64,
}

/// Requests the archive made of its object store since it was built, and what it found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveCounters {
    /// Object reads (S3 `GetObject`, a file read).
    pub gets: u64,
    /// Object writes (S3 conditional `PutObject`, a file written and renamed).
    pub puts: u64,
    /// Listings (S3 `ListObjectsV2` pages, a directory walk).
    pub lists: u64,
    /// Partitions written (created or replaced).
    pub partitions_written: u64,
    /// Damaged partitions met by reads.
    pub damaged_reads: u64,
    /// Damaged partitions moved to quarantine.
    pub quarantined: u64,
}

#[derive(Debug, Default)]
struct Counters {
    gets: AtomicU64,
    puts: AtomicU64,
    lists: AtomicU64,
    partitions_written: AtomicU64,
    damaged_reads: AtomicU64,
    quarantined: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The folder damaged partitions are moved to, beside `ohlcv/` (outside the data tree).
/// Between attempts of an optimistic write that lost a race.
const CONFLICT_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(5), Duration::from_millis(320));

const QUARANTINE: &str = "quarantine";
/// How a quarantined file's name ends (never `.parquet`: readers must not take it for data).
const QUARANTINE_SUFFIX: &str = ".damaged";
/// Where a partition of the legacy layout goes once its bars are in the current one.
const SUPERSEDED: &str = "superseded";
/// How a superseded file's name ends (never `.parquet`).
const SUPERSEDED_SUFFIX: &str = ".superseded";

/// The cold tier: every bar kept forever as hive-partitioned Parquet
/// ([`layout`](crate::layout), [`format`](crate::format)) in an S3 bucket or a local directory.
///
/// - `save` archives **closed bars only** (a frame's forming bar is dropped), splits the frame
///   by partition and merges each into what is stored (upsert by open time, the incoming bars
///   win), writing whole files **oldest partition first, one at a time**, so a save that fails
///   or is killed part-way leaves a prefix: the series never gains a hole behind its newest
///   bar. A partition whose content would not change is not rewritten, so saving the same
///   frame twice leaves identical objects. Writers never lose each other's bars: each write is
///   conditional on the version read (S3 `If-None-Match: *` / `If-Match: <etag>`; locally a
///   lock file and a content hash) and is retried from a fresh read when another writer got
///   there first. A save spanning more than four partitions lists the series first and
///   creates the partitions that do not exist without reading them (one request each).
///   Writers in one process take turns per partition, so the conditions only arbitrate
///   between processes; for a store whose conditional writes are not atomic (moto, old
///   S3-compatible servers), [`verify_writes`](ParquetArchive::verify_writes) reads each
///   written partition back and merges again if a concurrent write replaced it (it narrows
///   that race, it cannot close it).
/// - `get`/[`load`](ParquetArchive::load) fetch the range's partitions concurrently (bounded;
///   for a range of more than four partitions, only those a listing of the series shows exist),
///   decode them on blocking threads, and return one validated frame; missing partitions are
///   not errors ([`Loaded::absent`] names them). A partition that cannot be read (not Parquet,
///   truncated, empty, a foreign schema, written for another series, bars outside its period)
///   costs only its own bars: [`Loaded::damaged`] names it, it is logged at error level and
///   counted, and every other partition is returned.
/// - A damaged partition is never overwritten blind (a save into it fails with
///   [`StoreError::Corrupt`]) and never deleted: [`BarArchive::quarantine`] moves it to
///   `{prefix}quarantine/ohlcv/symbol=…/timeframe=…/{partition}.{found}.damaged`, outside
///   the data tree, and the partition can then be rebuilt from a source.
/// - A series whose symbol holds `=` (`USDJPY=X`) lives under `symbol=USDJPY%3DX`, which hive
///   readers decode back to the symbol. Partitions an earlier version wrote under the raw
///   `symbol=USDJPY=X` are merged into place the first time a process reads, saves or lists
///   the series (one listing per series and process), and the old files kept under
///   `{prefix}superseded/…`, outside the data tree.
#[derive(Debug, Clone)]
pub struct ParquetArchive {
    objects: Arc<dyn Objects>,
    /// Writers of one partition in this process take turns (striped by key); the conditional
    /// writes then only arbitrate between processes.
    stripes: Arc<[tokio::sync::Mutex<()>; 64]>,
    counters: Arc<Counters>,
    prefix: String,
    concurrency: usize,
    write_attempts: u32,
    verify_writes: bool,
    /// Where each series' daily bars start ([`ParquetArchive::instruments`]).
    instruments: Arc<InstrumentRegistry>,
    /// Series whose legacy folder this process has emptied (only symbols holding `=` have
    /// one; see [`layout`](crate::layout)).
    adopted: Arc<std::sync::Mutex<HashSet<(Symbol, Timeframe)>>>,
}

/// Why a stored partition was not read.
enum Unreadable {
    /// It is damaged: its bars are missing, and it can be quarantined.
    Damaged(DamagedPartition),
    /// It is intact but not readable as asked (another alignment of the series): refused.
    Refused(StoreError),
}

/// A partition's fetched content.
enum Fetched {
    Absent,
    Bars(OhlcvFrame),
    Damaged(DamagedPartition),
}

impl ParquetArchive {
    /// An archive in the directory `root` (created on the first write). A relative `root` is
    /// made absolute against the current directory, so reports name files wherever they are
    /// read.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        let root: PathBuf = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        Self::with_objects(Arc::new(LocalObjects { root }), "")
    }

    /// An archive in `bucket` under `prefix`, through `client` (configure it with
    /// `force_path_style(true)` for MinIO, moto and other S3-compatible stores).
    #[cfg(feature = "s3")]
    pub fn s3(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Self::with_objects(
            Arc::new(S3Objects {
                client,
                bucket: bucket.into(),
            }),
            &prefix.into(),
        )
    }

    /// An archive at `location`: `s3://bucket/prefix` (the client built from `aws` with the
    /// standard AWS chain) or a local directory path (`file://` optional).
    ///
    /// # Errors
    /// [`StoreError::InvalidRequest`] for an `s3://` location without a bucket.
    #[cfg(feature = "s3")]
    pub async fn open(
        location: &str,
        aws: &axia_aws::AwsSettings,
        force_path_style: bool,
    ) -> Result<Self, StoreError> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::InvalidRequest(format!(
                    "no bucket in {location:?}"
                )));
            }
            let conf = axia_aws::load_sdk_config(aws).await;
            let client = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&conf)
                    .force_path_style(force_path_style)
                    .build(),
            );
            Ok(Self::s3(client, bucket, prefix))
        } else {
            Ok(Self::local(
                location.strip_prefix("file://").unwrap_or(location),
            ))
        }
    }

    fn with_objects(objects: Arc<dyn Objects>, prefix: &str) -> Self {
        Self {
            objects,
            stripes: Arc::new(std::array::from_fn(|_| tokio::sync::Mutex::new(()))),
            counters: Arc::default(),
            prefix: prefix_slash(prefix),
            concurrency: 8,
            write_attempts: 10,
            verify_writes: false,
            instruments: Arc::new(InstrumentRegistry::shared_builtin().clone()),
            adopted: Arc::default(),
        }
    }

    /// The instruments whose daily alignment lays out each series (default: the built-in
    /// registry, all UTC midnight). A series aligned to the New York close is partitioned by
    /// trading date; saving a frame of another alignment, or reading files written under
    /// another one, is refused with [`FrameError::AlignmentMismatch`](axia_domain::FrameError).
    #[must_use]
    pub fn instruments(mut self, instruments: Arc<InstrumentRegistry>) -> Self {
        self.instruments = instruments;
        self
    }

    /// The daily alignment of a series of `symbol`.
    #[must_use]
    pub fn alignment_of(&self, symbol: &Symbol) -> DailyAlignment {
        self.instruments.resolve(symbol).alignment()
    }

    /// Read every partition back after writing it, and merge again if a concurrent writer
    /// replaced it (default off: one more GET per partition written). Turn it on for a store
    /// whose conditional writes are not atomic under concurrency; AWS S3's and a local
    /// directory's are.
    #[must_use]
    pub const fn verify_writes(mut self, on: bool) -> Self {
        self.verify_writes = on;
        self
    }

    /// How many partitions are fetched at once (default 8).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The object key of a partition, as stored.
    #[must_use]
    pub fn key(&self, symbol: &Symbol, timeframe: Timeframe, partition: &Partition) -> String {
        object_key(&self.prefix, symbol, timeframe, partition)
    }

    /// Where the partition is, as errors and reports name it (`s3://bucket/key` or a path).
    #[must_use]
    pub fn locate(&self, symbol: &Symbol, timeframe: Timeframe, partition: &Partition) -> String {
        self.objects.locate(&self.key(symbol, timeframe, partition))
    }

    /// Requests made and what was found, since this archive (or the one it was cloned from)
    /// was built.
    #[must_use]
    pub fn counters(&self) -> ArchiveCounters {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ArchiveCounters {
            gets: get(&c.gets),
            puts: get(&c.puts),
            lists: get(&c.lists),
            partitions_written: get(&c.partitions_written),
            damaged_reads: get(&c.damaged_reads),
            quarantined: get(&c.quarantined),
        }
    }

    async fn get_object(&self, key: &str) -> Result<Option<(Bytes, Tag)>, StoreError> {
        bump(&self.counters.gets);
        self.objects.get(key).await
    }

    async fn put_object(&self, key: &str, body: Bytes, expect: Expect) -> Result<Put, StoreError> {
        bump(&self.counters.puts);
        let put = self.objects.put(key, body, expect).await?;
        if put == Put::Written {
            bump(&self.counters.partitions_written);
        }
        Ok(put)
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<crate::objects::Listed>, StoreError> {
        bump(&self.counters.lists);
        self.objects.list(prefix).await
    }

    /// Decodes a stored partition, checking that it belongs where it is stored.
    async fn decode(
        &self,
        key: &str,
        bytes: Bytes,
        symbol: &Symbol,
        timeframe: Timeframe,
        partition: TimeRange,
    ) -> Result<OhlcvFrame, Unreadable> {
        let s = symbol.clone();
        let alignment = self.alignment_of(symbol);
        let decoded =
            tokio::task::spawn_blocking(move || format::decode(&bytes, &s, timeframe, alignment))
                .await
                .map_err(|e| format::FormatError::Malformed(format!("decode task failed: {e}")))
                .and_then(|r| r);
        let damaged = |reason: String| {
            Unreadable::Damaged(DamagedPartition {
                object: self.objects.locate(key),
                range: partition,
                reason,
            })
        };
        let frame = match decoded {
            Ok(f) => f,
            Err(format::FormatError::Alignment(e)) => {
                return Err(Unreadable::Refused(StoreError::Frame(e)));
            }
            Err(e) => return Err(damaged(e.to_string())),
        };
        match (frame.first_time(), frame.last_time()) {
            (Some(a), Some(b)) if !partition.contains(a) || !partition.contains(b) => Err(damaged(
                format!("holds bars outside its period {partition}"),
            )),
            _ => Ok(frame),
        }
    }

    async fn encode(frame: OhlcvFrame) -> Result<Bytes, StoreError> {
        tokio::task::spawn_blocking(move || format::encode(&frame))
            .await
            .map_err(|e| StoreError::Backend(format!("encode task failed: {e}").into()))?
            .map(Bytes::from)
            .map_err(|e| StoreError::Backend(Box::new(e)))
    }

    async fn fetch(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        p: &Partition,
    ) -> Result<Fetched, StoreError> {
        let key = self.key(symbol, timeframe, p);
        Ok(match self.get_object(&key).await? {
            None => Fetched::Absent,
            Some((bytes, _)) => match self.decode(&key, bytes, symbol, timeframe, p.range).await {
                Ok(f) => Fetched::Bars(f),
                Err(Unreadable::Refused(e)) => return Err(e),
                Err(Unreadable::Damaged(d)) => {
                    bump(&self.counters.damaged_reads);
                    tracing::error!(
                        object = d.object,
                        reason = d.reason,
                        "damaged archive partition: its bars are treated as missing"
                    );
                    Fetched::Damaged(d)
                }
            },
        })
    }

    /// Reads the bars of `range` and says which partitions were absent or damaged.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` from the object store; never for a damaged partition.
    pub async fn load(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Loaded, StoreError> {
        self.adopt_legacy(symbol, timeframe).await?;
        let alignment = self.alignment_of(symbol);
        let parts = partitions_for(timeframe, alignment, range);
        // Past a few partitions one listing is cheaper than a request per possible partition
        // (a year of M1 is 365 of them, most of which may not exist).
        let existing: Option<HashSet<String>> = if parts.len() > LIST_FIRST_ABOVE {
            Some(self.existing(symbol, timeframe).await?)
        } else {
            None
        };
        let existing = &existing;
        let fetched: Vec<(Partition, Fetched)> = stream::iter(parts)
            .map(|p| async move {
                if existing.as_ref().is_some_and(|e| !e.contains(&p.name)) {
                    return Ok::<_, StoreError>((p, Fetched::Absent));
                }
                let f = self.fetch(symbol, timeframe, &p).await?;
                Ok((p, f))
            })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        let mut cols = OhlcvColumns::default();
        let mut out = Loaded {
            frame: OhlcvFrame::empty_on(symbol.clone(), timeframe.aligned(alignment)),
            present: Vec::new(),
            absent: Vec::new(),
            damaged: Vec::new(),
        };
        for (p, fetched) in fetched {
            match fetched {
                Fetched::Absent => out.absent.push(p.name),
                Fetched::Damaged(d) => out.damaged.push(d),
                Fetched::Bars(f) => {
                    out.present.push(p.name);
                    let c = f.into_columns();
                    cols.timestamps.extend(c.timestamps);
                    cols.open.extend(c.open);
                    cols.high.extend(c.high);
                    cols.low.extend(c.low);
                    cols.close.extend(c.close);
                    cols.volume.extend(c.volume);
                }
            }
        }
        out.frame =
            OhlcvFrame::from_columns_on(symbol.clone(), timeframe.aligned(alignment), cols)?
                .into_slice(range);
        Ok(out)
    }

    async fn existing(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<HashSet<String>, StoreError> {
        Ok(self
            .coverage(symbol, timeframe)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect())
    }

    /// The stored partitions of a series, oldest first.
    ///
    /// # Errors
    /// As [`ParquetArchive::load`].
    pub async fn coverage(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Vec<PartitionInfo>, StoreError> {
        self.adopt_legacy(symbol, timeframe).await?;
        let dir = format!("{}/", series_dir(&self.prefix, symbol, timeframe));
        let alignment = self.alignment_of(symbol);
        let mut out = Vec::new();
        for o in self.list_objects(&dir).await? {
            if let Some((s, tf, name)) = parse_key(&self.prefix, &o.key)
                && s == *symbol
                && tf == timeframe
                && let Some(range) = partition_range(timeframe, alignment, &name)
            {
                out.push(PartitionInfo {
                    name,
                    range,
                    bytes: o.bytes,
                });
            }
        }
        out.sort_by_key(|p| p.range.start());
        Ok(out)
    }

    /// True when the stored partition holds every bar of `part` as given.
    async fn holds(
        &self,
        key: &str,
        part: &OhlcvFrame,
        range: TimeRange,
    ) -> Result<bool, StoreError> {
        let Some((bytes, _)) = self.get_object(key).await? else {
            return Ok(false);
        };
        let stored = self
            .decode(key, bytes, part.symbol(), part.timeframe(), range)
            .await
            .map_err(unreadable)?;
        Ok(stored.merge(part)? == stored)
    }

    async fn save_partition(
        &self,
        key: String,
        range: TimeRange,
        part: OhlcvFrame,
        known_absent: bool,
    ) -> Result<(), StoreError> {
        let _turn = self.turn(&key).await;
        let (symbol, timeframe) = (part.symbol().clone(), part.timeframe());
        for attempt in 0..self.write_attempts {
            // A partition the listing did not show is created without reading it first; if
            // another writer created it meanwhile, the conditional create fails and the next
            // attempt reads and merges.
            let stored = if known_absent && attempt == 0 {
                None
            } else {
                self.get_object(&key).await?
            };
            let (merged, expect) = match stored {
                None => (part.clone(), Expect::Absent),
                Some((bytes, tag)) => {
                    let stored = self
                        .decode(&key, bytes, &symbol, timeframe, range)
                        .await
                        .map_err(unreadable)?;
                    let merged = stored.merge(&part)?;
                    if merged == stored {
                        return Ok(()); // nothing new: leave the object as it is
                    }
                    (merged, Expect::Version(tag))
                }
            };
            let body = Self::encode(merged).await?;
            match self.put_object(&key, body, expect).await? {
                // Verify: an S3-compatible store whose conditional writes are not atomic under
                // concurrency (moto, some older servers) can let a concurrent writer overwrite
                // this write; if our bars are gone, merge again.
                Put::Written if !self.verify_writes || self.holds(&key, &part, range).await? => {
                    return Ok(());
                }
                Put::Written => {
                    tracing::warn!(
                        key,
                        attempt,
                        "a concurrent write replaced ours; merging again"
                    );
                }
                Put::Conflict => {
                    tracing::debug!(key, attempt, "partition changed under us; merging again");
                    tokio::time::sleep(CONFLICT_BACKOFF.delay(attempt)).await;
                }
            }
        }
        Err(StoreError::Conflict(self.objects.locate(&key)))
    }

    /// Waits for this process's turn on the partition at `key` (writers of one partition take
    /// turns; the conditional writes then only arbitrate between processes).
    async fn turn(&self, key: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let stripe = key.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % 64;
        match self.stripes.get(stripe) {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// Moves a series' partitions out of the legacy folder (a symbol holding `=` written raw,
    /// which hive readers split wrongly) into the current one, once per series and process:
    /// each legacy partition's bars are merged into the current partition (written like any
    /// save), then the legacy file moves to `{prefix}superseded/…` (kept, outside `ohlcv/`),
    /// only if it is still the version that was merged. A damaged legacy file goes to
    /// quarantine as the current partition's would. A file rewritten meanwhile (by a process of
    /// an earlier version) stays, and the next process looks at the series again.
    async fn adopt_legacy(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<(), StoreError> {
        let Some(dir) = legacy_series_dir(&self.prefix, symbol, timeframe) else {
            return Ok(());
        };
        let series = (symbol.clone(), timeframe);
        if self.adopted.lock().is_ok_and(|done| done.contains(&series)) {
            return Ok(());
        }
        let alignment = self.alignment_of(symbol);
        let mut complete = true;
        for o in self.list_objects(&format!("{dir}/")).await? {
            let Some((s, tf, name)) = parse_key(&self.prefix, &o.key) else {
                continue;
            };
            let Some(range) = partition_range(tf, alignment, &name) else {
                continue;
            };
            if s != *symbol || tf != timeframe {
                continue;
            }
            let Some((bytes, tag)) = self.get_object(&o.key).await? else {
                continue; // moved meanwhile by another process
            };
            let p = Partition { name, range };
            let current = self.key(symbol, timeframe, &p);
            let mut damaged = false;
            let target = match self.decode(&o.key, bytes, symbol, timeframe, range).await {
                Ok(frame) => {
                    if !frame.is_empty() {
                        self.save_partition(current, range, frame, false).await?;
                    }
                    self.superseded_key(&o.key, Utc::now())
                }
                Err(Unreadable::Refused(e)) => return Err(e),
                // Its bars are missing either way; in quarantine it is listed with the
                // series' other damaged files and no longer breaks a scan of the tree.
                Err(Unreadable::Damaged(d)) => {
                    tracing::error!(
                        object = d.object,
                        reason = d.reason,
                        "damaged partition in the legacy layout: moved to quarantine"
                    );
                    damaged = true;
                    self.quarantine_key(&current, Utc::now())
                }
            };
            let Some(target) = target else {
                continue;
            };
            match self.objects.rename(&o.key, &target, &tag).await? {
                Put::Written => {
                    if damaged {
                        bump(&self.counters.quarantined);
                    }
                    tracing::info!(
                        from = self.objects.locate(&o.key),
                        to = self.objects.locate(&target),
                        "partition moved from the legacy layout"
                    );
                }
                // Rewritten meanwhile by a process of an earlier version: the next one merges
                // it again.
                Put::Conflict => complete = false,
            }
        }
        if complete && let Ok(mut done) = self.adopted.lock() {
            done.insert(series);
        }
        Ok(())
    }

    fn superseded_key(&self, key: &str, at: DateTime<Utc>) -> Option<String> {
        self.aside_key(key, SUPERSEDED, at, SUPERSEDED_SUFFIX)
    }

    fn quarantine_key(&self, key: &str, found_at: DateTime<Utc>) -> Option<String> {
        self.aside_key(key, QUARANTINE, found_at, QUARANTINE_SUFFIX)
    }

    /// Where a partition's file is kept outside the data tree: `{prefix}{area}/{its path}`,
    /// stamped with `at` and ending in `suffix` (never `.parquet`).
    fn aside_key(&self, key: &str, area: &str, at: DateTime<Utc>, suffix: &str) -> Option<String> {
        let rest = key.strip_prefix(&self.prefix)?;
        let stem = rest.strip_suffix(".parquet")?;
        Some(format!(
            "{}{area}/{stem}.{}{suffix}",
            self.prefix,
            at.format("%Y%m%dT%H%M%S%.3fZ")
        ))
    }
}

/// A partition met by a write that cannot be read: the write fails rather than overwrite it.
fn unreadable(u: Unreadable) -> StoreError {
    match u {
        Unreadable::Damaged(d) => StoreError::Corrupt {
            location: d.object,
            detail: d.reason,
        },
        Unreadable::Refused(e) => e,
    }
}

/// The range of the partition named `name` of `timeframe`, if it is a valid name.
fn partition_range(
    timeframe: Timeframe,
    alignment: DailyAlignment,
    name: &str,
) -> Option<TimeRange> {
    let first = match name.len() {
        10 => chrono::NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()?,
        7 => chrono::NaiveDate::parse_from_str(&format!("{name}-01"), "%Y-%m-%d").ok()?,
        4 => chrono::NaiveDate::parse_from_str(&format!("{name}-01-01"), "%Y-%m-%d").ok()?,
        _ => return None,
    };
    let p = crate::layout::partition_at(timeframe, alignment, alignment.day_start(first));
    (p.name == name).then_some(p.range)
}

#[async_trait]
impl OhlcvStore for ParquetArchive {
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, StoreError> {
        Ok(self.load(symbol, timeframe, range).await?.frame)
    }

    async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError> {
        if frame.forming().is_some() {
            tracing::debug!(symbol = %frame.symbol(), timeframe = %frame.timeframe(),
                "the forming bar is not archived");
        }
        let frame = frame.closed();
        let (Some(first), Some(last)) = (frame.first_time(), frame.last_time()) else {
            return Ok(());
        };
        let span = TimeRange::covering(first, last)
            .map_err(|e| StoreError::InvalidRequest(e.to_string()))?;
        let (symbol, timeframe) = (&frame.symbol().clone(), frame.timeframe());
        let alignment = self.alignment_of(symbol);
        // Up to H1 both alignments give the same bars: the series' label is taken.
        let frame = if timeframe.is_alignment_free() {
            frame.with_alignment(alignment)?
        } else {
            frame
        };
        if frame.alignment() != alignment {
            return Err(StoreError::Frame(FrameError::AlignmentMismatch {
                symbol: symbol.clone(),
                timeframe,
                left: alignment,
                right: frame.alignment(),
            }));
        }
        self.adopt_legacy(symbol, timeframe).await?;
        let parts = partitions_for(timeframe, alignment, span);
        let existing = if parts.len() > LIST_FIRST_ABOVE {
            Some(self.existing(symbol, timeframe).await?)
        } else {
            None
        };
        // Oldest first, one at a time: a save cut short leaves a prefix, never a hole.
        for p in parts {
            let part = frame.slice(p.range);
            if part.is_empty() {
                continue;
            }
            let absent = existing.as_ref().is_some_and(|e| !e.contains(&p.name));
            self.save_partition(self.key(symbol, timeframe, &p), p.range, part, absent)
                .await?;
        }
        Ok(())
    }

    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let mut series: BTreeMap<(Symbol, Timeframe), u64> = BTreeMap::new();
        for o in self.list_objects(&format!("{}ohlcv/", self.prefix)).await? {
            if let Some((s, tf, _)) = parse_key(&self.prefix, &o.key) {
                *series.entry((s, tf)).or_insert(0) += o.bytes;
            }
        }
        let bytes_used = series.values().sum();
        let datasets = series
            .into_iter()
            .map(|((symbol, timeframe), bytes)| DatasetInfo {
                symbol,
                timeframe,
                bars: None,
                oldest: None,
                newest: None,
                bytes: Some(bytes),
            })
            .collect();
        Ok(StoreInfo {
            datasets,
            bytes_used: Some(bytes_used),
            health: StoreHealth::Ok,
        })
    }
}

#[async_trait]
impl BarArchive for ParquetArchive {
    async fn read(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<ArchiveRead, StoreError> {
        let loaded = self.load(symbol, timeframe, range).await?;
        Ok(ArchiveRead {
            frame: loaded.frame,
            damaged: loaded.damaged,
        })
    }

    async fn newest(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<NewestBar, StoreError> {
        let mut damaged = Vec::new();
        for info in self.coverage(symbol, timeframe).await?.into_iter().rev() {
            let p = Partition {
                name: info.name,
                range: info.range,
            };
            match self.fetch(symbol, timeframe, &p).await? {
                Fetched::Bars(f) if !f.is_empty() => {
                    return Ok(NewestBar {
                        open: f.last_time(),
                        damaged,
                    });
                }
                Fetched::Damaged(d) => damaged.push(d),
                Fetched::Bars(_) | Fetched::Absent => {}
            }
        }
        Ok(NewestBar {
            open: None,
            damaged,
        })
    }

    async fn quarantine(
        &self,
        damaged: &DamagedPartition,
        found_at: DateTime<Utc>,
    ) -> Result<QuarantinedFile, StoreError> {
        let invalid = || {
            StoreError::InvalidRequest(format!(
                "{} is not a partition of this archive",
                damaged.object
            ))
        };
        let key = self.objects.key_of(&damaged.object).ok_or_else(invalid)?;
        let (symbol, timeframe, name) = parse_key(&self.prefix, &key).ok_or_else(invalid)?;
        let range =
            partition_range(timeframe, self.alignment_of(&symbol), &name).ok_or_else(invalid)?;
        let target = self.quarantine_key(&key, found_at).ok_or_else(invalid)?;
        let _turn = self.turn(&key).await;
        // Move it only while it is still the damaged file (it may have been repaired).
        let Some((bytes, tag)) = self.get_object(&key).await? else {
            return Err(StoreError::Conflict(damaged.object.clone()));
        };
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        match self.decode(&key, bytes, &symbol, timeframe, range).await {
            Ok(_) => return Err(StoreError::Conflict(damaged.object.clone())),
            // Intact, under another alignment: not damage, never moved.
            Err(Unreadable::Refused(e)) => return Err(e),
            Err(Unreadable::Damaged(_)) => {}
        }
        match self.objects.rename(&key, &target, &tag).await? {
            Put::Written => {
                bump(&self.counters.quarantined);
                let moved = QuarantinedFile {
                    object: self.objects.locate(&target),
                    original: damaged.object.clone(),
                    found_at,
                    bytes: size,
                };
                tracing::warn!(
                    from = moved.original,
                    to = moved.object,
                    reason = damaged.reason,
                    "damaged archive partition moved to quarantine"
                );
                Ok(moved)
            }
            Put::Conflict => Err(StoreError::Conflict(damaged.object.clone())),
        }
    }

    async fn quarantined(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Vec<QuarantinedFile>, StoreError> {
        // The series' quarantine folder, and for a symbol holding `=` the one versions before
        // the `%3D` encoding wrote (the symbol as it is), with the folder its files came from.
        let folders = std::iter::once((
            series_dir("", symbol, timeframe),
            series_dir(&self.prefix, symbol, timeframe),
        ))
        .chain(
            legacy_series_dir("", symbol, timeframe).zip(legacy_series_dir(
                &self.prefix,
                symbol,
                timeframe,
            )),
        );
        let mut out = Vec::new();
        for (quarantined, came_from) in folders {
            let dir = format!("{}{QUARANTINE}/{quarantined}/", self.prefix);
            for o in self.list_objects(&dir).await? {
                // `{partition}.{found}.damaged`
                let Some(file) = o.key.rsplit('/').next() else {
                    continue;
                };
                let Some((partition, found)) = file
                    .strip_suffix(QUARANTINE_SUFFIX)
                    .and_then(|f| f.split_once('.'))
                else {
                    continue;
                };
                let Ok(found_at) =
                    chrono::NaiveDateTime::parse_from_str(found, "%Y%m%dT%H%M%S%.3fZ")
                else {
                    continue;
                };
                out.push(QuarantinedFile {
                    object: self.objects.locate(&o.key),
                    original: self
                        .objects
                        .locate(&format!("{came_from}/{partition}.parquet")),
                    found_at: found_at.and_utc(),
                    bytes: o.bytes,
                });
            }
        }
        out.sort_by_key(|q| q.found_at);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn temp_root(what: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "axia-parquet-{what}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ))
    }

    #[tokio::test]
    async fn written_partitions_are_read_back_only_when_asked() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
        let day = TimeRange::new(now - chrono::Duration::hours(6), now).unwrap();
        let sym: Symbol = "USDJPY".parse().unwrap();
        let frame = axia_simbroker::generate(1, &sym, Timeframe::M1, day, now).unwrap();
        for (verify, gets_per_new_partition) in [(false, 1), (true, 2)] {
            let root = temp_root(&format!("verify-{verify}"));
            let archive = ParquetArchive::local(&root).verify_writes(verify);
            archive.save(&frame).await.unwrap();
            // One day partition: the read before the conditional write, then the read-back.
            assert_eq!(archive.counters().gets, gets_per_new_partition);
            assert_eq!(archive.get(&sym, Timeframe::M1, day).await.unwrap(), frame);
            let _ = std::fs::remove_dir_all(root);
        }
    }

    #[tokio::test]
    async fn partitions_a_listing_shows_absent_are_created_without_a_read() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
        let days = TimeRange::new(now - chrono::Duration::days(10), now).unwrap();
        let sym: Symbol = "EURUSD".parse().unwrap();
        let frame = axia_simbroker::generate(1, &sym, Timeframe::M5, days, now).unwrap();
        let root = temp_root("optimistic");
        let archive = ParquetArchive::local(&root);
        archive.save(&frame).await.unwrap();
        let c = archive.counters();
        // A day partition for every day with bars: one listing, then one conditional create
        // each and no read.
        assert_eq!((c.lists, c.gets), (1, 0));
        assert_eq!(c.puts, c.partitions_written);
        assert_eq!(archive.get(&sym, Timeframe::M5, days).await.unwrap(), frame);
        let _ = std::fs::remove_dir_all(root);
    }

    #[tokio::test]
    async fn the_forming_bar_is_never_archived() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 30, 0).unwrap();
        let range = TimeRange::new(now - chrono::Duration::hours(5), now).unwrap();
        let sym: Symbol = "GBPUSD".parse().unwrap();
        let frame = axia_simbroker::generate(1, &sym, Timeframe::H1, range, now).unwrap();
        assert!(frame.forming().is_some(), "12:00 is still forming at 12:30");
        let root = temp_root("forming");
        let archive = ParquetArchive::local(&root);
        archive.save(&frame).await.unwrap();
        assert_eq!(
            archive.get(&sym, Timeframe::H1, range).await.unwrap(),
            frame.closed()
        );
        let _ = std::fs::remove_dir_all(root);
    }
}
