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
//! | `doc`        | S    | the whole order, JSON |
//!
//! Indexes: `by_status` (status, created_at) lists orders by status and time; `by_symbol`
//! (symbol, created_at) by symbol and time. Creation is a conditional put
//! (`attribute_not_exists(order_id)`), so a duplicate delivery never makes a second order;
//! status updates are conditional on the expected current status (`#status = :expected`), so a
//! stale writer gets [`OrderStoreError::Conflict`](axia_domain::OrderStoreError::Conflict).
//! Reads are strongly consistent.
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
pub use orders::DynamoOrderStore;
