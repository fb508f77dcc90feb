//! The process-order use case.
//!
//! [`ProcessOrder::handle`] takes one queue delivery through: parse, create-if-absent in the
//! order store, claim, kill switch, validation, execution, persistence, ack. The rules that
//! make it execute each order **exactly once** under duplicate deliveries, any number of
//! processors and crashes:
//!
//! - **A claim before acting.** A delivery acts on an order only under a live claim taken with
//!   a conditional write in the order store (owner, lease expiry; renewed every third of the
//!   lease while the executor works). Another processor that meets a live claim neither
//!   submits nor reconciles: it leaves the message to come back when the claim lapses
//!   ([`OrderQueue::retry_later`](axia_domain::OrderQueue::retry_later)), and acks it once the
//!   order is final. Every status write is conditional on the claim and on the status read.
//! - **`Submitted` is persisted before the executor is called**, and every outcome before the
//!   ack: a crash at any step leaves the message on the queue and the order where it was.
//! - **Reconciliation only after a claim lapsed** (its owner died or hung): then the executor's
//!   record, looked up by client order id, decides: found, it is recorded; absent, the order
//!   is submitted under the new claim. An unknown outcome (executor timeout) keeps the claim
//!   until it lapses, so nobody looks up a submission still on its way.
//! - **The kill switch fails closed**: halted (globally or for the symbol) rejects with
//!   `KILL_SWITCH_ACTIVE`, unreadable with `KILL_SWITCH_UNAVAILABLE`; nothing is sent.
//! - **Safe limits**: the validator the binaries build applies each instrument's safe defaults
//!   (maximum quantity and notional) under the configured limits, with reference prices from
//!   a [`ReferencePrice`](axia_domain::ReferencePrice) (the data provider's: the market's last
//!   close); a check that needs a price it cannot get fails closed.
//! - **Poison** (a body that does not parse into a valid order) gets a stable code
//!   ([`Poison`]), a record in the order store and one on the poison queue, and is removed.
//! - Every status change is kept in the order's history (who, when, from, to, why), and every
//!   log line of a delivery carries its order id.
//!
//! Message body (JSON):
//! `{"order_id":"o-1","client_order_id":"c-1","symbol":"USDJPY","side":"buy","type":"market","quantity":"1000"}`
//! with `"type":"limit"` or `"stop"` and a `"price"`.

mod process;

pub use process::{Handled, OrderMessage, Poison, ProcessError, ProcessOrder};
