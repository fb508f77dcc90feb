//! [`OrdersWiring`]: the adapters of the order path.

use std::sync::Arc;

use axia_domain::{AdapterContext, Clock};
use axia_simbroker::{SimulatedBroker, SimulatedSettings};

use crate::{ConfigError, Settings, order_validator};

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
    /// processor sees every paper execution. It executes unless OANDA does.
    pub executor: SimulatedBroker,
    /// OANDA, when `[orders] executor = "oanda"` (the `oanda` feature): it executes, and its
    /// candles give the reference prices.
    #[cfg(feature = "oanda")]
    pub oanda: Option<(axia_oanda::OandaExecutor, axia_oanda::OandaGateway)>,
    /// The clock and the instruments (`[instruments.*]` applied) the order path uses.
    context: AdapterContext,
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
        let context = AdapterContext::new(clock, Arc::new(settings.instrument_registry()));
        let executor = settings
            .sources
            .get::<SimulatedSettings>("simulated")?
            .executor(&context)
            .with_book(Arc::new(store.execution_book()));
        #[cfg(feature = "oanda")]
        let oanda = oanda_executor(settings, &context)?;
        #[cfg(not(feature = "oanda"))]
        if settings.orders.executor == crate::ExecutorKind::Oanda {
            return Err(ConfigError(
                "[orders] executor = \"oanda\" needs the oanda feature".into(),
            ));
        }
        Ok(Self {
            queue,
            store,
            kill_switch,
            executor,
            #[cfg(feature = "oanda")]
            oanda,
            context,
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
        let validator = order_validator(settings);
        let context = AdapterContext::new(Arc::clone(&clock), self.context.instruments());
        #[cfg(feature = "oanda")]
        if let Some((executor, market)) = &self.oanda {
            // OANDA's own last close is the reference price.
            let reference = reference_price(market.clone(), &context);
            return Ok(axia_orders::ProcessOrder::new(
                self.queue.clone(),
                self.store.clone(),
                self.kill_switch.clone(),
                executor.clone(),
                validator,
            )
            .clock(clock)
            .reference_price(reference)
            .lease(std::time::Duration::from_secs(
                settings.orders.lease_secs.max(1),
            ))
            .lookup_grace(std::time::Duration::from_secs(
                settings.orders.lookup_grace_secs,
            )));
        }
        // The paper market's prices, without the executor's simulated latency.
        let market = settings
            .sources
            .get::<SimulatedSettings>("simulated")?
            .broker(&context);
        let reference = reference_price(market, &context);
        Ok(axia_orders::ProcessOrder::new(
            self.queue.clone(),
            self.store.clone(),
            self.kill_switch.clone(),
            self.executor.clone(),
            validator,
        )
        .clock(clock)
        .reference_price(reference)
        .lease(std::time::Duration::from_secs(
            settings.orders.lease_secs.max(1),
        ))
        .lookup_grace(std::time::Duration::from_secs(
            settings.orders.lookup_grace_secs,
        )))
    }
}

/// OANDA's executor and candles when `[orders] executor = "oanda"`.
#[cfg(feature = "oanda")]
fn oanda_executor(
    settings: &Settings,
    context: &AdapterContext,
) -> Result<Option<(axia_oanda::OandaExecutor, axia_oanda::OandaGateway)>, ConfigError> {
    if settings.orders.executor != crate::ExecutorKind::Oanda {
        return Ok(None);
    }
    let o: axia_oanda::OandaSettings = settings.sources.get("oanda")?;
    let config = match (o.account_id.is_some(), o.config(context)) {
        (true, Some(config)) => config,
        _ => {
            return Err(ConfigError(
                "[orders] executor = \"oanda\" needs OANDA_TOKEN and an account (OANDA_ACCOUNT_ID or [oanda] account_id)".into(),
            ));
        }
    };
    let executor = axia_oanda::OandaExecutor::new(config.clone(), context.clock())
        .map_err(|e| ConfigError(format!("oanda: {e}")))?;
    let market = axia_oanda::OandaGateway::new(config, context.clock())
        .map_err(|e| ConfigError(format!("oanda: {e}")))?;
    Ok(Some((executor, market)))
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

/// The reference price of the order checks: the data provider over `market` alone, its last
/// M1 close on the instrument's calendar (nothing written anywhere).
fn reference_price(
    market: impl axia_domain::MarketData + 'static,
    context: &AdapterContext,
) -> axia_provider::OhlcvDataProvider {
    axia_provider::OhlcvDataProvider::builder()
        .broker(market)
        .clock(context.clock())
        .calendar(context.calendars())
        .alignment(context.alignments())
        .without_write_through()
        .build()
}
