//! [`Settings`].

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use axia_collect::CollectPlan;
use axia_domain::{Price, Quantity, Symbol, Timeframe};
use serde::Deserialize;

use crate::sources::{SourceName, SourceSections};

/// One line saying what is wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Where the cold archive is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveSettings {
    /// `s3://bucket/prefix` or a directory.
    pub location: String,
    /// Path-style S3 addressing (MinIO, moto).
    pub force_path_style: bool,
    /// Read each written partition back (for stores whose conditional writes are not atomic).
    pub verify_writes: bool,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        Self {
            location: "./axia-archive".into(),
            force_path_style: false,
            verify_writes: false,
        }
    }
}

/// The hot cache.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotCacheSettings {
    /// `redis://` or `rediss://` URL; may hold a password (never printed).
    pub url: String,
    /// Key prefix.
    #[serde(default = "default_namespace")]
    pub namespace: String,
}

fn default_namespace() -> String {
    "axia".into()
}

impl fmt::Debug for HotCacheSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotCacheSettings")
            .field("url", &axia_domain::redact_url(&self.url))
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// The distributed lock.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockSettings {
    /// Take a Redis lease before collecting.
    pub enabled: bool,
    /// The lease's TTL; renewed every third of it.
    pub ttl_secs: u64,
}

impl Default for LockSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            ttl_secs: 30,
        }
    }
}

/// The order path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrdersSettings {
    /// The SQS queue name (`{queue}-poison` and `{queue}-dlq` beside it).
    pub queue: String,
    /// The DynamoDB orders table.
    pub orders_table: String,
    /// The DynamoDB kill-switch table.
    pub kill_switch_table: String,
    /// Seconds a received message stays hidden.
    pub visibility_secs: u64,
    /// Receives before a message is dead-lettered.
    pub max_receives: u32,
    /// Orders processed at once.
    pub concurrency: usize,
    /// Symbols allowed to trade (empty: every registered instrument, built in or under
    /// `[instruments]`). A symbol named here may trade even if it is not registered.
    #[serde(deserialize_with = "parsed_list")]
    pub allowed_symbols: Vec<Symbol>,
    /// Let symbols that are not registered instruments trade on their kind's defaults (default
    /// false: refused with `UNKNOWN_SYMBOL`).
    pub allow_unknown_symbols: bool,
    /// Let market orders go to the executor while the instrument's market is closed by its
    /// trading hours (default false: refused with `MARKET_CLOSED`; limit and stop orders are
    /// always accepted).
    pub market_orders_when_closed: bool,
    /// Seconds a claim on an order lasts (renewed while the executor works); a dead
    /// processor's orders are taken over after it.
    pub lease_secs: u64,
    /// Seconds after a submission whose answer was lost during which an empty lookup at the
    /// executor is not trusted (default 120): the order is looked up again later rather than
    /// submitted a second time.
    pub lookup_grace_secs: u64,
    /// Seconds one receive long-polls the queue (1 to 20).
    pub wait_secs: u64,
    /// Limits for every symbol; each one left out is the instrument's safe default.
    pub limits: LimitSettings,
    /// Limits of one symbol (`[orders.symbol_limits.USDJPY]`), over the others.
    #[serde(deserialize_with = "symbol_map")]
    pub symbol_limits: HashMap<Symbol, LimitSettings>,
    /// Who executes orders: `simulated` (paper, the default) or `oanda` (`[oanda]`, with its
    /// `account_id` and `OANDA_TOKEN`; the `oanda` feature).
    pub executor: ExecutorKind,
}

/// Who executes orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// The simulated broker's paper desk (offline).
    #[default]
    Simulated,
    /// OANDA v20.
    Oanda,
}

/// Order limits (decimal strings in the file); any left out falls back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// The smallest quantity.
    pub min_quantity: Option<Quantity>,
    /// The largest quantity.
    pub max_quantity: Option<Quantity>,
    /// Quantities must be multiples of this.
    pub quantity_step: Option<Quantity>,
    /// Quantity times price at most this (quote currency).
    pub max_notional: Option<Price>,
    /// A limit or stop price at most this fraction away from the market (`"0.05"`).
    pub max_price_deviation: Option<Price>,
}

impl LimitSettings {
    /// The limits.
    #[must_use]
    pub fn to_limits(&self) -> axia_domain::OrderLimits {
        let mut l = axia_domain::OrderLimits::new();
        if self.min_quantity.is_some() || self.max_quantity.is_some() {
            l = l.quantity_bounds(self.min_quantity, self.max_quantity);
        }
        if let Some(step) = self.quantity_step {
            l = l.quantity_step(step);
        }
        if let Some(n) = self.max_notional {
            l = l.max_notional(n.get());
        }
        if let Some(d) = self.max_price_deviation {
            l = l.max_price_deviation(d.get());
        }
        l
    }
}

impl Default for OrdersSettings {
    fn default() -> Self {
        Self {
            queue: "axia-orders".into(),
            orders_table: "axia-orders".into(),
            kill_switch_table: "axia-kill-switch".into(),
            visibility_secs: 30,
            max_receives: 5,
            concurrency: 4,
            allowed_symbols: Vec::new(),
            allow_unknown_symbols: false,
            market_orders_when_closed: false,
            lease_secs: 30,
            lookup_grace_secs: 120,
            wait_secs: 20,
            limits: LimitSettings::default(),
            symbol_limits: HashMap::new(),
            executor: ExecutorKind::Simulated,
        }
    }
}

