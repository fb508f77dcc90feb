//! [`path_segment`]: one rule for putting a name (a ticker, an instrument, an account, a client
//! order id) into a URL path.

/// `s` as one URL path segment: RFC 3986's unreserved characters and `=` stay, every other
/// byte is percent-encoded (`^N225` is `%5EN225`, `a/b` is `a%2Fb`), so a name can never add a
/// segment or a query to the path it goes into.
///
/// ```
/// assert_eq!(axia_domain::path_segment("^N225"), "%5EN225");
/// assert_eq!(axia_domain::path_segment("USDJPY=X"), "USDJPY=X");
/// assert_eq!(axia_domain::path_segment("c-1/../x?y"), "c-1%2F..%2Fx%3Fy");
/// ```
#[must_use]
pub fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'=') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
