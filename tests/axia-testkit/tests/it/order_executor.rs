//! The OrderExecutor contract on the simulated broker's paper desk and on OANDA (the fake);
//! then what is OANDA's own: outcomes, a lost answer, errors; and the process-order use case
//! end to end on OANDA: a duplicate delivery and a lost POST answer still fill once.

use std::sync::Arc;

use axia_domain::{
    ClientOrderId, ExecutionError, ExecutionOutcome, ManualClock, Order, OrderExecutor, OrderId,
    OrderLimits, OrderQueue, OrderStatus, OrderStore, OrderType, OrderValidator, Quantity, Side,
};
use axia_memory::{MemoryKillSwitch, MemoryOrderQueue, MemoryOrderStore};
use axia_oanda::{OandaConfig, OandaExecutor};
use axia_orders::{Handled, ProcessOrder};
use axia_provider::OhlcvDataProvider;
use axia_simbroker::SimulatedBroker;
use axia_testkit::fake_oanda::{ACCOUNT, FakeOanda};
use axia_testkit::order_executor::Subject;
use axia_testkit::order_executor_contract;
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

/// Wednesday 2026-03-04 12:00 UTC: the FX market is open.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

const TOKEN: &str = "fake-oanda-orders-token";

async fn oanda() -> (Arc<FakeOanda>, OandaExecutor) {
    let fake = Arc::new(FakeOanda::start(42, now(), TOKEN).await);
    let config = OandaConfig::new(TOKEN)
        .base_url(fake.uri())
        .account_id(ACCOUNT)
        .requests_per_second(1000.0)
        .retries(
            2,
            std::time::Duration::from_millis(1),
            std::time::Duration::from_millis(5),
        );
    let executor = OandaExecutor::new(config, Arc::new(ManualClock::new(now()))).unwrap();
    (fake, executor)
}

order_executor_contract!(simulated_paper_desk, || async {
    let broker = SimulatedBroker::new(42, Arc::new(ManualClock::new(now())));
    let counter = broker.clone();
    Subject::new(
        Arc::new(broker),
        "USDJPY".parse().unwrap(),
        now(),
        move || usize::try_from(counter.orders_placed()).unwrap(),
    )
});

order_executor_contract!(oanda_on_fake_server, || async {
    let (fake, executor) = oanda().await;
    let counter = Arc::clone(&fake);
    Subject::new(
        Arc::new(executor),
        "USDJPY".parse().unwrap(),
        now(),
        move || counter.orders_created(),
    )
    .with_guard(fake)
});

fn order(n: &str, side: Side) -> Order {
    Order::new(
        OrderId::new(&format!("o-{n}")).unwrap(),
        ClientOrderId::new(&format!("c-{n}")).unwrap(),
        "EURUSD".parse().unwrap(),
        side,
        OrderType::Market,
        Quantity::new(Decimal::from(2500)).unwrap(),
        now(),
    )
}

#[tokio::test]
async fn oanda_outcomes_carry_oandas_reason_codes() {
    let (fake, executor) = oanda().await;
    fake.set_market_halted(true);
    let e = executor.submit(&order("halted", Side::Buy)).await.unwrap();
    assert!(
        matches!(&e.outcome, ExecutionOutcome::Rejected { code, .. } if code == "MARKET_HALTED"),
        "{:?}",
        e.outcome
    );
    // Looked up later: the same.
    assert_eq!(
        executor.lookup(&e.client_order_id).await.unwrap(),
        Some(e.clone())
    );
    fake.set_market_halted(false);
    fake.reject_next("INSUFFICIENT_MARGIN");
    let e = executor.submit(&order("margin", Side::Sell)).await.unwrap();
    assert!(
        matches!(&e.outcome, ExecutionOutcome::Rejected { code, detail } if code == "INSUFFICIENT_MARGIN" && !detail.is_empty()),
        "{:?}",
        e.outcome
    );
    // A partial fill is a fill of what was filled.
    fake.partial_fill_next(1000);
    let part = executor.submit(&order("partial", Side::Buy)).await.unwrap();
    let ExecutionOutcome::Filled(partial) = &part.outcome else {
        panic!("{:?}", part.outcome)
    };
    assert_eq!(partial.quantity.get(), Decimal::from(1000));
    assert_eq!(
        executor.lookup(&part.client_order_id).await.unwrap(),
        Some(part.clone())
    );
    let sell = executor.submit(&order("sell", Side::Sell)).await.unwrap();
    let ExecutionOutcome::Filled(fill) = sell.outcome else {
        panic!("{:?}", sell.outcome)
    };
    assert_eq!(fill.quantity.get(), Decimal::from(2500));
    // The units went out negative for a sale.
    let posts: Vec<_> = fake
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    let last: serde_json::Value = serde_json::from_slice(&posts.last().unwrap().body).unwrap();
    assert_eq!(last["order"]["units"], "-2500");
    assert_eq!(last["order"]["timeInForce"], "FOK");
    assert_eq!(last["order"]["clientExtensions"]["id"], "c-sell");
}

