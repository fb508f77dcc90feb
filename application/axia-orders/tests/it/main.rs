//! Use-case tests of process-order with mockall mocks asserting the calls and their order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::sync::Arc;
use std::time::Duration;

use axia_domain::{
    Claim, ClaimOutcome, CreateOutcome, Execution, ExecutionError, ExecutionOutcome, Fill,
    KillSwitchError, KillSwitchRecord, KillSwitchScope, KillSwitchState, ManualClock,
    MarketDataError, MockKillSwitch, MockOrderExecutor, MockOrderQueue, MockOrderStore,
    MockReferencePrice, Order, OrderLimits, OrderStatus, OrderStoreError, OrderValidator,
    QueueMessage, RejectionReason,
};
use axia_orders::{Handled, OrderMessage, ProcessOrder};
use chrono::{DateTime, TimeZone, Utc};
use mockall::Sequence;
use mockall::predicate::{always, eq};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

const PROCESSOR: &str = "proc-a";
/// The owner name of the first delivery this processor handles.
const OWNER: &str = "proc-a/0";
const LEASE: Duration = Duration::from_secs(30);

const BODY: &str = r#"{"order_id":"o-1","client_order_id":"c-1","symbol":"USDJPY","side":"buy","type":"market","quantity":"1000"}"#;

fn message(body: &str) -> QueueMessage {
    QueueMessage {
        message_id: "m-1".into(),
        body: body.into(),
        receipt: "r-1".into(),
        receive_count: 1,
    }
}

fn order() -> Order {
    OrderMessage::parse(BODY)
        .unwrap()
        .to_order(now())
        .unwrap()
        .received_by(PROCESSOR)
}

fn with_status(status: OrderStatus) -> Order {
    let mut o = order();
    if status != OrderStatus::Received {
        o.mark_submitted(now(), "someone").unwrap();
    }
    if status == OrderStatus::Filled {
        o.mark_filled(fill(), now(), "someone").unwrap();
    }
    o
}

fn fill() -> Fill {
    Fill {
        broker_order_id: "b-1".into(),
        quantity: "1000".parse().unwrap(),
        price: "150.1".parse().unwrap(),
        filled_at: now(),
    }
}

fn filled() -> Execution {
    Execution::of(&order(), ExecutionOutcome::Filled(fill()))
}

fn until() -> DateTime<Utc> {
    now() + chrono::Duration::from_std(LEASE).unwrap()
}

struct Mocks {
    queue: MockOrderQueue,
    store: MockOrderStore,
    ks: MockKillSwitch,
    exec: MockOrderExecutor,
    seq: Sequence,
}

impl Mocks {
    fn new() -> Self {
        Self {
            queue: MockOrderQueue::new(),
            store: MockOrderStore::new(),
            ks: MockKillSwitch::new(),
            exec: MockOrderExecutor::new(),
            seq: Sequence::new(),
        }
    }

    fn created(&mut self, outcome: CreateOutcome) {
        self.store
            .expect_create_if_absent()
            .times(1)
            .in_sequence(&mut self.seq)
            .with(eq(order()))
            .return_once(move |_| Ok(outcome));
    }

    /// The claim is asked for with this delivery's owner name and lease.
    fn claimed(&mut self, outcome: ClaimOutcome) {
        self.store
            .expect_claim()
            .times(1)
            .in_sequence(&mut self.seq)
            .with(eq(order().id().clone()), eq(OWNER), eq(now()), eq(until()))
            .return_once(move |_, _, _, _| Ok(outcome));
    }

    fn stored(&mut self, o: Order) {
        self.store
            .expect_get()
            .times(1)
            .in_sequence(&mut self.seq)
            .return_once(move |_| Ok(Some(o)));
    }

    fn switch(&mut self, scope: KillSwitchScope, state: KillSwitchState) {
        self.ks
            .expect_read()
            .times(1)
            .in_sequence(&mut self.seq)
            .with(eq(scope))
            .returning(move |s| {
                let mut r = KillSwitchRecord::never_set(s.clone());
                r.state = state;
                r.reason = "test".into();
                r.actor = "ops".into();
                Ok(r)
            });
    }