/// `[features]`: the feature engine (`axia-features`, `axia features`).
///
/// ```toml
/// [features]
/// indicators = ["sma_20", "ema_20", "rsi_14", "macd_12_26_9", "bb_20_2", "atr_14"]
/// series = ["USDJPY:M1", "EURUSD:H1"]   # default: every collected symbol x timeframe
/// [features.series_indicators]
/// "USDJPY:M1" = ["ema_50", "rsi_7"]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesSettings {
    /// The indicators of every series without its own list (default: the standard six).
    #[serde(deserialize_with = "parsed_list")]
    pub indicators: Vec<axia_features::FeatureSpec>,
    /// The series the engine follows, as `SYMBOL:TF`; empty: every collected symbol x
    /// timeframe.
    #[serde(deserialize_with = "series_list")]
    pub series: Vec<(Symbol, Timeframe)>,
    /// Indicators of single series, keyed by `SYMBOL:TF`.
    #[serde(deserialize_with = "series_indicators")]
    pub series_indicators: Vec<((Symbol, Timeframe), Vec<axia_features::FeatureSpec>)>,
    /// Bars between anchors (at least `anchor_min_days`); see `axia_features::Anchoring`.
    pub anchor_bars: u32,
    /// The shortest span between anchors, days.
    pub anchor_min_days: u32,
    /// Anchor spans of missed values a starting series catches up on.
    pub max_backfill: u32,
    /// About how many closed bars the history of a series keeps in the store.
    pub history_len: usize,
    /// Seconds between refreshes of every series even without update messages (pub/sub is at
    /// most once).
    pub resync_secs: u64,
}

impl Default for FeaturesSettings {
    fn default() -> Self {
        Self {
            indicators: axia_features::FeatureSpec::STANDARD.to_vec(),
            series: Vec::new(),
            series_indicators: Vec::new(),
            anchor_bars: axia_features::Anchoring::DEFAULT_BARS,
            anchor_min_days: 7,
            max_backfill: axia_features::FeatureConfig::DEFAULT_MAX_BACKFILL,
            history_len: 10_000,
            resync_secs: 60,
        }
    }
}

impl FeaturesSettings {
    /// The engine's configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming an indicator out of range.
    pub fn config(&self) -> Result<axia_features::FeatureConfig, ConfigError> {
        let bad = |e: axia_indicators::IndicatorError| ConfigError(format!("features: {e}"));
        let mut c = axia_features::FeatureConfig::standard()
            .indicators(&self.indicators)
            .map_err(bad)?
            .anchoring(
                self.anchor_bars,
                chrono::Duration::days(i64::from(self.anchor_min_days)),
            )
            .max_backfill(self.max_backfill);
        for ((symbol, tf), specs) in &self.series_indicators {
            c = c
                .series_indicators(symbol.clone(), *tf, specs)
                .map_err(bad)?;
        }
        Ok(c)
    }
}

/// `[alerts]`: rules the feature engine evaluates on every value it publishes
/// (`axia-features`), `axia alerts test|list|history`. See docs/OPERATIONS.md, "Alerts".
///
/// ```toml
/// [[alerts.rules]]
/// id = "usdjpy-rsi"
/// symbol = "USDJPY"
/// timeframe = "M5"
/// condition = "crossing_up(rsi_14, 70)"     # or { crossing_up = { left = "rsi_14", right = 70 } }
/// frequency = "once_per_bar_close"          # once | once_per_bar | once_per_bar_close
/// expires_at = "2027-03-31T00:00:00Z"       # optional
/// message = "{{symbol}} RSI {{rsi_14}}"     # optional
/// webhooks = ["ops"]                        # optional: posted to [alerts.webhooks.ops]
///
/// [alerts.webhooks.ops]
/// url = "https://hooks.example.com/axia"
/// secret_env = "AXIA_WEBHOOK_OPS_SECRET"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsSettings {
    /// The rules.
    pub rules: Vec<axia_domain::AlertRule>,
    /// The webhooks, by name (the `webhooks` feature).
    #[cfg(feature = "webhooks")]
    pub webhooks:
        std::collections::BTreeMap<axia_domain::WebhookName, axia_webhooks::WebhookSettings>,
    /// Attempts of a delivery before it goes to the dead letters.
    pub max_attempts: u32,
    /// The first retry's wait, seconds (doubling, jittered).
    pub retry_base_secs: u64,
    /// The longest wait between retries, seconds.
    pub retry_max_secs: u64,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            #[cfg(feature = "webhooks")]
            webhooks: std::collections::BTreeMap::new(),
            max_attempts: 10,
            retry_base_secs: 5,
            retry_max_secs: 3_600,
        }
    }
}

impl AlertsSettings {
    /// True when a webhook of that name is configured.
    #[must_use]
    pub fn has_webhook(&self, name: &axia_domain::WebhookName) -> bool {
        #[cfg(feature = "webhooks")]
        return self.webhooks.contains_key(name);
        #[cfg(not(feature = "webhooks"))]
        {
            let _ = name;
            false
        }
    }

    /// The webhooks with their secrets read from the environment (`secret_env`), checked.
    #[cfg(feature = "webhooks")]
    ///
    /// # Errors
    /// [`ConfigError`] naming the webhook: an unset secret variable, a URL that is not
    /// http(s), a private address not allowed.
    pub fn webhooks(
        &self,
    ) -> Result<Vec<(axia_domain::WebhookName, axia_webhooks::WebhookSettings)>, ConfigError> {
        self.webhooks
            .iter()
            .map(|(name, w)| {
                let w = w
                    .clone()
                    .resolve(name, |v| std::env::var(v).ok())
                    .map_err(|e| ConfigError(format!("alerts: {e}")))?;
                w.checked(name)
                    .map_err(|e| ConfigError(format!("alerts: {e}")))?;
                Ok((name.clone(), w))
            })
            .collect()
    }
}

