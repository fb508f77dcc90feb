//! The ports: narrow traits, one capability each, implemented by the infrastructure adapters.
//!
//! Every error type here is owned by the domain; adapters translate their SDK's conditions (a
//! Redis timeout, an S3 `NoSuchKey`, a DynamoDB `ConditionalCheckFailed`) into these variants
//! and put anything else in `Backend`. No SDK type appears in a signature.
//!
//! With the `mocks` feature, mockall generates `MockOhlcvStore`, `MockMarketData`, … for tests.

use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::killswitch::{KillSwitchAudit, KillSwitchChange, KillSwitchRecord, KillSwitchScope};
use crate::order::{ClientOrderId, Fill, Order, OrderId, OrderStatus};

use crate::{FrameError, OhlcvFrame, Symbol, TimeRange, Timeframe, ValidationReport};

/// An infrastructure failure carried opaquely.
pub type BoxError = Box<dyn StdError + Send + Sync>;

// ---------------------------------------------------------------------------------------------
// OHLCV store
// ---------------------------------------------------------------------------------------------

/// Why an OHLCV store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached (down, refused, DNS). Callers fall back to another source.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("store timed out after {0:?}")]
    Timeout(Duration),
    /// Stored data could not be decoded; `location` names the key or object.
    #[error("corrupt data at {location}: {detail}")]
    Corrupt {
        /// The key or object.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// Concurrent writers kept conflicting and the write gave up after its retries.
    #[error("write conflict on {0} persisted after retries")]
    Conflict(String),
    /// The request itself is invalid for this store.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A frame operation failed (mixing series, say).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Any other infrastructure failure.
    #[error("store backend error: {0}")]
    Backend(#[source] BoxError),
}

/// The health of a store against its size targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoreHealth {
    /// Within target.
    Ok,
    /// Over the target, under the cap.
    Warning,
    /// Over the cap.
    Critical,
}

/// What a store holds for one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// The symbol.
    pub symbol: Symbol,
    /// The timeframe.
    pub timeframe: Timeframe,
    /// Bars held, when known.
    pub bars: Option<usize>,
    /// The oldest bar's open time.
    pub oldest: Option<DateTime<Utc>>,
    /// The newest bar's open time.
    pub newest: Option<DateTime<Utc>>,
    /// Bytes used, when known.
    pub bytes: Option<u64>,
}

/// What a store holds overall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// One entry per series held.
    pub datasets: Vec<DatasetInfo>,
    /// Bytes used by the store's data, when known.
    pub bytes_used: Option<u64>,
    /// Health against the store's targets.
    pub health: StoreHealth,
}

/// A store of OHLCV bars: the hot cache, the cold archive, an in-process cache.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OhlcvStore: Send + Sync {
    /// The bars of `symbol` / `timeframe` whose open time is in `range`, oldest first. A series
    /// the store does not hold, or holds no bar of in `range`, is an empty frame, not an error.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Timeout`] when the store cannot answer,
    /// [`StoreError::Corrupt`] when stored data cannot be decoded and the store has no
    /// documented fallback, [`StoreError::Backend`] for anything else.
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, StoreError>;

    /// Merges `frame` into what the store holds (upsert by open time: `frame`'s bars win).
    /// Saving the same frame twice leaves the same content; concurrent saves of disjoint bars
    /// both survive. A store with a retention policy may drop bars outside it.
    ///
    /// # Errors
    /// As [`OhlcvStore::get`], and [`StoreError::Conflict`] when concurrent writers kept
    /// conflicting. On error nothing is half-written: the series holds the old or new content.
    async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError>;

    /// What the store holds and its health.
    ///
    /// # Errors
    /// As [`OhlcvStore::get`].
    async fn info(&self) -> Result<StoreInfo, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Bar archive
// ---------------------------------------------------------------------------------------------

/// A stored unit of an archive (a partition file) that cannot be read as bars: not decodable,
/// truncated, empty, of a foreign schema, or written for another series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DamagedPartition {
    /// The object as the archive names it (`s3://bucket/key` or a path).
    pub object: String,
    /// The bar open times the partition holds: these bars are missing from any read.
    pub range: TimeRange,
    /// What is wrong with it.
    pub reason: String,
}