    fn active(&mut self) {
        self.switch(KillSwitchScope::Global, KillSwitchState::Active);
        self.switch(
            KillSwitchScope::Symbol("USDJPY".parse().unwrap()),
            KillSwitchState::Active,
        );
    }

    /// A write under this delivery's claim, moving the order to `to`.
    fn update(&mut self, to: OrderStatus, expected: OrderStatus) {
        self.store
            .expect_update()
            .times(1)
            .in_sequence(&mut self.seq)
            .withf(move |o, e, owner, at| {
                o.status() == to
                    && *e == expected
                    && owner == OWNER
                    && *at == now()
                    && o.history()
                        .last()
                        .is_some_and(|t| t.by == OWNER && t.to == to)
            })
            .returning(|_, _, _, _| Ok(()));
    }

    fn release(&mut self) {
        self.store
            .expect_release()
            .times(1)
            .in_sequence(&mut self.seq)
            .with(always(), eq(OWNER))
            .returning(|_, _| Ok(()));
    }

    fn ack(&mut self) {
        self.queue
            .expect_ack()
            .times(1)
            .in_sequence(&mut self.seq)
            .returning(|_| Ok(()));
    }

    fn retried_after(&mut self, after: Duration) {
        self.queue
            .expect_retry_later()
            .times(1)
            .in_sequence(&mut self.seq)
            .with(always(), eq(after))
            .returning(|_, _| Ok(()));
    }

    fn build(self) -> ProcessOrder {
        self.build_with(OrderValidator::default())
    }

    fn build_with(self, validator: OrderValidator) -> ProcessOrder {
        ProcessOrder::new(self.queue, self.store, self.ks, self.exec, validator)
            .clock(ManualClock::new(now()))
            .processor(PROCESSOR)
            .lease(LEASE)
    }
}

#[tokio::test]
async fn the_whole_path_in_order_claiming_persisting_before_executing_and_before_acking() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::Created);
    m.claimed(ClaimOutcome::Acquired { previous: None });
    m.stored(order());
    m.active();
    m.update(OrderStatus::Submitted, OrderStatus::Received);
    m.exec
        .expect_submit()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Ok(filled()));
    m.update(OrderStatus::Filled, OrderStatus::Submitted);
    m.release();
    m.ack();
    let p = m.build();
    assert_eq!(
        p.handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Filled)
    );
}

#[tokio::test]
async fn a_halted_kill_switch_rejects_and_sends_nothing() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::Created);
    m.claimed(ClaimOutcome::Acquired { previous: None });
    m.stored(order());
    m.switch(KillSwitchScope::Global, KillSwitchState::Active);
    m.switch(
        KillSwitchScope::Symbol("USDJPY".parse().unwrap()),
        KillSwitchState::Halted,
    );
    m.store
        .expect_update()
        .times(1)
        .in_sequence(&mut m.seq)
        .withf(|o, e, owner, _| {
            *e == OrderStatus::Received
                && owner == OWNER
                && o.rejection().map(|r| r.reason) == Some(RejectionReason::KillSwitchActive)
        })
        .returning(|_, _, _, _| Ok(()));
    m.release();
    m.ack();
    m.exec.expect_submit().never();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Rejected)
    );
}

#[tokio::test]
async fn an_unreadable_kill_switch_fails_closed() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::Created);
    m.claimed(ClaimOutcome::Acquired { previous: None });
    m.stored(order());
    m.ks.expect_read()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Err(KillSwitchError::Unavailable("dynamodb down".into())));
    m.store
        .expect_update()
        .times(1)
        .in_sequence(&mut m.seq)
        .withf(|o, _, _, _| {
            o.rejection().map(|r| r.reason) == Some(RejectionReason::KillSwitchUnavailable)
        })
        .returning(|_, _, _, _| Ok(()));
    m.release();
    m.ack();
    m.exec.expect_submit().never();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Rejected)
    );
}

