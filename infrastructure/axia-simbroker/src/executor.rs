//! The simulated broker as an [`OrderExecutor`]: paper fills.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use axia_domain::{
    ClientOrderId, Execution, ExecutionError, ExecutionOutcome, Fill, Order, OrderExecutor,
    OrderType, Price, TimeRange, Timeframe,
};

use crate::SimulatedBroker;
use crate::generator::generate;

/// What the paper desk remembers: executions by client order id.
#[derive(Debug, Default)]
pub(crate) struct PaperDesk {
    executions: Mutex<HashMap<ClientOrderId, Execution>>,
    placed: AtomicU64,
}

impl SimulatedBroker {
    /// Orders actually placed (not counting idempotent repeats).
    #[must_use]
    pub fn orders_placed(&self) -> u64 {
        self.desk.placed.load(Ordering::SeqCst)
    }

    fn price_now(&self, order: &Order) -> Option<Price> {
        let now = self.clock.now();
        // The last few minutes hold the price while the market is open; only a closed market
        // (a weekend) needs the longer look back for its last close.
        [chrono::Duration::minutes(10), chrono::Duration::days(4)]
            .into_iter()
            .find_map(|back| {
                let range =
                    TimeRange::new(now - back, now + chrono::Duration::milliseconds(1)).ok()?;
                let frame = generate(self.seed, order.symbol(), Timeframe::M1, range, now).ok()?;
                let close = frame.last()?.close();
                rust_decimal::Decimal::from_f64_retain(close)?
                    .round_dp(6)
                    .try_into()
                    .ok()
            })
    }
}

#[async_trait]
impl OrderExecutor for SimulatedBroker {
    /// Market orders fill at the simulated price; limit and stop orders are accepted and rest.
    /// Submitting a client order id again returns the first execution.
    async fn submit(&self, order: &Order) -> Result<Execution, ExecutionError> {
        let faults = self.faults();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if faults.down {
            return Err(ExecutionError::Unavailable(
                "simulated broker is down".into(),
            ));
        }
        let mut executions = self
            .desk
            .executions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = executions.get(order.client_order_id()) {
            return Ok(e.clone());
        }
        let n = self.desk.placed.fetch_add(1, Ordering::SeqCst) + 1;
        let broker_order_id = format!("SIM-{n}");
        let outcome = match order.order_type() {
            OrderType::Market => match self.price_now(order) {
                Some(price) => ExecutionOutcome::Filled(Fill {
                    broker_order_id,
                    quantity: order.quantity(),
                    price,
                    filled_at: self.clock.now(),
                }),
                None => ExecutionOutcome::Rejected {
                    code: "MARKET_CLOSED".into(),
                    detail: format!("no price for {}", order.symbol()),
                },
            },
            OrderType::Limit { .. } | OrderType::Stop { .. } => {
                ExecutionOutcome::Accepted { broker_order_id }
            }
        };
        let execution = Execution {
            client_order_id: order.client_order_id().clone(),
            outcome,
        };
        executions.insert(order.client_order_id().clone(), execution.clone());
        Ok(execution)
    }

    async fn lookup(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError> {
        if self.faults().down {
            return Err(ExecutionError::Unavailable(
                "simulated broker is down".into(),
            ));
        }
        Ok(self
            .desk
            .executions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(client_order_id)
            .cloned())
    }
}
