//! Percent-encoding, one rule for every name that goes into a URL: [`path_segment`] for a
//! ticker, an instrument, an account or a client order id; [`percent_encode`] with the
//! separators a context keeps (an S3 copy source keeps `/`).

/// `s` with every byte percent-encoded except RFC 3986's unreserved characters (letters,
/// digits, `-`, `.`, `_`, `~`) and the bytes in `keep`.
///
/// ```
/// assert_eq!(axia_http::percent_encode("a/b=c d", b"/"), "a/b%3Dc%20d");
/// ```
#[must_use]
pub fn percent_encode(s: &str, keep: &[u8]) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'_' | b'~')
                || keep.contains(&b)
            {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `s` as one URL path segment: the unreserved characters and `=` stay, every other byte is
/// percent-encoded (`^N225` is `%5EN225`, `a/b` is `a%2Fb`), so a name can never add a segment
/// or a query to the path it goes into.
///
/// ```
/// assert_eq!(axia_http::path_segment("^N225"), "%5EN225");
/// assert_eq!(axia_http::path_segment("USDJPY=X"), "USDJPY=X");
/// assert_eq!(axia_http::path_segment("c-1/../x?y"), "c-1%2F..%2Fx%3Fy");
/// ```
#[must_use]
pub fn path_segment(s: &str) -> String {
    percent_encode(s, b"=")
}
