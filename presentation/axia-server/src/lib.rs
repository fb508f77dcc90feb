//! # axia-server
//!
//! axia over HTTP. [`Api::router`] builds an axum [`Router`] a service can serve on its own or
//! mount (`Router::nest`) inside its app; the `axia-server` binary wires it from the same
//! configuration as the collector.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/bars/{symbol}/{timeframe}` | bars through the data provider, JSON or CSV, paged back with `before` |
//! | `GET /api/v1/trades/market-data/{symbol}?timeframe=&days=` | the legacy path (the replaced Python system's) for the same body |
//! | `GET /api/v1/features/{symbol}/{timeframe}` | the latest indicator values of a series (feature store) |
//! | `GET /api/v1/alerts/{symbol}/{timeframe}` | the alerts recorded for a series ([`ApiBuilder::alert_log`]); the chart's markers |
//! | `GET /api/v1/symbols` | the series the stores hold |
//! | `GET /ws/bars/{symbol}/{timeframe}` | the last bars on connect, then every change from the hot tier |
//! | `GET /chart/{symbol}/{timeframe}` | a candlestick chart page (lightweight-charts, vendored) |
//! | `GET /health`, `GET /health/redis` | liveness; Redis PING latency or 503 |
//! | `/api/v1/jobs`, `/api/v1/schedules`, `GET /jobs` | with a job store ([`ApiBuilder::jobs`]): jobs and schedules, the operator page |
//! | `GET /openapi.json` | the OpenAPI 3.1 description of the REST routes |
//!
//! Errors are RFC 9457 `application/problem+json`: 400 with the parser's message for a bad
//! symbol, timeframe, range or parameter; 503 when no source can answer. A symbol is parsed
//! into the domain's [`Symbol`](axia_domain::Symbol) before anything else, so a hostile one
//! never reaches a key or a path.
//!
//! ```no_run
//! use axia_server::{Api, ServeOptions};
//! # async fn run(provider: axia_provider::OhlcvDataProvider) -> std::io::Result<()> {
//! let app = axum::Router::new().nest("/market", Api::builder(provider).build().router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // `serve` gives hyper its timer and limits (header read and idle timeouts, a connection
//! // cap); axum::serve works too, without them.
//! axia_server::serve(listener, app, ServeOptions::default(), std::future::pending()).await
//! # }
//! ```

mod alerts;
mod bars;
mod coding;
mod guard;
mod jobs;
mod live;
mod openapi;
mod pages;
mod params;
mod problem;
mod serve;

use std::sync::Arc;
use std::time::Duration;

use axia_domain::{
    AlertLog, BarUpdates, Clock, FeatureStore, InstrumentRegistry, JobQueue, OhlcvStore,
    ScheduleStore, SystemClock,
};
use axia_provider::OhlcvDataProvider;
use axum::Router;
use axum::routing::get;

pub use guard::{Origins, Policy};
pub use live::{Hub, HubCounters};
pub use openapi::openapi;
pub use problem::Problem;
pub use serve::{ServeOptions, serve};

/// Bounds on what one request may ask for, and the live path's timings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Bars per page when `limit` is not given (default 1,000).
    pub default_bars: usize,
    /// The largest `limit` taken (default 50,000: 30 trading days of an FX pair's M1 are 43,200 bars).
    pub max_bars: usize,
    /// Bars a WebSocket sends on connect and on a resync (default 2: the bar that just closed
    /// and the forming one).
    pub ws_tail: usize,
    /// Between pings on an idle WebSocket (default 25 s).
    pub ws_ping: Duration,
    /// How long one WebSocket send may take before the client is dropped as too slow (5 s).
    pub ws_send_timeout: Duration,
    /// Without a hot tier, how often a WebSocket polls the provider for its series (2 s).
    pub ws_poll: Duration,
    /// How far back one request searches (default 3,660 days): a `start` older than that gets
    /// a truncated page and `next_before` to the rest, so no request asks its sources for more
    /// than ten years of bars at once.
    pub max_span: chrono::Duration,
    /// How long one request may take before it is answered 503 (default 10 s; WebSockets
    /// once upgraded are not bound by it).
    pub request_timeout: Duration,
    /// The largest message a WebSocket client may send (default 4 KiB: the server reads
    /// nothing from clients but pings and closes); a larger one closes the socket.
    pub ws_max_message: usize,
    /// A WebSocket that sends nothing (not even a pong) for this long is closed (default 60 s;
    /// the server pings every `ws_ping`).
    pub ws_idle: Duration,
    /// Open WebSockets per client address at most (default 64); more are refused with 429.
    pub ws_per_client: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            default_bars: 1_000,
            max_bars: 50_000,
            ws_tail: 2,
            ws_ping: Duration::from_secs(25),
            ws_send_timeout: Duration::from_secs(5),
            ws_poll: Duration::from_secs(2),
            max_span: chrono::Duration::days(3_660),
            request_timeout: Duration::from_secs(10),
            ws_max_message: 4 * 1024,
            ws_idle: Duration::from_secs(60),
            ws_per_client: 64,
        }
    }
}