#[tokio::test]
async fn a_duplicate_of_a_final_order_is_acked_without_a_claim() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::AlreadyExists(Box::new(with_status(
        OrderStatus::Filled,
    ))));
    m.store.expect_claim().never();
    m.ack();
    m.exec.expect_submit().never();
    m.exec.expect_lookup().never();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Duplicate(OrderStatus::Filled)
    );
}

#[tokio::test]
async fn an_order_another_processor_holds_is_neither_submitted_nor_reconciled() {
    // The other processor persisted Submitted and its submission may still be on its way: a
    // lookup now could miss it. Leave the message until the claim lapses.
    let mut m = Mocks::new();
    m.created(CreateOutcome::AlreadyExists(Box::new(with_status(
        OrderStatus::Submitted,
    ))));
    let holder = Claim {
        owner: "proc-b/7".into(),
        expires_at: now() + chrono::Duration::seconds(12),
    };
    m.claimed(ClaimOutcome::Held(holder));
    m.stored(with_status(OrderStatus::Submitted));
    m.retried_after(Duration::from_millis(12_250));
    m.exec.expect_lookup().never();
    m.exec.expect_submit().never();
    m.queue.expect_ack().never();
    assert!(matches!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Deferred(why) if why.contains("proc-b/7")
    ));
}

#[tokio::test]
async fn after_a_lapsed_claim_the_executor_has_it_and_it_is_not_resubmitted() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::AlreadyExists(Box::new(with_status(
        OrderStatus::Submitted,
    ))));
    let dead = Claim {
        owner: "proc-b/3".into(),
        expires_at: now() - chrono::Duration::seconds(1),
    };
    m.claimed(ClaimOutcome::Acquired {
        previous: Some(dead),
    });
    m.stored(with_status(OrderStatus::Submitted));
    m.exec
        .expect_lookup()
        .times(1)
        .in_sequence(&mut m.seq)
        .with(eq("c-1".parse::<axia_domain::ClientOrderId>().unwrap()))
        .returning(|_| Ok(Some(filled())));
    m.exec.expect_submit().never();
    m.update(OrderStatus::Filled, OrderStatus::Submitted);
    m.release();
    m.ack();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Filled)
    );
}

/// Another processor holds the claim but has made the order final (it has not released the
/// claim yet): the duplicate delivery is acked at once, not after the lease.
#[tokio::test]
async fn a_duplicate_of_an_order_made_final_under_anothers_claim_is_acked_at_once() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::AlreadyExists(Box::new(with_status(
        OrderStatus::Submitted,
    ))));
    m.claimed(ClaimOutcome::Held(Claim {
        owner: "proc-b/7".into(),
        expires_at: now() + chrono::Duration::seconds(25),
    }));
    m.stored(with_status(OrderStatus::Filled));
    m.ack();
    m.queue.expect_retry_later().never();
    m.exec.expect_lookup().never();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Duplicate(OrderStatus::Filled)
    );
}

/// A Submitted order whose submission is older than the lookup grace.
fn submitted_long_ago() -> Order {
    let mut o = order();
    o.mark_submitted(now() - chrono::Duration::minutes(10), "proc-b/3")
        .unwrap();
    o
}

/// Right after a submission whose answer was lost, the executor may not show the order yet:
/// an empty lookup then is not trusted, and the order is not submitted a second time.
#[tokio::test]
async fn an_empty_lookup_right_after_a_lost_submission_is_not_trusted() {
    let mut m = Mocks::new();
    let mut recent = order();
    recent
        .mark_submitted(now() - chrono::Duration::seconds(40), "proc-b/3")
        .unwrap();
    m.created(CreateOutcome::AlreadyExists(Box::new(recent.clone())));
    m.claimed(ClaimOutcome::Acquired {
        previous: Some(Claim {
            owner: "proc-b/3".into(),
            expires_at: now() - chrono::Duration::seconds(1),
        }),
    });
    m.stored(recent);
    m.exec
        .expect_lookup()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Ok(None));
    m.release();
    // Asked again when the grace (120 s from the submission) has passed: 80 s from now.
    m.retried_after(Duration::from_secs(80));
    m.exec.expect_submit().never();
    m.store.expect_update().never();
    assert!(matches!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Deferred(why) if why.contains("no executor record yet")
    ));
}

