//! Jobs and schedules over HTTP, and the operator page, when the [`Api`] has a job store
//! ([`ApiBuilder::jobs`](crate::ApiBuilder::jobs)).
//!
//! | route | who |
//! |---|---|
//! | `GET /api/v1/jobs?state=&queue=&limit=`, `GET /api/v1/jobs/{id}` | anyone the API serves |
//! | `GET /api/v1/schedules` | anyone the API serves |
//! | `POST /api/v1/jobs` (submit), `POST /api/v1/jobs/{id}/retry`, `…/cancel` | the operator |
//! | `POST /api/v1/schedules/{name}/pause`, `…/resume` | the operator |
//! | `GET /jobs`: queues, jobs in progress with their bars, failures, schedules | the operator |
//!
//! **The operator** is, with a token configured ([`ApiBuilder::operator_token`]), a request
//! that presents it (`Authorization: Bearer TOKEN`, or HTTP Basic with the token as password,
//! which a browser asks for); without one, only a request from the server's own host
//! (a loopback peer that no proxy forwarded). An operator request from a page of another
//! origin is refused either way (no cross-site request can change a job).
//!
//! [`ApiBuilder::operator_token`]: crate::ApiBuilder::operator_token

use std::net::SocketAddr;
use std::sync::Arc;

use axia_domain::{
    JobError, JobFilter, JobId, JobQueue, JobRequest, JobSpec, JobState, JobView, QueueName,
    ScheduleName, ScheduleStore, ScheduleView,
};
use axum::Json;
use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::Api;
use crate::problem::Problem;

/// The job store the routes read and change.
#[derive(Clone)]
pub(crate) struct JobStore {
    pub(crate) queue: Arc<dyn JobQueue>,
    pub(crate) schedules: Arc<dyn ScheduleStore>,
    pub(crate) token: Option<String>,
}

/// The routes, for [`Api::router`] to merge.
pub(crate) fn routes(api: &Api) -> Router<Api> {
    let operator = Router::new()
        .route("/api/v1/jobs", post(submit))
        .route("/api/v1/jobs/{id}/retry", post(retry))
        .route("/api/v1/jobs/{id}/cancel", post(cancel))
        .route("/api/v1/schedules/{name}/pause", post(pause))
        .route("/api/v1/schedules/{name}/resume", post(resume))
        .route("/jobs", get(page))
        .route_layer(axum::middleware::from_fn_with_state(api.clone(), operator));
    Router::new()
        .route("/api/v1/jobs", get(list))
        .route("/api/v1/jobs/{id}", get(status))
        .route("/api/v1/schedules", get(schedules))
        .merge(operator)
}

fn store(api: &Api) -> Result<&JobStore, Problem> {
    api.inner
        .jobs
        .as_ref()
        .ok_or_else(|| Problem::not_found("this server has no job store"))
}

fn problem(e: &JobError) -> Problem {
    match e {
        JobError::Invalid(m) => Problem::invalid(m.clone()),
        JobError::NotFound(_) => Problem::not_found(e.to_string()),
        JobError::Conflict { .. } => {
            Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
        }
        JobError::Unavailable(_) => Problem::unavailable(e.to_string()),
        JobError::Backend(_) => {
            tracing::error!(error = %e, "the job store failed");
            Problem::unavailable("the job store failed on this request; it is logged")
        }
    }
}

/// Who may call an operator route: [`operator`]'s decision, as a problem when refused.
fn refuse_operator(
    store: &JobStore,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Option<Response> {
    // A page of another origin (or a cross-site form) never reaches these routes.
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
        if host.is_none_or(|h| !h.eq_ignore_ascii_case(authority)) {
            return Some(forbidden(
                "an operator route answers no request from another origin",
            ));
        }
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|s| s.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Some(forbidden("an operator route answers no cross-site request"));
    }
    match &store.token {
        Some(token) => {
            if presented(headers).is_some_and(|t| same(t.as_bytes(), token.as_bytes())) {
                None
            } else {
                let mut r = Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Unauthorized",
                    "the operator's token is needed (Authorization: Bearer, or Basic with the token as password)",
                )
                .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"axia operator\", charset=\"UTF-8\""),
                );
                Some(r)
            }
        }
        None => {
            let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
                .iter()
                .any(|h| headers.contains_key(*h));
            if peer.is_some_and(|p| p.ip().is_loopback()) && !forwarded {
                None
            } else {
                Some(forbidden(
                    "operator routes answer only this host unless a token is set (axia-server: AXIA_OPERATOR_TOKEN)",
                ))
            }
        }
    }
}