/// The live feed (`axia-live`): a price stream's quotes into the hot tier's bars.
///
/// ```toml
/// [live]
/// symbols = ["EURUSD", "USDJPY"]   # default: every collected symbol
/// timeframes = ["M1", "M5", "H1"]  # default: all nine
/// price = "mid"                    # or "bid", "ask"
/// flush_ms = 100                   # at most one write of a forming bar per series this often
/// close_delay_ms = 500             # a bar closes this long after its end without a quote
/// silence_secs = 10                # no message this long: reconnect
/// listen = "127.0.0.1:9465"        # /health and /metrics
/// reconcile_secs = 60              # then the source's candle replaces a closed live bar
/// [live.outliers]
/// window = 50
/// mads = 10.0
/// min_fraction = 0.002
/// confirm = 2
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveSettings {
    /// The instruments streamed; empty: every collected symbol.
    #[serde(deserialize_with = "parsed_list")]
    pub symbols: Vec<Symbol>,
    /// The timeframes built; empty: all nine.
    #[serde(deserialize_with = "parsed_list")]
    pub timeframes: Vec<Timeframe>,
    /// The price bars are built from.
    pub price: axia_domain::PriceComponent,
    /// Milliseconds between writes of a series' forming bar (at least 1).
    pub flush_ms: u64,
    /// Milliseconds after a bar's end before the timer closes it.
    pub close_delay_ms: u64,
    /// Seconds without a message before reconnecting (at least 1).
    pub silence_secs: u64,
    /// The outlier filter.
    pub outliers: axia_live::OutlierRule,
    /// Where `/health` and `/metrics` listen (loopback by default).
    pub listen: std::net::SocketAddr,
    /// Seconds after a bar closes before the source's candle replaces the live-built one.
    pub reconcile_secs: u64,
    /// Milliseconds within which the instruments of an `axia-live` process that died move to
    /// the others (default 15,000; at least 300): leases last two thirds of it.
    pub failover_ms: u64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        let feed = axia_live::FeedSettings::default();
        Self {
            symbols: Vec::new(),
            timeframes: Vec::new(),
            price: axia_domain::PriceComponent::Mid,
            flush_ms: u64::try_from(feed.flush_every.as_millis()).unwrap_or(100),
            close_delay_ms: u64::try_from(feed.close_delay.as_millis()).unwrap_or(500),
            silence_secs: feed.silence.as_secs(),
            outliers: axia_live::OutlierRule::default(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9465)),
            reconcile_secs: feed.reconcile_after.as_secs(),
            failover_ms: 15_000,
        }
    }
}

impl Settings {
    /// The instruments the live feed streams: `[live] symbols`, or every collected symbol.
    #[must_use]
    pub fn live_symbols(&self) -> Vec<Symbol> {
        if self.live.symbols.is_empty() {
            self.symbols.clone()
        } else {
            self.live.symbols.clone()
        }
    }

    /// The live feed's settings.
    #[must_use]
    pub fn feed_settings(&self) -> axia_live::FeedSettings {
        let defaults = axia_live::FeedSettings::default();
        axia_live::FeedSettings {
            bars: axia_live::LiveBarsConfig {
                timeframes: if self.live.timeframes.is_empty() {
                    Timeframe::ALL.to_vec()
                } else {
                    self.live.timeframes.clone()
                },
                component: self.live.price,
                outliers: self.live.outliers,
            },
            flush_every: std::time::Duration::from_millis(self.live.flush_ms.max(1)),
            close_delay: std::time::Duration::from_millis(self.live.close_delay_ms),
            silence: std::time::Duration::from_secs(self.live.silence_secs.max(1)),
            backoff: defaults.backoff,
            reconcile_after: std::time::Duration::from_secs(self.live.reconcile_secs),
            presence_ttl: defaults.presence_ttl,
        }
    }
}

/// Parses `SYMBOL:TF`.
fn parse_series(raw: &str) -> Result<(Symbol, Timeframe), String> {
    let (s, tf) = raw
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("series {raw:?}: expected SYMBOL:TF, as in \"USDJPY:M1\""))?;
    Ok((
        s.parse().map_err(|e| format!("series {raw:?}: {e}"))?,
        tf.parse().map_err(|e| format!("series {raw:?}: {e}"))?,
    ))
}

fn series_list<'de, D>(d: D) -> Result<Vec<(Symbol, Timeframe)>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|r| parse_series(r))
        .collect::<Result<_, _>>()
        .map_err(serde::de::Error::custom)
}

type SeriesSpecs = Vec<((Symbol, Timeframe), Vec<axia_features::FeatureSpec>)>;

fn series_indicators<'de, D>(d: D) -> Result<SeriesSpecs, D::Error>
where
    D: serde::Deserializer<'de>,
{
    std::collections::BTreeMap::<String, Vec<String>>::deserialize(d)?
        .iter()
        .map(|(k, v)| {
            Ok((
                parse_series(k)?,
                parse_all(v, std::any::type_name::<axia_features::FeatureSpec>())?,
            ))
        })
        .collect::<Result<_, String>>()
        .map_err(serde::de::Error::custom)
}

