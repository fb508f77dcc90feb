//! DynamoDB adapters for orders.
//!
//! **Orders** ([`DynamoOrderStore`]), one item per order:
//!
//! | attribute    | type | what |
//! |--------------|------|------|
//! | `order_id`   | S    | partition key |
//! | `status`     | S    | `RECEIVED` … `CANCELLED`; key of the `by_status` index |
//! | `symbol`     | S    | key of the `by_symbol` index |
//! | `created_at` | N    | epoch ms; sort key of both indexes |
//! | `doc`        | S    | the whole order, JSON (its status history included) |
//! | `claim_owner`, `claim_expires` | S, N | the live claim: which processor may act on the order, until when (epoch ms) |
//!
//! Indexes: `by_status` (status, created_at) lists orders by status and time; `by_symbol`
//! (symbol, created_at) by symbol and time. Creation is a conditional put
//! (`attribute_not_exists(order_id)`), so a duplicate delivery never makes a second order;
//! status updates are conditional on the expected current status (`#status = :expected`), so a
//! stale writer gets [`OrderStoreError::Conflict`](axia_domain::OrderStoreError::Conflict), and on
//! the writer's live claim (`claim_owner = :me AND claim_expires > :now`), so a processor whose
//! claim lapsed gets [`OrderStoreError::ClaimLost`](axia_domain::OrderStoreError::ClaimLost). A
//! claim is taken with one conditional update (no claim, a lapsed one, or our own).
//! Reads are strongly consistent.
//!
//! The same table keeps **poison records** (`order_id = poison#{message id}`, `status = POISON`,
//! listed through `by_status`) and the simulated executor's **paper book**
//! ([`DynamoExecutionBook`], `order_id = paper#{client order id}`, the execution and the number of
//! submissions that reached it), so every processor sees every paper execution. Order ids
//! cannot contain `#`, so these keys never meet an order's.
//!
//! **Kill switch** ([`DynamoKillSwitch`]), partition key `scope` (`global` or a symbol), sort key
//! `sk`: `CURRENT` holds the state and a change number `seq`; every change also writes
//! `AUDIT#{seq}` with the previous and current records, in one transaction conditional on the
//! `seq` read, so concurrent changes never lose an audit entry and the trail is in commit order.
//! Changes through one [`DynamoKillSwitch`] (and its clones) also take turns in-process, so the
//! transaction arbitrates only between processes: moto, the test server, does not evaluate
//! transaction conditions atomically under concurrent requests. Reads are strongly consistent.

mod errors;
mod killswitch;
mod orders;

pub use killswitch::DynamoKillSwitch;
pub use orders::{DynamoExecutionBook, DynamoOrderStore};
