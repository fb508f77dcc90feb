//! Durations in JSON and TOML as milliseconds (numbers), never `{secs, nanos}` objects: use with
//! `#[serde(with = "axia_domain::millis::std")]` (a `std::time::Duration`),
//! `axia_domain::millis::chrono` (a `chrono::Duration`) or `axia_domain::millis::opt_chrono`.

/// `d` in milliseconds to the microsecond, as the `f64` nearest that decimal: a measured latency
/// prints as `1.059`, never `1.0591409999999999` (what `as_secs_f64() * 1e3` gives).
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(axia_domain::millis::measured(Duration::from_nanos(1_059_141)), 1.059);
/// assert_eq!(serde_json::to_string(&axia_domain::millis::measured(Duration::from_millis(250))).unwrap(), "250.0");
/// ```
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn measured(d: ::std::time::Duration) -> f64 {
    // An integer of microseconds (exact below 2^53, 285 years) over 1,000: one rounding, to
    // the nearest f64 of a number with three decimals, whose shortest form is those decimals.
    d.as_micros() as f64 / 1e3
}

/// Whole milliseconds of `d` for a log field or a counter (saturating at `u64::MAX`).
#[must_use]
pub fn whole(d: ::std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A `std::time::Duration` as whole milliseconds (`u64`; sub-millisecond parts are dropped).
pub mod std {
    use ::std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes `d` as milliseconds.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Deserializes milliseconds.
    ///
    /// # Errors
    /// The deserializer's (a negative or non-integer number).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// A `chrono::Duration` as whole milliseconds (`i64`).
pub mod chrono {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes `d` as milliseconds.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(d: &::chrono::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_milliseconds())
    }

    /// Deserializes milliseconds.
    ///
    /// # Errors
    /// The deserializer's.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<::chrono::Duration, D::Error> {
        Ok(::chrono::Duration::milliseconds(i64::deserialize(d)?))
    }
}

/// An optional `chrono::Duration` as whole milliseconds, or null.
pub mod opt_chrono {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes `d` as milliseconds or null.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(
        d: &Option<::chrono::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.num_milliseconds()),
            None => s.serialize_none(),
        }
    }

    /// Deserializes milliseconds or null.
    ///
    /// # Errors
    /// The deserializer's.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<::chrono::Duration>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(::chrono::Duration::milliseconds))
    }
}
