//! The live feed as a service: [`Observed`] holds what `axia-live` shows on its loopback port,
//! [`router`] serves it: `GET /health` (200 while a price stream is open, 503 otherwise, with
//! the figures as JSON) and `GET /metrics` (Prometheus text format). The binary's `main` wires
//! the configured stream, the Redis hot tier and [`axia_live::LiveFeed`] together.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axia_live::{FeedCounters, QuoteCounts, QuoteDrop};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

/// What a running feed shows.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The feed's counters.
    pub counters: Arc<FeedCounters>,
    /// Quotes accepted and dropped.
    pub quotes: Arc<Mutex<QuoteCounts>>,
    /// The instruments configured (shared with the other `axia-live` processes).
    pub instruments: usize,
    /// The instruments this process holds and streams now.
    pub held: Arc<Mutex<std::collections::BTreeSet<axia_domain::Symbol>>>,
}

/// `/health`'s body.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Health {
    /// `ok` while a stream is open, `idle` while this process holds no instrument (the
    /// others hold them all), `disconnected` otherwise.
    pub status: &'static str,
    /// Instruments configured.
    pub instruments: usize,
    /// Instruments this process holds and streams.
    pub held: usize,
    /// Streams opened since the start.
    pub connects: u64,
    /// Streams lost since the start.
    pub reconnects: u64,
    /// Quotes made into bars.
    pub quotes_accepted: u64,
    /// Quotes dropped, for any reason.
    pub quotes_dropped: u64,
    /// Milliseconds from the newest quote's time to the last write.
    pub lag_ms: u64,
}

impl Observed {
    /// The health now.
    #[must_use]
    pub fn health(&self) -> Health {
        let c = &self.counters;
        let connects = FeedCounters::get(&c.connects);
        let reconnects = FeedCounters::get(&c.reconnects);
        let stops = FeedCounters::get(&c.stops);
        let quotes = axia_domain::lock(&self.quotes).clone();
        let held = axia_domain::lock(&self.held).len();
        Health {
            status: if held == 0 {
                "idle"
            } else if connects > reconnects.saturating_add(stops) {
                "ok"
            } else {
                "disconnected"
            },
            instruments: self.instruments,
            held,
            connects,
            reconnects,
            quotes_accepted: quotes.accepted,
            quotes_dropped: quotes.dropped_total(),
            lag_ms: FeedCounters::get(&c.lag_ms),
        }
    }

    /// The metrics in Prometheus' text format.
    #[must_use]
    pub fn metrics(&self) -> String {
        let c = &self.counters;
        let quotes = axia_domain::lock(&self.quotes).clone();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let one = |v: u64| vec![(String::new(), v)];
        metric(
            "axia_live_instruments_held",
            "gauge",
            "Instruments this process holds and streams (of those the axia-live processes share).",
            &one(axia_domain::lock(&self.held).len() as u64),
        );
        metric(
            "axia_live_quotes_accepted_total",
            "counter",
            "Quotes made into bars.",
            &one(quotes.accepted),
        );
        metric(
            "axia_live_quotes_dropped_total",
            "counter",
            "Quotes dropped, by reason (see the axia-live crate's table).",
            &QuoteDrop::ALL
                .iter()
                .map(|r| (format!("{{reason=\"{}\"}}", r.as_str()), quotes.dropped(*r)))
                .collect::<Vec<_>>(),
        );
        for (name, help, counter) in [
            (
                "axia_live_connects_total",
                "Price streams opened.",
                &c.connects,
            ),
            (
                "axia_live_reconnects_total",
                "Price streams lost and reopened.",
                &c.reconnects,
            ),
            (
                "axia_live_silences_total",
                "Streams that went silent past the limit.",
                &c.silences,
            ),
            (
                "axia_live_heartbeats_total",
                "Heartbeats received.",
                &c.heartbeats,
            ),
            (
                "axia_live_malformed_total",
                "Stream messages that could not be read.",
                &c.malformed,
            ),
            (
                "axia_live_writes_total",
                "Writes of a series to the hot tier.",
                &c.writes,
            ),
            (
                "axia_live_write_errors_total",
                "Writes that failed (retried at the next flush).",
                &c.write_errors,
            ),
            (
                "axia_live_closed_bars_total",
                "Closed bars written.",
                &c.closed_bars,
            ),
        ] {
            metric(name, "counter", help, &one(FeedCounters::get(counter)));
        }
        metric(
            "axia_live_lag_milliseconds",
            "gauge",
            "From the newest quote's time to the last hot-tier write.",
            &one(FeedCounters::get(&c.lag_ms)),
        );
        out
    }
}

/// `/health` and `/metrics` over `observed`.
pub fn router(observed: Observed) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(observed)
}

async fn health(State(o): State<Observed>) -> Response {
    let h = o.health();
    let status = if h.status == "ok" || h.status == "idle" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(h)).into_response()
}

async fn metrics(State(o): State<Observed>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        o.metrics(),
    )
        .into_response()
}
