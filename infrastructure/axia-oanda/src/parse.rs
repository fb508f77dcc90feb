//! Parsing a candles body: `{"instrument","granularity","candles":[{"complete","volume","time",
//! "mid"|"bid"|"ask":{"o","h","l","c"}}]}`, prices as decimal strings.
//!
//! One bad row costs one row: every field is read leniently (a value of the wrong type is
//! read as missing, never an error for the body), so a malformed candle becomes a raw bar
//! with a missing value, which validation drops and reports. Only a body that is not JSON, or
//! has no `candles` array, is an error.

use std::fmt;
use std::marker::PhantomData;

use axia_domain::RawBar;
use chrono::DateTime;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::config::PriceComponent;

/// One candle, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    pub raw: RawBar,
    /// OANDA's `complete`: false for the candle still forming (missing counts as false).
    pub complete: bool,
}

/// A page of candles.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Page {
    pub rows: Vec<Row>,
}

/// The body could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BodyError(pub String);

/// Parses a candles body, taking `price`'s prices.
pub(crate) fn candles(body: &[u8], price: PriceComponent) -> Result<Page, BodyError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let page = PageSeed { price }
        .deserialize(&mut de)
        .map_err(|e| BodyError(format!("a candles body that does not parse: {e}")))?;
    de.end()
        .map_err(|e| BodyError(format!("trailing data after the candles body: {e}")))?;
    page.ok_or_else(|| BodyError("a candles body without a \"candles\" array".to_owned()))
}

struct PageSeed {
    price: PriceComponent,
}

impl<'de> de::DeserializeSeed<'de> for PageSeed {
    type Value = Option<Page>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed {
    type Value = Option<Page>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a candles object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut page = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == "candles" {
                page = map.next_value_seed(RowsSeed { price: self.price })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(page)
    }
}

/// A map key, borrowed when it can be.
struct Key<'a>(std::borrow::Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

struct RowsSeed {
    price: PriceComponent,
}

impl<'de> de::DeserializeSeed<'de> for RowsSeed {
    type Value = Option<Page>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed {
    type Value = Option<Page>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of candles")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(5_000));
        while let Some(row) = seq.next_element_seed(RowSeed { price: self.price })? {
            rows.push(row);
        }
        Ok(Some(Page { rows }))
    }

