//! Where bars live: partitions and object keys.
//!
//! `{prefix}/ohlcv/symbol={SYMBOL}/timeframe={TF}/{partition}.parquet`, hive-style, so polars,
//! DuckDB and Athena read the tree directly with `symbol` and `timeframe` as partition columns.
//! A folder name holds exactly one `=`: the `=` of a symbol (Yahoo's `USDJPY=X`) is written
//! `%3D` ([`hive_value`]), which those readers decode back (a raw one made polars and DuckDB
//! drop the `symbol` column of that folder and refuse the tree as a whole). Folders an earlier
//! version wrote with a raw `=` ([`legacy_series_dir`]) are moved into place by the archive the
//! first time it touches the series.
//! Those readers infer a partition column's type from its values: a tree whose symbols are all
//! digits (Tokyo codes such as `7203`) reads `symbol` as an integer unless told otherwise
//! (DuckDB `hive_types = {'symbol': VARCHAR}`, polars `hive_schema`).
//! A partition holds the bars that **open** in one UTC period, sized per timeframe so files are
//! neither tiny nor huge:
//!
//! | timeframes   | partition | name         | bars per file (FX) |
//! |--------------|-----------|--------------|--------------------|
//! | M1 M5 M15 M30 | UTC day   | `2026-03-04` | 1 440 … 48        |
//! | H1 H4        | UTC month | `2026-03`    | 744 … 186          |
//! | D1 W1 MN1    | UTC year  | `2026`       | 366 … 12           |
//!
//! A series aligned to the New York close ([`DailyAlignment::NewYorkClose`]) is partitioned by
//! **trading date** instead: the day `2026-03-04` holds the bars that open from 17:00 New York
//! on the 3rd to 17:00 on the 4th, the month and the year likewise from the 17:00 close on the
//! eve of their first trading date. Its files say so in their metadata (`axia.alignment`).

use axia_domain::{DailyAlignment, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

/// How long a partition of a timeframe spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// A UTC day.
    Day,
    /// A UTC month.
    Month,
    /// A UTC year.
    Year,
}

/// The partition span of `timeframe`.
#[must_use]
pub const fn span_of(timeframe: Timeframe) -> Span {
    match timeframe {
        Timeframe::M1 | Timeframe::M5 | Timeframe::M15 | Timeframe::M30 => Span::Day,
        Timeframe::H1 | Timeframe::H4 => Span::Month,
        Timeframe::D1 | Timeframe::W1 | Timeframe::MN1 => Span::Year,
    }
}

/// One partition of a series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Partition {
    /// `2026-03-04`, `2026-03` or `2026`.
    pub name: String,
    /// The open times it holds.
    pub range: TimeRange,
}

/// The partition that holds a bar opening at `t` in a series aligned to `alignment`.
#[must_use]
pub fn partition_at(
    timeframe: Timeframe,
    alignment: DailyAlignment,
    t: DateTime<Utc>,
) -> Partition {
    let d = alignment.date_of(t);
    let midnight = |d: NaiveDate| alignment.day_start(d);
    let (start, name) = match span_of(timeframe) {
        Span::Day => (d, d.format("%Y-%m-%d").to_string()),
        Span::Month => (d.with_day(1).unwrap_or(d), d.format("%Y-%m").to_string()),
        Span::Year => (
            NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d),
            d.format("%Y").to_string(),
        ),
    };
    let end = match span_of(timeframe) {
        Span::Day => start.succ_opt(),
        Span::Month => start.checked_add_months(Months::new(1)),
        Span::Year => start.checked_add_months(Months::new(12)),
    }
    .unwrap_or(start);
    let range = TimeRange::new(midnight(start), midnight(end))
        .unwrap_or_else(|_| TimeRange::last(chrono::Duration::zero(), midnight(start)));
    Partition { name, range }
}

/// The partitions that hold bars opening in `range`, oldest first.
#[must_use]
pub fn partitions_for(
    timeframe: Timeframe,
    alignment: DailyAlignment,
    range: TimeRange,
) -> Vec<Partition> {
    let mut out = Vec::new();
    if range.is_empty() {
        return out;
    }
    let mut t = range.start();
    while t < range.end() {
        let p = partition_at(timeframe, alignment, t);
        let next = p.range.end();
        out.push(p);
        if next <= t {
            break;
        }
        t = next;
    }
    out
}

