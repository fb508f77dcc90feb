//! [`Wiring`]: the adapters the settings select.

use std::sync::Arc;

use axia_collect::Collect;
#[cfg(not(feature = "redis"))]
use axia_domain::OhlcvStore;
use axia_domain::{
    Clock, DailyAlignment, InstrumentRegistry, MarketCalendar, MarketData, PriceStream, Symbol,
};
#[cfg(feature = "oanda")]
use axia_oanda::{OandaConfig, OandaGateway};
use axia_parquet::ParquetArchive;
use axia_provider::OhlcvDataProvider;
#[cfg(feature = "redis")]
use axia_redis::{RedisBarCache, RedisCacheConfig};
use axia_simbroker::SimulatedBroker;
#[cfg(feature = "yahoo")]
use axia_yahoo::{YahooConfig, YahooGateway};

use crate::{ConfigError, Settings, SourceKind};

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

/// The adapters a binary runs with.
#[derive(Clone)]
pub struct Wiring {
    /// The collector's source.
    pub source: Arc<dyn MarketData>,
    /// The simulated broker, when it is the source.
    pub simulated: Option<SimulatedBroker>,
    /// Yahoo, when it is the source or a base URL is configured (the `yahoo` feature).
    #[cfg(feature = "yahoo")]
    pub yahoo: Option<YahooGateway>,
    /// OANDA, when it is the source (the `oanda` feature): also the provider's broker.
    #[cfg(feature = "oanda")]
    pub oanda: Option<OandaGateway>,
    /// The cold archive.
    pub archive: Arc<ParquetArchive>,
    /// The hot cache, when configured (the `redis` feature).
    pub hot: Option<HotCache>,
    /// The clock everything uses.
    pub clock: Arc<dyn Clock>,
    /// The instruments: the built-in ones with `[instruments.*]` applied.
    pub instruments: Arc<InstrumentRegistry>,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring")
            .field("simulated", &self.simulated.is_some())
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
        let archive = archive.instruments(Arc::clone(&instruments));
        let hot = hot_cache(settings, &clock)?;
        #[cfg(feature = "yahoo")]
        let yahoo = yahoo(settings, &clock, &instruments)?;
        let simulated = (settings.source == SourceKind::Simulated).then(|| {
            SimulatedBroker::new(settings.simulated.seed, Arc::clone(&clock))
                .instruments(Arc::clone(&instruments))
        });
        #[cfg(feature = "oanda")]
        let oanda = oanda(settings, &clock, &instruments)?;
        let source: Arc<dyn MarketData> = match settings.source {
            SourceKind::Simulated => match &simulated {
                Some(s) => Arc::new(s.clone()),
                None => return Err(ConfigError("no source configured".into())),
            },
            #[cfg(feature = "yahoo")]
            SourceKind::Yahoo => match &yahoo {
                Some(y) => Arc::new(y.clone()),
                None => return Err(ConfigError("no source configured".into())),
            },
            #[cfg(not(feature = "yahoo"))]
            SourceKind::Yahoo => {
                return Err(ConfigError(
                    "source = \"yahoo\" needs the yahoo feature".into(),
                ));
            }
            #[cfg(feature = "oanda")]
            SourceKind::Oanda => match &oanda {
                Some(o) => Arc::new(o.clone()),
                None => return Err(ConfigError("no source configured".into())),
            },
            #[cfg(not(feature = "oanda"))]
            SourceKind::Oanda => {
                return Err(ConfigError(
                    "source = \"oanda\" needs the oanda feature".into(),
                ));
            }
        };
        Ok(Self {
            source,
            simulated,
            #[cfg(feature = "oanda")]
            oanda,
            #[cfg(feature = "yahoo")]
            yahoo,
            archive: Arc::new(archive),
            hot,
            clock,
            instruments,
        })
    }

    /// The live price stream of the configured source: the simulated market's (same seed as
    /// the simulated broker, so its bars equal the broker's candles), or OANDA's pricing
    /// stream (the `oanda` feature; it needs the account id).
    ///
    /// # Errors
    /// A [`ConfigError`] for Yahoo (no stream), or OANDA without an account id or a token.
    pub fn price_stream(&self, settings: &Settings) -> Result<Arc<dyn PriceStream>, ConfigError> {
        match settings.source {
            SourceKind::Simulated => Ok(Arc::new(
                axia_simbroker::SimulatedStream::new(settings.simulated.seed, Arc::clone(&self.clock))
                    .instruments(Arc::clone(&self.instruments)),
            )),
            SourceKind::Yahoo => Err(ConfigError(
                "source = \"yahoo\" has no live price stream; the live feed needs source = \"simulated\"".into(),
            )),
            #[cfg(feature = "oanda")]
            SourceKind::Oanda => {
                let cfg = oanda_config(settings, &self.instruments)?;
                axia_oanda::OandaStream::new(cfg)
                    .map(|s| Arc::new(s) as Arc<dyn PriceStream>)
                    .map_err(|e| ConfigError(format!("oanda: {e}")))
            }
            #[cfg(not(feature = "oanda"))]
            SourceKind::Oanda => Err(ConfigError(
                "source = \"oanda\" needs the oanda feature".into(),
            )),
        }
    }

    /// The trading calendar of each symbol, from the instruments.
    pub fn calendars(&self) -> impl Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync + 'static {
        let instruments = Arc::clone(&self.instruments);
        move |s| instruments.resolve(s).calendar()
    }

    /// Where each symbol's daily bars start, from the instruments.
    pub fn alignments(&self) -> impl Fn(&Symbol) -> DailyAlignment + Send + Sync + 'static {
        let instruments = Arc::clone(&self.instruments);
        move |s| instruments.resolve(s).alignment()
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
            Some(h) => collect.hot_cache(h.clone()),
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

    /// The data provider over these adapters: the simulated broker as the broker, the hot
    /// cache, the archive, and Yahoo as the fallback when configured.
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
        match &self.simulated {
            Some(sim) if !self.has_fallback() => b.fallback(sim.clone()).build(),
            _ => b.build(),
        }
    }

    /// True when a source fills the provider's fallback role (Yahoo, when configured).
    #[must_use]
    pub fn has_fallback(&self) -> bool {
        #[cfg(feature = "yahoo")]
        {
            self.yahoo.is_some()
        }
        #[cfg(not(feature = "yahoo"))]
        {
            false
        }
    }

    /// The builder [`provider`](Self::provider) finishes, for a binary that adds a role (the
    /// server puts the simulated broker in the fallback role when nothing else fills it).
    pub fn provider_builder(&self) -> axia_provider::ProviderBuilder {
        let mut b = OhlcvDataProvider::builder()
            .clock(Arc::clone(&self.clock))
            .calendar(self.calendars())
            .alignment(self.alignments())
            .cold_archive(Arc::clone(&self.archive));
        if let Some(s) = &self.simulated {
            b = b.broker(s.clone());
        }
        #[cfg(feature = "oanda")]
        if let Some(o) = &self.oanda {
            b = b.broker(o.clone());
        }
        #[cfg(feature = "redis")]
        if let Some(h) = &self.hot {
            b = b.hot_cache(h.clone());
        }
        #[cfg(feature = "yahoo")]
        if let Some(y) = &self.yahoo {
            b = b.fallback(y.clone());
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

/// Yahoo, when it is the source or a base URL is configured.
#[cfg(feature = "yahoo")]
#[cfg(feature = "oanda")]
fn oanda(
    settings: &Settings,
    clock: &Arc<dyn Clock>,
    instruments: &Arc<InstrumentRegistry>,
) -> Result<Option<OandaGateway>, ConfigError> {
    if settings.source != SourceKind::Oanda {
        return Ok(None);
    }
    OandaGateway::new(oanda_config(settings, instruments)?, Arc::clone(clock))
        .map(Some)
        .map_err(|e| ConfigError(format!("oanda: {e}")))
}

/// OANDA's settings as the adapters take them.
#[cfg(feature = "oanda")]
fn oanda_config(
    settings: &Settings,
    instruments: &Arc<InstrumentRegistry>,
) -> Result<OandaConfig, ConfigError> {
    let o = &settings.oanda;
    let token = o.token.clone().ok_or_else(|| {
        ConfigError("source = \"oanda\" needs a token: set OANDA_TOKEN (or [oanda] token)".into())
    })?;
    let mut cfg = OandaConfig::new(token)
        .requests_per_second(o.requests_per_second)
        .price(o.price)
        .instruments(Arc::clone(instruments));
    if let Some(url) = &o.base_url {
        cfg = cfg.base_url(url.clone());
    }
    if let Some(id) = &o.account_id {
        cfg = cfg.account_id(id.clone());
    }
    if let Some(url) = &o.stream_url {
        cfg = cfg.stream_url(url.clone());
    }
    for (symbol, name) in &o.instruments {
        cfg = cfg.instrument_name(symbol.clone(), name.clone());
    }
    Ok(cfg)
}

#[cfg(feature = "yahoo")]
fn yahoo(
    settings: &Settings,
    clock: &Arc<dyn Clock>,
    instruments: &Arc<InstrumentRegistry>,
) -> Result<Option<YahooGateway>, ConfigError> {
    if settings.source != SourceKind::Yahoo && settings.yahoo.base_url.is_none() {
        return Ok(None);
    }
    let mut cfg = YahooConfig::default()
        .requests_per_second(settings.yahoo.requests_per_second)
        .instruments(Arc::clone(instruments));
    if let Some(url) = &settings.yahoo.base_url {
        cfg = cfg.base_url(url.clone());
    }
    for (symbol, ticker) in &settings.yahoo.tickers {
        cfg = cfg.ticker(symbol.clone(), ticker.clone());
    }
    YahooGateway::new(cfg, Arc::clone(clock))
        .map(Some)
        .map_err(|e| ConfigError(format!("yahoo: {e}")))
}
