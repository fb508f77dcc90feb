//! Strong ETags per content coding: a compressed response is another representation of the
//! resource, so it gets its own strong validator (RFC 9110, 8.8.3).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// Gives a response the compression layer encoded the strong ETag `"<tag>-<coding>"` beside the
/// identity body's `"<tag>"` (the handler computes one tag, over the identity body; without
/// this, the gzip and identity representations would share it), and takes either back in
/// `If-None-Match`: the handler compares identity tags, and a 304 answers with the validator the
/// client sent, so a cache's stored representation keeps its own.
pub(crate) async fn etag_per_coding(mut req: Request, next: Next) -> Response {
    // (identity tag, the tag as the client sent it) for each tag that names a coding.
    let mut coded: Vec<(String, String)> = Vec::new();
    let sent: Vec<String> = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if sent.iter().any(|t| identity_tag(t).is_some()) {
        let rewritten: Vec<String> = sent
            .into_iter()
            .map(|t| match identity_tag(&t) {
                Some(id) => {
                    coded.push((id.clone(), t));
                    id
                }
                None => t,
            })
            .collect();
        let headers = req.headers_mut();
        headers.remove(header::IF_NONE_MATCH);
        if let Ok(v) = HeaderValue::from_str(&rewritten.join(", ")) {
            headers.insert(header::IF_NONE_MATCH, v);
        }
    }
    let mut res = next.run(req).await;
    let Some(tag) = res
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return res;
    };
    let coding = res
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|c| !c.eq_ignore_ascii_case("identity"))
        .map(str::to_owned);
    let replaced = match coding {
        Some(c) => with_coding(&tag, &c),
        None if res.status() == StatusCode::NOT_MODIFIED => coded
            .into_iter()
            .find(|(id, _)| id.strip_prefix("W/").unwrap_or(id) == tag)
            .map(|(_, original)| original),
        None => None,
    };
    if let Some(v) = replaced.and_then(|t| HeaderValue::from_str(&t).ok()) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// Splits `W/"x"` into (`W/`, `x`), `"x"` into (``, `x`); `None` for anything else.
fn unquote(tag: &str) -> Option<(&str, &str)> {
    let (weak, quoted) = tag.strip_prefix("W/").map_or(("", tag), |q| ("W/", q));
    Some((weak, quoted.strip_prefix('"')?.strip_suffix('"')?))
}

/// `"abc-gzip"` -> `"abc"` (weakness kept); `None` for a tag that names no coding.
fn identity_tag(tag: &str) -> Option<String> {
    let (weak, inner) = unquote(tag)?;
    let (id, coding) = inner.rsplit_once('-')?;
    let is_coding = !coding.is_empty() && coding.bytes().all(|b| b.is_ascii_alphanumeric());
    (!id.is_empty() && is_coding).then(|| format!("{weak}\"{id}\""))
}

/// `"abc"` and `gzip` -> `"abc-gzip"`.
fn with_coding(tag: &str, coding: &str) -> Option<String> {
    let (weak, inner) = unquote(tag)?;
    coding
        .bytes()
        .all(|b| b.is_ascii_alphanumeric())
        .then(|| format!("{weak}\"{inner}-{coding}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_gain_and_lose_their_coding() {
        assert_eq!(
            with_coding("\"ab12\"", "gzip").as_deref(),
            Some("\"ab12-gzip\"")
        );
        assert_eq!(
            with_coding("W/\"ab12\"", "br").as_deref(),
            Some("W/\"ab12-br\"")
        );
        assert_eq!(identity_tag("\"ab12-gzip\"").as_deref(), Some("\"ab12\""));
        assert_eq!(
            identity_tag("W/\"ab12-gzip\"").as_deref(),
            Some("W/\"ab12\"")
        );
        for plain in [
            "\"ab12\"",
            "*",
            "ab12-gzip",
            "\"-gzip\"",
            "\"ab12-\"",
            "\"a-b c\"",
        ] {
            assert_eq!(identity_tag(plain), None, "{plain}");
        }
        assert_eq!(with_coding("ab12", "gzip"), None);
    }
}
