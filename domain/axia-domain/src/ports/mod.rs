//! The ports: narrow traits, one capability each, implemented by the infrastructure adapters.
//!
//! Every error type here is owned by the domain; adapters translate their SDK's conditions (a
//! Redis timeout, an S3 `NoSuchKey`, a DynamoDB `ConditionalCheckFailed`) into these variants
//! and put anything else in `Backend`. No SDK type appears in a signature.
//!
//! With the `mocks` feature, mockall generates `MockOhlcvStore`, `MockMarketData`, … for tests.

mod alerts;
mod clock;
mod features;
mod jobs;
mod market_data;
mod orders;
mod ownership;
mod prices;
mod store;
mod updates;

pub use alerts::*;
pub use clock::*;
pub use features::*;
pub use jobs::*;
pub use market_data::*;
pub use orders::*;
pub use ownership::*;
pub use prices::*;
pub use store::*;
pub use updates::*;

/// An infrastructure failure carried opaquely.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use chrono::TimeZone;
    use mockall::predicate::eq;

    use super::*;
    use chrono::Utc;

    use crate::{
        KillSwitchRecord, KillSwitchScope, KillSwitchState, OhlcvFrame, Order, OrderType, Side,
        Symbol, TimeRange, Timeframe,
    };

    /// Polls a future that completes without waiting (every mock does); keeps tokio out of the
    /// domain's dependency tree, dev-dependencies included.
    fn ready<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn range() -> TimeRange {
        let t = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        TimeRange::new(t, t + chrono::Duration::hours(1)).unwrap()
    }

    #[test]
    fn mocks_stand_in_for_ports_as_trait_objects() {
        let sym: Symbol = "USDJPY".parse().unwrap();
        let mut store = MockOhlcvStore::new();
        store
            .expect_get()
            .times(1)
            .with(eq(sym.clone()), eq(Timeframe::M1), eq(range()))
            .returning(|s, tf, _| Ok(OhlcvFrame::empty(s.clone(), tf)));
        store
            .expect_save()
            .times(1)
            .returning(|_| Err(StoreError::Unavailable("connection refused".into())));
        let store: Arc<dyn OhlcvStore> = Arc::new(store);
        assert!(
            ready(store.get(&sym, Timeframe::M1, range()))
                .unwrap()
                .is_empty()
        );
        let err = ready(store.save(&OhlcvFrame::empty(sym.clone(), Timeframe::M1))).unwrap_err();
        assert_eq!(err.to_string(), "store unavailable: connection refused");

        let mut ks = MockKillSwitch::new();
        ks.expect_read()
            .times(1)
            .with(eq(KillSwitchScope::Global))
            .returning(|s| Ok(KillSwitchRecord::never_set(s.clone())));
        let ks: Arc<dyn KillSwitch> = Arc::new(ks);
        let rec = ready(ks.read(&KillSwitchScope::Global)).unwrap();
        assert_eq!(rec.state, KillSwitchState::Active);

        let order = Order::new(
            "o-1".parse().unwrap(),
            "c-1".parse().unwrap(),
            sym,
            Side::Sell,
            OrderType::Market,
            "1".parse().unwrap(),
            range().start(),
        );
        let mut orders = MockOrderStore::new();
        let stored = order.clone();
        orders
            .expect_create_if_absent()
            .times(1)
            .with(eq(order.clone()))
            .returning(move |_| Ok(CreateOutcome::AlreadyExists(Box::new(stored.clone()))));
        let orders: Arc<dyn OrderStore> = Arc::new(orders);
        assert_eq!(
            ready(orders.create_if_absent(&order)).unwrap(),
            CreateOutcome::AlreadyExists(Box::new(order))
        );

        let mut clock = MockClock::new();
        clock.expect_now().times(1).return_const(range().end());
        assert_eq!(clock.now(), range().end());
    }
}
