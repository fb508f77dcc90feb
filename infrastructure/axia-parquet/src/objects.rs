//! Object backends with conditional writes: S3, and a local directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
#[cfg(feature = "s3")]
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
#[cfg(feature = "s3")]
use aws_sdk_s3::primitives::ByteStream;
use axia_domain::StoreError;
use bytes::Bytes;

/// Identifies the version of an object a writer read (an S3 ETag, a content hash locally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag(pub(crate) String);

/// What must hold for a write to go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    /// The object does not exist.
    Absent,
    /// The object is still the version read.
    Version(Tag),
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Put {
    Written,
    /// Another writer changed the object since it was read.
    Conflict,
}

/// An object listed, with its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) key: String,
    pub(crate) bytes: u64,
}

#[async_trait]
pub(crate) trait Objects: Send + Sync + std::fmt::Debug {
    /// The object and its version, or `None` when absent.
    async fn get(&self, key: &str) -> Result<Option<(Bytes, Tag)>, StoreError>;
    /// Writes the whole object if `expect` holds; never leaves a partial object.
    async fn put(&self, key: &str, body: Bytes, expect: Expect) -> Result<Put, StoreError>;
    /// Every data object under `prefix` (hidden files, locks and temporaries excluded).
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError>;
    /// The names of the folders directly under `prefix` (which ends with `/`): one listing,
    /// however many objects they hold (hidden folders excluded).
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Moves the object `from` to `to` if it is still version `tag`: the bytes arrive at `to`
    /// whole before `from` is removed. `Put::Conflict` when `from` changed or is gone.
    async fn rename(&self, from: &str, to: &str, tag: &Tag) -> Result<Put, StoreError>;
    /// Where the objects are, for error messages (`s3://bucket/key`, a path).
    fn locate(&self, key: &str) -> String;
    /// The key of a location [`Objects::locate`] gave.
    fn key_of(&self, location: &str) -> Option<String>;
}

// ---------------------------------------------------------------------------------------------

/// Objects in an S3 bucket (or any S3-compatible store).
#[cfg(feature = "s3")]
#[derive(Debug, Clone)]
pub(crate) struct S3Objects {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
}

#[cfg(feature = "s3")]
fn s3_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    what: &str,
) -> StoreError {
    match &e {
        SdkError::TimeoutError(_) => StoreError::Timeout(std::time::Duration::ZERO),
        SdkError::DispatchFailure(f) if f.is_timeout() => {
            StoreError::Timeout(std::time::Duration::ZERO)
        }
        SdkError::DispatchFailure(_) => StoreError::Unavailable(format!("S3 unreachable ({what})")),
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or("unknown");
            if status >= 500 {
                StoreError::Unavailable(format!("S3 answered {status} {code} ({what})"))
            } else {
                StoreError::Backend(format!("S3 {code} ({what})").into())
            }
        }
        _ => StoreError::Backend(
            format!(
                "S3 ({what}): {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
            .into(),
        ),
    }
}

