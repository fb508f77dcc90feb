//! [`Wiring`]: the adapters the settings select.

use std::sync::Arc;

use axia_collect::Collect;
use axia_domain::{BarArchive, Clock, MarketData, OhlcvStore, Symbol};
use axia_parquet::ParquetArchive;
use axia_provider::OhlcvDataProvider;
use axia_redis::{RedisBarCache, RedisCacheConfig};
use axia_simbroker::SimulatedBroker;
use axia_yahoo::{YahooConfig, YahooGateway};

use crate::{ConfigError, Settings, SourceKind};

/// The adapters a binary runs with.
#[derive(Clone)]
pub struct Wiring {
    /// The collector's source.
    pub source: Arc<dyn MarketData>,
    /// The simulated broker, when it is the source.
    pub simulated: Option<SimulatedBroker>,
    /// Yahoo, when it is the source or a base URL is configured.
    pub yahoo: Option<YahooGateway>,
    /// The cold archive.
    pub archive: Arc<ParquetArchive>,
    /// The hot cache, when configured.
    pub hot: Option<RedisBarCache>,
    /// The clock everything uses.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring")
            .field("simulated", &self.simulated.is_some())
            .field("yahoo", &self.yahoo.is_some())
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
        let archive = ParquetArchive::open(
            &settings.archive.location,
            &axia_aws::AwsSettings::default(),
            settings.archive.force_path_style,
        )
        .await
        .map_err(|e| ConfigError(format!("archive: {e}")))?
        .verify_writes(settings.archive.verify_writes);
        let hot = match &settings.hot_cache {
            None => None,
            Some(h) => Some(
                RedisBarCache::new(
                    RedisCacheConfig::new(h.url.clone()).namespace(h.namespace.clone()),
                    Arc::clone(&clock),
                )
                .map_err(|e| ConfigError(format!("hot cache: {e}")))?,
            ),
        };
        let yahoo = if settings.source == SourceKind::Yahoo || settings.yahoo.base_url.is_some() {
            let mut cfg =
                YahooConfig::default().requests_per_second(settings.yahoo.requests_per_second);
            if let Some(url) = &settings.yahoo.base_url {
                cfg = cfg.base_url(url.clone());
            }
            for (symbol, ticker) in &settings.yahoo.tickers {
                let s: Symbol = symbol
                    .parse()
                    .map_err(|e| ConfigError(format!("yahoo.tickers {symbol:?}: {e}")))?;
                cfg = cfg.ticker(s, ticker.clone());
            }
            Some(
                YahooGateway::new(cfg, Arc::clone(&clock))
                    .map_err(|e| ConfigError(format!("yahoo: {e}")))?,
            )
        } else {
            None
        };
        let simulated = (settings.source == SourceKind::Simulated)
            .then(|| SimulatedBroker::new(settings.simulated.seed, Arc::clone(&clock)));
        let source: Arc<dyn MarketData> = match (&simulated, &yahoo) {
            (Some(s), _) => Arc::new(s.clone()),
            (None, Some(y)) => Arc::new(y.clone()),
            (None, None) => return Err(ConfigError("no source configured".into())),
        };
        Ok(Self {
            source,
            simulated,
            yahoo,
            archive: Arc::new(archive),
            hot,
            clock,
        })
    }

    /// The collect use case over these adapters.
    #[must_use]
    pub fn collect(&self) -> Collect {
        Collect::new(
            Arc::clone(&self.source),
            Arc::clone(&self.archive) as Arc<dyn BarArchive>,
            self.hot.clone().map(|h| Arc::new(h) as Arc<dyn OhlcvStore>),
            Arc::clone(&self.clock),
        )
    }

    /// The audit use case over the archive.
    #[must_use]
    pub fn audit(&self) -> axia_collect::Audit {
        axia_collect::Audit::new(
            Arc::clone(&self.archive) as Arc<dyn BarArchive>,
            Arc::clone(&self.clock),
        )
    }

    /// The data provider over these adapters: the simulated broker as the broker, the hot
    /// cache, the archive, and Yahoo when configured.
    #[must_use]
    pub fn provider(&self) -> OhlcvDataProvider {
        let mut b = OhlcvDataProvider::builder(Arc::clone(&self.clock))
            .cold_archive(Arc::clone(&self.archive) as Arc<dyn OhlcvStore>);
        if let Some(s) = &self.simulated {
            b = b.broker(Arc::new(s.clone()));
        }
        if let Some(h) = &self.hot {
            b = b.hot_cache(Arc::new(h.clone()));
        }
        if let Some(y) = &self.yahoo {
            b = b.yahoo(Arc::new(y.clone()));
        }
        b.build()
    }
}

/// The adapters of the order path.
#[derive(Debug, Clone)]
pub struct OrdersWiring {
    /// The SQS queue.
    pub queue: axia_sqs::SqsOrderQueue,
    /// The DynamoDB order store.
    pub store: axia_dynamodb::DynamoOrderStore,
    /// The DynamoDB kill switch.
    pub kill_switch: axia_dynamodb::DynamoKillSwitch,
    /// The paper executor: the simulated broker with its book in the orders table, so every
    /// processor sees every paper execution.
    pub executor: SimulatedBroker,
}