/// A symbol as a hive partition value: `=` (the only character a symbol may hold that hive
/// readers split on) as `%3D`, everything else as it is. A symbol never holds `%`, so the
/// encoding is unambiguous.
#[must_use]
pub fn hive_value(symbol: &Symbol) -> std::borrow::Cow<'_, str> {
    let s = symbol.as_str();
    if s.contains('=') {
        std::borrow::Cow::Owned(s.replace('=', "%3D"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The folder of a series: `{prefix}/ohlcv/symbol={SYMBOL}/timeframe={TF}`, the symbol as
/// [`hive_value`] writes it.
#[must_use]
pub fn series_dir(prefix: &str, symbol: &Symbol, timeframe: Timeframe) -> String {
    format!(
        "{}ohlcv/symbol={}/timeframe={timeframe}",
        prefix_slash(prefix),
        hive_value(symbol)
    )
}

/// Where versions before the `%3D` encoding kept a series whose symbol holds `=` (the symbol
/// as it is); `None` for every other symbol, whose folder never changed.
#[must_use]
pub fn legacy_series_dir(prefix: &str, symbol: &Symbol, timeframe: Timeframe) -> Option<String> {
    symbol.as_str().contains('=').then(|| {
        format!(
            "{}ohlcv/symbol={symbol}/timeframe={timeframe}",
            prefix_slash(prefix)
        )
    })
}

/// The object key of a partition.
#[must_use]
pub fn object_key(
    prefix: &str,
    symbol: &Symbol,
    timeframe: Timeframe,
    partition: &Partition,
) -> String {
    format!(
        "{}/{}.parquet",
        series_dir(prefix, symbol, timeframe),
        partition.name
    )
}

/// `prefix` with one trailing slash, or empty.
#[must_use]
pub fn prefix_slash(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// Parses an object key back into its series and partition name, if it is one of ours (in
/// the current layout or, for a symbol holding `=`, the legacy one).
#[must_use]
pub fn parse_key(prefix: &str, key: &str) -> Option<(Symbol, Timeframe, String)> {
    let rest = key
        .strip_prefix(&prefix_slash(prefix))?
        .strip_prefix("ohlcv/symbol=")?;
    let (symbol, rest) = rest.split_once("/timeframe=")?;
    let (tf, file) = rest.split_once('/')?;
    let name = file.strip_suffix(".parquet")?;
    if name.contains('/') {
        return None;
    }
    let symbol = symbol.replace("%3D", "=").replace("%3d", "=");
    Some((symbol.parse().ok()?, tf.parse().ok()?, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    const UTC: DailyAlignment = DailyAlignment::UtcMidnight;

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap()
    }

    #[test]
    fn partitions_by_timeframe() {
        let p = partition_at(Timeframe::M1, UTC, utc(2026, 3, 4, 23, 59));
        assert_eq!(
            p.name, "2026-03-04",
            "a bar at 23:59 UTC lands in its UTC day"
        );
        assert_eq!(p.range.end(), utc(2026, 3, 5, 0, 0));
        assert_eq!(
            partition_at(Timeframe::H4, UTC, utc(2026, 12, 31, 20, 0)).name,
            "2026-12"
        );
        assert_eq!(
            partition_at(Timeframe::H4, UTC, utc(2026, 12, 31, 20, 0))
                .range
                .end(),
            utc(2027, 1, 1, 0, 0)
        );
        assert_eq!(
            partition_at(Timeframe::W1, UTC, utc(2025, 12, 29, 0, 0)).name,
            "2025"
        );
        let r = TimeRange::new(utc(2026, 3, 4, 12, 0), utc(2026, 3, 7, 0, 0)).unwrap();
        let names: Vec<_> = partitions_for(Timeframe::M5, UTC, r)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["2026-03-04", "2026-03-05", "2026-03-06"]);
        let r = TimeRange::new(
            utc(2025, 11, 15, 0, 0),
            utc(2026, 2, 1, 0, 0) + Duration::hours(1),
        )
        .unwrap();
        assert_eq!(partitions_for(Timeframe::H1, UTC, r).len(), 4);
    }

    #[test]
    fn new_york_close_series_are_partitioned_by_trading_date() {
        let ny = DailyAlignment::NewYorkClose;
        // Summer: Tuesday 2026-07-07 21:00 UTC is 17:00 New York, Wednesday's trading date.
        let p = partition_at(Timeframe::M1, ny, utc(2026, 7, 7, 21, 0));
        assert_eq!(p.name, "2026-07-08");
        assert_eq!(p.range.start(), utc(2026, 7, 7, 21, 0));
        assert_eq!(p.range.end(), utc(2026, 7, 8, 21, 0));
        assert_eq!(
            partition_at(Timeframe::M1, ny, utc(2026, 7, 7, 20, 59)).name,
            "2026-07-07"
        );
        // Winter: 22:00 UTC. The evening of 31 December belongs to the new year.
        let y = partition_at(Timeframe::D1, ny, utc(2026, 12, 31, 22, 0));
        assert_eq!(y.name, "2027");
        assert_eq!(y.range.start(), utc(2026, 12, 31, 22, 0));
        assert_eq!(y.range.end(), utc(2027, 12, 31, 22, 0));
        let m = partition_at(Timeframe::H4, ny, utc(2026, 3, 31, 21, 0));
        assert_eq!(m.name, "2026-04");
        // Consecutive partitions tile time across the DST changes of a year.
        let r = TimeRange::new(utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)).unwrap();
        let days = partitions_for(Timeframe::M1, ny, r);
        assert!(
            days.windows(2)
                .all(|w| w[0].range.end() == w[1].range.start())
        );
        assert!(days.iter().all(|p| {
            let len = (p.range.end() - p.range.start()).num_hours();
            (23..=25).contains(&len)
        }));
        // Every bar of a NY-close D1 series lands in the partition of its trading date.
        let g = Timeframe::D1.aligned(ny);
        let mut t = g.ceil(utc(2026, 1, 1, 0, 0));
        while t < utc(2027, 1, 1, 0, 0) {
            let p = partition_at(Timeframe::M1, ny, t);
            assert!(p.range.contains(t) && p.range.contains(g.next_open(t) - Duration::minutes(1)));
            t = g.next_open(t);
        }
    }

    #[test]
    fn keys_are_hive_style_and_parse_back() {
        let s: Symbol = "USDJPY".parse().unwrap();
        let p = partition_at(Timeframe::M1, UTC, utc(2026, 3, 4, 10, 0));
        let key = object_key("archive/", &s, Timeframe::M1, &p);
        assert_eq!(
            key,
            "archive/ohlcv/symbol=USDJPY/timeframe=M1/2026-03-04.parquet"
        );
        assert_eq!(
            parse_key("archive", &key),
            Some((s.clone(), Timeframe::M1, "2026-03-04".into()))
        );
        assert_eq!(
            object_key(
                "",
                &s,
                Timeframe::D1,
                &partition_at(Timeframe::D1, UTC, utc(2026, 3, 4, 0, 0))
            ),
            "ohlcv/symbol=USDJPY/timeframe=D1/2026.parquet"
        );
        assert_eq!(
            parse_key("", "ohlcv/symbol=USDJPY/timeframe=M1/x.lock"),
            None
        );
        assert_eq!(parse_key("other", &key), None);
    }

    /// What a hive reader needs of every folder name: exactly one `=`, the value decoding back
    /// to the symbol; and every key parses back to its series, whatever the symbol.
    #[test]
    fn every_symbol_makes_folders_hive_readers_split_right() {
        let p = partition_at(Timeframe::M1, UTC, utc(2026, 3, 4, 10, 0));
        for raw in [
            "USDJPY", "USDJPY=X", "JPY=X", "EURUSD=X", "A=B=C", "^N225", "BRK-B", "BRK.B", "AT&T",
            "EUR_USD", "BTC-USD", "7203.T",
        ] {
            let s: Symbol = raw.parse().unwrap();
            for prefix in ["", "cold", "a=b/c"] {
                let key = object_key(prefix, &s, Timeframe::M1, &p);
                let ours = key.strip_prefix(&prefix_slash(prefix)).unwrap();
                let dirs: Vec<&str> = ours.split('/').collect();
                assert_eq!(dirs.len(), 4, "{key}");
                for d in &dirs[1..3] {
                    assert_eq!(d.matches('=').count(), 1, "{key}");
                }
                let value = dirs[1].strip_prefix("symbol=").unwrap();
                assert_eq!(value.replace("%3D", "="), raw, "{key}");
                assert_eq!(
                    parse_key(prefix, &key),
                    Some((s.clone(), Timeframe::M1, "2026-03-04".into())),
                    "{key}"
                );
                let legacy = legacy_series_dir(prefix, &s, Timeframe::M1);
                assert_eq!(legacy.is_some(), raw.contains('='), "{raw}");
                if let Some(dir) = legacy {
                    assert_ne!(dir, series_dir(prefix, &s, Timeframe::M1));
                    // The legacy layout still parses, so listings recognise it.
                    let old = format!("{dir}/2026-03-04.parquet");
                    assert_eq!(
                        parse_key(prefix, &old),
                        Some((s.clone(), Timeframe::M1, "2026-03-04".into()))
                    );
                }
            }
        }
    }
}
