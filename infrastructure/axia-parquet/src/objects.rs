//! Object backends with conditional writes: S3, and a local directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
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
    /// Every object under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError>;
    /// Where the objects are, for error messages (`s3://bucket/key`, a path).
    fn locate(&self, key: &str) -> String;
}

// ---------------------------------------------------------------------------------------------

/// Objects in an S3 bucket (or any S3-compatible store).
#[derive(Debug, Clone)]
pub(crate) struct S3Objects {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
}

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

    fn locate(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

// ---------------------------------------------------------------------------------------------

/// Objects as files under a root directory. Writes go to a temporary file that is renamed over
/// the object, so readers see the old or the new file, never a partial one; a conditional write
/// holds an exclusive lock on `{object}.lock` while it compares and renames, so writers in other
/// processes on the same host cannot interleave.
#[derive(Debug, Clone)]
pub(crate) struct LocalObjects {
    pub(crate) root: PathBuf,
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

fn put_blocking(path: &Path, body: &[u8], expect: &Expect) -> Result<Put, StoreError> {
    let dir = path
        .parent()
        .ok_or_else(|| StoreError::InvalidRequest(format!("{} has no parent", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| io_error(&e, dir))?;
    let lock_path = path.with_extension("parquet.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io_error(&e, &lock_path))?;
    lock.lock().map_err(|e| io_error(&e, &lock_path))?;
    let current = read_optional(path)?;
    let holds = match (expect, &current) {
        (Expect::Absent, None) => true,
        (Expect::Version(tag), Some(bytes)) => &content_tag(bytes) == tag,
        _ => false,
    };
    if !holds {
        return Ok(Put::Conflict);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = path.with_extension(format!("parquet.tmp-{}-{nanos}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(&e, path));
    }
    drop(lock);
    Ok(Put::Written)
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
        if meta.is_dir() {
            list_blocking(root, &path, out)?;
        } else if path.extension().is_some_and(|x| x == "parquet")
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
        blocking(move || put_blocking(&path, &body, &expect)).await
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

    fn locate(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
}