/// A damaged partition moved aside: kept, never deleted, outside the data files readers see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedFile {
    /// Where it is now (`s3://bucket/key` or a path).
    pub object: String,
    /// Where it was found.
    pub original: String,
    /// When it was found damaged and moved.
    pub found_at: DateTime<Utc>,
    /// Its size.
    pub bytes: u64,
}

/// What [`BarArchive::read`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveRead {
    /// Every readable bar that opens in the range.
    pub frame: OhlcvFrame,
    /// Partitions of the range that could not be read; their bars are missing from `frame`.
    pub damaged: Vec<DamagedPartition>,
}

/// The newest bar an archive holds for a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewestBar {
    /// Its open time; `None` when the series holds no readable bar.
    pub open: Option<DateTime<Utc>>,
    /// Damaged partitions met on the way, newest first (they were skipped).
    pub damaged: Vec<DamagedPartition>,
}

/// The cold archive, the system of record: an [`OhlcvStore`] that keeps bars forever and can
/// account for its own files.
///
/// Its [`OhlcvStore::get`] returns every readable bar of the range and treats a damaged
/// partition's bars as missing (logged at error level and counted), never failing the whole
/// read for one bad file; [`BarArchive::read`] says which partitions were damaged.
#[async_trait]
pub trait BarArchive: OhlcvStore {
    /// The readable bars of `range` and the damaged partitions met.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Timeout`], [`StoreError::Backend`] when the
    /// store cannot answer; never for a damaged partition.
    async fn read(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<ArchiveRead, StoreError>;

    /// The newest bar held for the series, skipping (and reporting) damaged partitions.
    ///
    /// # Errors
    /// As [`BarArchive::read`].
    async fn newest(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<NewestBar, StoreError>;

    /// Moves a damaged partition aside (never deletes it), so the partition can be rebuilt.
    /// The quarantined copy is named with `found_at` and kept outside the data files.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the object changed since it was found damaged (it may
    /// have been repaired meanwhile); otherwise as [`BarArchive::read`].
    async fn quarantine(
        &self,
        damaged: &DamagedPartition,
        found_at: DateTime<Utc>,
    ) -> Result<QuarantinedFile, StoreError>;

    /// The quarantined files of a series, oldest first.
    ///
    /// # Errors
    /// As [`BarArchive::read`].
    async fn quarantined(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Vec<QuarantinedFile>, StoreError>;
}

#[cfg(any(test, feature = "mocks"))]
mockall::mock! {
    /// A mock of [`BarArchive`], its [`OhlcvStore`] part included.
    pub BarArchive {}

    #[async_trait]
    impl OhlcvStore for BarArchive {
        async fn get(
            &self,
            symbol: &Symbol,
            timeframe: Timeframe,
            range: TimeRange,
        ) -> Result<OhlcvFrame, StoreError>;
        async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError>;
        async fn info(&self) -> Result<StoreInfo, StoreError>;
    }

    #[async_trait]
    impl BarArchive for BarArchive {
        async fn read(
            &self,
            symbol: &Symbol,
            timeframe: Timeframe,
            range: TimeRange,
        ) -> Result<ArchiveRead, StoreError>;
        async fn newest(&self, symbol: &Symbol, timeframe: Timeframe)
        -> Result<NewestBar, StoreError>;
        async fn quarantine(
            &self,
            damaged: &DamagedPartition,
            found_at: DateTime<Utc>,
        ) -> Result<QuarantinedFile, StoreError>;
        async fn quarantined(
            &self,
            symbol: &Symbol,
            timeframe: Timeframe,
        ) -> Result<Vec<QuarantinedFile>, StoreError>;
    }
}

// ---------------------------------------------------------------------------------------------
// Market data
// ---------------------------------------------------------------------------------------------

/// Why a market-data source could not give bars.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarketDataError {
    /// The source asks us to slow down.
    #[error("rate limited by the source{}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// How long the source asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The source does not know the symbol.
    #[error("symbol {0} not found at the source")]
    SymbolNotFound(Symbol),
    /// The source has no bars in the range.
    #[error("no data in {0}")]
    NoData(TimeRange),
    /// The request cannot be served by this source (a range too long or too old, an
    /// unsupported timeframe).
    #[error("unsupported request: {0}")]
    Unsupported(String),
    /// The source cannot be reached.
    #[error("source unavailable: {0}")]
    Unavailable(String),
    /// The source did not answer in time.
    #[error("source timed out after {0:?}")]
    Timeout(Duration),
    /// The source answered something that could not be understood.
    #[error("invalid response from the source: {0}")]
    InvalidResponse(String),
    /// The source refused the credentials (a revoked or mistyped token): retrying will not
    /// help. The message never holds the credentials.
    #[error("the source refused the credentials: {0}")]
    Unauthorized(String),
    /// Any other failure.
    #[error("source backend error: {0}")]
    Backend(#[source] BoxError),
}

/// Bars from a source, after validation, and what validation dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedBars {
    /// The clean bars.
    pub frame: OhlcvFrame,
    /// What was dropped and why.
    pub report: ValidationReport,
}

/// What a source can serve for one timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLimits {
    /// How far back from now the source serves bars (Yahoo's 1m: 30 days); `None`: no limit.
    #[serde(with = "crate::millis::opt_chrono")]
    pub reach: Option<chrono::Duration>,
    /// The longest range one request should ask for; `None`: no limit.
    #[serde(with = "crate::millis::opt_chrono")]
    pub max_span: Option<chrono::Duration>,
}

impl SourceLimits {
    /// No limit.
    pub const UNLIMITED: Self = Self {
        reach: None,
        max_span: None,
    };

