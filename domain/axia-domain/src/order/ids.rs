//! Order and client order ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest order or client order id accepted.
pub const ORDER_ID_MAX_LEN: usize = 64;

/// Why a string is not an order id or a client order id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderIdError {
    /// Empty.
    #[error("id is empty")]
    Empty,
    /// Longer than [`ORDER_ID_MAX_LEN`].
    #[error("id is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside `A-Z a-z 0-9 - _`.
    #[error("id has the character {ch:?} at position {position}, allowed are A-Z a-z 0-9 - _")]
    InvalidChar {
        /// The character.
        ch: char,
        /// Its position.
        position: usize,
    },
}

fn check_id(s: &str) -> Result<(), OrderIdError> {
    if s.is_empty() {
        return Err(OrderIdError::Empty);
    }
    if let Some((position, ch)) = s
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return Err(OrderIdError::InvalidChar { ch, position });
    }
    if s.len() > ORDER_ID_MAX_LEN {
        return Err(OrderIdError::TooLong {
            len: s.len(),
            max: ORDER_ID_MAX_LEN,
        });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s`: 1 to 64 characters of `A-Z a-z 0-9 - _`.
            ///
            /// # Errors
            /// [`OrderIdError`] naming the rule `s` breaks.
            pub fn new(s: &str) -> Result<Self, OrderIdError> {
                check_id(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = OrderIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = OrderIdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                check_id(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id_type!(
    /// axia's key for an order: the order store is keyed by it, a duplicate delivery carries the
    /// same one.
    OrderId
);
id_type!(
    /// The id sent to the broker with an order; executors are idempotent by it.
    ClientOrderId
);