#[cfg(feature = "s3")]
#[async_trait]
impl Objects for S3Objects {
    async fn get(&self, key: &str) -> Result<Option<(Bytes, Tag)>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(SdkError::ServiceError(se)) if se.err().is_no_such_key() => return Ok(None),
            Err(e) => return Err(s3_error(e, &self.locate(key))),
        };
        let tag = Tag(out.e_tag().unwrap_or_default().to_owned());
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading {}: {e}", self.locate(key))))?
            .into_bytes();
        Ok(Some((body, tag)))
    }

    async fn put(&self, key: &str, body: Bytes, expect: Expect) -> Result<Put, StoreError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body));
        let req = match expect {
            Expect::Absent => req.if_none_match("*"),
            Expect::Version(Tag(etag)) => req.if_match(etag),
        };
        match req.send().await {
            Ok(_) => Ok(Put::Written),
            Err(SdkError::ServiceError(se))
                // 412: the condition failed; 409: a concurrent conditional write is in flight.
                if matches!(se.raw().status().as_u16(), 412 | 409) =>
            {
                Ok(Put::Conflict)
            }
            Err(e) => Err(s3_error(e, &self.locate(key))),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error(e, &self.locate(prefix)))?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    out.push(Listed {
                        key: key.to_owned(),
                        bytes: u64::try_from(o.size().unwrap_or(0)).unwrap_or(0),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error(e, &self.locate(prefix)))?;
            for p in page.common_prefixes() {
                if let Some(name) = p
                    .prefix()
                    .and_then(|k| k.strip_prefix(prefix))
                    .map(|k| k.trim_end_matches('/'))
                    .filter(|n| !n.is_empty() && !n.starts_with('.'))
                {
                    out.push(name.to_owned());
                }
            }
        }
        Ok(out)
    }

    async fn rename(&self, from: &str, to: &str, tag: &Tag) -> Result<Put, StoreError> {
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(format!("{}/{}", self.bucket, encode_key(from)))
            .copy_source_if_match(&tag.0)
            .send()
            .await;
        match copied {
            Ok(_) => {}
            Err(SdkError::ServiceError(se)) if matches!(se.raw().status().as_u16(), 412 | 404) => {
                return Ok(Put::Conflict);
            }
            Err(e) => return Err(s3_error(e, &self.locate(from))),
        }
        // Only the version copied: a partition rebuilt meanwhile by another process stays.
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(from)
            .if_match(&tag.0)
            .send()
            .await
        {
            Ok(_) => Ok(Put::Written),
            Err(SdkError::ServiceError(se)) if se.raw().status().as_u16() == 412 => {
                Ok(Put::Conflict)
            }
            Err(e) => Err(s3_error(e, &self.locate(from))),
        }
    }

    fn locate(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn key_of(&self, location: &str) -> Option<String> {
        location
            .strip_prefix("s3://")?
            .strip_prefix(self.bucket.as_str())?
            .strip_prefix('/')
            .map(str::to_owned)
    }
}

/// Percent-encodes an object key for `x-amz-copy-source` (keys hold `=`; `/` stays).
#[cfg(feature = "s3")]
fn encode_key(key: &str) -> String {
    axia_http::percent_encode(key, b"/")
}

// ---------------------------------------------------------------------------------------------

/// Objects as files under a root directory. Writes go to a temporary file that is renamed over
/// the object, so readers see the old or the new file, never a partial one; a conditional write
/// holds an exclusive lock on a lock file while it compares and renames, so writers in other
/// processes on the same host cannot interleave. Lock files and temporaries live under
/// `{root}/.axia/` (hidden, on the same file system for the rename), never beside the data
/// files, so any folder of the tree holds Parquet files only.
#[derive(Debug, Clone)]
pub(crate) struct LocalObjects {
    pub(crate) root: PathBuf,
}

/// The hidden folder of lock files and temporaries under a local archive's root.
pub(crate) const LOCAL_WORK_DIR: &str = ".axia";

/// Lock files a local archive uses at most: writers of one key always take the same one.
const LOCK_STRIPES: u64 = 256;

impl LocalObjects {
    fn tmp_path(&self, key: &str) -> PathBuf {
        let flat = key.replace('/', "%");
        self.root
            .join(LOCAL_WORK_DIR)
            .join("tmp")
            .join(format!("{flat}.{}", unique_suffix()))
    }

    /// The lock file of `key`: one of a fixed set, so their number stays bounded however many
    /// partitions the archive holds.
    fn lock_path(&self, key: &str) -> PathBuf {
        let Tag(hash) = content_tag(key.as_bytes());
        let stripe =
            u64::from_str_radix(hash.get(..16).unwrap_or("0"), 16).unwrap_or(0) % LOCK_STRIPES;
        self.root
            .join(LOCAL_WORK_DIR)
            .join("locks")
            .join(format!("{stripe:03}.lock"))
    }
}

/// FNV-1a, 64 bits: a stable content hash for versions (no dependency, same in every build).
fn content_tag(bytes: &[u8]) -> Tag {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Tag(format!("{h:016x}-{}", bytes.len()))
}

fn io_error(e: &std::io::Error, path: &Path) -> StoreError {
    StoreError::Backend(format!("{}: {e}", path.display()).into())
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&e, path)),
    }
}

fn parent_of(path: &Path) -> Result<&Path, StoreError> {
    path.parent()
        .ok_or_else(|| StoreError::InvalidRequest(format!("{} has no parent", path.display())))
}