/// The fill happens but its answer is lost: an error (outcome unknown), never a second POST;
/// the lookup finds the fill, and submitting again returns it without placing anything.
#[tokio::test]
async fn a_lost_answer_is_reconciled_by_lookup_and_never_resent() {
    let (fake, executor) = oanda().await;
    fake.lose_next_response();
    let o = order("lost", Side::Buy);
    let err = executor.submit(&o).await.unwrap_err();
    assert!(matches!(err, ExecutionError::Unavailable(_)), "{err:?}");
    assert_eq!(executor.posts(), 1, "never retried");
    assert_eq!(fake.orders_created(), 1);
    let found = executor.lookup(o.client_order_id()).await.unwrap().unwrap();
    assert!(matches!(found.outcome, ExecutionOutcome::Filled(_)));
    assert_eq!(executor.submit(&o).await.unwrap(), found);
    assert_eq!(fake.orders_created(), 1, "filled once");
    assert_eq!(executor.posts(), 1);
}

/// A lost answer, and an order OANDA does not (yet) show by client id: the transaction
/// history since the POST tells what became of it; nothing is sent twice.
#[tokio::test]
async fn the_transaction_history_is_the_fallback_of_a_lookup() {
    let (fake, executor) = oanda().await;
    fake.hide_orders(true);
    fake.lose_next_response();
    let o = order("hidden", Side::Buy);
    assert!(executor.submit(&o).await.is_err());
    let found = executor.lookup(o.client_order_id()).await.unwrap().unwrap();
    let ExecutionOutcome::Filled(fill) = &found.outcome else {
        panic!("{:?}", found.outcome)
    };
    assert_eq!(fill.quantity.get(), Decimal::from(2500));
    assert_eq!(executor.submit(&o).await.unwrap(), found);
    assert_eq!(fake.orders_created(), 1);
    assert_eq!(executor.posts(), 1);
    // A rejected one is found there too.
    fake.reject_next("MARKET_HALTED");
    let r = order("hidden-reject", Side::Sell);
    let first = executor.submit(&r).await.unwrap();
    let again = executor.lookup(r.client_order_id()).await.unwrap().unwrap();
    let code = |o: &ExecutionOutcome| match o {
        ExecutionOutcome::Rejected { code, .. } => code.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(code(&first.outcome), "MARKET_HALTED");
    assert_eq!(code(&again.outcome), "MARKET_HALTED");
    // An order this executor never sent is unknown.
    assert_eq!(
        executor
            .lookup(&ClientOrderId::new("c-never-sent").unwrap())
            .await
            .unwrap(),
        None
    );
}

/// The POST's answer is lost and OANDA does not show the order by client id yet; another
/// processor's executor (which did not send it, so has no history to search) finds nothing and
/// sends it again: OANDA refuses a second trade with the same client id, so it fills once.
#[tokio::test]
async fn a_second_post_of_a_filled_order_is_refused_by_its_trade_client_id() {
    let (fake, executor) = oanda().await;
    fake.hide_orders(true);
    fake.lose_next_response();
    let o = order("twice", Side::Buy);
    assert!(executor.submit(&o).await.is_err());
    let other = OandaExecutor::new(
        OandaConfig::new(TOKEN)
            .base_url(fake.uri())
            .account_id(ACCOUNT)
            .requests_per_second(1000.0),
        Arc::new(ManualClock::new(now())),
    )
    .unwrap();
    let second = other.submit(&o).await;
    // Refused as a repeat, and OANDA still hides the first: the outcome stays unknown (the
    // caller reconciles later), never a second fill.
    assert!(second.is_err(), "{second:?}");
    assert_eq!(fake.orders_created(), 1, "one order, one fill");
    let posts: Vec<serde_json::Value> = fake
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(posts.len(), 2);
    for p in &posts {
        assert_eq!(p["order"]["tradeClientExtensions"]["id"], "c-twice");
    }
    // Once OANDA shows it, both executors find the one fill, with the order's terms.
    fake.hide_orders(false);
    let found = other.lookup(o.client_order_id()).await.unwrap().unwrap();
    assert!(matches!(found.outcome, ExecutionOutcome::Filled(_)));
    assert_eq!(found.order, Some(o.terms()));
}

/// A client order id reused for another order finds the first order at OANDA, with the first
/// order's terms: the use case tells them apart (DUPLICATE_CLIENT_ORDER_ID), nothing is sent.
#[tokio::test]
async fn a_reused_client_order_id_finds_the_first_orders_terms() {
    let (fake, executor) = oanda().await;
    let first = order("reused", Side::Buy);
    let filled = executor.submit(&first).await.unwrap();
    assert_eq!(filled.order, Some(first.terms()));
    let other = order("reused", Side::Sell);
    let found = executor.submit(&other).await.unwrap();
    assert_eq!(found.order, Some(first.terms()));
    assert_ne!(found.order, Some(other.terms()));
    assert_eq!(fake.orders_created(), 1, "nothing sent for the second");
}

#[tokio::test]
async fn oanda_errors_are_typed_and_never_show_the_token() {
    let (fake, executor) = oanda().await;
    let wrong = OandaExecutor::new(
        OandaConfig::new("revoked-token")
            .base_url(fake.uri())
            .account_id(ACCOUNT),
        Arc::new(ManualClock::new(now())),
    )
    .unwrap();
    let e = wrong.submit(&order("auth", Side::Buy)).await.unwrap_err();
    assert!(matches!(e, ExecutionError::Unauthorized(_)), "{e:?}");
    assert!(!e.to_string().contains("revoked-token"));
    assert!(!format!("{wrong:?}").contains("revoked-token"));
    assert_eq!(fake.orders_created(), 0);
    // A 429 on the lookup is waited out (Retry-After), then the order goes.
    fake.rate_limit_next(1);
    let e = executor.submit(&order("limited", Side::Buy)).await.unwrap();
    assert!(matches!(e.outcome, ExecutionOutcome::Filled(_)));
    fake.set_down(true);
    let e = executor
        .submit(&order("down", Side::Buy))
        .await
        .unwrap_err();
    assert!(matches!(e, ExecutionError::Unavailable(_)), "{e:?}");
    fake.set_down(false);
    assert!(
        OandaExecutor::new(OandaConfig::new(TOKEN), ManualClock::new(now())).is_err(),
        "an executor needs an account"
    );
}

/// The process-order use case on OANDA: the first delivery's POST answer is lost (the order
/// stays Submitted, the claim kept); after the lease the redelivery reconciles by lookup; a
/// duplicate delivery later changes nothing. One order at OANDA, one fill.
#[tokio::test]
async fn process_order_on_oanda_fills_exactly_once() {
    let (fake, executor) = oanda().await;
    let clock = Arc::new(ManualClock::new(now()));
    let queue = Arc::new(MemoryOrderQueue::default());
    let store = Arc::new(MemoryOrderStore::default());
    let processor = processing(executor, &queue, &store, &clock, "p-1");
    let body = r#"{"order_id":"o-e2e","client_order_id":"c-e2e","symbol":"USDJPY","side":"buy","type":"market","quantity":"1000"}"#;
    fake.lose_next_response();
    queue.push(body);
    let first = queue.receive(1, std::time::Duration::ZERO).await.unwrap();
    let handled = processor.handle(&first[0]).await.unwrap();
    assert!(matches!(handled, Handled::Deferred(_)), "{handled:?}");
    let id = OrderId::new("o-e2e").unwrap();
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().status(),
        OrderStatus::Submitted
    );
    // The redelivery, after the claim lapsed: reconciled by lookup, no second POST.
    clock.advance(chrono::Duration::seconds(31));
    let again = queue.receive(1, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(
        processor.handle(&again[0]).await.unwrap(),
        Handled::Done(OrderStatus::Filled)
    );
    // A duplicate delivery of the same message.
    queue.push(body);
    let dup = queue.receive(1, std::time::Duration::ZERO).await.unwrap();
    let handled = processor.handle(&dup[0]).await.unwrap();
    assert!(!matches!(handled, Handled::Deferred(_)), "{handled:?}");
    assert_eq!(fake.orders_created(), 1, "one order at OANDA");
    let stored = store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.status(), OrderStatus::Filled);
    assert!(stored.fill().is_some());
}