fn forbidden(detail: &str) -> Response {
    Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail).into_response()
}

/// The token a request presents: `Bearer TOKEN`, or `Basic base64(user:TOKEN)`.
fn presented(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_owned());
    }
    None
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The operator routes' gate.
async fn operator(State(api): State<Api>, request: Request, next: Next) -> Response {
    let store = match store(&api) {
        Ok(s) => s,
        Err(p) => return p.into_response(),
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Some(refused) = refuse_operator(store, request.headers(), peer) {
        return refused;
    }
    next.run(request).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    queue: Option<String>,
    limit: Option<u32>,
}

fn json_no_store(body: impl serde::Serialize) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn list(
    State(api): State<Api>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let store = store(&api)?;
    let Query(q) = query.map_err(|e| Problem::invalid(e.body_text()))?;
    let filter = JobFilter {
        state: q
            .state
            .as_deref()
            .map(str::parse::<JobState>)
            .transpose()
            .map_err(|e| problem(&e))?,
        queue: q
            .queue
            .as_deref()
            .map(str::parse::<QueueName>)
            .transpose()
            .map_err(|e| problem(&e))?,
        limit: match q.limit {
            Some(n @ 1..=1_000) => Some(n),
            Some(n) => return Err(Problem::invalid(format!("limit {n}: 1 to 1000"))),
            None => None,
        },
    };
    let jobs = store.queue.list(&filter).await.map_err(|e| problem(&e))?;
    Ok(json_no_store(serde_json::json!({ "jobs": jobs })))
}

fn job_id(raw: &str) -> Result<JobId, Problem> {
    raw.parse().map_err(|e| problem(&e))
}

async fn status(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, Problem> {
    let store = store(&api)?;
    let v = store
        .queue
        .status(&job_id(&id)?)
        .await
        .map_err(|e| problem(&e))?;
    Ok(json_no_store(v))
}

/// A submit: the job, and optionally its queue, key and priority.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    spec: JobSpec,
    queue: Option<QueueName>,
    key: Option<String>,
    priority: Option<u16>,
    max_attempts: Option<u16>,
}

async fn submit(
    State(api): State<Api>,
    body: Result<Json<SubmitBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    let store = store(&api)?;
    let Json(body) = body.map_err(|e| Problem::invalid(e.body_text()))?;
    if matches!(body.spec, JobSpec::BackfillChunk { .. }) {
        return Err(Problem::invalid(
            "a backfill's chunks are its own jobs: submit the backfill",
        ));
    }
    let mut request = JobRequest::new(body.spec);
    if let Some(q) = body.queue {
        request = request.queue(q);
    }
    if let Some(k) = body.key {
        request = request.key(k);
    }
    if let Some(p) = body.priority {
        request.priority = p;
    }
    if let Some(n) = body.max_attempts {
        request.max_attempts = n.clamp(1, 100);
    }
    let submitted = store.queue.submit(request).await.map_err(|e| problem(&e))?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut r = (status, Json(&submitted)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/jobs/{}", submitted.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// 204 for an API call; back to the page for the page's own buttons (a form post).
fn changed(headers: &HeaderMap) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        let mut r = StatusCode::SEE_OTHER.into_response();
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/jobs"));
        r
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn retry(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let id = job_id(&id)?;
    let store = store(&api)?;
    store.queue.retry(&id).await.map_err(|e| problem(&e))?;
    Ok(changed(&headers))
}

async fn cancel(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let id = job_id(&id)?;
    let store = store(&api)?;
    store.queue.cancel(&id).await.map_err(|e| problem(&e))?;
    Ok(changed(&headers))
}

async fn schedules(State(api): State<Api>) -> Result<Response, Problem> {
    let store = store(&api)?;
    let now = api.now();
    let list: Vec<ScheduleView> = store
        .schedules
        .schedules()
        .await
        .map_err(|e| problem(&e))?
        .iter()
        .map(|s| s.view(now))
        .collect();
    Ok(json_no_store(serde_json::json!({ "schedules": list })))
}

async fn set_enabled(api: &Api, raw: &str, enabled: bool) -> Result<(), Problem> {
    let store = store(api)?;
    let name: ScheduleName = raw.parse().map_err(|e| problem(&e))?;
    if store
        .schedules
        .set_enabled(&name, enabled)
        .await
        .map_err(|e| problem(&e))?
    {
        Ok(())
    } else {
        Err(Problem::not_found(format!("no schedule named {name}")))
    }
}

async fn pause(
    State(api): State<Api>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    set_enabled(&api, &name, false).await?;
    Ok(changed(&headers))
}

async fn resume(
    State(api): State<Api>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    set_enabled(&api, &name, true).await?;
    Ok(changed(&headers))
}

/// The operator page: queues, jobs in progress, failures, schedules; it reloads itself every
/// 5 s. Server-rendered, every value escaped; no script.
async fn page(State(api): State<Api>) -> Result<Response, Problem> {
    let store = store(&api)?;
    let now = api.now();
    let recent_filter = JobFilter {
        limit: Some(500),
        ..JobFilter::default()
    };
    let failed_filter = JobFilter {
        state: Some(JobState::Failed),
        limit: Some(50),
        ..JobFilter::default()
    };
    let killed_filter = JobFilter {
        state: Some(JobState::Killed),
        ..failed_filter.clone()
    };
    let (counts, recent, failed, killed, schedules) = tokio::join!(
        store.queue.counts(),
        store.queue.list(&recent_filter),
        store.queue.list(&failed_filter),
        store.queue.list(&killed_filter),
        store.schedules.schedules(),
    );
    let counts = counts.map_err(|e| problem(&e))?;
    let recent = recent.map_err(|e| problem(&e))?;
    let mut failures = failed.map_err(|e| problem(&e))?;
    failures.extend(killed.map_err(|e| problem(&e))?);
    failures.sort_by(|a, b| b.id.cmp(&a.id));
    failures.truncate(50);
    let schedules = schedules.map_err(|e| problem(&e))?;

    let nonce = crate::guard::nonce();
    let mut html = String::with_capacity(16 * 1024);
    html.push_str(&PAGE_HEAD.replace("{{NONCE}}", &nonce));

    html.push_str("<h2>Queues</h2><table><tr><th>queue</th>");
    for s in JobState::ALL {
        html.push_str(&format!("<th>{}</th>", s.as_str()));
    }
    html.push_str("</tr>");
    let mut queues: Vec<&QueueName> = counts.iter().map(|c| &c.queue).collect();
    queues.dedup();
    for q in queues {
        html.push_str(&format!("<tr><td>{}</td>", esc(q.as_str())));
        for s in JobState::ALL {
            let n = counts
                .iter()
                .find(|c| &c.queue == q && c.state == s)
                .map_or(0, |c| c.jobs);
            html.push_str(&format!("<td class=n>{n}</td>"));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");

    // In progress: taken by a worker, or a job whose units (a backfill's chunks) are not all
    // done yet.
    let active: Vec<&JobView> = recent
        .iter()
        .filter(|v| {
            matches!(v.state, JobState::Queued | JobState::Running)
                || v.progress.is_some_and(|p| p.done < p.total)
        })
        .collect();
    html.push_str("<h2>In progress</h2>");
    if active.is_empty() {
        html.push_str("<p>Nothing runs.</p>");
    } else {
        html.push_str(
            "<table><tr><th>job</th><th>queue</th><th>what</th><th>state</th><th>attempt</th><th>progress</th></tr>",
        );
        for v in active {
            let progress = v.progress.map_or_else(String::new, |p| {
                let failed = if p.failed > 0 {
                    format!(", {} failed", p.failed)
                } else {
                    String::new()
                };
                format!(
                    "<progress value=\"{}\" max=\"{}\"></progress> {}/{}{failed}",
                    p.done,
                    p.total.max(1),
                    p.done,
                    p.total
                )
            });
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{progress}</td></tr>",
                esc(v.id.as_str()),
                esc(v.queue.as_str()),
                esc(&what(&v.spec)),
                v.state.as_str(),
                v.attempts,
                v.max_attempts,
            ));
        }
        html.push_str("</table>");
    }

    html.push_str("<h2>Failures</h2>");
    if failures.is_empty() {
        html.push_str("<p>None.</p>");
    } else {
        html.push_str(
            "<table><tr><th>job</th><th>queue</th><th>what</th><th>state</th><th>attempts</th><th>ended</th><th>reason</th><th></th></tr>",
        );
        for v in &failures {
            let ended = v.done_at.map_or_else(String::new, |t| {
                t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            });
            // A failed job that still has attempts waits for its next one.
            let action = if v.state == JobState::Failed && v.attempts < v.max_attempts {
                button(&format!("/api/v1/jobs/{}/cancel", v.id), "cancel")
            } else {
                button(&format!("/api/v1/jobs/{}/retry", v.id), "retry")
            };
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td class=why>{}</td><td>{action}</td></tr>",
                esc(v.id.as_str()),
                esc(v.queue.as_str()),
                esc(&what(&v.spec)),
                v.state.as_str(),
                v.attempts,
                v.max_attempts,
                esc(&ended),
                esc(v.error.as_deref().unwrap_or("")),
            ));
        }
        html.push_str("</table>");
    }

    html.push_str("<h2>Schedules</h2>");
    if schedules.is_empty() {
        html.push_str("<p>None (add one with <code>axia schedules add</code>).</p>");
    } else {
        html.push_str(
            "<table><tr><th>name</th><th>when</th><th>plan</th><th>state</th><th>last tick</th><th>next tick</th><th></th></tr>",
        );
        let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(
                || "-".to_owned(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
        };
        for s in &schedules {
            let v = s.view(now);
            let plan = v.plan.to_string();
            let (state, action) = if v.enabled {
                (
                    "enabled",
                    button(&format!("/api/v1/schedules/{}/pause", v.name), "pause"),
                )
            } else {
                (
                    "paused",
                    button(&format!("/api/v1/schedules/{}/resume", v.name), "resume"),
                )
            };
            html.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code> {}</td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                esc(v.name.as_str()),
                esc(&v.cron),
                esc(&v.zone),
                esc(&plan),
                esc(&at(v.last_tick)),
                esc(&at(v.next_tick)),
            ));
        }
        html.push_str("</table>");
    }
    html.push_str(&format!(
        "<p class=foot>As of {}; reloads every 5 s.</p></body></html>",
        esc(&now.format("%Y-%m-%d %H:%M:%S UTC").to_string())
    ));

    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    crate::pages::secure(
        headers,
        &format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'"
        ),
    );
    Ok(response)
}

/// A one-button form that posts to `action` (same origin; the page reloads after it).
fn button(action: &str, label: &str) -> String {
    format!(
        "<form method=post action=\"{}\"><button>{}</button></form>",
        esc(action),
        esc(label)
    )
}

/// What a job does, in a few words.
fn what(spec: &JobSpec) -> String {
    let (symbol, timeframe) = spec.series();
    match spec {
        JobSpec::Collect { .. } => format!("collect {symbol} {timeframe}"),
        JobSpec::Backfill { range, .. } | JobSpec::BackfillChunk { range, .. } => {
            format!("{} {symbol} {timeframe} {range}", spec.kind())
        }
        JobSpec::Audit { range, repair, .. } => format!(
            "audit{} {symbol} {timeframe} {range}",
            if *repair { " and repair" } else { "" }
        ),
    }
}

fn esc(s: &str) -> String {
    crate::pages::html_escape(s)
}

const PAGE_HEAD: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>axia jobs</title>
<style nonce="{{NONCE}}">
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { border-bottom: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.why { max-width: 40em; color: #a00; }
progress { width: 12em; }
form { margin: 0; }
.foot { color: #777; }
</style></head><body><h1>axia jobs</h1>
"#;
