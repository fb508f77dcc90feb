//! Quantities and prices: decimals that are `> 0`.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A decimal that is `> 0`, for quantities and prices.
macro_rules! positive_decimal {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "Decimal", into = "Decimal")]
        pub struct $name(Decimal);

        impl $name {
            /// Validates `value > 0`.
            ///
            /// # Errors
            /// [`NotPositive`] otherwise.
            pub fn new(value: Decimal) -> Result<Self, NotPositive> {
                if value > Decimal::ZERO {
                    Ok(Self(value))
                } else {
                    Err(NotPositive { what: $what, value })
                }
            }

            /// The value.
            #[must_use]
            pub const fn get(self) -> Decimal {
                self.0
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = NotPositive;
            fn try_from(value: Decimal) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for Decimal {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = DecimalError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let text = s.trim();
                let value = Decimal::from_str_exact(text).map_err(|_| {
                    let input = s.chars().take(32).collect();
                    // Written as a plain decimal number: too many digits, not a bad number.
                    if is_plain_decimal(text) {
                        DecimalError::OutOfRange { what: $what, input }
                    } else {
                        DecimalError::NotANumber { what: $what, input }
                    }
                })?;
                Ok(Self::new(value)?)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

/// `[+-]digits[.digits]`: a decimal number as written in an order, whatever its size.
fn is_plain_decimal(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "1"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
}

/// A value that had to be a positive decimal number and was not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be a decimal number above zero, got {value}")]
pub struct NotPositive {
    what: &'static str,
    value: Decimal,
}

/// Why a string is not a quantity or a price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalError {
    /// Not a decimal number at all (`"abc"`, `"1e3"`).
    #[error("{what} {input:?} is not a decimal number")]
    NotANumber {
        /// Quantity or price.
        what: &'static str,
        /// The text (at most 32 characters of it).
        input: String,
    },
    /// A decimal number, but beyond what an order can carry: above
    /// 79,228,162,514,264,337,593,543,950,335 or with more than 28 decimals.
    #[error(
        "{what} {input:?} is out of range: at most 79228162514264337593543950335, with at most 28 decimals"
    )]
    OutOfRange {
        /// Quantity or price.
        what: &'static str,
        /// The text (at most 32 characters of it).
        input: String,
    },
    /// A number, but not above zero.
    #[error(transparent)]
    NotPositive(#[from] NotPositive),
}

positive_decimal!(
    /// An order size in units of the instrument, `> 0`.
    Quantity,
    "quantity"
);
positive_decimal!(
    /// A price, `> 0`.
    Price,
    "price"
);