    /// The earliest open time the source serves at `now`, if it has a reach.
    #[must_use]
    pub fn earliest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.reach.and_then(|r| now.checked_sub_signed(r))
    }
}

/// A source of bars: a broker, Yahoo Finance, a simulator.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MarketData: Send + Sync {
    /// How far back and how much at once the source serves `timeframe` (default: no limit).
    /// Collectors clamp catch-up and backfill ranges to it and report what was out of reach.
    fn limits(&self, timeframe: Timeframe) -> SourceLimits {
        let _ = timeframe;
        SourceLimits::UNLIMITED
    }

    /// The bars of `symbol` / `timeframe` whose open time is in `range` and not after now,
    /// validated with [`crate::validate_bars`]. A source may return fewer bars than the range
    /// holds (a closed market, a source limit): callers measure completeness themselves. A
    /// zero-width range gives an empty frame. A bar whose period has not ended at the source's
    /// now is labelled forming ([`OhlcvFrame::forming`]).
    ///
    /// # Errors
    /// [`MarketDataError::NoData`] when the source has no bar opening in a non-empty `range`
    /// (a weekend, a week that has not started); otherwise rate limited, symbol not found,
    /// unsupported request, unavailable, timeout, invalid response, backend.
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError>;
}

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

/// Why an order-store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrderStoreError {
    /// A conditional update found another status than the expected one.
    #[error("order {id} is {actual:?}, expected {expected}")]
    Conflict {
        /// The order.
        id: OrderId,
        /// The status the writer expected.
        expected: OrderStatus,
        /// The status found (`None` when the order is absent).
        actual: Option<OrderStatus>,
    },
    /// The store cannot be reached.
    #[error("order store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("order store timed out after {0:?}")]
    Timeout(Duration),
    /// The writer does not hold a live claim on the order (it expired and another processor
    /// may have taken it, or it was never taken).
    #[error("order {id}: no live claim of {owner}{}", holder.as_ref().map(|h| format!(" (held by {} until {})", h.owner, h.expires_at.to_rfc3339())).unwrap_or_default())]
    ClaimLost {
        /// The order.
        id: OrderId,
        /// The writer.
        owner: String,
        /// Who holds it now, if anyone.
        holder: Option<Claim>,
    },
    /// A stored order could not be decoded.
    #[error("corrupt order {id}: {detail}")]
    Corrupt {
        /// The order id as stored.
        id: String,
        /// What is wrong.
        detail: String,
    },
    /// Any other failure.
    #[error("order store backend error: {0}")]
    Backend(#[source] BoxError),
}

/// A processor's exclusive right to act on an order (submit it, settle it) until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Who holds it: a processor's unique id (host, process and a random part).
    pub owner: String,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl Claim {
    /// True when the claim still stands at `now`.
    #[must_use]
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

/// The outcome of [`OrderStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The claim is ours until the time asked for. `previous` is the claim it replaced: our
    /// own (renewed), another owner's that had expired (its owner died or hung), or none.
    Acquired {
        /// The claim replaced, if any.
        previous: Option<Claim>,
    },
    /// Another owner holds a live claim: leave the order alone until it is final or the claim
    /// expires.
    Held(Claim),
}

