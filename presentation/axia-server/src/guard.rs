//! What every request goes through before and after its route: the origin policy (CORS, the
//! `Host` check), limits on the request head, a time limit, and problem details for every error,
//! the framework's own included. A panic is answered 500, never a dropped connection.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Api;
use crate::problem::Problem;

/// The longest URI a route takes, bytes: longer is 414.
pub(crate) const MAX_URI_BYTES: usize = 8 * 1024;
/// The largest set of request headers a route takes, bytes: larger is 431.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The most request headers a route takes: more is 431.
pub(crate) const MAX_HEADER_COUNT: usize = 64;

/// Which web origins may read the API from a browser, and which `Host` names the server
/// answers to.
///
/// - **Origins** ([`Origins`]): by default any page may read the read-only API (CORS
///   `Access-Control-Allow-Origin: *`, never with credentials) and open its WebSockets; a list
///   restricts both to those origins. Routes that change state (to come with jobs and alerts)
///   answer no cross-origin request.
/// - **Hosts**: when set, a request whose `Host` is not one of them is refused with 421 before
///   any route runs: a page on another site that rebinds its DNS name to 127.0.0.1 cannot
///   reach a server on loopback. `axia-server` sets them when it listens on loopback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// The origins browsers may read from.
    pub origins: Origins,
    /// The host names (without port) the server answers to; `None`: any.
    pub hosts: Option<Vec<String>>,
}

/// Web origins allowed to read the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origins {
    /// Any origin (the read-only API holds nothing private).
    #[default]
    Any,
    /// Only these, each `scheme://host[:port]` as a browser sends it in `Origin`.
    List(Vec<String>),
}

impl Policy {
    /// Any origin, any host.
    #[must_use]
    pub fn open() -> Self {
        Self::default()
    }

    /// Only these origins (browsers elsewhere can neither read the API nor open a WebSocket).
    #[must_use]
    pub fn origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.origins = Origins::List(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Only requests whose `Host` is one of `hosts` (names or addresses, without the port).
    #[must_use]
    pub fn hosts(mut self, hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.hosts = Some(
            hosts
                .into_iter()
                .map(|h| h.into().to_ascii_lowercase())
                .collect(),
        );
        self
    }

    /// The names a server bound to loopback answers to: `localhost`, `127.0.0.1`, `[::1]`
    /// (`::1`).
    #[must_use]
    pub fn loopback_hosts(self) -> Self {
        self.hosts(["localhost", "127.0.0.1", "::1", "[::1]"])
    }

    /// True when a browser page of `origin` may read the API and open its WebSockets.
    pub(crate) fn allows_origin(&self, origin: &str) -> bool {
        match &self.origins {
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }

    fn allows_host(&self, host: &str) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        // `Host` is `name[:port]` or `[v6][:port]`.
        let name = match host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => host.rsplit_once(':').map_or(host, |(n, _)| n),
        };
        let name = name.to_ascii_lowercase();
        hosts
            .iter()
            .any(|h| *h == name || h.trim_matches(['[', ']']) == name)
    }

    /// The `Access-Control-Allow-Origin` answer to a request from `origin` (`None`: the
    /// request named no origin), if it is allowed.
    fn allow_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match (&self.origins, origin) {
            (Origins::Any, _) => Some(HeaderValue::from_static("*")),
            (Origins::List(_), Some(o)) => o
                .to_str()
                .ok()
                .filter(|o| self.allows_origin(o))
                .map(|_| o.clone()),
            (Origins::List(_), None) => None,
        }
    }
}

/// The response headers a browser may read cross-origin.
const EXPOSED: &str = "etag, server-timing, x-axia-bars, x-axia-truncated, x-axia-complete, x-axia-served-by, x-axia-next-before";

/// CORS, as few header writes as it takes on the hot path: `*` (any origin) or the listed
/// origin with `Vary: Origin`; GET and HEAD; no credentials.
fn cors(policy: &Policy, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
    if let Origins::List(_) = policy.origins {
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
    if let Some(allow) = policy.allow_origin(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
}

/// A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`): 204 with what may be
/// asked, or without an allow-origin when the origin is not allowed.
fn preflight(policy: &Policy, origin: Option<&HeaderValue>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    cors(policy, origin, headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("accept, accept-encoding, if-none-match"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    response
}

/// Host, head limits, the time limit, problem details for every error, `nosniff`.
pub(crate) async fn guard(State(api): State<Api>, request: Request, next: Next) -> Response {
    // Cheap to keep (shared bytes): the path for a problem's `instance`, the origin for CORS.
    let uri = request.uri().clone();
    let origin = request.headers().get(header::ORIGIN).cloned();
    let policy = api.policy();
    let mut response = if let Some(p) = refuse(&api, &request) {
        p.at(uri.path()).into_response()
    } else if request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(policy, origin.as_ref());
    } else {
        let limit = api.limits().request_timeout;
        match tokio::time::timeout(limit, next.run(request)).await {
            Ok(r) => problem_body(r, uri.path()).await,
            Err(_) => Problem::unavailable(format!(
                "the request took longer than {} s: ask for a shorter range or fewer bars",
                limit.as_secs_f64()
            ))
            .at(uri.path())
            .into_response(),
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    cors(policy, origin.as_ref(), headers);
    response
}

/// Why a request is refused before its route runs, if it is.
fn refuse(api: &Api, request: &Request) -> Option<Problem> {
    let policy = api.policy();
    if let Some(host) = host_of(request)
        && !policy.allows_host(host)
    {
        return Some(Problem::new(
            StatusCode::MISDIRECTED_REQUEST,
            "host-not-allowed",
            "Host not allowed",
            format!(
                "this server does not answer to {:?}",
                crate::params::clip(host)
            ),
        ));
    }
    let uri = request.uri();
    let uri_bytes = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if uri_bytes > MAX_URI_BYTES {
        return Some(Problem::new(
            StatusCode::URI_TOO_LONG,
            "uri-too-long",
            "URI too long",
            format!("the URI has {uri_bytes} bytes; at most {MAX_URI_BYTES} are taken"),
        ));
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers.len() > MAX_HEADER_COUNT || header_bytes > MAX_HEADER_BYTES {
        return Some(Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            "Request header fields too large",
            format!(
                "{} headers of {header_bytes} bytes; at most {MAX_HEADER_COUNT} headers of {MAX_HEADER_BYTES} bytes are taken",
                headers.len()
            ),
        ));
    }
    None
}

/// The `Host` header, or the URI's authority (HTTP/2, absolute-form requests).
fn host_of(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(axum::http::uri::Authority::as_str)
        })
}

/// An error response without a problem body (a framework rejection: 405, a path that is not
/// UTF-8, 413…) as problem details, its text as the detail; any other response as it is.
async fn problem_body(response: Response, path: &str) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let kind = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "-");
    let title = status.canonical_reason().unwrap_or("Error");
    let mut out = Problem::new(status, &kind, title, crate::params::clip(&detail))
        .at(path)
        .into_response();
    // What the framework said beside its status (`Allow` on a 405) stays.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"))
}

/// A panic in a route, as a 500 problem (the connection stays up; the panic is logged).
pub(crate) fn panic_problem(err: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let what = err
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "a route panicked; answered 500");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the server failed on this request; it is logged",
    )
    .into_response()
}

/// A nonce for the chart page's inline scripts (`Content-Security-Policy: script-src
/// 'nonce-…'`): 128 bits from the process's random hash keys and a counter.
pub(crate) fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(std::collections::hash_map::RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let half = |lane: u64| {
        let mut h = keys.build_hasher();
        h.write_u64(lane);
        h.write_u64(n);
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}
