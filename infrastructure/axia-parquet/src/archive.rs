//! [`ParquetArchive`]: the [`OhlcvStore`] on Parquet objects.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    DatasetInfo, OhlcvColumns, OhlcvFrame, OhlcvStore, StoreError, StoreHealth, StoreInfo, Symbol,
    TimeRange, Timeframe,
};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::format;
use crate::layout::{Partition, object_key, parse_key, partitions_for, prefix_slash, series_dir};
use crate::objects::{Expect, LocalObjects, Objects, Put, S3Objects};

/// Above this many partitions in a range, `load` lists the series first.
const LIST_FIRST_ABOVE: usize = 4;

/// What [`ParquetArchive::load`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The bars that open in the range, from every partition present.
    pub frame: OhlcvFrame,
    /// Partitions read.
    pub present: Vec<String>,
    /// Partitions of the range that do not exist (not an error: nothing was archived there).
    pub absent: Vec<String>,
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

/// The cold tier: every bar kept forever as hive-partitioned Parquet
/// ([`layout`](crate::layout), [`format`](crate::format)) in an S3 bucket or a local directory.
///
/// - `save` splits a frame by partition and merges each into what is stored (upsert by open
///   time, the incoming bars win), writing whole files. A partition whose content would not
///   change is not rewritten, so saving the same frame twice leaves identical objects. Writers
///   never lose each other's bars: each write is conditional on the version read (S3
///   `If-None-Match: *` / `If-Match: <etag>`; locally a lock file and a content hash) and is
///   retried from a fresh read when another writer got there first. Writers in one process take
///   turns per partition, so the conditions only arbitrate between processes; for a store whose
///   conditional writes are not atomic (moto, old S3-compatible servers),
///   [`verify_writes`](ParquetArchive::verify_writes) reads each written partition back and
///   merges again if a concurrent write replaced it (it narrows that race, it cannot close it).
///   Each partition is replaced
///   atomically; a save that fails part-way has written some partitions whole and none half,
///   and running it again completes it.
/// - `get`/[`load`](ParquetArchive::load) fetch the range's partitions concurrently (bounded;
///   for a range of more than four partitions, only those a listing of the series shows exist),
///   decode them on blocking threads, and return one validated frame; missing partitions are
///   not errors ([`Loaded::absent`] names them). An object that does not decode is
///   [`StoreError::Corrupt`] naming it.
#[derive(Debug, Clone)]
pub struct ParquetArchive {
    objects: Arc<dyn Objects>,
    /// Writers of one partition in this process take turns (striped by key); the conditional
    /// writes then only arbitrate between processes.
    stripes: Arc<[tokio::sync::Mutex<()>; 64]>,
    prefix: String,
    concurrency: usize,
    write_attempts: u32,
    verify_writes: bool,
}