/// Everything the binaries are configured by.
///
/// Unknown keys are refused: [`from_file`](Self::from_file) takes the top-level tables of the
/// registered sources (`[simulated]`, `[yahoo]`, `[oanda]`) into [`sources`](Self::sources)
/// and refuses any other key it does not know.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Symbols to collect, parsed on load.
    #[serde(deserialize_with = "parsed_list")]
    pub symbols: Vec<Symbol>,
    /// Timeframes to collect, parsed on load.
    #[serde(deserialize_with = "parsed_list")]
    pub timeframes: Vec<Timeframe>,
    /// The collector's source, one of the registered ones (`simulated`, `yahoo`, `oanda`).
    pub source: SourceName,
    /// The minimum window of a run, hours.
    pub lookback_hours: u32,
    /// How far back a run catches up on what the archive lacks, days.
    pub catch_up_days: u32,
    /// Archived bars fetched again before the newest one.
    pub overlap_bars: u32,
    /// Tasks at once.
    pub concurrency: usize,
    /// Retries per task.
    pub retries: u32,
    /// The cold archive.
    pub archive: ArchiveSettings,
    /// The hot cache, if any.
    pub hot_cache: Option<HotCacheSettings>,
    /// The sources' own sections (`[simulated]`, `[yahoo]`, `[oanda]`), each parsed by its
    /// adapter's settings type.
    #[serde(skip)]
    pub sources: SourceSections,
    /// The distributed lock.
    pub lock: LockSettings,
    /// The order path.
    pub orders: OrdersSettings,
    /// The daily alignment of every instrument whose `[instruments.X]` names none (default:
    /// each its own: the New York close for FX pairs and futures, UTC midnight otherwise).
    pub daily_alignment: Option<axia_domain::DailyAlignment>,
    /// Instruments added to or changed from the built-in ones
    /// (`[instruments.USDJPY] alignment = "utc_midnight"`); see
    /// [`InstrumentOverride`](axia_domain::InstrumentOverride) for the fields.
    #[serde(deserialize_with = "symbol_map")]
    pub instruments: HashMap<Symbol, axia_domain::InstrumentOverride>,
    /// The feature engine.
    pub features: FeaturesSettings,
    /// The live feed.
    pub live: LiveSettings,
    /// Alert rules.
    pub alerts: AlertsSettings,
}

impl Settings {
    /// The series the feature engine follows: `[features] series`, or every collected symbol x
    /// timeframe.
    #[must_use]
    pub fn feature_series(&self) -> Vec<(Symbol, Timeframe)> {
        if self.features.series.is_empty() {
            self.symbols
                .iter()
                .flat_map(|s| self.timeframes.iter().map(move |tf| (s.clone(), *tf)))
                .collect()
        } else {
            self.features.series.clone()
        }
    }

    /// The alert rules of `[alerts]`, checked: each names a series the feature engine
    /// follows ([`feature_series`](Self::feature_series)) and only features it computes there.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first rule refused and why.
    pub fn alert_rules(&self) -> Result<axia_features::AlertRules, ConfigError> {
        let series = self.feature_series();
        for rule in &self.alerts.rules {
            if let Some(w) = rule.webhooks.iter().find(|w| !self.alerts.has_webhook(w)) {
                return Err(ConfigError(format!(
                    "alerts: alert rule {}: no webhook named {} ([alerts.webhooks.{}])",
                    rule.id,
                    w.as_str(),
                    w.as_str()
                )));
            }
            if !series.contains(&(rule.symbol.clone(), rule.timeframe)) {
                return Err(ConfigError(format!(
                    "alerts: alert rule {}: the feature engine does not follow {} {} (add it to [features] series, or collect it)",
                    rule.id, rule.symbol, rule.timeframe
                )));
            }
        }
        axia_features::AlertRules::new(self.alerts.rules.iter().cloned(), &self.features.config()?)
            .map_err(|e| ConfigError(format!("alerts: {e}")))
    }

    /// The built-in instruments with `[instruments.*]` applied.
    #[must_use]
    pub fn instrument_registry(&self) -> axia_domain::InstrumentRegistry {
        let mut registry = axia_domain::InstrumentRegistry::builtin();
        if let Some(a) = self.daily_alignment {
            registry = registry.with_daily_alignment(a);
        }
        let mut symbols: Vec<_> = self.instruments.keys().collect();
        symbols.sort();
        for symbol in symbols {
            if let Some(o) = self.instruments.get(symbol) {
                registry.override_with(symbol, o);
            }
        }
        registry
    }
}

impl Default for Settings {
    /// The default job (the replaced Python system's): 5 FX pairs x 9 timeframes from the simulated broker into `./axia-archive`.
    fn default() -> Self {
        Self {
            symbols: ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"]
                .into_iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
            timeframes: Timeframe::ALL.to_vec(),
            source: SourceName::SIMULATED,
            lookback_hours: 24,
            catch_up_days: 31,
            overlap_bars: 1,
            concurrency: 8,
            retries: 3,
            archive: ArchiveSettings::default(),
            hot_cache: None,
            sources: SourceSections::default(),
            lock: LockSettings::default(),
            orders: OrdersSettings::default(),
            daily_alignment: None,
            instruments: HashMap::new(),
            features: FeaturesSettings::default(),
            live: LiveSettings::default(),
            alerts: AlertsSettings::default(),
        }
    }
}

