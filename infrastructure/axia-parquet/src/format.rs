//! The Parquet file format of a partition.
//!
//! Columns: `time` (timestamp, milliseconds, UTC: the bar's open time), `open`, `high`, `low`,
//! `close`, `volume` (f64), sorted by `time`, zstd-compressed. Key-value metadata:
//! `axia.symbol`, `axia.timeframe`, `axia.schema_version` (`1`), `axia.alignment`
//! (`utc_midnight` or `new_york_close`; a file without it is `utc_midnight`). Reading checks the
//! metadata and every frame invariant.

use std::io::Cursor;

use axia_domain::{DailyAlignment, FrameError, OhlcvColumns, OhlcvFrame, Symbol, Timeframe};
use polars::prelude::*;

/// The schema version written.
pub const SCHEMA_VERSION: &str = "1";

const COLUMNS: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// `frame` as a polars DataFrame with the archive's schema.
///
/// # Errors
/// A polars error (not expected for a valid frame).
pub fn to_dataframe(frame: &OhlcvFrame) -> PolarsResult<DataFrame> {
    let c = frame.columns();
    let time = Series::new("time".into(), c.timestamps.as_slice())
        .into_datetime(TimeUnit::Milliseconds, Some(polars::prelude::TimeZone::UTC));
    let cols = vec![
        time.into_column(),
        Column::new("open".into(), c.open.as_slice()),
        Column::new("high".into(), c.high.as_slice()),
        Column::new("low".into(), c.low.as_slice()),
        Column::new("close".into(), c.close.as_slice()),
        Column::new("volume".into(), c.volume.as_slice()),
    ];
    DataFrame::new(frame.len(), cols)
}

/// Why a file could not be read as a partition.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not Parquet, or not our schema.
    #[error("{0}")]
    Malformed(String),
    /// Written for another series or schema version.
    #[error("{0}")]
    Mismatch(String),
    /// Written for the same series under another daily alignment: not damage, a refusal
    /// ([`FrameError::AlignmentMismatch`]).
    #[error("{0}")]
    Alignment(FrameError),
    /// The bars break a frame invariant.
    #[error("invalid bars: {0}")]
    Invalid(#[from] FrameError),
}

impl From<PolarsError> for FormatError {
    fn from(e: PolarsError) -> Self {
        Self::Malformed(e.to_string())
    }
}

/// Encodes `frame` as a Parquet file.
///
/// # Errors
/// A polars error (not expected for a valid frame).
pub fn encode(frame: &OhlcvFrame) -> PolarsResult<Vec<u8>> {
    let mut df = to_dataframe(frame)?;
    let mut buf = Vec::new();
    let kv = KeyValueMetadata::from_static(vec![
        ("axia.symbol".into(), frame.symbol().to_string()),
        ("axia.timeframe".into(), frame.timeframe().to_string()),
        ("axia.schema_version".into(), SCHEMA_VERSION.into()),
        ("axia.alignment".into(), frame.alignment().to_string()),
    ]);
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(kv))
        .set_parallel(false)
        .finish(&mut df)?;
    Ok(buf)
}

fn f64_column(df: &DataFrame, name: &str) -> Result<Vec<f64>, FormatError> {
    let col = df.column(name)?.as_materialized_series();
    let ca = col.f64().map_err(|_| {
        FormatError::Malformed(format!("column {name} is {}, not f64", col.dtype()))
    })?;
    if ca.null_count() > 0 {
        return Err(FormatError::Malformed(format!("column {name} has nulls")));
    }
    Ok(ca.into_no_null_iter().collect())
}

fn key_values(
    reader: &mut ParquetReader<Cursor<&[u8]>>,
) -> Result<Vec<(String, Option<String>)>, FormatError> {
    let meta = reader.get_metadata()?.clone();
    Ok(meta
        .key_value_metadata()
        .iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect())
}

/// The alignment a file's `axia.alignment` names; files written before alignments were
/// recorded are UTC midnight.
fn alignment_in(value: Option<String>) -> Result<DailyAlignment, FormatError> {
    match value {
        None => Ok(DailyAlignment::UtcMidnight),
        Some(a) => a
            .parse()
            .map_err(|e: String| FormatError::Malformed(e.chars().take(80).collect())),
    }
}

