//! [`Wiring`]: the adapters the settings select.

use std::sync::Arc;

use axia_collect::Collect;
#[cfg(not(feature = "redis"))]
use axia_domain::OhlcvStore;
use axia_domain::{
    AdapterContext, Clock, DailyAlignment, InstrumentRegistry, MarketCalendar, MarketData,
    PriceStream, Symbol,
};
use axia_parquet::ParquetArchive;
use axia_provider::OhlcvDataProvider;
#[cfg(feature = "redis")]
use axia_redis::{RedisBarCache, RedisCacheConfig};

use crate::{ConfigError, Settings};

/// The hot cache the settings name (Redis; the `redis` feature).
#[cfg(feature = "redis")]
pub type HotCache = RedisBarCache;
/// Without the `redis` feature there is no hot cache to build.
#[cfg(not(feature = "redis"))]
#[derive(Debug, Clone)]
pub enum HotCache {}

#[cfg(not(feature = "redis"))]
#[async_trait::async_trait]
impl OhlcvStore for HotCache {
    async fn get(
        &self,
        _: &axia_domain::Symbol,
        _: axia_domain::Timeframe,
        _: axia_domain::TimeRange,
    ) -> Result<axia_domain::OhlcvFrame, axia_domain::StoreError> {
        match *self {}
    }
    async fn save(&self, _: &axia_domain::OhlcvFrame) -> Result<(), axia_domain::StoreError> {
        match *self {}
    }
    async fn info(&self) -> Result<axia_domain::StoreInfo, axia_domain::StoreError> {
        match *self {}
    }
}

/// The adapters a binary runs with: the sources of [`sources`](crate::sources) by the
/// roles they fill, the stores, and the context every builder takes.
#[derive(Clone)]
pub struct Wiring {
    /// The collector's source (the one `source` names).
    pub source: Arc<dyn MarketData>,
    /// The data provider's broker, when the source fills that role (the simulated broker,
    /// OANDA).
    pub broker: Option<Arc<dyn MarketData>>,
    /// The data provider's fallback, when a source fills it (Yahoo, when configured).
    pub fallback: Option<Arc<dyn MarketData>>,
    /// What fills the fallback of a server or a chart when nothing else does (the simulated
    /// broker offline).
    serving_fallback: Option<Arc<dyn MarketData>>,
    /// The source's live price stream, or why it has none.
    stream: Result<Arc<dyn PriceStream>, ConfigError>,
    /// The cold archive.
    pub archive: Arc<ParquetArchive>,
    /// The hot cache, when configured (the `redis` feature).
    pub hot: Option<HotCache>,
    /// The clock everything uses (the context's).
    pub clock: Arc<dyn Clock>,
    /// The instruments: the built-in ones with `[instruments.*]` applied, and the daily
    /// alignment the archive records (the context's).
    pub instruments: Arc<InstrumentRegistry>,
    context: AdapterContext,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring")
            .field("broker", &self.broker.is_some())
            .field("fallback", &self.fallback.is_some())
            .field("hot", &self.hot)
            .finish_non_exhaustive()
    }
}