/// The executor's record of the client order id is another order (a reused id): the order is
/// rejected with DUPLICATE_CLIENT_ORDER_ID, never filled with the other's execution.
#[tokio::test]
async fn an_execution_of_another_order_under_the_same_client_id_is_a_rejection() {
    for other in [
        r#"{"order_id":"o-0","client_order_id":"c-1","symbol":"USDJPY","side":"sell","type":"market","quantity":"1000"}"#,
        r#"{"order_id":"o-0","client_order_id":"c-1","symbol":"USDJPY","side":"buy","type":"market","quantity":"3000"}"#,
        r#"{"order_id":"o-0","client_order_id":"c-1","symbol":"EURUSD","side":"buy","type":"market","quantity":"1000"}"#,
        r#"{"order_id":"o-0","client_order_id":"c-1","symbol":"USDJPY","side":"buy","type":"limit","quantity":"1000","price":"149.5"}"#,
    ] {
        let first = OrderMessage::parse(other).unwrap().to_order(now()).unwrap();
        let theirs = Execution::of(&first, ExecutionOutcome::Filled(fill()));
        let mut m = Mocks::new();
        m.created(CreateOutcome::Created);
        m.claimed(ClaimOutcome::Acquired { previous: None });
        m.stored(order());
        m.active();
        m.update(OrderStatus::Submitted, OrderStatus::Received);
        m.exec
            .expect_submit()
            .times(1)
            .in_sequence(&mut m.seq)
            .return_once(move |_| Ok(theirs));
        m.store
            .expect_update()
            .times(1)
            .in_sequence(&mut m.seq)
            .withf(|o, e, _, _| {
                *e == OrderStatus::Submitted
                    && o.status() == OrderStatus::Rejected
                    && o.fill().is_none()
                    && o.rejection().is_some_and(|r| {
                        r.reason == RejectionReason::DuplicateClientOrderId
                            && r.detail.contains("already names another order")
                    })
            })
            .returning(|_, _, _, _| Ok(()));
        m.release();
        m.ack();
        assert_eq!(
            m.build().handle(&message(BODY)).await.unwrap(),
            Handled::Done(OrderStatus::Rejected),
            "{other}"
        );
    }
}

#[tokio::test]
async fn after_a_lapsed_claim_an_order_the_executor_never_saw_is_submitted_once() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::AlreadyExists(Box::new(submitted_long_ago())));
    m.claimed(ClaimOutcome::Acquired {
        previous: Some(Claim {
            owner: "proc-b/3".into(),
            expires_at: now() - chrono::Duration::seconds(1),
        }),
    });
    m.stored(submitted_long_ago());
    m.exec
        .expect_lookup()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Ok(None));
    m.exec
        .expect_submit()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Ok(filled()));
    m.update(OrderStatus::Filled, OrderStatus::Submitted);
    m.release();
    m.ack();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Filled)
    );
}

#[tokio::test]
async fn an_unknown_execution_outcome_keeps_the_claim_and_comes_back_after_it() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::Created);
    m.claimed(ClaimOutcome::Acquired { previous: None });
    m.stored(order());
    m.active();
    m.update(OrderStatus::Submitted, OrderStatus::Received);
    m.exec
        .expect_submit()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Err(ExecutionError::Timeout(Duration::from_secs(3))));
    // Not released, not acked: back after the lease, when another may reconcile.
    m.retried_after(LEASE);
    m.store.expect_release().never();
    m.queue.expect_ack().never();
    assert!(matches!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Deferred(_)
    ));
}