/// A message that can never be processed, kept with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoisonRecord {
    /// The queue's id of the message.
    pub message_id: String,
    /// The stable reason code (`INVALID_MESSAGE`, …).
    pub code: String,
    /// What exactly was wrong.
    pub detail: String,
    /// The body as received (at most 4 KiB of it).
    pub body: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Who recorded it.
    pub by: String,
}

/// The outcome of [`OrderStore::create_if_absent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The order was stored.
    Created,
    /// An order with the same id was already stored; here it is, as stored.
    AlreadyExists(Box<Order>),
}

/// Where orders are kept.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Stores `order` unless an order with its id exists (atomically: two concurrent calls with
    /// the same id create one order).
    ///
    /// # Errors
    /// [`OrderStoreError::Unavailable`], [`OrderStoreError::Timeout`],
    /// [`OrderStoreError::Backend`]; [`OrderStoreError::Corrupt`] when the existing order cannot
    /// be decoded.
    async fn create_if_absent(&self, order: &Order) -> Result<CreateOutcome, OrderStoreError>;

    /// The order with `id`, if stored.
    ///
    /// # Errors
    /// As [`OrderStore::create_if_absent`].
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, OrderStoreError>;

    /// Takes (or renews) the claim on order `id` for `owner` until `until`, atomically: it
    /// succeeds when no claim stands, the standing one has expired at `now`, or `owner` holds
    /// it. Clocks of processors must agree to well within a lease.
    ///
    /// # Errors
    /// [`OrderStoreError::Conflict`] (actual `None`) when the order is absent; otherwise as
    /// [`OrderStore::create_if_absent`].
    async fn claim(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ClaimOutcome, OrderStoreError>;

    /// Extends `owner`'s live claim on `id` to `until`.
    ///
    /// # Errors
    /// [`OrderStoreError::ClaimLost`] when `owner` has no live claim at `now`; otherwise as
    /// [`OrderStore::create_if_absent`].
    async fn renew(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), OrderStoreError>;

    /// Gives up `owner`'s claim on `id` (no effect when it holds none).
    ///
    /// # Errors
    /// As [`OrderStore::create_if_absent`].
    async fn release(&self, id: &OrderId, owner: &str) -> Result<(), OrderStoreError>;

    /// Replaces the stored order with `order` if the stored status is `expected` and `owner`
    /// holds a live claim on it at `now`.
    ///
    /// # Errors
    /// [`OrderStoreError::Conflict`] when the stored status is another (a stale writer) or the
    /// order is absent; [`OrderStoreError::ClaimLost`] when `owner` holds no live claim;
    /// otherwise as [`OrderStore::create_if_absent`].
    async fn update(
        &self,
        order: &Order,
        expected: OrderStatus,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OrderStoreError>;

    /// Keeps a poison message's record (idempotent by message id).
    ///
    /// # Errors
    /// As [`OrderStore::create_if_absent`].
    async fn record_poison(&self, record: &PoisonRecord) -> Result<(), OrderStoreError>;
}

/// Why a kill-switch operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KillSwitchError {
    /// The store cannot be reached. Order processing treats this as halted (fails closed).
    #[error("kill switch unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("kill switch timed out after {0:?}")]
    Timeout(Duration),
    /// A stored record could not be decoded.
    #[error("corrupt kill-switch record for {scope}: {detail}")]
    Corrupt {
        /// The scope.
        scope: String,
        /// What is wrong.
        detail: String,
    },
    /// Any other failure.
    #[error("kill switch backend error: {0}")]
    Backend(#[source] BoxError),
}

/// Where kill switches are kept.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait KillSwitch: Send + Sync {
    /// The switch for `scope`, read strongly consistent; a switch never set is
    /// [`KillSwitchRecord::never_set`] (active).
    ///
    /// # Errors
    /// [`KillSwitchError`]; callers deciding on an order must treat any error as halted.
    async fn read(&self, scope: &KillSwitchScope) -> Result<KillSwitchRecord, KillSwitchError>;

    /// Applies `change` to the switch for `scope` and writes the audit entry of it, atomically.
    ///
    /// # Errors
    /// [`KillSwitchError`]; on error neither the switch nor the audit trail changed.
    async fn set(
        &self,
        scope: &KillSwitchScope,
        change: KillSwitchChange,
    ) -> Result<KillSwitchAudit, KillSwitchError>;
}

