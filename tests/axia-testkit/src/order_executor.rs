//! The [`OrderExecutor`] contract.
//!
//! ```text
//! axia_testkit::order_executor_contract!(paper, || async {
//!     let broker = SimulatedBroker::seeded(1);
//!     let counter = broker.clone();
//!     Subject::new(Arc::new(broker), "USDJPY".parse().unwrap(), now, move || counter.orders_placed() as usize)
//! });
//! ```
//!
//! The subject's market must be open at its `now` (a market order fills).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axia_domain::{
    ClientOrderId, ExecutionOutcome, Order, OrderExecutor, OrderId, OrderType, Price, Quantity,
    Side, Symbol,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// An executor under test, a symbol it trades, and how many orders it has placed.
pub struct Subject {
    /// The executor.
    pub executor: Arc<dyn OrderExecutor>,
    /// A symbol it trades.
    pub symbol: Symbol,
    /// Its clock's now.
    pub now: DateTime<Utc>,
    /// Orders the broker behind it has placed so far.
    pub placed: Box<dyn Fn() -> usize + Send + Sync>,
    /// Whatever must live as long as the test (a fake server).
    pub guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Subject {
    /// A subject.
    pub fn new(
        executor: Arc<dyn OrderExecutor>,
        symbol: Symbol,
        now: DateTime<Utc>,
        placed: impl Fn() -> usize + Send + Sync + 'static,
    ) -> Self {
        Self {
            executor,
            symbol,
            now,
            placed: Box::new(placed),
            guard: None,
        }
    }

    /// Keeps `guard` alive for the test.
    #[must_use]
    pub fn with_guard(mut self, guard: impl std::any::Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }

    fn order(&self, side: Side, order_type: OrderType) -> Order {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}-{n}", std::process::id());
        Order::new(
            OrderId::new(&format!("o-{tag}")).unwrap(),
            ClientOrderId::new(&format!("c-{tag}")).unwrap(),
            self.symbol.clone(),
            side,
            order_type,
            Quantity::new(Decimal::from(1000)).unwrap(),
            self.now,
        )
    }
}

/// A market order fills, whole, at a positive price, under the broker's id.
pub async fn a_market_order_fills(s: Subject) {
    for side in [Side::Buy, Side::Sell] {
        let order = s.order(side, OrderType::Market);
        let e = s.executor.submit(&order).await.unwrap();
        assert_eq!(&e.client_order_id, order.client_order_id());
        let ExecutionOutcome::Filled(fill) = e.outcome else {
            panic!("{side:?}: {:?}", e.outcome);
        };
        assert_eq!(fill.quantity, order.quantity());
        assert!(fill.price.get() > Decimal::ZERO);
        assert!(!fill.broker_order_id.is_empty());
    }
}

/// Submitting a client order id again returns the first execution and places nothing.
pub async fn a_repeated_client_order_id_places_nothing(s: Subject) {
    let order = s.order(Side::Buy, OrderType::Market);
    let first = s.executor.submit(&order).await.unwrap();
    let placed = (s.placed)();
    for _ in 0..3 {
        assert_eq!(s.executor.submit(&order).await.unwrap(), first);
    }
    assert_eq!((s.placed)(), placed, "a repeat placed an order");
}

/// `lookup` returns what `submit` returned; an unknown client id is `None`.
pub async fn lookup_finds_what_was_submitted(s: Subject) {
    let unknown = ClientOrderId::new(&format!("never-{}", std::process::id())).unwrap();
    assert_eq!(s.executor.lookup(&unknown).await.unwrap(), None);
    let order = s.order(Side::Sell, OrderType::Market);
    let e = s.executor.submit(&order).await.unwrap();
    assert_eq!(
        s.executor.lookup(order.client_order_id()).await.unwrap(),
        Some(e)
    );
}

/// A limit order far from the market rests: accepted under the broker's id, and found again.
pub async fn a_resting_limit_order_is_accepted(s: Subject) {
    let far = Price::new(Decimal::new(1, 3)).unwrap();
    let order = s.order(Side::Buy, OrderType::Limit { price: far });
    let e = s.executor.submit(&order).await.unwrap();
    assert!(
        matches!(&e.outcome, ExecutionOutcome::Accepted { broker_order_id } if !broker_order_id.is_empty()),
        "{:?}",
        e.outcome
    );
    assert_eq!(
        s.executor.lookup(order.client_order_id()).await.unwrap(),
        Some(e)
    );
}

/// Instantiates every check of the [`OrderExecutor`] contract as a `#[tokio::test]` in a
/// module named `$name`, each with a fresh subject from `$factory`.
#[macro_export]
macro_rules! order_executor_contract {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::order_executor_contract!(@checks $factory;
                a_market_order_fills,
                a_repeated_client_order_id_places_nothing,
                lookup_finds_what_was_submitted,
                a_resting_limit_order_is_accepted,
            );
        }
    };
    (@checks $factory:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let subject = ($factory)().await;
                $crate::order_executor::$check(subject).await;
            }
        )*
    };
}
