//! The simulated broker as an [`OrderExecutor`]: paper fills, kept in an [`ExecutionBook`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axia_domain::{
    ClientOrderId, Execution, ExecutionBook, ExecutionError, ExecutionOutcome, Fill, Order,
    OrderExecutor, OrderType, Price, Recorded, TimeRange, Timeframe,
};

use crate::SimulatedBroker;
use crate::generator::generate_for;

/// The book a simulated broker keeps when none is given: this process only.
#[derive(Debug, Default)]
pub(crate) struct ProcessBook {
    executions: Mutex<HashMap<ClientOrderId, Execution>>,
}

#[async_trait]
impl ExecutionBook for ProcessBook {
    async fn record_first(&self, execution: &Execution) -> Result<Recorded, ExecutionError> {
        let mut book = axia_domain::locks::lock(&self.executions);
        let first = !book.contains_key(&execution.client_order_id);
        let recorded = book
            .entry(execution.client_order_id.clone())
            .or_insert_with(|| execution.clone())
            .clone();
        Ok(Recorded {
            execution: recorded,
            first,
        })
    }

    async fn get(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError> {
        Ok(axia_domain::locks::lock(&self.executions)
            .get(client_order_id)
            .cloned())
    }
}

/// The paper desk: its book and what this broker placed in it.
pub(crate) struct PaperDesk {
    pub(crate) book: Arc<dyn ExecutionBook>,
    placed: AtomicU64,
}

impl Default for PaperDesk {
    fn default() -> Self {
        Self {
            book: Arc::new(ProcessBook::default()),
            placed: AtomicU64::new(0),
        }
    }
}

impl SimulatedBroker {
    /// Orders this broker placed (not counting idempotent repeats, nor orders another broker
    /// sharing the book placed).
    #[must_use]
    pub fn orders_placed(&self) -> u64 {
        self.desk.placed.load(Ordering::SeqCst)
    }

    /// This broker with its executions kept in `book`, so that brokers in other processes
    /// sharing the book (an order store, say) see each other's executions: lookups by client
    /// order id work across processes, as at a real broker. The default book is this
    /// process's memory.
    #[must_use]
    pub fn with_book(mut self, book: Arc<dyn ExecutionBook>) -> Self {
        self.desk = Arc::new(PaperDesk {
            book,
            placed: AtomicU64::new(0),
        });
        self
    }

    fn price_now(&self, order: &Order) -> Option<Price> {
        let now = self.clock.now();
        let instrument = self.instrument(order.symbol());
        let tick = instrument.tick();
        // The last few minutes hold the price while the market is open; only a closed market
        // (a weekend) needs the longer look back for its last close.
        [chrono::Duration::minutes(10), chrono::Duration::days(4)]
            .into_iter()
            .find_map(|back| {
                let range = TimeRange::covering(now - back, now).ok()?;
                let frame = generate_for(self.seed, &instrument, Timeframe::M1, range, now).ok()?;
                let close = frame.last()?.close();
                // Exactly the printed tick value: 150.11, not 150.1099999999999994315658.
                tick.format(close)
                    .parse::<rust_decimal::Decimal>()
                    .ok()?
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
        // A broker order id of the client order id: the same in every process.
        let broker_order_id = format!("SIM-{}", order.client_order_id());
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
        let execution = Execution::of(order, outcome);
        // Idempotent by client order id: a repeat gets the first execution (with the terms of
        // the order it was for: a reused id finds another order's), nothing is placed.
        let recorded = self.desk.book.record_first(&execution).await?;
        if recorded.first {
            self.desk.placed.fetch_add(1, Ordering::SeqCst);
        }
        Ok(recorded.execution)
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
        self.desk.book.get(client_order_id).await
    }
}