impl ParquetArchive {
    /// An archive in the directory `root` (created on the first write).
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::with_objects(Arc::new(LocalObjects { root: root.into() }), "")
    }

    /// An archive in `bucket` under `prefix`, through `client` (configure it with
    /// `force_path_style(true)` for MinIO, moto and other S3-compatible stores).
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
            prefix: prefix_slash(prefix),
            concurrency: 8,
            write_attempts: 10,
            verify_writes: false,
        }
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

    /// How many partitions are fetched or written at once (default 8).
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

    async fn decode(
        &self,
        key: &str,
        bytes: Bytes,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<OhlcvFrame, StoreError> {
        let s = symbol.clone();
        let decoded = tokio::task::spawn_blocking(move || format::decode(&bytes, &s, timeframe))
            .await
            .map_err(|e| StoreError::Backend(format!("decode task failed: {e}").into()))?;
        decoded.map_err(|e| StoreError::Corrupt {
            location: self.objects.locate(key),
            detail: e.to_string(),
        })
    }

    async fn encode(frame: OhlcvFrame) -> Result<Bytes, StoreError> {
        tokio::task::spawn_blocking(move || format::encode(&frame))
            .await
            .map_err(|e| StoreError::Backend(format!("encode task failed: {e}").into()))?
            .map(Bytes::from)
            .map_err(|e| StoreError::Backend(Box::new(e)))
    }

    /// Reads the bars of `range` and says which partitions were absent.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming an undecodable object; `Unavailable`/`Timeout`/`Backend`
    /// from the object store.
    pub async fn load(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Loaded, StoreError> {
        let parts = partitions_for(timeframe, range);
        // Past a few partitions one listing is cheaper than a request per possible partition
        // (a year of M1 is 365 of them, most of which may not exist).
        let existing: Option<std::collections::HashSet<String>> = if parts.len() > LIST_FIRST_ABOVE
        {
            Some(
                self.coverage(symbol, timeframe)
                    .await?
                    .into_iter()
                    .map(|p| p.name)
                    .collect(),
            )
        } else {
            None
        };
        let existing = &existing;
        let fetched: Vec<(Partition, Option<OhlcvFrame>)> = stream::iter(parts)
            .map(|p| async move {
                if existing.as_ref().is_some_and(|e| !e.contains(&p.name)) {
                    return Ok::<_, StoreError>((p, None));
                }
                let key = self.key(symbol, timeframe, &p);
                match self.objects.get(&key).await? {
                    None => Ok::<_, StoreError>((p, None)),
                    Some((bytes, _)) => {
                        Ok((p, Some(self.decode(&key, bytes, symbol, timeframe).await?)))
                    }
                }
            })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        let mut cols = OhlcvColumns::default();
        let (mut present, mut absent) = (Vec::new(), Vec::new());
        for (p, frame) in fetched {
            match frame {
                None => absent.push(p.name),
                Some(f) => {
                    present.push(p.name);
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
        let frame = OhlcvFrame::from_columns(symbol.clone(), timeframe, cols)?.into_slice(range);
        Ok(Loaded {
            frame,
            present,
            absent,
        })
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
        let dir = format!("{}/", series_dir(&self.prefix, symbol, timeframe));
        let mut out = Vec::new();
        for o in self.objects.list(&dir).await? {
            if let Some((s, tf, name)) = parse_key(&self.prefix, &o.key)
                && s == *symbol
                && tf == timeframe
                && let Some(range) = partition_range(timeframe, &name)
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
    async fn holds(&self, key: &str, part: &OhlcvFrame) -> Result<bool, StoreError> {
        let Some((bytes, _)) = self.objects.get(key).await? else {
            return Ok(false);
        };
        let stored = self
            .decode(key, bytes, part.symbol(), part.timeframe())
            .await?;
        Ok(stored.merge(part)? == stored)
    }

    async fn save_partition(&self, key: String, part: OhlcvFrame) -> Result<(), StoreError> {
        let stripe = key.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % 64;
        let _turn = match self.stripes.get(stripe) {
            Some(m) => Some(m.lock().await),
            None => None,
        };
        let (symbol, timeframe) = (part.symbol().clone(), part.timeframe());
        for attempt in 0..self.write_attempts {
            let (merged, expect) = match self.objects.get(&key).await? {
                None => (part.clone(), Expect::Absent),
                Some((bytes, tag)) => {
                    let stored = self.decode(&key, bytes, &symbol, timeframe).await?;
                    let merged = stored.merge(&part)?;
                    if merged == stored {
                        return Ok(()); // nothing new: leave the object as it is
                    }
                    (merged, Expect::Version(tag))
                }
            };
            let body = Self::encode(merged).await?;
            match self.objects.put(&key, body, expect).await? {
                // Verify: an S3-compatible store whose conditional writes are not atomic under
                // concurrency (moto, some older servers) can let a concurrent writer overwrite
                // this write; if our bars are gone, merge again.
                Put::Written if !self.verify_writes || self.holds(&key, &part).await? => {
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
                    let jitter = u64::from(std::process::id() % 7);
                    tokio::time::sleep(Duration::from_millis((5 << attempt.min(6)) + jitter)).await;
                }
            }
        }
        Err(StoreError::Conflict(self.objects.locate(&key)))
    }
}

/// The range of the partition named `name` of `timeframe`, if it is a valid name.
fn partition_range(timeframe: Timeframe, name: &str) -> Option<TimeRange> {
    let first = match name.len() {
        10 => chrono::NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()?,
        7 => chrono::NaiveDate::parse_from_str(&format!("{name}-01"), "%Y-%m-%d").ok()?,
        4 => chrono::NaiveDate::parse_from_str(&format!("{name}-01-01"), "%Y-%m-%d").ok()?,
        _ => return None,
    };
    let p = crate::layout::partition_at(timeframe, first.and_hms_opt(0, 0, 0)?.and_utc());
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
        let (Some(first), Some(last)) = (frame.first_time(), frame.last_time()) else {
            return Ok(());
        };
        let span = TimeRange::new(first, last + chrono::Duration::milliseconds(1))
            .map_err(|e| StoreError::InvalidRequest(e.to_string()))?;
        let writes: Vec<_> = partitions_for(frame.timeframe(), span)
            .into_iter()
            .filter_map(|p| {
                let part = frame.slice(p.range);
                (!part.is_empty()).then(|| (self.key(frame.symbol(), frame.timeframe(), &p), part))
            })
            .collect();
        stream::iter(writes)
            .map(|(key, part)| self.save_partition(key, part))
            .buffer_unordered(self.concurrency)
            .try_collect::<()>()
            .await
    }

    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let mut series: BTreeMap<(Symbol, Timeframe), u64> = BTreeMap::new();
        for o in self.objects.list(&format!("{}ohlcv/", self.prefix)).await? {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::objects::Listed;

    /// Local objects that count the reads.
    #[derive(Debug)]
    struct CountingGets {
        inner: LocalObjects,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl Objects for CountingGets {
        async fn get(&self, key: &str) -> Result<Option<(Bytes, crate::objects::Tag)>, StoreError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.inner.get(key).await
        }
        async fn put(&self, key: &str, body: Bytes, expect: Expect) -> Result<Put, StoreError> {
            self.inner.put(key, body, expect).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
            self.inner.list(prefix).await
        }
        fn locate(&self, key: &str) -> String {
            self.inner.locate(key)
        }
    }

    #[tokio::test]
    async fn written_partitions_are_read_back_only_when_asked() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
        let day = TimeRange::new(now - chrono::Duration::hours(6), now).unwrap();
        let sym: Symbol = "USDJPY".parse().unwrap();
        let frame = axia_simbroker::generate(1, &sym, Timeframe::M1, day, now).unwrap();
        for (verify, gets_per_new_partition) in [(false, 1), (true, 2)] {
            let root = std::env::temp_dir().join(format!(
                "axia-parquet-verify-{}-{verify}-{}",
                std::process::id(),
                Utc::now().timestamp_nanos_opt().unwrap_or_default()
            ));
            let objects = Arc::new(CountingGets {
                inner: LocalObjects { root: root.clone() },
                gets: AtomicUsize::new(0),
            });
            let archive = ParquetArchive::with_objects(objects.clone(), "").verify_writes(verify);
            archive.save(&frame).await.unwrap();
            // One day partition: the read before the conditional write, then the read-back.
            assert_eq!(objects.gets.load(Ordering::SeqCst), gets_per_new_partition);
            assert_eq!(archive.get(&sym, Timeframe::M1, day).await.unwrap(), frame);
            let _ = std::fs::remove_dir_all(root);
        }
    }
}