/// The daily alignment a file records, from its footer alone (no column is read).
///
/// # Errors
/// [`FormatError`] for a file that is not Parquet or names no known alignment.
pub fn recorded_alignment(bytes: &[u8]) -> Result<DailyAlignment, FormatError> {
    let mut reader = ParquetReader::new(Cursor::new(bytes));
    let kv = key_values(&mut reader)?;
    if !kv.iter().any(|(k, _)| k == "axia.symbol") {
        return Err(FormatError::Malformed("no axia metadata".into()));
    }
    alignment_in(
        kv.into_iter()
            .find(|(k, _)| k == "axia.alignment")
            .and_then(|(_, v)| v),
    )
}

/// Decodes a Parquet file written for `symbol` / `timeframe` aligned to `alignment`.
///
/// # Errors
/// [`FormatError`] for a file that is not Parquet, lacks our columns or metadata, is of another
/// series or version, or holds bars that break a frame invariant;
/// [`FormatError::Alignment`] for a file of this series under another alignment.
pub fn decode(
    bytes: &[u8],
    symbol: &Symbol,
    timeframe: Timeframe,
    alignment: DailyAlignment,
) -> Result<OhlcvFrame, FormatError> {
    let mut reader = ParquetReader::new(Cursor::new(bytes));
    let kv = key_values(&mut reader)?;
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.clone())
    };
    let (Some(s), Some(tf), Some(v)) = (
        get("axia.symbol"),
        get("axia.timeframe"),
        get("axia.schema_version"),
    ) else {
        return Err(FormatError::Malformed("no axia metadata".into()));
    };
    if v != SCHEMA_VERSION {
        return Err(FormatError::Mismatch(format!("schema version {v}")));
    }
    if s != symbol.as_str() || tf != timeframe.as_str() {
        return Err(FormatError::Mismatch(format!("file of {s} {tf}")));
    }
    let stored = alignment_in(get("axia.alignment"))?;
    if stored != alignment {
        return Err(FormatError::Alignment(FrameError::AlignmentMismatch {
            symbol: symbol.clone(),
            timeframe,
            left: alignment,
            right: stored,
        }));
    }
    let df = reader.finish()?;
    let time = df.column("time")?.as_materialized_series();
    let time = time.datetime().map_err(|_| {
        FormatError::Malformed(format!("column time is {}, not a timestamp", time.dtype()))
    })?;
    if time.null_count() > 0 {
        return Err(FormatError::Malformed("column time has nulls".into()));
    }
    let factor = match time.time_unit() {
        TimeUnit::Milliseconds => 1,
        TimeUnit::Microseconds => -1_000,
        TimeUnit::Nanoseconds => -1_000_000,
    };
    let timestamps: Vec<i64> = time
        .physical()
        .into_no_null_iter()
        .map(|t| if factor > 0 { t } else { t.div_euclid(-factor) })
        .collect();
    let [open, high, low, close, volume] = COLUMNS.map(|c| f64_column(&df, c));
    let cols = OhlcvColumns {
        timestamps,
        open: open?,
        high: high?,
        low: low?,
        close: close?,
        volume: volume?,
    };
    Ok(OhlcvFrame::from_columns_on(
        symbol.clone(),
        timeframe.aligned(alignment),
        cols,
    )?)
}

/// A DataFrame in the archive's schema back to a frame.
///
/// # Errors
/// [`FormatError`] for missing columns, nulls, or bars that break a frame invariant.
#[cfg(feature = "dataframe")]
pub fn from_dataframe(
    df: &DataFrame,
    symbol: Symbol,
    timeframe: Timeframe,
) -> Result<OhlcvFrame, FormatError> {
    let time = df
        .column("time")?
        .as_materialized_series()
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?;
    let timestamps: Vec<i64> = time.datetime()?.physical().into_no_null_iter().collect();
    let [open, high, low, close, volume] = COLUMNS.map(|c| f64_column(df, c));
    let cols = OhlcvColumns {
        timestamps,
        open: open?,
        high: high?,
        low: low?,
        close: close?,
        volume: volume?,
    };
    Ok(OhlcvFrame::from_columns(symbol, timeframe, cols)?)
}

#[cfg(test)]
mod tests {
    use axia_domain::Bar;
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    const UTC: DailyAlignment = DailyAlignment::UtcMidnight;