/// The process-order use case on `executor` as processor `name`: a 30 s lease, the simulated
/// broker's last close as the reference price.
fn processing(
    executor: OandaExecutor,
    queue: &Arc<MemoryOrderQueue>,
    store: &Arc<MemoryOrderStore>,
    clock: &Arc<ManualClock>,
    name: &str,
) -> ProcessOrder {
    ProcessOrder::new(
        queue.clone(),
        store.clone(),
        MemoryKillSwitch::new(clock.clone()),
        executor,
        OrderValidator::with_safe_defaults(OrderLimits::new()),
    )
    .clock(clock.clone())
    .processor(name)
    .lease(std::time::Duration::from_secs(30))
    .reference_price(
        OhlcvDataProvider::builder()
            .broker(SimulatedBroker::new(42, clock.clone()))
            .clock(clock.clone())
            .without_write_through()
            .build(),
    )
}

/// OANDA applies a POST only after the client gave up on it and the processor's lease lapsed
/// (the fake holds it): the processor that takes the order over finds nothing at first and
/// waits out the lookup grace instead of sending again; when the POST lands meanwhile, the
/// order is filled once. When it lands only after the grace, so that the order was sent again,
/// OANDA refuses the late one by its trade client id: one fill, never two, in both cases.
#[tokio::test]
async fn a_post_applied_after_the_lease_lapsed_fills_once() {
    for lands_after_grace in [false, true] {
        let fake = Arc::new(FakeOanda::start(42, now(), TOKEN).await);
        let clock = Arc::new(ManualClock::new(now()));
        let queue = Arc::new(MemoryOrderQueue::default());
        let store = Arc::new(MemoryOrderStore::default());
        // Two processes: each its own executor (neither knows what the other sent).
        let processor = |name: &str| {
            let executor = OandaExecutor::new(
                OandaConfig::new(TOKEN)
                    .base_url(fake.uri())
                    .account_id(ACCOUNT)
                    .requests_per_second(1000.0),
                clock.clone(),
            )
            .unwrap();
            processing(executor, &queue, &store, &clock, name)
                .lookup_grace(std::time::Duration::from_secs(120))
        };
        let (first, second) = (processor("p-1"), processor("p-2"));
        let id = OrderId::new("o-late").unwrap();
        queue.push(r#"{"order_id":"o-late","client_order_id":"c-late","symbol":"EURUSD","side":"sell","type":"market","quantity":"2000"}"#);

        // p-1 posts; OANDA holds it and the answer says nothing.
        fake.hold_next_post();
        let m = queue.receive(1, std::time::Duration::ZERO).await.unwrap();
        let handled = first.handle(&m[0]).await.unwrap();
        assert!(matches!(handled, Handled::Deferred(_)), "{handled:?}");
        assert_eq!(fake.orders_created(), 0);

        // p-1's lease lapses; p-2 takes the order over and finds nothing: it waits.
        clock.advance(chrono::Duration::seconds(31));
        let m = queue.receive(1, std::time::Duration::ZERO).await.unwrap();
        let handled = second.handle(&m[0]).await.unwrap();
        assert!(matches!(handled, Handled::Deferred(_)), "{handled:?}");
        assert_eq!(fake.orders_created(), 0, "not sent again within the grace");

        if lands_after_grace {
            // The grace passes with nothing at OANDA: the order is sent again and fills.
            clock.advance(chrono::Duration::seconds(120));
            let m = queue.receive(1, std::time::Duration::ZERO).await.unwrap();
            assert_eq!(
                second.handle(&m[0]).await.unwrap(),
                Handled::Done(OrderStatus::Filled)
            );
            // The first POST lands late: refused by the open trade's client id.
            assert_eq!(fake.apply_held(), [false]);
        } else {
            // The first POST lands within the grace; the next delivery finds its fill.
            assert_eq!(fake.apply_held(), [true]);
            clock.advance(chrono::Duration::seconds(30));
            let m = queue.receive(1, std::time::Duration::ZERO).await.unwrap();
            assert_eq!(
                second.handle(&m[0]).await.unwrap(),
                Handled::Done(OrderStatus::Filled)
            );
        }
        assert_eq!(
            fake.orders_created(),
            1,
            "one fill at OANDA ({lands_after_grace})"
        );
        let stored = store.get(&id).await.unwrap().unwrap();
        assert_eq!(stored.status(), OrderStatus::Filled);
        assert_eq!(
            stored.fill().map(|f| f.quantity.to_string()),
            Some("2000".to_owned())
        );
        let m = queue
            .receive(1, std::time::Duration::ZERO)
            .await
            .unwrap_or_default();
        assert!(m.is_empty(), "the message was acknowledged");
    }
}