#[tokio::test]
async fn a_claim_lost_before_the_outcome_is_stored_is_not_acked() {
    let mut m = Mocks::new();
    m.created(CreateOutcome::Created);
    m.claimed(ClaimOutcome::Acquired { previous: None });
    m.stored(order());
    m.active();
    m.store
        .expect_update()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|o, _, owner, _| {
            Err(OrderStoreError::ClaimLost {
                id: o.id().clone(),
                owner: owner.to_owned(),
                holder: None,
            })
        });
    m.exec.expect_submit().never();
    m.retried_after(LEASE);
    m.queue.expect_ack().never();
    assert!(matches!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Deferred(_)
    ));
}

#[tokio::test]
async fn poison_is_recorded_with_a_stable_code_and_removed_without_an_order() {
    for (body, code) in [
        ("{\"order_id\": 42}", "INVALID_JSON"),
        (
            r#"{"order_id":"o-9","client_order_id":"c-9","symbol":"USDJPY","side":"buy","type":"market","quantity":"lots"}"#,
            "INVALID_QUANTITY",
        ),
        (
            r#"{"order_id":"o-9","client_order_id":"c-9","symbol":"../x","side":"buy","type":"market","quantity":"1"}"#,
            "INVALID_SYMBOL",
        ),
    ] {
        let mut m = Mocks::new();
        m.store
            .expect_record_poison()
            .times(1)
            .in_sequence(&mut m.seq)
            .withf(move |r| r.code == code && r.message_id == "m-1" && r.by == PROCESSOR)
            .returning(|_| Ok(()));
        m.queue
            .expect_reject()
            .times(1)
            .in_sequence(&mut m.seq)
            .withf(move |_, reason| reason.starts_with(code))
            .returning(|_, _| Ok(()));
        m.store.expect_create_if_absent().never();
        let handled = m.build().handle(&message(body)).await.unwrap();
        let Handled::Poison(p) = handled else {
            panic!("{handled:?}")
        };
        assert_eq!(p.code, code);
        if code == "INVALID_QUANTITY" {
            assert_eq!(p.detail, "quantity \"lots\" is not a decimal number");
        }
    }
}

#[tokio::test]
async fn the_reference_price_feeds_the_notional_check_and_its_absence_fails_closed() {
    for (answer, expected) in [
        (Ok(Some("150".parse().unwrap())), OrderStatus::Filled),
        // No price: the notional of a market order cannot be checked.
        (Ok(None), OrderStatus::Rejected),
        (
            Err(MarketDataError::Unavailable("down".into())),
            OrderStatus::Rejected,
        ),
    ] {
        let mut m = Mocks::new();
        m.created(CreateOutcome::Created);
        m.claimed(ClaimOutcome::Acquired { previous: None });
        m.stored(order());
        m.active();
        let to = expected;
        let from = OrderStatus::Received;
        if expected == OrderStatus::Filled {
            m.update(OrderStatus::Submitted, from);
            m.exec
                .expect_submit()
                .times(1)
                .in_sequence(&mut m.seq)
                .returning(|_| Ok(filled()));
            m.update(to, OrderStatus::Submitted);
        } else {
            m.store
                .expect_update()
                .times(1)
                .in_sequence(&mut m.seq)
                .withf(|o, _, _, _| {
                    o.rejection().map(|r| r.reason) == Some(RejectionReason::PriceInvalid)
                })
                .returning(|_, _, _, _| Ok(()));
            m.exec.expect_submit().never();
        }
        m.release();
        m.ack();
        let mut reference = MockReferencePrice::new();
        reference
            .expect_last_price()
            .times(1)
            .with(eq("USDJPY".parse::<axia_domain::Symbol>().unwrap()))
            .return_once(move |_| answer);
        let p = m
            .build_with(OrderValidator::with_safe_defaults(OrderLimits::new()))
            .reference_price(Arc::new(reference));
        assert_eq!(
            p.handle(&message(BODY)).await.unwrap(),
            Handled::Done(expected)
        );
    }
}
