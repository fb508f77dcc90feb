//! Jobs and schedules over HTTP against the real PostgreSQL (DATABASE_URL, started by
//! `scripts/test.sh`), each test in its own queue namespace: read by anyone, changed by the
//! operator only (this host without a token, the token's holder with one), never from another
//! origin; the operator page.

use std::sync::Arc;

use axia_domain::{CronSpec, JobQueue, Schedule, SchedulePlan, ScheduleStore, Timeframe};
use axia_postgres::PgJobs;
use axia_server::{Api, ServeOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{World, namespace};

async fn store() -> Arc<PgJobs> {
    let url =
        std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/test.sh starts PostgreSQL)");
    let jobs = PgJobs::connect(&url)
        .await
        .unwrap()
        .namespace(format!("{}-", namespace()));
    jobs.setup().await.unwrap();
    Arc::new(jobs)
}

/// Serves `api` with `axia_server::serve` (it tells routes the client's address).
async fn serve_local(api: &Api) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = api.router();
    tokio::spawn(async move {
        axia_server::serve(
            listener,
            router,
            ServeOptions::default(),
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

async fn send(r: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = r.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.bytes().await.unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

fn backfill(from: &str, to: &str) -> Value {
    json!({ "spec": { "type": "backfill", "symbol": "USDJPY", "timeframe": "M1",
        "range": { "start": from, "end": to } } })
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_read_by_anyone_and_changed_by_the_operator_on_this_host() {
    let jobs = store().await;
    let api = World::new().api().jobs(jobs.clone(), jobs.clone()).build();
    let base = serve_local(&api).await;
    let http = no_redirects();

    // Submit: 201 with the id and where to follow it; the same key again: 200, that id.
    let mut body = backfill("2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z");
    body["key"] = json!("march");
    let (status, headers, first) = send(http.post(format!("{base}/api/v1/jobs")).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], format!("/api/v1/jobs/{id}").as_str());
    let (status, _, again) = send(http.post(format!("{base}/api/v1/jobs")).json(&body)).await;
    assert_eq!(
        (status, again["created"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert_eq!(again["id"], first["id"]);

    // Read: by id, in a list filtered by state and queue.
    let (status, _, view) = send(http.get(format!("{base}/api/v1/jobs/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        (view["state"].as_str(), view["queue"].as_str()),
        (Some("pending"), Some("backfill"))
    );
    assert_eq!(view["spec"]["symbol"], "USDJPY");
    let (_, _, listed) = send(http.get(format!(
        "{base}/api/v1/jobs?state=pending&queue=backfill&limit=10"
    )))
    .await;
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{listed}");
    let (_, _, none) = send(http.get(format!("{base}/api/v1/jobs?state=failed"))).await;
    assert!(none["jobs"].as_array().unwrap().is_empty());

    // Bad input: one problem each, nothing enqueued.
    for (method, path, body) in [
        ("GET", "/api/v1/jobs?state=exploded".to_owned(), None),
        ("GET", "/api/v1/jobs?queue=Back%20Fill".to_owned(), None),
        ("GET", "/api/v1/jobs?limit=0".to_owned(), None),
        ("GET", "/api/v1/jobs?limit=5000".to_owned(), None),
        ("GET", "/api/v1/jobs?colour=red".to_owned(), None),
        ("GET", "/api/v1/jobs/not-a-job".to_owned(), None),
        ("POST", "/api/v1/jobs/not-a-job/retry".to_owned(), None),
        (
            "POST",
            "/api/v1/jobs".to_owned(),
            Some(json!({ "spec": { "type": "explode" } })),
        ),
        (
            "POST",
            "/api/v1/jobs".to_owned(),
            Some(backfill("2026-03-04T00:00:00Z", "2026-03-02T00:00:00Z")),
        ),
        (
            "POST",
            "/api/v1/jobs".to_owned(),
            Some(json!({ "spec": { "type": "collect", "symbol": "USD/JPY;", "timeframe": "M1" } })),
        ),
        (
            "POST",
            "/api/v1/jobs".to_owned(),
            Some(
                json!({ "spec": { "type": "collect", "symbol": "USDJPY", "timeframe": "M1" },
                "queue": "{live}" }),
            ),
        ),
        (
            "POST",
            "/api/v1/jobs".to_owned(),
            Some(
                json!({ "spec": { "type": "backfill_chunk", "symbol": "USDJPY",
                "timeframe": "M1", "parent": id,
                "range": { "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z" } } }),
            ),
        ),
    ] {
        let url = format!("{base}{path}");
        let request = match (method, body) {
            ("GET", _) => http.get(url),
            (_, Some(b)) => http.post(url).json(&b),
            (_, None) => http.post(url),
        };
        let (status, headers, problem) = send(request).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {path}: {problem}"
        );
        assert_eq!(headers["content-type"], "application/problem+json");
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
    let (status, _, _) =
        send(http.get(format!("{base}/api/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(jobs.list(&Default::default()).await.unwrap().len(), 1);

    // From another origin, or forwarded by a proxy: refused, the job unchanged.
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9"),
    ] {
        let (status, _, problem) = send(
            http.post(format!("{base}/api/v1/jobs/{id}/cancel"))
                .header(name, value),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {problem}");
    }
    let (status, _, _) = send(
        http.get(format!("{base}/jobs"))
            .header("origin", "http://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, view) = send(http.get(format!("{base}/api/v1/jobs/{id}"))).await;
    assert_eq!(view["state"], "pending");

    // Cancel, cancel again (conflict), retry; the page's own form gets sent back to the page.
    let origin = base.clone();
    let (status, _, _) = send(
        http.post(format!("{base}/api/v1/jobs/{id}/cancel"))
            .header("origin", &origin),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, problem) = send(http.post(format!("{base}/api/v1/jobs/{id}/cancel"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, headers, _) = send(
        http.post(format!("{base}/api/v1/jobs/{id}/retry"))
            .header("content-type", "application/x-www-form-urlencoded"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/jobs");
    let (_, _, view) = send(http.get(format!("{base}/api/v1/jobs/{id}"))).await;
    assert_eq!(view["state"], "pending");

    // Schedules: listed with their next tick; paused and resumed by the operator.
    jobs.add(&Schedule {
        name: "fx".parse().unwrap(),
        cron: CronSpec::new("5 17 * * 1-5", "America/New_York").unwrap(),
        plan: SchedulePlan::Collect {
            symbols: vec!["USDJPY".parse().unwrap()],
            timeframes: vec![Timeframe::D1],
        },
        enabled: true,
        last_tick: None,
    })
    .await
    .unwrap();
    let (_, _, listed) = send(http.get(format!("{base}/api/v1/schedules"))).await;
    let fx = &listed["schedules"][0];
    assert_eq!(
        (fx["name"].as_str(), fx["enabled"].as_bool()),
        (Some("fx"), Some(true))
    );
    assert!(fx["next_tick"].is_string(), "{listed}");
    let (status, _, _) = send(http.post(format!("{base}/api/v1/schedules/fx/pause"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, listed) = send(http.get(format!("{base}/api/v1/schedules"))).await;
    assert_eq!(listed["schedules"][0]["enabled"], false);
    let (status, _, _) = send(http.post(format!("{base}/api/v1/schedules/nope/resume"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) =
        send(http.post(format!("{base}/api/v1/schedules/Bad%20Name/resume"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The operator page: the queue's counts, the job in progress with its bar, the schedule.
    let job = id.parse().unwrap();
    jobs.set_total(&job, 8).await.unwrap();
    jobs.count_done(&job, "a", false).await.unwrap();
    jobs.count_done(&job, "b", true).await.unwrap();
    let r = http.get(format!("{base}/jobs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let page = r.text().await.unwrap();
    assert!(page.contains(&id), "{page}");
    assert!(
        page.contains("<progress value=\"2\" max=\"8\"></progress> 2/8, 1 failed"),
        "{page}"
    );
    assert!(
        page.contains("<td>backfill</td><td class=n>1</td>"),
        "{page}"
    );
    assert!(
        page.contains("5 17 * * 1-5") && page.contains("paused"),
        "{page}"
    );
    assert!(!page.contains("<script"), "no script on the page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_operator_is_who_presents_it_and_without_one_only_this_host() {
    use base64::Engine;
    let jobs = store().await;
    let collect = json!({ "spec": { "type": "collect", "symbol": "EURUSD", "timeframe": "H1" } });
    let http = no_redirects();

    let api = World::new()
        .api()
        .jobs(jobs.clone(), jobs.clone())
        .operator_token("s3cret-token")
        .build();
    let base = serve_local(&api).await;
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic !!"),
        Some("Bearer s3cret-toke"),
    ] {
        let mut r = http.post(format!("{base}/api/v1/jobs")).json(&collect);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let (status, headers, problem) = send(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {problem}");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic "),
            "a browser asks for it"
        );
        assert!(!problem.to_string().contains("s3cret"), "{problem}");
    }
    assert!(jobs.list(&Default::default()).await.unwrap().is_empty());
    let (status, _, _) = send(
        http.post(format!("{base}/api/v1/jobs"))
            .bearer_auth("s3cret-token")
            .json(&collect),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let basic = base64::engine::general_purpose::STANDARD.encode("ops:s3cret-token");
    let r = http
        .get(format!("{base}/jobs"))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Reading needs no token.
    let (status, _, listed) = send(http.get(format!("{base}/api/v1/jobs"))).await;
    assert_eq!(
        (status, listed["jobs"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );

    // No token, and the client's address unknown (served by axum::serve, as a service that
    // mounts the router might): not this host, so refused.
    let api = World::new().api().jobs(jobs.clone(), jobs.clone()).build();
    let base = super::serve(&api).await;
    let (status, _, problem) = send(http.post(format!("{base}/api/v1/jobs")).json(&collect)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("token"));
    assert_eq!(jobs.list(&Default::default()).await.unwrap().len(), 1);

    // Without a job store, the routes are not there.
    let base = super::serve(&World::new().api().build()).await;
    let (status, _, _) = send(http.get(format!("{base}/api/v1/jobs"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
