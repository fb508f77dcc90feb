//! The order queue on Amazon SQS.
//!
//! [`SqsOrderQueue`] implements [`OrderQueue`](axia_domain::OrderQueue):
//! - `receive` long-polls (up to 20 s) and hides what it returns for the visibility timeout;
//!   each message carries its receive count;
//! - `ack` deletes the message; the process-order use case calls it only after the outcome is
//!   persisted. A receipt that expired (the visibility timeout passed) is
//!   [`QueueError::ReceiptExpired`](axia_domain::QueueError::ReceiptExpired): the message will be
//!   delivered again, which the use case handles;
//! - `reject` records a poison message (unparseable or invalid) on the poison queue, with its
//!   reason and receive count as attributes, then deletes it, so it is not redelivered forever.
//!
//! **Dead letters.** [`SqsOrderQueue::create`] makes the order queue, the poison queue and a
//! dead-letter queue, and sets the order queue's redrive policy: a message received
//! `max_receives` times without being acked (a processor crashing on it every time) moves to
//! the dead-letter queue instead of looping. Operators inspect both side queues.

mod queue;

pub use queue::{QueueUrls, SqsOrderQueue};