impl Wiring {
    /// Builds the adapters. Nothing here connects to a server yet: Redis is connected lazily,
    /// S3 on first use.
    ///
    /// # Errors
    /// A [`ConfigError`] for settings an adapter refuses (a malformed URL or namespace).
    pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        settings.validate()?;
        let archive = open_archive(settings)
            .await?
            .verify_writes(settings.archive.verify_writes);
        let instruments = Arc::new(recorded_alignments(settings, &archive).await);
        let context = AdapterContext::new(Arc::clone(&clock), Arc::clone(&instruments));
        let archive = archive.instruments(Arc::clone(&instruments));
        let hot = hot_cache(settings, &clock)?;
        let mut source = None;
        let (mut broker, mut fallback, mut serving_fallback) = (None, None, None);
        let mut stream = Err(ConfigError("no source configured".into()));
        for built in crate::sources::build(&settings.sources, &settings.source, &context)? {
            let roles = built.roles;
            if roles.source {
                source = Some(Arc::clone(&built.market));
                stream = built.stream;
                if roles.broker {
                    broker = Some(Arc::clone(&built.market));
                }
                if roles.serving_fallback {
                    serving_fallback = Some(Arc::clone(&built.market));
                }
            }
            if roles.fallback {
                fallback = Some(Arc::clone(&built.market));
            }
        }
        let source = source.ok_or_else(|| ConfigError("no source configured".into()))?;
        Ok(Self {
            source,
            broker,
            fallback,
            serving_fallback,
            stream,
            archive: Arc::new(archive),
            hot,
            clock,
            instruments,
            context,
        })
    }

    /// The clock and the instruments every builder takes.
    #[must_use]
    pub fn context(&self) -> &AdapterContext {
        &self.context
    }

    /// The live price stream of the configured source: the simulated market's (same seed as
    /// the simulated broker, so its bars equal the broker's candles), or OANDA's pricing
    /// stream (the `oanda` feature; it needs the account id).
    ///
    /// # Errors
    /// A [`ConfigError`] for a source without a stream (Yahoo), or OANDA without an account id.
    pub fn price_stream(&self) -> Result<Arc<dyn PriceStream>, ConfigError> {
        self.stream.clone()
    }

    /// The trading calendar of each symbol, from the instruments.
    pub fn calendars(&self) -> impl Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync + 'static {
        self.context.calendars()
    }

    /// Where each symbol's daily bars start, from the instruments.
    pub fn alignments(&self) -> impl Fn(&Symbol) -> DailyAlignment + Send + Sync + 'static {
        self.context.alignments()
    }

    /// The collect use case over these adapters.
    #[must_use]
    pub fn collect(&self) -> Collect {
        let collect = Collect::new(Arc::clone(&self.source), Arc::clone(&self.archive))
            .clock(Arc::clone(&self.clock))
            .calendar(self.calendars())
            .alignment(self.alignments());
        match &self.hot {
            // Live feeds announce their instruments in the same Redis: the collector leaves
            // those instruments' hot bars to them.
            #[cfg(feature = "redis")]
            Some(h) => collect
                .hot_cache(h.clone())
                .live_presence(Arc::new(h.clone())),
            #[cfg(not(feature = "redis"))]
            Some(h) => match *h {},
            None => collect,
        }
    }

    /// The audit use case over the archive.
    #[must_use]
    pub fn audit(&self) -> axia_collect::Audit {
        axia_collect::Audit::new(Arc::clone(&self.archive))
            .clock(Arc::clone(&self.clock))
            .calendar(self.calendars())
            .alignment(self.alignments())
    }

    /// The feature store on the hot cache's Redis (same namespace), when one is configured.
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn feature_store(&self, settings: &Settings) -> Option<axia_redis::RedisFeatureStore> {
        self.hot.as_ref().map(|h| {
            axia_redis::RedisFeatureStore::new(h.clone()).history_len(settings.features.history_len)
        })
    }

    /// The alert history (the Redis alert log), over the hot cache.
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn alert_log(&self) -> Option<axia_redis::RedisAlertLog> {
        self.hot
            .as_ref()
            .map(|h| axia_redis::RedisAlertLog::new(h.clone()))
    }

    /// The dispatcher of the alert outbox to `[alerts.webhooks]`, when any is configured (and a
    /// hot cache holds the outbox): retries and dead letters as `[alerts]` says.
    ///
    /// # Errors
    /// [`ConfigError`] naming a webhook whose settings are refused (an unset secret variable,
    /// a URL that is not http(s), a private address not allowed).
    #[cfg(feature = "webhooks")]
    pub fn webhook_dispatcher(
        &self,
        settings: &Settings,
    ) -> Result<Option<axia_features::WebhookDispatcher>, ConfigError> {
        let webhooks = settings.alerts.webhooks()?;
        let Some(log) = self.alert_log().filter(|_| !webhooks.is_empty()) else {
            return Ok(None);
        };
        let lease = webhooks
            .iter()
            .map(|(_, w)| w.timeout_secs)
            .max()
            .unwrap_or(15)
            .saturating_add(30);
        let sender = axia_webhooks::HttpWebhooks::new(&webhooks, Arc::clone(&self.clock))
            .map_err(|e| ConfigError(format!("alerts: {e}")))?;
        let a = &settings.alerts;
        Ok(Some(
            axia_features::WebhookDispatcher::new(log, sender)
                .max_attempts(a.max_attempts)
                .backoff(axia_domain::Backoff::new(
                    std::time::Duration::from_secs(a.retry_base_secs.max(1)),
                    std::time::Duration::from_secs(a.retry_max_secs.max(1)),
                ))
                .lease(std::time::Duration::from_secs(lease)),
        ))
    }

    /// The feature engine over the provider a server reads through
    /// ([`serving_provider`](Self::serving_provider): the same fallbacks, so offline the
    /// simulated broker fills what the archive lacks) and `store`, configured by `[features]`.
    ///
    /// # Errors
    /// [`ConfigError`] naming an indicator out of range.
    pub fn feature_engine(
        &self,
        settings: &Settings,
        store: impl axia_domain::FeatureStore + 'static,
    ) -> Result<axia_features::FeatureEngine, ConfigError> {
        Ok(
            axia_features::FeatureEngine::new(self.serving_provider(), store)
                .clock(Arc::clone(&self.clock))
                .config(settings.features.config()?),
        )
    }

    /// The data provider over these adapters: the source as the broker where it fills that
    /// role, the hot cache, the archive, and a fallback when one is configured (Yahoo).
    #[must_use]
    pub fn provider(&self) -> OhlcvDataProvider {
        self.provider_builder().build()
    }

    /// The provider a server or a chart reads through: [`provider`](Self::provider)'s, and when
    /// nothing fills the fallback role, the simulated broker does (when it is the source), so
    /// offline a chart of 30 days has bars before the archive holds them.
    #[must_use]
    pub fn serving_provider(&self) -> OhlcvDataProvider {
        let b = self.provider_builder();
        match &self.serving_fallback {
            Some(offline) if !self.has_fallback() => b.fallback(Arc::clone(offline)).build(),
            _ => b.build(),
        }
    }

    /// True when a source fills the provider's fallback role (Yahoo, when configured).
    #[must_use]
    pub fn has_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// The builder [`provider`](Self::provider) finishes, for a binary that adds a role (the
    /// server puts the simulated broker in the fallback role when nothing else fills it).
    pub fn provider_builder(&self) -> axia_provider::ProviderBuilder {
        let mut b = OhlcvDataProvider::builder()
            .clock(Arc::clone(&self.clock))
            .calendar(self.calendars())
            .alignment(self.alignments())
            .cold_archive(Arc::clone(&self.archive));
        if let Some(s) = &self.broker {
            b = b.broker(Arc::clone(s));
        }
        #[cfg(feature = "redis")]
        if let Some(h) = &self.hot {
            b = b.hot_cache(h.clone());
        }
        if let Some(f) = &self.fallback {
            b = b.fallback(Arc::clone(f));
        }
        b
    }
}