impl OrdersWiring {
    /// Builds the order adapters from the standard AWS configuration, and checks that the
    /// queue, its poison and dead-letter queues and both tables exist. With `create`, makes
    /// them first (development and tests; production provisions them).
    ///
    /// # Errors
    /// A one-line [`ConfigError`] naming what is missing or unreachable.
    pub async fn build(
        settings: &Settings,
        clock: Arc<dyn Clock>,
        create: bool,
    ) -> Result<Self, ConfigError> {
        let o = &settings.orders;
        let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
        let ddb = aws_sdk_dynamodb::Client::new(&conf);
        let sqs = aws_sdk_sqs::Client::new(&conf);
        let store = axia_dynamodb::DynamoOrderStore::new(ddb.clone(), o.orders_table.clone());
        let kill_switch = axia_dynamodb::DynamoKillSwitch::new(
            ddb,
            o.kill_switch_table.clone(),
            Arc::clone(&clock),
        );
        if create {
            // Already existing is fine; the checks below say if they are not there.
            let _ = store.create_table().await;
            let _ = kill_switch.create_table().await;
        }
        store
            .check_table()
            .await
            .map_err(|e| ConfigError(format!("{e} (create it, or run with --create-resources)")))?;
        kill_switch
            .check_table()
            .await
            .map_err(|e| ConfigError(format!("{e} (create it, or run with --create-resources)")))?;
        let urls = if create {
            axia_sqs::SqsOrderQueue::create(&sqs, &o.queue, o.max_receives).await
        } else {
            axia_sqs::SqsOrderQueue::find(&sqs, &o.queue).await
        }
        .map_err(|e| {
            ConfigError(format!(
                "queue {} (and {0}-poison, {0}-dlq): {e} (create them, or run with --create-resources)",
                o.queue
            ))
        })?;
        let queue = axia_sqs::SqsOrderQueue::new(
            sqs,
            urls,
            std::time::Duration::from_secs(o.visibility_secs.max(1)),
        );
        let executor = SimulatedBroker::new(settings.simulated.seed, clock)
            .with_book(Arc::new(store.execution_book()));
        executor.set_faults(axia_simbroker::Faults {
            latency: std::time::Duration::from_millis(settings.simulated.executor_latency_ms),
            ..axia_simbroker::Faults::none()
        });
        Ok(Self {
            queue,
            store,
            kill_switch,
            executor,
        })
    }

    /// The process-order use case over these adapters: the settings' limits over each
    /// instrument's safe defaults, reference prices from the paper executor's market, claims
    /// of `[orders] lease_secs`.
    ///
    /// # Errors
    /// A [`ConfigError`] for a bad symbol or limit.
    pub fn process_order(
        &self,
        settings: &Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<axia_orders::ProcessOrder, ConfigError> {
        let validator = order_validator(settings)?;
        // The paper market's prices, without the executor's simulated latency.
        let market = SimulatedBroker::new(settings.simulated.seed, Arc::clone(&clock));
        let reference = axia_orders::LastClose::new(Arc::new(market), Arc::clone(&clock));
        Ok(axia_orders::ProcessOrder::new(
            Arc::new(self.queue.clone()),
            Arc::new(self.store.clone()),
            Arc::new(self.kill_switch.clone()),
            Arc::new(self.executor.clone()),
            validator,
            clock,
        )
        .reference_price(Arc::new(reference))
        .lease(std::time::Duration::from_secs(
            settings.orders.lease_secs.max(1),
        )))
    }
}

/// The order validator the settings describe: `[orders] allowed_symbols`, `[orders.limits]`
/// and `[orders.symbol_limits.*]` over each instrument's safe defaults.
///
/// # Errors
/// A [`ConfigError`] for a bad symbol or limit.
pub fn order_validator(settings: &Settings) -> Result<axia_domain::OrderValidator, ConfigError> {
    let o = &settings.orders;
    let mut limits = o.limits.to_limits("orders.limits")?;
    if !o.allowed_symbols.is_empty() {
        let symbols: Result<Vec<Symbol>, _> = o.allowed_symbols.iter().map(|s| s.parse()).collect();
        limits = limits.allowed_symbols(
            symbols.map_err(|e| ConfigError(format!("orders.allowed_symbols: {e}")))?,
        );
    }
    let mut validator = axia_domain::OrderValidator::with_safe_defaults(limits);
    for (symbol, l) in &o.symbol_limits {
        let at = format!("orders.symbol_limits.{symbol}");
        let sym: Symbol = symbol
            .parse()
            .map_err(|e| ConfigError(format!("{at}: {e}")))?;
        validator = validator.symbol_limits(sym, l.to_limits(&at)?);
    }
    Ok(validator)
}

/// The AWS SDK configuration from the standard chain.
pub async fn aws_sdk_config() -> axia_aws::SdkConfig {
    axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await
}

/// The kill switch of the settings' `[orders] kill_switch_table`.
#[must_use]
pub fn kill_switch(
    conf: &axia_aws::SdkConfig,
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> axia_dynamodb::DynamoKillSwitch {
    axia_dynamodb::DynamoKillSwitch::new(
        aws_sdk_dynamodb::Client::new(conf),
        settings.orders.kill_switch_table.clone(),
        clock,
    )
}