/// Why an executor call failed (a broker's refusal is not an error: see [`ExecutionOutcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutionError {
    /// The executor cannot be reached; the order may or may not have arrived.
    #[error("executor unavailable: {0}")]
    Unavailable(String),
    /// No answer in time; the order may or may not have arrived.
    #[error("executor timed out after {0:?}")]
    Timeout(Duration),
    /// The broker refused the credentials: nothing was placed, and retrying will not help.
    /// The message never holds the credentials.
    #[error("the executor refused the credentials: {0}")]
    Unauthorized(String),
    /// Any other failure.
    #[error("executor backend error: {0}")]
    Backend(#[source] BoxError),
}

/// What the executor did with an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ExecutionOutcome {
    /// Filled.
    Filled(Fill),
    /// Accepted and working (a resting limit or stop order).
    Accepted {
        /// The broker's id.
        broker_order_id: String,
    },
    /// Refused by the broker.
    Rejected {
        /// The broker's code.
        code: String,
        /// The broker's message.
        detail: String,
    },
}

/// The executor's record of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The id the order was submitted with.
    pub client_order_id: ClientOrderId,
    /// What happened.
    pub outcome: ExecutionOutcome,
    /// What the order that got this execution asked for, as the executor recorded it (`None`
    /// in records written before it was kept). An execution found by client order id belongs
    /// to an order only when these are its terms: a reused client order id finds another
    /// order's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::OrderTerms>,
}

impl Execution {
    /// `outcome` for `order`, its terms recorded.
    #[must_use]
    pub fn of(order: &crate::Order, outcome: ExecutionOutcome) -> Self {
        Self {
            client_order_id: order.client_order_id().clone(),
            outcome,
            order: Some(order.terms()),
        }
    }
}

/// Sends orders to a broker.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderExecutor: Send + Sync {
    /// Submits `order`, idempotent by its client order id: submitting the same client order id
    /// again returns the first execution and never places a second order.
    ///
    /// # Errors
    /// [`ExecutionError`] when the outcome is unknown; reconcile with [`OrderExecutor::lookup`].
    async fn submit(&self, order: &Order) -> Result<Execution, ExecutionError>;

    /// The execution of the order submitted with `client_order_id`, if the broker has one.
    ///
    /// # Errors
    /// [`ExecutionError`].
    async fn lookup(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError>;
}

/// Why an order-queue operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue cannot be reached.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The receipt is no longer valid (the visibility timeout passed; the message will be
    /// delivered again).
    #[error("receipt expired for message {0}")]
    ReceiptExpired(String),
    /// Any other failure.
    #[error("queue backend error: {0}")]
    Backend(#[source] BoxError),
}

/// One delivery of a message from the order queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The queue's id of the message (the same on every delivery).
    pub message_id: String,
    /// The body, as sent.
    pub body: String,
    /// What acknowledges this delivery.
    pub receipt: String,
    /// How many times the message has been delivered, this one included.
    pub receive_count: u32,
}

/// Where order messages arrive.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderQueue: Send + Sync {
    /// Up to `max` messages, waiting up to `wait` for the first. A received message is hidden
    /// from other receivers until it is acknowledged or its visibility timeout passes.
    ///
    /// # Errors
    /// [`QueueError`].
    async fn receive(&self, max: u16, wait: Duration) -> Result<Vec<QueueMessage>, QueueError>;

    /// Removes a processed message; call only after its outcome is persisted.
    ///
    /// # Errors
    /// [`QueueError`]; [`QueueError::ReceiptExpired`] when it will be delivered again.
    async fn ack(&self, message: &QueueMessage) -> Result<(), QueueError>;

    /// Records a message that can never be processed (unparseable, invalid) with `reason`, and
    /// removes it so it is not delivered again.
    ///
    /// # Errors
    /// [`QueueError`].
    async fn reject(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError>;

    /// Makes the message visible again after `after` (zero: at once), instead of when its
    /// visibility timeout ends: for an order another processor holds, or a message received
    /// during shutdown.
    ///
    /// # Errors
    /// [`QueueError`]; [`QueueError::ReceiptExpired`] when it is already visible again.
    async fn retry_later(&self, message: &QueueMessage, after: Duration) -> Result<(), QueueError>;
}

/// What [`ExecutionBook::record_first`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The execution recorded for the client order id (the first one).
    pub execution: Execution,
    /// True when this call recorded it; false when one was recorded before.
    pub first: bool,
}