/// What overrides the file and the environment: a binary's flags (with the `cli` feature,
/// these are the flags every binary shares, [`CommonArgs`]: global, accepted before or after a
/// subcommand), or a service's own choices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[non_exhaustive]
pub struct Overrides {
    /// A TOML configuration file (see the crate docs for every key).
    #[cfg_attr(feature = "cli", arg(long, global = true, value_name = "FILE"))]
    pub config: Option<PathBuf>,
    /// Symbols, comma-separated (USDJPY,EURUSD,...).
    #[cfg_attr(
        feature = "cli",
        arg(long, global = true, value_delimiter = ',', value_parser = parse_symbol)
    )]
    pub symbols: Option<Vec<Symbol>>,
    /// Timeframes, comma-separated (M1,M5,M15,M30,H1,H4,D1,W1,MN1).
    #[cfg_attr(
        feature = "cli",
        arg(long, global = true, value_delimiter = ',', value_parser = parse_timeframe)
    )]
    pub timeframes: Option<Vec<Timeframe>>,
    /// Where bars come from: simulated, yahoo or oanda.
    #[cfg_attr(
        feature = "cli",
        arg(long, global = true, value_name = "SOURCE", value_parser = parse_source)
    )]
    pub source: Option<SourceName>,
    /// The cold archive: s3://bucket/prefix or a directory.
    #[cfg_attr(feature = "cli", arg(long, global = true, value_name = "LOCATION"))]
    pub archive: Option<String>,
    /// The hot cache's Redis URL (also REDIS_URL); omit for no hot cache.
    #[cfg_attr(feature = "cli", arg(long, global = true, value_name = "URL"))]
    pub redis_url: Option<String>,
    /// The hot cache's key prefix.
    #[cfg_attr(feature = "cli", arg(long, global = true))]
    pub namespace: Option<String>,
    /// Path-style S3 addressing (MinIO, moto).
    #[cfg_attr(feature = "cli", arg(long, global = true))]
    pub force_path_style: bool,
    /// The simulated broker's seed (`[simulated] seed`).
    #[cfg_attr(feature = "cli", arg(long, global = true))]
    pub seed: Option<u64>,
    /// Yahoo's base URL (`[yahoo] base_url`; tests point it at a local server).
    #[cfg_attr(feature = "cli", arg(long, global = true, value_name = "URL"))]
    pub yahoo_url: Option<String>,
}

/// The flags every binary shares: [`Overrides`] as clap arguments.
#[cfg(feature = "cli")]
pub type CommonArgs = Overrides;

impl Overrides {
    /// No override.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads this TOML file too.
    #[must_use]
    pub fn config(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = Some(path.into());
        self
    }

    /// These symbols.
    #[must_use]
    pub fn symbols(mut self, symbols: Vec<Symbol>) -> Self {
        self.symbols = Some(symbols);
        self
    }

    /// These timeframes.
    #[must_use]
    pub fn timeframes(mut self, timeframes: Vec<Timeframe>) -> Self {
        self.timeframes = Some(timeframes);
        self
    }

    /// The cold archive at `location`.
    #[must_use]
    pub fn archive(mut self, location: impl Into<String>) -> Self {
        self.archive = Some(location.into());
        self
    }

    /// The hot cache at `url`.
    #[must_use]
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }
}

#[cfg(feature = "cli")]
fn parse_symbol(s: &str) -> Result<Symbol, String> {
    s.trim().parse().map_err(|e| format!("symbol {s:?}: {e}"))
}

#[cfg(feature = "cli")]
fn parse_timeframe(s: &str) -> Result<Timeframe, String> {
    s.trim()
        .parse()
        .map_err(|e: axia_domain::TimeframeError| e.to_string())
}

#[cfg(feature = "cli")]
fn parse_source(s: &str) -> Result<SourceName, String> {
    s.parse().map_err(|e: ConfigError| e.0)
}

#[cfg(feature = "cli")]
impl Overrides {
    /// The overrides these flags make (themselves).
    #[must_use]
    pub fn overrides(&self) -> Self {
        self.clone()
    }
}

/// Deserializes a list of values parsed with `FromStr`, naming the first bad one.
fn parsed_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    let raw = Vec::<String>::deserialize(d)?;
    parse_all(&raw, std::any::type_name::<T>()).map_err(serde::de::Error::custom)
}

/// Deserializes a table keyed by symbol, naming the first bad key (`symbol "US/JPY": …`).
fn symbol_map<'de, D, V>(d: D) -> Result<HashMap<Symbol, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    let raw = std::collections::BTreeMap::<String, V>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            k.trim()
                .parse::<Symbol>()
                .map(|s| (s, v))
                .map_err(|e| serde::de::Error::custom(format!("symbol {k:?}: {e}")))
        })
        .collect()
}

