use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use axia_domain::{Bar, OhlcvFrame, Symbol, Timeframe};
use axia_parquet::ParquetArchive;
use chrono::{DateTime, Utc};

fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "axia-{what}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Where an archive under test keeps its objects, to look behind its back.
pub enum Place {
    Dir(PathBuf),
    Bucket(aws_sdk_s3::Client, String),
}

impl Place {
    /// The raw bytes of an object.
    pub async fn read(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            Self::Dir(root) => std::fs::read(root.join(key)).ok(),
            Self::Bucket(client, bucket) => {
                let o = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .ok()?;
                Some(o.body.collect().await.unwrap().into_bytes().to_vec())
            }
        }
    }

    /// Removes an object.
    pub async fn remove(&self, key: &str) {
        match self {
            Self::Dir(root) => std::fs::remove_file(root.join(key)).unwrap(),
            Self::Bucket(client, bucket) => {
                client
                    .delete_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Every file under `dir` (relative to the archive's root or prefix), hidden ones included.
    pub async fn files_under(&self, dir: &str) -> Vec<String> {
        match self {
            Self::Dir(root) => {
                fn walk(base: &std::path::Path, d: &std::path::Path, out: &mut Vec<String>) {
                    for e in std::fs::read_dir(d).unwrap() {
                        let e = e.unwrap();
                        if e.file_type().unwrap().is_dir() {
                            walk(base, &e.path(), out);
                        } else {
                            out.push(e.path().strip_prefix(base).unwrap().display().to_string());
                        }
                    }
                }
                let mut out = Vec::new();
                walk(root, &root.join(dir), &mut out);
                out
            }
            Self::Bucket(client, bucket) => client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(format!("cold/{dir}"))
                .send()
                .await
                .unwrap()
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect(),
        }
    }

    /// Another archive over the same objects (as another process would open it).
    pub fn archive(&self) -> ParquetArchive {
        match self {
            Self::Dir(root) => ParquetArchive::local(root),
            Self::Bucket(client, bucket) => ParquetArchive::s3(client.clone(), bucket, "cold"),
        }
        .instruments(utc_everywhere())
    }

    /// Writes raw bytes over an object.
    pub async fn write(&self, key: &str, bytes: &[u8]) {
        match self {
            Self::Dir(root) => {
                let path = root.join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            Self::Bucket(client, bucket) => {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(bytes.to_vec().into())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

pub async fn s3_client() -> aws_sdk_s3::Client {
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true"),
        "run the suite through scripts/test.sh: it starts moto and sets test credentials"
    );
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

/// Every series at UTC midnight, the layout most of these tests look at (FX pairs default to
/// the New York close; the tests of that layout say so).
pub fn utc_everywhere() -> std::sync::Arc<axia_domain::InstrumentRegistry> {
    std::sync::Arc::new(
        axia_domain::InstrumentRegistry::builtin()
            .with_daily_alignment(axia_domain::DailyAlignment::UtcMidnight),
    )
}

pub async fn local() -> (ParquetArchive, Place) {
    let dir = std::env::temp_dir().join(unique("archive"));
    (
        ParquetArchive::local(&dir).instruments(utc_everywhere()),
        Place::Dir(dir),
    )
}

pub async fn s3() -> (ParquetArchive, Place) {
    let client = s3_client().await;
    let bucket = unique("archive");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    (
        ParquetArchive::s3(client.clone(), bucket.clone(), "cold").instruments(utc_everywhere()),
        Place::Bucket(client, bucket),
    )
}

pub fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

/// `n` bars of `tf` from `start` (floored), prices from `base`.
pub fn bars(symbol: &str, tf: Timeframe, start: DateTime<Utc>, n: usize, base: f64) -> OhlcvFrame {
    let mut t = tf.floor(start);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let p = base + (i % 97) as f64 * 0.01;
        out.push(Bar::new(t, p, p + 0.03, p - 0.02, p + 0.01, 5.0 + i as f64).unwrap());
        t = tf.next_open(t);
    }
    OhlcvFrame::from_bars(sym(symbol), tf, out).unwrap()
}