/// Where a paper executor keeps its executions, so every process sees them and lookups by
/// client order id work across processes, as they do at a broker.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ExecutionBook: Send + Sync {
    /// Records `execution` unless one is recorded for its client order id, atomically, and
    /// returns the one recorded (the first wins). Counts every call for that id: each is a
    /// submission that reached the executor.
    ///
    /// # Errors
    /// [`ExecutionError`] when the book cannot be reached: the outcome is unknown.
    async fn record_first(&self, execution: &Execution) -> Result<Recorded, ExecutionError>;

    /// The execution recorded for `client_order_id`.
    ///
    /// # Errors
    /// [`ExecutionError`].
    async fn get(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError>;
}

/// The market's current price of a symbol, for order checks that need one (notional of a
/// market order, price deviation).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReferencePrice: Send + Sync {
    /// The last price, or `None` when none is known (a closed market with no recent bar).
    ///
    /// # Errors
    /// [`MarketDataError`] when the source cannot answer; callers fail closed.
    async fn last_price(&self, symbol: &Symbol) -> Result<Option<crate::Price>, MarketDataError>;
}

// ---------------------------------------------------------------------------------------------
// Shared handles
// ---------------------------------------------------------------------------------------------

// A shared handle to a port is the port: builders take adapters by value, and an `Arc` of one
// (or an `Arc<dyn …>`) is such a value.

#[async_trait]
impl<T: OhlcvStore + ?Sized> OhlcvStore for std::sync::Arc<T> {
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, StoreError> {
        (**self).get(symbol, timeframe, range).await
    }
    async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError> {
        (**self).save(frame).await
    }
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        (**self).info().await
    }
}