    // `"candles": null` or any other type: no array.
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

struct RowSeed {
    price: PriceComponent,
}

impl<'de> de::DeserializeSeed<'de> for RowSeed {
    type Value = Row;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A row that is not an object: a raw bar with nothing in it (dropped as missing values, at
/// a time validation refuses).
const NOTHING: Row = Row {
    raw: RawBar {
        time_millis: i64::MIN,
        open: None,
        high: None,
        low: None,
        close: None,
        volume: None,
    },
    complete: false,
};

impl<'de> Visitor<'de> for RowSeed {
    type Value = Row;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a candle")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let wanted = match self.price {
            PriceComponent::Mid => "mid",
            PriceComponent::Bid => "bid",
            PriceComponent::Ask => "ask",
        };
        let mut time = None;
        let mut volume = None;
        let mut complete = false;
        let mut ohlc = Ohlc::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "time" => time = map.next_value::<Lenient<i64>>()?.0,
                "volume" => volume = map.next_value::<Lenient<f64>>()?.0,
                "complete" => complete = map.next_value::<Lenient<bool>>()?.0.unwrap_or(false),
                k if k == wanted => ohlc = map.next_value::<Lenient<Ohlc>>()?.0.unwrap_or_default(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Row {
            raw: RawBar {
                time_millis: time.unwrap_or(i64::MIN),
                open: ohlc.o,
                high: ohlc.h,
                low: ohlc.l,
                close: ohlc.c,
                volume,
            },
            complete,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(NOTHING)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(NOTHING)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(NOTHING)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(NOTHING)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(NOTHING)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(NOTHING)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(NOTHING)
    }
}

/// A value read from whatever JSON type is there: `None` when it is not what `T` reads.
struct Lenient<T>(Option<T>);

/// What a lenient value accepts; every other JSON type reads as `None`.
trait Accept: Sized {
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    fn from_f64(_: f64) -> Option<Self> {
        None
    }
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl<'de, T: Accept> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Accept> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Lenient(T::from_str(v)))
            }
            // Integers are exact in f64 up to 2^53, far beyond a price or a tick count.
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Lenient(T::from_f64(v as f64)))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Lenient(T::from_f64(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Lenient(T::from_f64(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Lenient(T::from_bool(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::from_map(map).map(Lenient)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl Accept for bool {
    fn from_bool(v: bool) -> Option<Self> {
        Some(v)
    }
}

/// A price or a volume: a decimal string (OANDA's way, parsed to the nearest f64) or a
/// number.
impl Accept for f64 {
    fn from_str(s: &str) -> Option<Self> {
        decimal(s)
    }
    fn from_f64(v: f64) -> Option<Self> {
        v.is_finite().then_some(v)
    }
}

/// A decimal string as the nearest f64 (Rust's parse rounds correctly); anything that is not
/// a plain decimal (exponents, `inf`, `NaN`, signs other than a leading `-`) is refused.
fn decimal(s: &str) -> Option<f64> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let mut dots = 0;
    let plain = !body.is_empty()
        && body.bytes().all(|b| {
            if b == b'.' {
                dots += 1;
                true
            } else {
                b.is_ascii_digit()
            }
        })
        && dots <= 1
        && body != ".";
    if !plain {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A candle time: RFC 3339 (`2026-03-02T00:00:00.000000000Z`) or UNIX seconds
/// (`1772409600.000000000`), as epoch milliseconds.
impl Accept for i64 {
    fn from_str(s: &str) -> Option<Self> {
        if let Some(ms) = utc_millis(s.as_bytes()) {
            return Some(ms);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.timestamp_millis());
        }
        let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
        let secs: i64 = secs.parse().ok()?;
        let frac = frac.get(..3).unwrap_or(frac);
        let ms = if frac.is_empty() {
            0
        } else {
            let digits: i64 = frac.parse().ok()?;
            digits * 10_i64.pow(3 - u32::try_from(frac.len()).ok()?)
        };
        secs.checked_mul(1000)?.checked_add(ms)
    }
}

/// OANDA's own spelling, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, read by position (the common
/// case, several times faster than a general RFC 3339 parser); `None` for anything else,
/// which the general parser then reads.
fn utc_millis(b: &[u8]) -> Option<i64> {
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0_u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let millis = match b.get(19..)? {
        [b'Z'] => 0,
        [b'.', rest @ .., b'Z'] if !rest.is_empty() && rest.iter().all(u8::is_ascii_digit) => rest
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(3)
            .fold(0_u32, |acc, &c| acc * 10 + u32::from(c - b'0')),
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(digits(0..4)?).ok()?,
        digits(5..7)?,
        digits(8..10)?,
    )?;
    let time = date.and_hms_milli_opt(digits(11..13)?, digits(14..16)?, digits(17..19)?, millis)?;
    Some(time.and_utc().timestamp_millis())
}

/// The `{"o","h","l","c"}` of one price component.
#[derive(Debug, Default, Clone, Copy)]
struct Ohlc {
    o: Option<f64>,
    h: Option<f64>,
    l: Option<f64>,
    c: Option<f64>,
}

impl Accept for Ohlc {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut v = Self::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value::<Lenient<f64>>()?.0;
            match key.0.as_ref() {
                "o" => v.o = value,
                "h" => v.h = value,
                "l" => v.l = value,
                "c" => v.c = value,
                _ => {}
            }
        }
        Ok(Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"instrument":"USD_JPY","granularity":"H1","candles":[
      {"complete":true,"volume":481,"time":"2026-03-02T00:00:00.000000000Z",
       "mid":{"o":"150.123","h":"150.301","l":"150.050","c":"150.222"},
       "bid":{"o":"150.113","h":"150.291","l":"150.040","c":"150.212"},
       "ask":{"o":"150.133","h":"150.311","l":"150.060","c":"150.232"}},
      {"complete":false,"volume":"12","time":"1772413200.000000000",
       "mid":{"o":"150.222","h":"150.250","l":"150.200","c":"150.240"}}]}"#;

    #[test]
    fn decimal_strings_nanosecond_times_and_the_component_asked_for() {
        let page = candles(BODY.as_bytes(), PriceComponent::Mid).unwrap();
        assert_eq!(page.rows.len(), 2);
        let first = page.rows[0];
        assert!(first.complete);
        assert_eq!(first.raw.time_millis, 1_772_409_600_000);
        assert_eq!(first.raw.open, Some(150.123));
        assert_eq!(first.raw.close, Some(150.222));
        assert_eq!(first.raw.volume, Some(481.0));
        let second = page.rows[1];
        assert!(!second.complete);
        assert_eq!(
            second.raw.time_millis, 1_772_413_200_000,
            "UNIX seconds too"
        );
        assert_eq!(second.raw.volume, Some(12.0), "a volume as a string");
        let bid = candles(BODY.as_bytes(), PriceComponent::Bid).unwrap();
        assert_eq!(bid.rows[0].raw.close, Some(150.212));
        assert_eq!(bid.rows[1].raw.close, None, "no bid on the second candle");
        let ask = candles(BODY.as_bytes(), PriceComponent::Ask).unwrap();
        assert_eq!(ask.rows[0].raw.high, Some(150.311));
    }

    #[test]
    fn one_bad_row_costs_one_row() {
        let body = r#"{"candles":[
          {"complete":true,"volume":1,"time":"2026-03-02T00:00:00Z","mid":{"o":"abc","h":"1.2","l":"1.0","c":"1.1"}},
          {"complete":true,"volume":1,"time":12,"mid":{"o":"1e5","h":"1.2","l":"1.0","c":"NaN"}},
          {"complete":true,"volume":[1],"time":{"t":1},"mid":"1.1"},
          42,
          null,
          {"complete":"yes","volume":1,"time":"not a time","mid":{"o":"1.1","h":"1.2","l":"1.0","c":"1.1"}},
          {"complete":true,"volume":2,"time":"2026-03-02T01:00:00Z","mid":{"o":"1.1","h":"1.2","l":"1.0","c":"1.15"},"extra":{"x":[1,2]}}
        ]}"#;
        let page = candles(body.as_bytes(), PriceComponent::Mid).unwrap();
        assert_eq!(page.rows.len(), 7, "every row is read, malformed or not");
        assert_eq!(page.rows[0].raw.open, None);
        assert_eq!(page.rows[0].raw.high, Some(1.2));
        assert_eq!(
            page.rows[1].raw.open, None,
            "an exponent is not OANDA's decimal"
        );
        assert_eq!(page.rows[1].raw.close, None);
        assert_eq!(page.rows[2].raw.volume, None);
        assert_eq!(page.rows[2].raw.time_millis, i64::MIN);
        assert_eq!(page.rows[2].raw.close, None);
        assert_eq!(page.rows[3], NOTHING);
        assert_eq!(page.rows[4], NOTHING);
        assert_eq!(page.rows[5].raw.time_millis, i64::MIN);
        assert!(!page.rows[5].complete);
        assert_eq!(page.rows[6].raw.close, Some(1.15));
    }

    #[test]
    fn a_body_that_is_not_candles_is_an_error() {
        for body in [
            "",
            "not json",
            "{}",
            r#"{"candles":null}"#,
            r#"{"candles":{}}"#,
            "[]",
            r#"{"candles":[]} x"#,
        ] {
            assert!(
                candles(body.as_bytes(), PriceComponent::Mid).is_err(),
                "{body:?}"
            );
        }
        assert_eq!(
            candles(br#"{"candles":[]}"#, PriceComponent::Mid)
                .unwrap()
                .rows
                .len(),
            0
        );
    }

    #[test]
    fn oandas_times_are_read_by_position_and_others_by_the_general_parser() {
        for s in [
            "2026-03-02T00:00:00.000000000Z",
            "2026-03-02T13:45:07Z",
            "2026-03-02T13:45:07.5Z",
            "2024-02-29T23:59:59.999999999Z",
        ] {
            let general = DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
            assert_eq!(utc_millis(s.as_bytes()), Some(general), "{s}");
        }
        for s in [
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-03-02T24:00:00Z",
            "2026-03-02 00:00:00Z",
            "2026-03-02T00:00:00+01:00",
            "2026-03-02T00:00:00.Z",
        ] {
            assert_eq!(utc_millis(s.as_bytes()), None, "{s}");
        }
        // An offset still reads, through the general parser.
        assert_eq!(
            <i64 as Accept>::from_str("2026-03-02T01:00:00+01:00"),
            Some(
                DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
                    .unwrap()
                    .timestamp_millis()
            )
        );
    }

    #[test]
    fn decimals_are_plain() {
        assert_eq!(decimal("150.123"), Some(150.123));
        assert_eq!(decimal("-0.5"), Some(-0.5));
        assert_eq!(decimal("7"), Some(7.0));
        for bad in ["", ".", "1.2.3", "1e5", "inf", "NaN", "+1", "1,5", " 1"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
    }
}
