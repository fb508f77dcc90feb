//! The process-order use case.
//!
//! [`ProcessOrder::handle`] takes one queue delivery through: parse, create-if-absent in the
//! order store, kill switch, validation, execution, persistence, ack. The rules that make it
//! safe under duplicate deliveries, concurrent processors and crashes:
//!
//! - **Every outcome is persisted before the ack.** A crash at any step leaves the message on
//!   the queue; it is delivered again and picks up where the stored order is.
//! - **`Submitted` is persisted before the executor is called.** So a stored `Received` order
//!   has never reached the executor, and a stored `Submitted` one may have: it is reconciled by
//!   looking it up at the executor by client order id, and submitted only if the executor has
//!   never seen it (executors are idempotent by client order id anyway).
//! - **Status changes are conditional** on the status read. Of two processors handling the same
//!   order only one moves it from `Received` to `Submitted`; the other leaves its delivery for
//!   later, when it will find the order final and ack.
//! - **The kill switch fails closed**: halted (globally or for the symbol) rejects with
//!   `KILL_SWITCH_ACTIVE`, unreadable with `KILL_SWITCH_UNAVAILABLE`; nothing is sent.
//! - **Poison** (a body that does not parse into a valid order) is handed to
//!   [`OrderQueue::reject`](axia_domain::OrderQueue::reject), which records and removes it.
//!
//! Message body (JSON):
//! `{"order_id":"o-1","client_order_id":"c-1","symbol":"USDJPY","side":"buy","type":"market","quantity":"1000"}`
//! with `"type":"limit"` or `"stop"` and a `"price"`.

mod process;

pub use process::{Handled, OrderMessage, ProcessError, ProcessOrder};