impl Limits {
    /// The same limits with another ping interval.
    #[must_use]
    pub const fn with_ws_ping(mut self, every: Duration) -> Self {
        self.ws_ping = every;
        self
    }

    /// The same limits with another poll interval (no hot tier).
    #[must_use]
    pub const fn with_ws_poll(mut self, every: Duration) -> Self {
        self.ws_poll = every;
        self
    }
}

/// What the routes share: cheap to clone.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

/// The hot tier as the server uses it: bars to read, updates to follow.
#[derive(Clone)]
pub(crate) struct HotTier {
    pub(crate) store: Arc<dyn OhlcvStore>,
    pub(crate) updates: Arc<dyn BarUpdates>,
}

struct Inner {
    provider: OhlcvDataProvider,
    instruments: Arc<InstrumentRegistry>,
    catalog: Vec<(String, Arc<dyn OhlcvStore>)>,
    hot: Option<HotTier>,
    hub: Option<Hub>,
    features: Option<Arc<dyn FeatureStore>>,
    alerts: Option<Arc<dyn AlertLog>>,
    jobs: Option<jobs::JobStore>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    policy: Policy,
    ws_clients: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("hot", &self.inner.hot.is_some())
            .field("catalog", &self.inner.catalog.len())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Api`]: a provider, and optionally the hot tier (live updates, `/health/redis`),
/// the stores `/api/v1/symbols` lists, the feature store, the instruments and a clock.
#[must_use]
pub struct ApiBuilder {
    provider: OhlcvDataProvider,
    instruments: Arc<InstrumentRegistry>,
    catalog: Vec<(String, Arc<dyn OhlcvStore>)>,
    hot: Option<HotTier>,
    features: Option<Arc<dyn FeatureStore>>,
    alerts: Option<Arc<dyn AlertLog>>,
    jobs: Option<(Arc<dyn JobQueue>, Arc<dyn ScheduleStore>)>,
    operator_token: Option<String>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    policy: Policy,
}

impl Api {
    /// A builder reading bars through `provider`.
    pub fn builder(provider: OhlcvDataProvider) -> ApiBuilder {
        ApiBuilder {
            provider,
            instruments: Arc::new(InstrumentRegistry::builtin()),
            catalog: Vec::new(),
            hot: None,
            features: None,
            alerts: None,
            jobs: None,
            operator_token: None,
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
            policy: Policy::default(),
        }
    }

    /// Every route, ready to serve or to nest. Responses are gzip-compressed when the client
    /// accepts it (WebSocket upgrades pass through untouched). Every request goes through the
    /// origin policy ([`Policy`]), limits on its head, a time limit
    /// ([`Limits::request_timeout`]), and every error is problem details, a panic included.
    pub fn router(&self) -> Router {
        let (documented, _) = openapi::documented().split_for_parts();
        let documented = if self.inner.jobs.is_some() {
            documented.merge(jobs::routes(self))
        } else {
            documented
        };
        documented
            .route("/openapi.json", get(pages::openapi_json))
            .route("/ws/bars/{symbol}/{timeframe}", get(live::socket))
            .route("/chart/{symbol}/{timeframe}", get(pages::chart))
            .route(pages::LWC_PATH, get(pages::lightweight_charts))
            .route("/assets/lightweight-charts.NOTICE", get(pages::notice))
            .route("/assets/lightweight-charts.LICENSE", get(pages::license))
            .fallback(pages::not_found)
            .method_not_allowed_fallback(pages::method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                guard::guard,
            ))
            // The fastest level: a month of M1 compresses about as well, in a third of the
            // time the default level takes (the chart's first request waits for it).
            .layer(
                tower_http::compression::CompressionLayer::new()
                    .gzip(true)
                    .quality(tower_http::CompressionLevel::Fastest),
            )
            // Outside the compression: a gzipped body gets its own strong ETag.
            .layer(axum::middleware::from_fn(coding::etag_per_coding))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                guard::panic_problem,
            ))
            .with_state(self.clone())
    }

    /// The live hub, when a hot tier is configured: its counters say how many Redis
    /// subscriptions and sockets it has.
    #[must_use]
    pub fn hub(&self) -> Option<&Hub> {
        self.inner.hub.as_ref()
    }

    fn provider(&self) -> &OhlcvDataProvider {
        &self.inner.provider
    }

    fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }
}

impl ApiBuilder {
    /// The instruments (price precision, alignment); default: the built-in registry.
    pub fn instruments(mut self, instruments: Arc<InstrumentRegistry>) -> Self {
        self.instruments = instruments;
        self
    }

    /// A store `/api/v1/symbols` lists the series of, under `name` (`cold_archive` for the
    /// archive, usually; the hot tier is added by [`hot_tier`](Self::hot_tier)).
    pub fn catalog(mut self, name: impl Into<String>, store: Arc<dyn OhlcvStore>) -> Self {
        self.catalog.push((name.into(), store));
        self
    }

    /// The hot tier: `store` is read for the bars of an update, and listed by
    /// `/api/v1/symbols`; `updates` feed the WebSockets (one subscription per [`Api`], followed
    /// by [`Follow`](axia_provider::Follow)) and `/health/redis` pings it. Redis's
    /// `RedisBarCache` is both.
    pub fn hot_tier(mut self, store: Arc<dyn OhlcvStore>, updates: Arc<dyn BarUpdates>) -> Self {
        self.catalog
            .push(("hot_cache".to_owned(), Arc::clone(&store)));
        self.hot = Some(HotTier { store, updates });
        self
    }

    /// The feature store `GET /api/v1/features/…` reads.
    pub fn feature_store(mut self, store: Arc<dyn FeatureStore>) -> Self {
        self.features = Some(store);
        self
    }

    /// The alert history `GET /api/v1/alerts/…` and the chart's markers read.
    pub fn alert_log(mut self, log: Arc<dyn AlertLog>) -> Self {
        self.alerts = Some(log);
        self
    }

    /// A job store: `/api/v1/jobs` (list, status; submit, retry and cancel for the operator),
    /// `/api/v1/schedules` (list; pause and resume for the operator) and the operator page
    /// `/jobs`. Who the operator is: [`operator_token`](Self::operator_token).
    pub fn jobs(mut self, queue: Arc<dyn JobQueue>, schedules: Arc<dyn ScheduleStore>) -> Self {
        self.jobs = Some((queue, schedules));
        self
    }

    /// The token operator routes need (`Authorization: Bearer TOKEN`, or HTTP Basic with the
    /// token as password). Without one they answer only requests from this host (a loopback
    /// peer, not forwarded by a proxy); from another origin, never.
    pub fn operator_token(mut self, token: impl Into<String>) -> Self {
        self.operator_token = Some(token.into()).filter(|t| !t.is_empty());
        self
    }

    /// The clock ("now" is the live edge); default: the system's.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Page sizes, the live path's timings, the request limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Which origins may read the API from a browser and which hosts it answers to (default:
    /// any origin, any host).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The [`Api`]. Nothing connects yet: the hub subscribes when the first socket opens.
    pub fn build(self) -> Api {
        let hub = self.hot.as_ref().map(|h| Hub::new(Arc::clone(&h.updates)));
        Api {
            inner: Arc::new(Inner {
                provider: self.provider,
                instruments: self.instruments,
                catalog: self.catalog,
                hot: self.hot,
                hub,
                features: self.features,
                alerts: self.alerts,
                jobs: self.jobs.map(|(queue, schedules)| jobs::JobStore {
                    queue,
                    schedules,
                    token: self.operator_token,
                }),
                clock: self.clock,
                limits: self.limits,
                policy: self.policy,
                ws_clients: std::sync::Mutex::default(),
            }),
        }
    }
}