fn create_parent(path: &Path) -> Result<&Path, StoreError> {
    let dir = parent_of(path)?;
    std::fs::create_dir_all(dir).map_err(|e| io_error(&e, dir))?;
    Ok(dir)
}

/// An exclusive lock on `lock_path`, held until the file is dropped.
fn lock_file(lock_path: &Path) -> Result<std::fs::File, StoreError> {
    create_parent(lock_path)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path)
        .map_err(|e| io_error(&e, lock_path))?;
    lock.lock().map_err(|e| io_error(&e, lock_path))?;
    Ok(lock)
}

/// True when the file at `path` is as `expect` says.
fn holds(path: &Path, expect: &Expect) -> Result<bool, StoreError> {
    Ok(match (expect, read_optional(path)?) {
        (Expect::Absent, None) => true,
        (Expect::Version(tag), Some(bytes)) => &content_tag(&bytes) == tag,
        _ => false,
    })
}

/// Writes `body` at `path` through a temporary file at `tmp` and a rename, durably.
fn write_via(tmp: &Path, path: &Path, body: &[u8]) -> Result<(), StoreError> {
    let dir = create_parent(path)?;
    create_parent(tmp)?;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(tmp, path)?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        io_error(&e, path)
    })
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

fn list_blocking(root: &Path, dir: &Path, out: &mut Vec<Listed>) -> Result<(), StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(&e, dir)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error(&e, dir))?;
        let path = entry.path();
        let meta = entry.metadata().map_err(|e| io_error(&e, &path))?;
        if meta.is_dir() && entry.file_name().to_string_lossy().starts_with('.') {
            // Hidden: the archive's own locks and temporaries.
        } else if meta.is_dir() {
            list_blocking(root, &path, out)?;
        } else if !entry.file_name().to_string_lossy().starts_with('.')
            && let Ok(rel) = path.strip_prefix(root)
        {
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(Listed {
                key,
                bytes: meta.len(),
            });
        }
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("file task failed: {e}").into()))?
}

#[async_trait]
impl Objects for LocalObjects {
    async fn get(&self, key: &str) -> Result<Option<(Bytes, Tag)>, StoreError> {
        let path = self.root.join(key);
        let read = blocking(move || read_optional(&path)).await?;
        Ok(read.map(|b| {
            let tag = content_tag(&b);
            (Bytes::from(b), tag)
        }))
    }

    async fn put(&self, key: &str, body: Bytes, expect: Expect) -> Result<Put, StoreError> {
        let path = self.root.join(key);
        let lock_path = self.lock_path(key);
        let tmp = self.tmp_path(key);
        blocking(move || {
            let _lock = lock_file(&lock_path)?;
            if !holds(&path, &expect)? {
                return Ok(Put::Conflict);
            }
            write_via(&tmp, &path, &body)?;
            Ok(Put::Written)
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str, tag: &Tag) -> Result<Put, StoreError> {
        let (src, dst) = (self.root.join(from), self.root.join(to));
        let lock_path = self.lock_path(from);
        let tag = tag.clone();
        blocking(move || {
            let _lock = lock_file(&lock_path)?;
            if !holds(&src, &Expect::Version(tag))? {
                return Ok(Put::Conflict);
            }
            create_parent(&dst)?;
            std::fs::rename(&src, &dst).map_err(|e| io_error(&e, &src))?;
            std::fs::File::open(parent_of(&src)?)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_error(&e, &src))?;
            Ok(Put::Written)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        let root = self.root.clone();
        let dir = self.root.join(prefix.trim_end_matches('/'));
        blocking(move || {
            let mut out = Vec::new();
            list_blocking(&root, &dir, &mut out)?;
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.root.join(prefix.trim_end_matches('/'));
        blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io_error(&e, &dir)),
            };
            let mut out = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| io_error(&e, &dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_dir = entry
                    .file_type()
                    .map_err(|e| io_error(&e, &entry.path()))?
                    .is_dir();
                if is_dir && !name.starts_with('.') {
                    out.push(name);
                }
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    fn locate(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }

    fn key_of(&self, location: &str) -> Option<String> {
        let rel = Path::new(location).strip_prefix(&self.root).ok()?;
        Some(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}
