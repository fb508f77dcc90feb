//! [`Symbol`]: the validated name of an instrument.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest symbol accepted, in bytes.
pub const SYMBOL_MAX_LEN: usize = 32;

/// The name of an instrument: an FX pair (`USDJPY`), a stock (`AAPL`, `7203.T`, `BRK-B`), an index
/// (`^N225`) or a Yahoo FX ticker (`USDJPY=X`).
///
/// A symbol is canonical uppercase ASCII of 1 to 32 characters drawn from `A-Z 0-9 . - ^ = _ &`,
/// with at least one letter or digit, not starting with `.` or `-`, and without `..`. Everything
/// that could escape a Redis key or an object path (`/`, `\`, `:`, `*`, `?`, braces, whitespace,
/// control and non-ASCII characters) is refused, so a `Symbol` can be put into a key or a path as
/// it is.
///
/// ```
/// use axia_domain::Symbol;
///
/// let s: Symbol = "usdjpy".parse()?;
/// assert_eq!(s.as_str(), "USDJPY");
/// assert_eq!(s.fx_pair(), Some(("USD", "JPY")));
/// assert!("../etc/passwd".parse::<Symbol>().is_err());
/// # Ok::<(), axia_domain::SymbolError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

/// Why a string is not a [`Symbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SymbolError {
    /// The string was empty.
    #[error("symbol is empty")]
    Empty,
    /// The string was longer than [`SYMBOL_MAX_LEN`] bytes.
    #[error("symbol is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error(
        "symbol has the character {ch:?} at position {position}, allowed are A-Z 0-9 . - ^ = _ &"
    )]
    InvalidChar {
        /// The character.
        ch: char,
        /// Its position in characters, from 0.
        position: usize,
    },
    /// `..` appears in the symbol.
    #[error("symbol has '..' at position {position}")]
    DotDot {
        /// Where the first `.` of the pair stands.
        position: usize,
    },
    /// The symbol starts with `.` or `-`.
    #[error("symbol starts with {ch:?}")]
    BadStart {
        /// The first character.
        ch: char,
    },
    /// The symbol has no letter or digit.
    #[error("symbol has no letter or digit")]
    NoAlphanumeric,
}

/// ISO 4217 codes (and the metals) recognised as the halves of an FX pair.
const CURRENCIES: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CNH", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR",
    "ILS", "INR", "JPY", "KRW", "MXN", "NOK", "NZD", "PLN", "RUB", "SEK", "SGD", "THB", "TRY",
    "TWD", "USD", "XAG", "XAU", "ZAR",
];

/// True for a code of [`CURRENCIES`].
pub(crate) fn is_currency(code: &str) -> bool {
    CURRENCIES.contains(&code)
}

impl Symbol {
    /// Validates `s` and makes it canonical (uppercase).
    ///
    /// # Errors
    /// [`SymbolError`] naming the first rule `s` breaks.
    pub fn new(s: &str) -> Result<Self, SymbolError> {
        if s.is_empty() {
            return Err(SymbolError::Empty);
        }
        let mut canonical = String::with_capacity(s.len());
        let mut prev_dot = false;
        let mut alnum = false;
        for (position, ch) in s.chars().enumerate() {
            let up = ch.to_ascii_uppercase();
            let ok = up.is_ascii_uppercase()
                || up.is_ascii_digit()
                || matches!(up, '.' | '-' | '^' | '=' | '_' | '&');
            if !ok {
                return Err(SymbolError::InvalidChar { ch, position });
            }
            if up == '.' && prev_dot {
                return Err(SymbolError::DotDot {
                    position: position.saturating_sub(1),
                });
            }
            if position == 0 && matches!(up, '.' | '-') {
                return Err(SymbolError::BadStart { ch });
            }
            prev_dot = up == '.';
            alnum |= up.is_ascii_alphanumeric();
            canonical.push(up);
        }
        // Checked after the characters so a long hostile string reports its first bad character.
        if canonical.len() > SYMBOL_MAX_LEN {
            return Err(SymbolError::TooLong {
                len: canonical.len(),
                max: SYMBOL_MAX_LEN,
            });
        }
        if !alnum {
            return Err(SymbolError::NoAlphanumeric);
        }
        Ok(Self(canonical))
    }

    /// The canonical text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base and quote currencies when the symbol is a six-letter FX pair of known currencies
    /// (`EURUSD` gives `("EUR", "USD")`); `None` otherwise (`AAPL`, `USDJPY=X`).
    #[must_use]
    pub fn fx_pair(&self) -> Option<(&str, &str)> {
        if self.0.len() != 6 {
            return None;
        }
        let (base, quote) = self.0.split_at_checked(3)?;
        (CURRENCIES.contains(&base) && CURRENCIES.contains(&quote)).then_some((base, quote))
    }

