//! Use-case tests of process-order with mockall mocks asserting the calls and their order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::sync::Arc;

use axia_domain::{
    CreateOutcome, Execution, ExecutionError, ExecutionOutcome, Fill, KillSwitchError,
    KillSwitchRecord, KillSwitchScope, KillSwitchState, ManualClock, MockKillSwitch,
    MockOrderExecutor, MockOrderQueue, MockOrderStore, Order, OrderStatus, OrderStoreError,
    OrderValidator, QueueMessage, RejectionReason,
};
use axia_orders::{Handled, OrderMessage, ProcessOrder};
use chrono::{DateTime, TimeZone, Utc};
use mockall::Sequence;
use mockall::predicate::eq;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

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
    serde_json::from_str::<OrderMessage>(BODY)
        .unwrap()
        .to_order(now())
        .unwrap()
}

fn with_status(status: OrderStatus) -> Order {
    let mut o = order();
    if status != OrderStatus::Received {
        o.mark_submitted(now()).unwrap();
    }
    if status == OrderStatus::Filled {
        o.mark_filled(fill(), now()).unwrap();
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
    Execution {
        client_order_id: "c-1".parse().unwrap(),
        outcome: ExecutionOutcome::Filled(fill()),
    }
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

    fn created(&mut self) {
        self.store
            .expect_create_if_absent()
            .times(1)
            .in_sequence(&mut self.seq)
            .with(eq(order()))
            .returning(|_| Ok(CreateOutcome::Created));
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

    fn update(&mut self, to: OrderStatus, expected: OrderStatus) {
        self.store
            .expect_update()
            .times(1)
            .in_sequence(&mut self.seq)
            .withf(move |o, e| o.status() == to && *e == expected)
            .returning(|_, _| Ok(()));
    }

    fn ack(&mut self) {
        self.queue
            .expect_ack()
            .times(1)
            .in_sequence(&mut self.seq)
            .returning(|_| Ok(()));
    }

    fn build(self) -> ProcessOrder {
        ProcessOrder::new(
            Arc::new(self.queue),
            Arc::new(self.store),
            Arc::new(self.ks),
            Arc::new(self.exec),
            OrderValidator::default(),
            Arc::new(ManualClock::new(now())),
        )
    }
}

#[tokio::test]
async fn the_whole_path_in_order_persisting_before_executing_and_before_acking() {
    let mut m = Mocks::new();
    m.created();
    m.active();
    m.update(OrderStatus::Submitted, OrderStatus::Received);
    m.exec
        .expect_submit()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Ok(filled()));
    m.update(OrderStatus::Filled, OrderStatus::Submitted);
    m.ack();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Filled)
    );
}

#[tokio::test]
async fn a_halted_kill_switch_rejects_and_sends_nothing() {
    let mut m = Mocks::new();
    m.created();
    m.switch(KillSwitchScope::Global, KillSwitchState::Active);
    m.switch(
        KillSwitchScope::Symbol("USDJPY".parse().unwrap()),
        KillSwitchState::Halted,
    );
    m.store
        .expect_update()
        .times(1)
        .in_sequence(&mut m.seq)
        .withf(|o, e| {
            o.rejection().map(|r| r.reason) == Some(RejectionReason::KillSwitchActive)
                && *e == OrderStatus::Received
        })
        .returning(|_, _| Ok(()));
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
    m.created();
    m.ks.expect_read()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Err(KillSwitchError::Unavailable("table gone".into())));
    m.store
        .expect_update()
        .times(1)
        .in_sequence(&mut m.seq)
        .withf(|o, _| o.rejection().map(|r| r.reason.code()) == Some("KILL_SWITCH_UNAVAILABLE"))
        .returning(|_, _| Ok(()));
    m.ack();
    m.exec.expect_submit().never();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Rejected)
    );
}

#[tokio::test]
async fn a_duplicate_of_a_final_order_is_acked_and_skipped() {
    let mut m = Mocks::new();
    m.store
        .expect_create_if_absent()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| {
            Ok(CreateOutcome::AlreadyExists(Box::new(with_status(
                OrderStatus::Filled,
            ))))
        });
    m.ack();
    m.ks.expect_read().never();
    m.exec.expect_submit().never();
    m.exec.expect_lookup().never();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Duplicate(OrderStatus::Filled)
    );
}

#[tokio::test]
async fn a_duplicate_mid_flight_is_reconciled_not_resubmitted() {
    // The processor died after submitting and before persisting the outcome.
    let mut m = Mocks::new();
    m.store
        .expect_create_if_absent()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| {
            Ok(CreateOutcome::AlreadyExists(Box::new(with_status(
                OrderStatus::Submitted,
            ))))
        });
    m.exec
        .expect_lookup()
        .times(1)
        .in_sequence(&mut m.seq)
        .with(eq("c-1".parse::<axia_domain::ClientOrderId>().unwrap()))
        .returning(|_| Ok(Some(filled())));
    m.update(OrderStatus::Filled, OrderStatus::Submitted);
    m.ack();
    m.exec.expect_submit().never();
    m.ks.expect_read().never();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Filled)
    );
}

#[tokio::test]
async fn a_submitted_order_the_executor_never_saw_is_submitted_once() {
    let mut m = Mocks::new();
    m.store
        .expect_create_if_absent()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| {
            Ok(CreateOutcome::AlreadyExists(Box::new(with_status(
                OrderStatus::Submitted,
            ))))
        });
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
    m.ack();
    assert_eq!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Done(OrderStatus::Filled)
    );
}

#[tokio::test]
async fn poison_is_recorded_and_removed_without_touching_the_store() {
    for body in [
        "not json",
        r#"{"order_id":"o 1","client_order_id":"c","symbol":"USDJPY","side":"buy","type":"market","quantity":"1"}"#,
        r#"{"order_id":"o1","client_order_id":"c","symbol":"USDJPY","side":"buy","type":"limit","quantity":"1"}"#,
        r#"{"order_id":"o1","client_order_id":"c","symbol":"USDJPY","side":"buy","type":"market","quantity":"-5"}"#,
    ] {
        let mut m = Mocks::new();
        m.queue.expect_reject().times(1).returning(|_, _| Ok(()));
        m.queue.expect_ack().never();
        m.store.expect_create_if_absent().never();
        assert!(
            matches!(
                m.build().handle(&message(body)).await.unwrap(),
                Handled::Poison(_)
            ),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_unknown_execution_outcome_is_not_acked() {
    let mut m = Mocks::new();
    m.created();
    m.active();
    m.update(OrderStatus::Submitted, OrderStatus::Received);
    m.exec
        .expect_submit()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|_| Err(ExecutionError::Timeout(std::time::Duration::from_secs(5))));
    m.queue.expect_ack().never();
    assert!(matches!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Deferred(_)
    ));
}

#[tokio::test]
async fn a_second_processor_defers_to_the_first() {
    let mut m = Mocks::new();
    m.created();
    m.active();
    m.store
        .expect_update()
        .times(1)
        .in_sequence(&mut m.seq)
        .returning(|o, e| {
            Err(OrderStoreError::Conflict {
                id: o.id().clone(),
                expected: e,
                actual: Some(OrderStatus::Submitted),
            })
        });
    m.exec.expect_submit().never();
    m.queue.expect_ack().never();
    assert!(matches!(
        m.build().handle(&message(BODY)).await.unwrap(),
        Handled::Deferred(_)
    ));
}
