//! Keeping secrets out of logs, errors and reports: one home for the rules.

/// Where the user-info part of `url` is (between `://` and the last `@` of the authority).
fn userinfo(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let authority_end = url
        .get(start..)?
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let at = url.get(start..authority_end)?.rfind('@')? + start;
    Some((start, at))
}

/// The password in `url`'s user info (or a lone user token, which Redis treats as a
/// password), if any.
#[must_use]
pub fn url_password(url: &str) -> Option<String> {
    let (start, at) = userinfo(url)?;
    let info = url.get(start..at)?;
    Some(info.split_once(':').map_or(info, |(_, p)| p).to_owned())
}

/// `url` with its password (or a lone user token) replaced by `***`:
/// `redis://:s3cret@host:6379` gives `redis://:***@host:6379`.
///
/// ```
/// assert_eq!(axia_domain::redact_url("rediss://app:p@ss@host/0"), "rediss://app:***@host/0");
/// assert_eq!(axia_domain::redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((start, at)) = userinfo(url) else {
        return url.to_owned();
    };
    let info = url.get(start..at).unwrap_or_default();
    let user = info.split_once(':').map_or("", |(u, _)| u);
    format!(
        "{}{}:***{}",
        url.get(..start).unwrap_or_default(),
        user,
        url.get(at..).unwrap_or_default()
    )
}

/// `text` with every non-empty secret of `secrets` replaced by `***` (for error messages that
/// may quote a URL or a token).
#[must_use]
pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "***"))
}