/// The cold archive at `[archive] location`.
async fn open_archive(settings: &Settings) -> Result<ParquetArchive, ConfigError> {
    let location = &settings.archive.location;
    #[cfg(feature = "s3")]
    {
        ParquetArchive::open(
            location,
            &axia_aws::AwsSettings::default(),
            settings.archive.force_path_style,
        )
        .await
        .map_err(|e| ConfigError(format!("archive: {e}")))
    }
    #[cfg(not(feature = "s3"))]
    {
        if location.starts_with("s3://") {
            return Err(ConfigError(format!(
                "archive {location:?} is on S3: that needs the s3 feature"
            )));
        }
        Ok(ParquetArchive::local(
            location.strip_prefix("file://").unwrap_or(location),
        ))
    }
}

/// The instruments of the settings, each symbol the archive already holds keeping the daily
/// alignment its files record, unless the settings name one (`[instruments.X] alignment`).
///
/// FX pairs and futures default to the New York close; an archive written when they defaulted
/// to UTC midnight keeps UTC midnight, symbol by symbol, until `axia archive realign` moves it
/// (one listing of the archive's symbols, then two or three requests per FX pair or future it
/// holds). Where the archive cannot be read the defaults stand, with a warning: a series it
/// holds under the other alignment is then refused (read and written), never mixed, until a
/// restart that can read it.
async fn recorded_alignments(
    settings: &Settings,
    archive: &ParquetArchive,
) -> axia_domain::InstrumentRegistry {
    let mut registry = settings.instrument_registry();
    let chosen = |s: &Symbol| {
        settings.daily_alignment.is_some()
            || settings
                .instruments
                .get(s)
                .is_some_and(|o| o.alignment.is_some())
    };
    let probed = archive
        .recorded_alignments(|s| {
            !chosen(s) && registry.resolve(s).alignment() != DailyAlignment::UtcMidnight
        })
        .await;
    match probed {
        Ok(found) => {
            let mut kept = Vec::new();
            for (symbol, recorded) in found {
                if recorded != registry.resolve(&symbol).alignment() {
                    registry.override_with(
                        &symbol,
                        &axia_domain::InstrumentOverride {
                            alignment: Some(recorded),
                            ..axia_domain::InstrumentOverride::default()
                        },
                    );
                    kept.push(format!("{symbol} ({recorded})"));
                }
            }
            // One line, however many: it is said at every start until the archive moves.
            if let Some(first) = kept.first() {
                let more = kept.len().saturating_sub(10);
                let listed = kept.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
                tracing::warn!(
                    kept = kept.len(),
                    "the archive holds {} symbol(s) on another daily alignment than their default, kept as recorded: {listed}{}; `axia archive realign {}` moves one (`axia archive alignments` lists them all)",
                    kept.len(),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    },
                    first.split(' ').next().unwrap_or("SYMBOL"),
                );
            }
        }
        Err(e) => tracing::warn!(
            error = %e,
            "cannot read which daily alignment the archive records: FX pairs and futures use the New York close; a series the archive holds under UTC midnight is refused until a restart can read it"
        ),
    }
    registry
}

/// The hot cache at `[hot_cache] url`, if any.
fn hot_cache(settings: &Settings, clock: &Arc<dyn Clock>) -> Result<Option<HotCache>, ConfigError> {
    let Some(h) = &settings.hot_cache else {
        return Ok(None);
    };
    #[cfg(feature = "redis")]
    {
        RedisBarCache::new(
            RedisCacheConfig::new(h.url.clone()).namespace(h.namespace.clone()),
            Arc::clone(clock),
        )
        .map(Some)
        .map_err(|e| ConfigError(format!("hot cache: {e}")))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = clock;
        Err(ConfigError(format!(
            "hot cache {}: Redis needs the redis feature",
            axia_domain::redact_url(&h.url)
        )))
    }
}