    /// True for a six-letter FX pair of known currencies.
    #[must_use]
    pub fn is_fx_pair(&self) -> bool {
        self.fx_pair().is_some()
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = SymbolError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl TryFrom<&str> for Symbol {
    type Error = SymbolError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<Symbol> for String {
    fn from(s: Symbol) -> Self {
        s.0
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_symbols() {
        for (input, canonical) in [
            ("USDJPY", "USDJPY"),
            ("eurusd", "EURUSD"),
            ("AAPL", "AAPL"),
            ("7203.T", "7203.T"),
            ("BRK-B", "BRK-B"),
            ("brk.b", "BRK.B"),
            ("^N225", "^N225"),
            ("^GSPC", "^GSPC"),
            ("USDJPY=X", "USDJPY=X"),
            ("ES=F", "ES=F"),
            ("M&M.NS", "M&M.NS"),
            ("BTC-USD", "BTC-USD"),
            ("A", "A"),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            ),
        ] {
            let s = Symbol::new(input).unwrap_or_else(|e| panic!("{input:?} refused: {e}"));
            assert_eq!(s.as_str(), canonical, "{input:?}");
        }
    }

    #[test]
    fn refuses_hostile_symbols() {
        let cases: &[(&str, SymbolError)] = &[
            ("", SymbolError::Empty),
            (
                "USD/JPY",
                SymbolError::InvalidChar {
                    ch: '/',
                    position: 3,
                },
            ),
            (
                "USD\\JPY",
                SymbolError::InvalidChar {
                    ch: '\\',
                    position: 3,
                },
            ),
            (
                "ohlcv:USDJPY",
                SymbolError::InvalidChar {
                    ch: ':',
                    position: 5,
                },
            ),
            (
                "*",
                SymbolError::InvalidChar {
                    ch: '*',
                    position: 0,
                },
            ),
            (
                "USD?",
                SymbolError::InvalidChar {
                    ch: '?',
                    position: 3,
                },
            ),
            (
                "USD JPY",
                SymbolError::InvalidChar {
                    ch: ' ',
                    position: 3,
                },
            ),
            (
                "USDJPY\n",
                SymbolError::InvalidChar {
                    ch: '\n',
                    position: 6,
                },
            ),
            (
                "USD\tJPY",
                SymbolError::InvalidChar {
                    ch: '\t',
                    position: 3,
                },
            ),
            (
                "USD\0",
                SymbolError::InvalidChar {
                    ch: '\0',
                    position: 3,
                },
            ),
            (
                "USD\u{7f}",
                SymbolError::InvalidChar {
                    ch: '\u{7f}',
                    position: 3,
                },
            ),
            (
                "ÜSD",
                SymbolError::InvalidChar {
                    ch: 'Ü',
                    position: 0,
                },
            ),
            (
                "USD\u{200b}JPY",
                SymbolError::InvalidChar {
                    ch: '\u{200b}',
                    position: 3,
                },
            ),
            (
                "{USDJPY}",
                SymbolError::InvalidChar {
                    ch: '{',
                    position: 0,
                },
            ),
            ("A..B", SymbolError::DotDot { position: 1 }),
            ("..", SymbolError::BadStart { ch: '.' }),
            (".T", SymbolError::BadStart { ch: '.' }),
            ("-B", SymbolError::BadStart { ch: '-' }),
            ("^=", SymbolError::NoAlphanumeric),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
                SymbolError::TooLong { len: 33, max: 32 },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Symbol::new(input).as_ref(), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn fx_pairs_are_recognised() {
        let fx = |s: &str| {
            Symbol::new(s)
                .unwrap()
                .fx_pair()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        };
        assert_eq!(fx("gbpjpy"), Some(("GBP".into(), "JPY".into())));
        assert_eq!(fx("XAUUSD"), Some(("XAU".into(), "USD".into())));
        assert_eq!(fx("USDJPY=X"), None);
        assert_eq!(fx("NVIDIA"), None);
        assert_eq!(fx("AAPL"), None);
    }

    #[test]
    fn serde_validates() {
        let ok: Symbol = serde_json::from_str("\"eurjpy\"").unwrap();
        assert_eq!(ok.as_str(), "EURJPY");
        assert!(serde_json::from_str::<Symbol>("\"a/b\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"EURJPY\"");
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(s in "[A-Za-z0-9][A-Za-z0-9^=_&-]{0,31}") {
            let sym = Symbol::new(&s).unwrap();
            let again: Symbol = sym.to_string().parse().unwrap();
            prop_assert_eq!(&again, &sym);
            prop_assert_eq!(sym.as_str(), s.to_ascii_uppercase());
        }

        #[test]
        fn accepted_symbols_are_safe_in_keys_and_paths(s in "\\PC{0,40}") {
            if let Ok(sym) = Symbol::new(&s) {
                let t = sym.as_str();
                prop_assert!(t.len() <= SYMBOL_MAX_LEN && !t.is_empty());
                prop_assert!(!t.contains("..") && !t.starts_with('.'));
                prop_assert!(t.bytes().all(|b| b.is_ascii_graphic()));
                let forbidden = ['/', '\\', ':', '*', '?', '{', '}', '[', ']', '"', '\''];
                prop_assert!(!t.contains(forbidden), "{}", t);
            }
        }
    }
}