#[async_trait]
impl<T: BarArchive + ?Sized> BarArchive for std::sync::Arc<T> {
    async fn read(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<ArchiveRead, StoreError> {
        (**self).read(symbol, timeframe, range).await
    }
    async fn newest(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<NewestBar, StoreError> {
        (**self).newest(symbol, timeframe).await
    }
    async fn quarantine(
        &self,
        damaged: &DamagedPartition,
        found_at: DateTime<Utc>,
    ) -> Result<QuarantinedFile, StoreError> {
        (**self).quarantine(damaged, found_at).await
    }
    async fn quarantined(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Vec<QuarantinedFile>, StoreError> {
        (**self).quarantined(symbol, timeframe).await
    }
}

#[async_trait]
impl<T: MarketData + ?Sized> MarketData for std::sync::Arc<T> {
    fn limits(&self, timeframe: Timeframe) -> SourceLimits {
        (**self).limits(timeframe)
    }
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        (**self).bars(symbol, timeframe, range).await
    }
}

#[async_trait]
impl<T: OrderStore + ?Sized> OrderStore for std::sync::Arc<T> {
    async fn create_if_absent(&self, order: &Order) -> Result<CreateOutcome, OrderStoreError> {
        (**self).create_if_absent(order).await
    }
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, OrderStoreError> {
        (**self).get(id).await
    }
    async fn claim(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ClaimOutcome, OrderStoreError> {
        (**self).claim(id, owner, now, until).await
    }
    async fn renew(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        (**self).renew(id, owner, now, until).await
    }
    async fn release(&self, id: &OrderId, owner: &str) -> Result<(), OrderStoreError> {
        (**self).release(id, owner).await
    }
    async fn update(
        &self,
        order: &Order,
        expected: OrderStatus,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        (**self).update(order, expected, owner, now).await
    }
    async fn record_poison(&self, record: &PoisonRecord) -> Result<(), OrderStoreError> {
        (**self).record_poison(record).await
    }
}

#[async_trait]
impl<T: KillSwitch + ?Sized> KillSwitch for std::sync::Arc<T> {
    async fn read(&self, scope: &KillSwitchScope) -> Result<KillSwitchRecord, KillSwitchError> {
        (**self).read(scope).await
    }
    async fn set(
        &self,
        scope: &KillSwitchScope,
        change: KillSwitchChange,
    ) -> Result<KillSwitchAudit, KillSwitchError> {
        (**self).set(scope, change).await
    }
}

#[async_trait]
impl<T: OrderExecutor + ?Sized> OrderExecutor for std::sync::Arc<T> {
    async fn submit(&self, order: &Order) -> Result<Execution, ExecutionError> {
        (**self).submit(order).await
    }
    async fn lookup(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError> {
        (**self).lookup(client_order_id).await
    }
}

#[async_trait]
impl<T: OrderQueue + ?Sized> OrderQueue for std::sync::Arc<T> {
    async fn receive(&self, max: u16, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        (**self).receive(max, wait).await
    }
    async fn ack(&self, message: &QueueMessage) -> Result<(), QueueError> {
        (**self).ack(message).await
    }
    async fn reject(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError> {
        (**self).reject(message, reason).await
    }
    async fn retry_later(&self, message: &QueueMessage, after: Duration) -> Result<(), QueueError> {
        (**self).retry_later(message, after).await
    }
}

#[async_trait]
impl<T: ExecutionBook + ?Sized> ExecutionBook for std::sync::Arc<T> {
    async fn record_first(&self, execution: &Execution) -> Result<Recorded, ExecutionError> {
        (**self).record_first(execution).await
    }
    async fn get(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError> {
        (**self).get(client_order_id).await
    }
}

#[async_trait]
impl<T: ReferencePrice + ?Sized> ReferencePrice for std::sync::Arc<T> {
    async fn last_price(&self, symbol: &Symbol) -> Result<Option<crate::Price>, MarketDataError> {
        (**self).last_price(symbol).await
    }
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

// ---------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------

/// The current time. Everything that depends on "now" (TTLs, windows, schedules) takes it from
/// here, so tests can fix it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use chrono::TimeZone;
    use mockall::predicate::eq;

    use super::*;
    use crate::{KillSwitchState, OrderType, Side};

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

/// The feature values of one series at one bar: what a feature store holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSnapshot {
    /// The symbol.
    pub symbol: Symbol,
    /// The timeframe.
    pub timeframe: Timeframe,
    /// The open time of the bar the values were computed at.
    pub bar_open: DateTime<Utc>,
    /// True when that bar was forming: the values are provisional.
    pub forming: bool,
    /// Each feature by name (`sma_20`, `macd_12_26_9`, …); only warmed-up features appear.
    pub values: std::collections::BTreeMap<String, f64>,
}

impl FeatureSnapshot {
    /// Checks what every feature store refuses: a name starting with `_` (reserved for the
    /// store's own fields) or a value that is not finite.
    ///
    /// # Errors
    /// [`StoreError::InvalidRequest`] naming the first such feature.
    pub fn check(&self) -> Result<(), StoreError> {
        match self
            .values
            .iter()
            .find(|(k, v)| !v.is_finite() || k.starts_with('_'))
        {
            Some((k, v)) => Err(StoreError::InvalidRequest(format!(
                "feature {k} = {v}: names may not start with _ and values must be finite"
            ))),
            None => Ok(()),
        }
    }
}

/// What a [`FeatureStore::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeaturePublished {
    /// The latest values were replaced and the closed bar's values appended to the history.
    Appended,
    /// The latest values were replaced; the history already held this bar (or a newer one), so
    /// nothing was appended: replays are idempotent.
    AlreadyInHistory,
    /// A forming bar: the latest values were replaced, the history left alone.
    Forming,
}

/// Where computed features live: the latest values per series, a bounded history of closed-bar
/// values keyed by bar time, and a notification per change.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FeatureStore: Send + Sync {
    /// Stores `snapshot` as the series' latest values; a closed bar's values are also appended
    /// to the history (unless it already holds that bar); subscribers are notified.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached; nothing is half-written that a retry
    /// would not fix (the history refuses duplicates).
    async fn publish(&self, snapshot: &FeatureSnapshot) -> Result<FeaturePublished, StoreError>;

    /// The latest values of a series, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn latest(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Option<FeatureSnapshot>, StoreError>;

    /// The closed-bar values whose bar opened in `range`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn history(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<FeatureSnapshot>, StoreError>;
}

#[async_trait]
impl<T: FeatureStore + ?Sized> FeatureStore for std::sync::Arc<T> {
    async fn publish(&self, snapshot: &FeatureSnapshot) -> Result<FeaturePublished, StoreError> {
        (**self).publish(snapshot).await
    }
    async fn latest(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Option<FeatureSnapshot>, StoreError> {
        (**self).latest(symbol, timeframe).await
    }
    async fn history(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<FeatureSnapshot>, StoreError> {
        (**self).history(symbol, timeframe, range).await
    }
}