/// Parses every item, naming the first bad one (`symbol "US/JPY": …`).
fn parse_all<T>(raw: &[String], type_name: &str) -> Result<Vec<T>, String>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    let what = type_name
        .rsplit("::")
        .next()
        .unwrap_or(type_name)
        .to_ascii_lowercase();
    raw.iter()
        .map(|s| s.trim().parse().map_err(|e| format!("{what} {s:?}: {e}")))
        .collect()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn csv(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Settings {
    /// Defaults, then `file` if given.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file and what is wrong in it.
    pub fn from_file(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let Some(path) = file else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let located = |msg: &str, span: Option<std::ops::Range<usize>>| {
            let at = span
                .map(|s| {
                    format!(
                        " (line {})",
                        text.get(..s.start).map_or(0, |t| t.lines().count().max(1))
                    )
                })
                .unwrap_or_default();
            ConfigError(format!("{}: {msg}{at}", path.display()))
        };
        let toml_error = |e: toml::de::Error| located(e.message(), e.span());
        let document = toml::Deserializer::parse(&text).map_err(toml_error)?;
        let mut ignored = Vec::new();
        let mut settings: Self = serde_ignored::deserialize(document, |key| {
            ignored.push(key.to_string());
        })
        .map_err(toml_error)?;
        settings.sources = SourceSections::from_file(&text, &ignored)
            .map_err(|(msg, span)| located(&msg, span))?;
        Ok(settings)
    }

    /// Applies the environment.
    ///
    /// # Errors
    /// A [`ConfigError`] for a malformed variable.
    pub fn with_env(mut self) -> Result<Self, ConfigError> {
        if let Some(url) = env("REDIS_URL") {
            self.hot_cache = Some(HotCacheSettings {
                url,
                namespace: self
                    .hot_cache
                    .map_or_else(default_namespace, |h| h.namespace),
            });
        }
        if let Some(loc) = env("AXIA_ARCHIVE") {
            self.archive.location = loc;
        }
        if let Some(v) = env("AXIA_S3_FORCE_PATH_STYLE") {
            self.archive.force_path_style =
                matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("AXIA_SOURCE") {
            self.source = v
                .parse()
                .map_err(|e: ConfigError| ConfigError(format!("AXIA_SOURCE: {e}")))?;
        }
        self.sources.apply_env(env);
        if let Some(v) = env("AXIA_SYMBOLS") {
            self.symbols = parse_all(&csv(&v), "symbol")
                .map_err(|e| ConfigError(format!("AXIA_SYMBOLS: {e}")))?;
        }
        if let Some(v) = env("AXIA_TIMEFRAMES") {
            self.timeframes = parse_all(&csv(&v), "timeframe")
                .map_err(|e| ConfigError(format!("AXIA_TIMEFRAMES: {e}")))?;
        }
        if let Some(v) = env("AXIA_ORDERS_QUEUE") {
            self.orders.queue = v;
        }
        if let Some(v) = env("AXIA_ORDERS_TABLE") {
            self.orders.orders_table = v;
        }
        if let Some(v) = env("AXIA_KILL_SWITCH_TABLE") {
            self.orders.kill_switch_table = v;
        }
        Ok(self)
    }

    /// Applies overrides (flags, or a service's own choices).
    #[must_use]
    pub fn with_overrides(mut self, args: &Overrides) -> Self {
        if let Some(s) = &args.symbols {
            self.symbols.clone_from(s);
        }
        if let Some(t) = &args.timeframes {
            self.timeframes.clone_from(t);
        }
        if let Some(s) = &args.source {
            self.source = s.clone();
        }
        if let Some(a) = &args.archive {
            self.archive.location.clone_from(a);
        }
        if args.force_path_style {
            self.archive.force_path_style = true;
        }
        if let Some(url) = &args.redis_url {
            self.hot_cache = Some(HotCacheSettings {
                url: url.clone(),
                namespace: self
                    .hot_cache
                    .take()
                    .map_or_else(default_namespace, |h| h.namespace),
            });
        }
        if let (Some(ns), Some(h)) = (&args.namespace, self.hot_cache.as_mut()) {
            h.namespace.clone_from(ns);
        }
        // Shortcuts into two sources' sections (both always registered).
        if let Some(seed) = args.seed {
            let seed = i64::try_from(seed).unwrap_or(i64::MAX);
            let _ = self.sources.set("simulated", "seed", seed);
        }
        if let Some(url) = &args.yahoo_url {
            let _ = self.sources.set("yahoo", "base_url", url.clone());
        }
        self
    }

    /// Defaults, the file (`overrides.config`), the environment, then `overrides`: the
    /// settings a binary or a service runs with, validated.
    ///
    /// # Errors
    /// The first [`ConfigError`], one line.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        let s = Self::from_file(overrides.config.as_deref())?
            .with_env()?
            .with_overrides(overrides);
        s.validate()?;
        Ok(s)
    }

    /// Checks everything that can be checked without a server.
    ///
    /// # Errors
    /// The first [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.symbols.is_empty() {
            return Err(ConfigError("no symbols configured".into()));
        }
        if self.timeframes.is_empty() {
            return Err(ConfigError("no timeframes configured".into()));
        }
        if self.concurrency == 0 {
            return Err(ConfigError("concurrency must be at least 1".into()));
        }
        if self.lookback_hours == 0 {
            return Err(ConfigError("lookback_hours must be at least 1".into()));
        }
        if self.catch_up_days == 0 {
            return Err(ConfigError("catch_up_days must be at least 1".into()));
        }
        if self.archive.location.trim().is_empty() {
            return Err(ConfigError("archive.location is empty".into()));
        }
        if let Some(h) = &self.hot_cache
            && !(h.url.starts_with("redis://") || h.url.starts_with("rediss://"))
        {
            return Err(ConfigError(format!(
                "hot cache URL {} must start with redis:// or rediss://",
                axia_domain::redact_url(&h.url)
            )));
        }
        if self.lock.enabled && self.hot_cache.is_none() {
            return Err(ConfigError(
                "lock.enabled needs a hot cache (REDIS_URL or [hot_cache] url)".into(),
            ));
        }
        if !(1..=20).contains(&self.orders.wait_secs) {
            return Err(ConfigError(format!(
                "orders.wait_secs = {}: SQS long polls for 1 to 20 s",
                self.orders.wait_secs
            )));
        }
        if self.orders.lease_secs == 0 {
            return Err(ConfigError("orders.lease_secs must be at least 1".into()));
        }
        if self.orders.executor == ExecutorKind::Oanda
            && !(self.sources.has("oanda", "token") && self.sources.has("oanda", "account_id"))
        {
            return Err(ConfigError(
                "[orders] executor = \"oanda\" needs OANDA_TOKEN and an account (OANDA_ACCOUNT_ID or [oanda] account_id)".into(),
            ));
        }
        crate::sources::validate(&self.sources, &self.source)
    }

    /// The collect plan these settings describe.
    ///
    /// # Errors
    /// As [`Settings::validate`].
    pub fn collect_plan(&self) -> Result<CollectPlan, ConfigError> {
        self.validate()?;
        let mut plan = CollectPlan::new(self.symbols.clone(), self.timeframes.clone());
        plan.lookback = chrono::Duration::hours(i64::from(self.lookback_hours));
        plan.catch_up = chrono::Duration::days(i64::from(self.catch_up_days));
        plan.overlap = self.overlap_bars;
        plan.concurrency = self.concurrency;
        plan.retries = self.retries;
        Ok(plan)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Settings from `toml_text` as a file, validated.
    pub(crate) fn parse(toml_text: &str) -> Result<Settings, ConfigError> {
        // A file of its own per call: tests run in parallel.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "axia-config-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, toml_text).unwrap();
        let s = Settings::from_file(Some(&path))?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn defaults_are_the_seed_job_offline() {
        let s = Settings::default();
        s.validate().unwrap();
        let plan = s.collect_plan().unwrap();
        assert_eq!(plan.symbols.len() * plan.timeframes.len(), 45);
        assert_eq!(s.source, SourceName::SIMULATED);
        assert!(s.hot_cache.is_none());
    }

    #[test]
    fn a_file_is_read_and_errors_are_one_line() {
        let s = parse("symbols = [\"AAPL\"]\ntimeframes = [\"D1\"]\n[hot_cache]\nurl = \"redis://:pw@h:6379\"\n").unwrap();
        assert_eq!(s.symbols, ["AAPL".parse::<Symbol>().unwrap()]);
        assert_eq!(s.hot_cache.as_ref().unwrap().namespace, "axia");
        assert!(
            !format!("{s:?}").contains("pw@"),
            "the password is redacted in Debug"
        );
        for (bad, needle) in [
            ("symbols = [\"US/JPY\"]", "symbol \"US/JPY\""),
            ("timeframes = [\"H2\"]", "H2"),
            ("[orders.limits]\nmax_quantity = \"-5\"", "quantity"),
            ("[orders.limits]\nmax_quantity = \"lots\"", "lots"),
            (
                "[orders.symbol_limits.\"US/JPY\"]\nmax_quantity = \"5\"",
                "US/JPY",
            ),
            ("concurency = 3", "unknown field"),
            ("[instruments.\"US/JPY\"]\ntick = \"0.01\"", "US/JPY"),
            ("[instruments.USDJPY]\ntick = \"-1\"", "tick"),
            ("[instruments.USDJPY]\ntik = \"0.1\"", "unknown field"),
            (
                "[instruments.USDJPY]\nalignment = \"noon\"",
                "new_york_close",
            ),
            ("concurrency = 0", "concurrency"),
            ("[lock]\nenabled = true", "needs a hot cache"),
            ("[hot_cache]\nurl = \"http://x\"", "redis://"),
            ("symbols = 3", "line 1"),
        ] {
            let e = parse(bad).unwrap_err().0;
            assert!(e.contains(needle), "{bad:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }

    #[test]
    fn oanda_needs_a_token_and_never_shows_it() {
        let e = parse("source = \"oanda\"\n[oanda]\nprice = \"bid\"\n").unwrap_err();
        assert!(e.0.contains("OANDA_TOKEN"), "{e}");
        let s = parse(
            "source = \"oanda\"\n[oanda]\ntoken = \"sekrit-token-1\"\naccount_id = \"101-1\"\n\
             [oanda.instruments]\nXAUUSD = \"XAU_USD\"\n",
        )
        .unwrap();
        s.validate().unwrap();
        #[cfg(feature = "oanda")]
        assert_eq!(
            s.sources
                .get::<axia_oanda::OandaSettings>("oanda")
                .unwrap()
                .requests_per_second,
            50.0
        );
        assert!(
            !format!("{s:?}").contains("sekrit"),
            "the token is redacted in Debug"
        );
        let bad = parse("[oanda]\nprice = \"last\"\n").unwrap_err();
        // Typed: the parser names the allowed values and the line.
        assert!(
            bad.0.contains("`mid`, `bid`, `ask`") && bad.0.contains("line 2"),
            "{bad}"
        );
        let e = parse("[orders]\nexecutor = \"oanda\"\n[oanda]\ntoken = \"t-1\"\n").unwrap_err();
        assert!(e.0.contains("account"), "{e}");
        let ok = parse(
            "[orders]\nexecutor = \"oanda\"\n[oanda]\ntoken = \"t-1\"\naccount_id = \"101-1\"\n",
        )
        .unwrap();
        assert_eq!(ok.orders.executor, ExecutorKind::Oanda);
        assert_eq!(Settings::default().orders.executor, ExecutorKind::Simulated);
    }

    #[test]
    fn instruments_extend_and_override_the_builtin_ones() {
        let s = parse(
            "[instruments.USDJPY]\nalignment = \"utc_midnight\"\n\
             [instruments.BTCUSD]\ntick = \"0.5\"\nhours = \"always_open\"\n\
             asset_class = { kind = \"fx_pair\", base = \"BTC\", quote = \"USD\" }\n",
        )
        .unwrap();
        let r = s.instrument_registry();
        let usdjpy = r.resolve(&"USDJPY".parse().unwrap());
        assert_eq!(usdjpy.alignment(), axia_domain::DailyAlignment::UtcMidnight);
        assert_eq!(usdjpy.price_decimals(), 3, "the rest is built in");
        let btc = r.resolve(&"BTCUSD".parse().unwrap());
        assert_eq!(btc.tick().to_string(), "0.5");
        assert_eq!(btc.hours(), axia_domain::TradingHours::AlwaysOpen);
        assert!(r.knows(&"BTCUSD".parse().unwrap()));
        // FX pairs default to the New York close; a stock to UTC midnight.
        assert_eq!(
            r.resolve(&"EURUSD".parse().unwrap()).alignment(),
            axia_domain::DailyAlignment::NewYorkClose
        );
        assert_eq!(
            r.resolve(&"AAPL".parse().unwrap()).alignment(),
            axia_domain::DailyAlignment::UtcMidnight
        );
        // One line puts every instrument without its own on UTC midnight.
        let all = parse(
            "daily_alignment = \"utc_midnight\"\n[instruments.GBPUSD]\nalignment = \"new_york_close\"\n",
        )
        .unwrap()
        .instrument_registry();
        for (s, a) in [
            ("EURUSD", axia_domain::DailyAlignment::UtcMidnight),
            ("SEKNOK", axia_domain::DailyAlignment::UtcMidnight),
            ("ES=F", axia_domain::DailyAlignment::UtcMidnight),
            ("GBPUSD", axia_domain::DailyAlignment::NewYorkClose),
        ] {
            assert_eq!(all.resolve(&s.parse().unwrap()).alignment(), a, "{s}");
        }
    }

    #[test]
    fn alert_rules_are_read_and_a_bad_one_is_named() {
        let s = parse(
            "[[alerts.rules]]\nid = \"r1\"\nsymbol = \"USDJPY\"\ntimeframe = \"M5\"\n\
             condition = \"crossing_up(rsi_14, 70)\"\nexpires_at = \"2027-03-31T00:00:00Z\"\n\
             [[alerts.rules]]\nid = \"r2\"\nsymbol = \"EURUSD\"\ntimeframe = \"H1\"\n\
             condition = { crossing_up = { left = \"ema_20\", right = \"sma_20\" } }\nfrequency = \"once\"\n",
        )
        .unwrap();
        let rules = s.alert_rules().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            s.alerts.rules[0].expires_at.map(|t| t.to_rfc3339()),
            Some("2027-03-31T00:00:00+00:00".to_owned())
        );
        for (toml, says) in [
            (
                "[[alerts.rules]]\nid = \"bad\"\nsymbol = \"USDJPY\"\ntimeframe = \"M5\"\ncondition = \"rsi_99 > 1\"\n",
                "alert rule bad: condition",
            ),
            (
                "[[alerts.rules]]\nid = \"far\"\nsymbol = \"AUDNZD\"\ntimeframe = \"M5\"\ncondition = \"close > 1\"\n",
                "alert rule far: the feature engine does not follow AUDNZD M5",
            ),
            (
                "[[alerts.rules]]\nid = \"hooked\"\nsymbol = \"USDJPY\"\ntimeframe = \"M5\"\ncondition = \"close > 1\"\nwebhooks = [\"ops\"]\n",
                "alert rule hooked: no webhook named ops",
            ),
        ] {
            let e = parse(toml).unwrap().alert_rules().unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
        for (toml, says) in [
            (
                "[[alerts.rules]]\nid = \"x\"\nsymbol = \"USDJPY\"\ntimeframe = \"M5\"\ncondition = \"close >> 1\"\n",
                "close >> 1",
            ),
            (
                "[[alerts.rules]]\nid = \"x\"\nsymbol = \"USDJPY\"\ntimeframe = \"M5\"\ncondition = \"close > 1\"\nwebhook = 1\n",
                "webhook",
            ),
        ] {
            let e = parse(toml).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn features_name_their_series_and_indicators() {
        let s = parse(
            "symbols = [\"USDJPY\", \"EURUSD\"]\ntimeframes = [\"M1\", \"H1\"]\n\
             [features]\nindicators = [\"sma_50\", \"macd_12_26_9\"]\n\
             [features.series_indicators]\n\"USDJPY:M1\" = [\"rsi_7\"]\n",
        )
        .unwrap();
        assert_eq!(
            s.feature_series().len(),
            4,
            "every collected series by default"
        );
        let c = s.features.config().unwrap();
        assert_eq!(
            c.specs_for(&"USDJPY".parse().unwrap(), Timeframe::M1).len(),
            1
        );
        assert_eq!(
            c.specs_for(&"EURUSD".parse().unwrap(), Timeframe::M1).len(),
            2
        );
        let s = parse("[features]\nseries = [\"GBPUSD:D1\"]\n").unwrap();
        assert_eq!(
            s.feature_series(),
            vec![("GBPUSD".parse().unwrap(), Timeframe::D1)]
        );
        for (bad, says) in [
            ("[features]\nseries = [\"GBPUSD\"]\n", "expected SYMBOL:TF"),
            ("[features]\nseries = [\"GBP/USD:M1\"]\n", "GBP/USD"),
            ("[features]\nindicators = [\"sma_0\"]\n", "sma_0"),
            ("[features]\nindicators = [\"macd_12_26_1\"]\n", "signal"),
            (
                "[features.series_indicators]\n\"USDJPY:M1\" = [\"wma_3\"]\n",
                "wma_3",
            ),
        ] {
            let e = parse(bad)
                .and_then(|s| s.features.config().map(|_| s))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let args = Overrides {
            symbols: Some(vec!["EURUSD".parse().unwrap()]),
            redis_url: Some("redis://127.0.0.1:6379".into()),
            namespace: Some("ns".into()),
            seed: Some(7),
            ..Overrides::default()
        };
        let s = Settings::default().with_overrides(&args);
        assert_eq!(s.symbols, ["EURUSD".parse::<Symbol>().unwrap()]);
        assert_eq!(s.hot_cache.unwrap().namespace, "ns");
        #[cfg(feature = "simulated")]
        assert_eq!(
            s.sources
                .get::<axia_simbroker::SimulatedSettings>("simulated")
                .unwrap()
                .seed,
            7
        );
    }
}