    fn frame(symbol: &str, n: i64) -> OhlcvFrame {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap();
        let bars = (0..n).map(|i| {
            let p = 150.0 + i as f64 / 1000.0;
            Bar::new(
                t0 + Duration::minutes(i),
                p,
                p + 0.01,
                p - 0.01,
                p,
                i as f64,
            )
            .unwrap()
        });
        OhlcvFrame::from_bars(symbol.parse().unwrap(), Timeframe::M1, bars).unwrap()
    }

    #[test]
    fn files_carry_the_documented_schema_and_metadata() {
        let f = frame("USDJPY", 1440);
        let bytes = encode(&f).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        let df = ParquetReader::new(Cursor::new(bytes.as_slice()))
            .finish()
            .unwrap();
        let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["time", "open", "high", "low", "close", "volume"]);
        assert_eq!(
            df.column("time").unwrap().dtype(),
            &DataType::Datetime(TimeUnit::Milliseconds, Some(polars::prelude::TimeZone::UTC))
        );
        assert_eq!(df.column("volume").unwrap().dtype(), &DataType::Float64);
        let mut r = ParquetReader::new(Cursor::new(bytes.as_slice()));
        let kv = r
            .get_metadata()
            .unwrap()
            .key_value_metadata()
            .clone()
            .unwrap();
        let find = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone());
        assert_eq!(find("axia.symbol").as_deref(), Some("USDJPY"));
        assert_eq!(find("axia.timeframe").as_deref(), Some("M1"));
        assert_eq!(find("axia.schema_version").as_deref(), Some("1"));
        assert_eq!(decode(&bytes, f.symbol(), Timeframe::M1, UTC).unwrap(), f);
        assert_eq!(find("axia.alignment").as_deref(), Some("utc_midnight"));
        // A day of M1 compresses well below its 69 KB of raw columns.
        assert!(bytes.len() < 69_000, "{} bytes", bytes.len());
    }

    #[test]
    fn other_series_and_foreign_files_are_refused() {
        let bytes = encode(&frame("USDJPY", 10)).unwrap();
        assert!(matches!(
            decode(&bytes, &"EURUSD".parse().unwrap(), Timeframe::M1, UTC),
            Err(FormatError::Mismatch(_))
        ));
        assert!(matches!(
            decode(&bytes, &"USDJPY".parse().unwrap(), Timeframe::M5, UTC),
            Err(FormatError::Mismatch(_))
        ));
        // A Parquet file without axia's metadata.
        let mut df = to_dataframe(&frame("USDJPY", 3)).unwrap();
        let mut plain = Vec::new();
        ParquetWriter::new(&mut plain).finish(&mut df).unwrap();
        assert!(matches!(
            decode(&plain, &"USDJPY".parse().unwrap(), Timeframe::M1, UTC),
            Err(FormatError::Malformed(_))
        ));
        assert!(
            decode(
                b"PAR1 but not really",
                &"USDJPY".parse().unwrap(),
                Timeframe::M1,
                UTC
            )
            .is_err()
        );
        // The same series under the other alignment is refused, not read as damage.
        assert!(matches!(
            decode(
                &bytes,
                &"USDJPY".parse().unwrap(),
                Timeframe::M1,
                DailyAlignment::NewYorkClose
            ),
            Err(FormatError::Alignment(FrameError::AlignmentMismatch { .. }))
        ));
        let ny = frame("USDJPY", 10)
            .with_alignment(DailyAlignment::NewYorkClose)
            .unwrap();
        let ny_bytes = encode(&ny).unwrap();
        assert_eq!(
            decode(
                &ny_bytes,
                ny.symbol(),
                Timeframe::M1,
                DailyAlignment::NewYorkClose
            )
            .unwrap(),
            ny
        );
        assert!(matches!(
            decode(&ny_bytes, ny.symbol(), Timeframe::M1, UTC),
            Err(FormatError::Alignment(_))
        ));
    }

    #[cfg(feature = "dataframe")]
    #[test]
    fn dataframe_conversion_round_trips() {
        let f = frame("AAPL", 50);
        let df = to_dataframe(&f).unwrap();
        assert_eq!(df.height(), 50);
        assert_eq!(
            from_dataframe(&df, f.symbol().clone(), Timeframe::M1).unwrap(),
            f
        );
    }
}
