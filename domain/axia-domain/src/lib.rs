//! axia's domain: typed values and the ports, with no I/O.
//!
//! - Market data: [`Symbol`], [`Timeframe`], [`Bar`], the columnar [`OhlcvFrame`] and
//!   [`validate_bars`] for what sources return; [`TimeRange`], [`UseCase`].
//! - Calendars: [`FxCalendar`] (Sunday 17:00 to Friday 17:00 New York), [`CmeGlobexCalendar`]
//!   (US futures), [`SessionCalendar`], [`next_ny_close`].
//! - Orders: [`Order`] and its status machine, [`OrderValidator`]; the kill switch
//!   ([`KillSwitchRecord`], [`KillSwitchChange`], [`KillSwitchAudit`]).
//! - Ports (traits the adapters implement): [`OhlcvStore`], [`BarArchive`], [`MarketData`], [`OrderStore`],
//!   [`KillSwitch`], [`OrderExecutor`], [`OrderQueue`], [`Clock`]. The `mocks` feature adds
//!   mockall mocks of each (`MockOhlcvStore`, …).
//!
//! Time is UTC throughout; a bar's timestamp is its **open** time.
//!
//! ```
//! use axia_domain::{FxCalendar, OhlcvFrame, Symbol, TimeRange, Timeframe};
//! use chrono::{Duration, TimeZone, Utc};
//!
//! let frame = OhlcvFrame::empty("EURUSD".parse()?, Timeframe::H1);
//! // Saturday: the FX market is closed all day, so an empty frame is complete.
//! let sat = Utc.with_ymd_and_hms(2026, 3, 7, 0, 0, 0).unwrap();
//! let c = frame.completeness(&FxCalendar, TimeRange::new(sat, sat + Duration::days(1))?);
//! assert_eq!((c.expected, c.present), (0, 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod accumulate;
mod alert;
mod alignment;
mod backoff;
mod bar;
mod calendar;
mod clock;
mod context;
mod exchange_days;
mod frame;
mod instrument;
mod killswitch;
pub mod locks;
pub mod millis;
mod order;
mod ports;
mod schedule;
mod secrets;
mod symbol;
mod time;
mod timeframe;
mod validation;

pub use accumulate::{BarAccumulator, BarValues};
pub use alert::{
    Alert, AlertId, AlertPoint, AlertPrices, AlertRule, AlertRuleError, BarField, Condition,
    FiredValues, Frequency, MAX_MOVING_BARS, MessageTemplate, Operand, RuleId, WebhookName,
};
pub use alignment::{DailyAlignment, Grid};
pub use backoff::Backoff;
pub use bar::{Bar, BarError, Field, MAX_TIME_MILLIS, MIN_TIME_MILLIS};
pub use calendar::{
    AlwaysOpen, CmeGlobexCalendar, FxCalendar, MarketCalendar, SessionCalendar, default_calendar,
    next_ny_close, ny_close_on,
};
pub use clock::{ManualClock, ShiftedClock, SystemClock};
pub use context::AdapterContext;
pub use exchange_days::ExchangeDays;
pub use frame::{Completeness, FrameError, OhlcvColumns, OhlcvFrame, OhlcvFrameBuilder};
pub use instrument::{
    AssetClass, Instrument, InstrumentError, InstrumentOverride, InstrumentRegistry,
    MAX_TICK_DECIMALS, Tick, TradingHours, VolumeKind,
};
pub use killswitch::{
    KILL_SWITCH_TEXT_MAX_LEN, KillSwitchAudit, KillSwitchChange, KillSwitchChangeError,
    KillSwitchRecord, KillSwitchScope, KillSwitchState, trading_allowed,
};
pub use locks::lock;
pub use order::{
    ClientOrderId, DecimalError, Fill, NotPositive, ORDER_ID_MAX_LEN, Order, OrderId, OrderIdError,
    OrderLimits, OrderStatus, OrderStatusError, OrderTerms, OrderType, OrderValidator, Price,
    Quantity, Rejection, RejectionReason, Side, TransitionError,
};
pub use ports::{
    AlertLog, AlertRecorded, ArchiveRead, BarArchive, BarUpdate, BarUpdates, BoxError, Claim,
    ClaimOutcome, Clock, CreateOutcome, DamagedPartition, DatasetInfo, DeadLetter, Delivery,
    Execution, ExecutionBook, ExecutionError, ExecutionOutcome, FeaturePublished, FeatureSnapshot,
    FeatureStore, Fence, Fences, FetchedBars, InstrumentOwnership, JobError, JobFailure, JobFilter,
    JobHandler, JobId, JobProgress, JobQueue, JobRequest, JobSpec, JobState, JobView, KillSwitch,
    KillSwitchError, LivePresence, LoggedAlert, MarketData, MarketDataError, NewestBar, OhlcvStore,
    OrderExecutor, OrderQueue, OrderStore, OrderStoreError, PoisonRecord, PostOutcome,
    PriceComponent, PriceStream, QuarantinedFile, QueueCount, QueueError, QueueMessage, QueueName,
    Quote, QuoteStream, RateGate, Recorded, ReferencePrice, RunningJob, SourceLimits, StoreError,
    StoreHealth, StoreInfo, StreamError, StreamEvent, Submitted, UpdateStream, WebhookOutbox,
    WebhookSender,
};
#[cfg(any(test, feature = "mocks"))]
pub use ports::{
    MockAlertLog, MockBarArchive, MockBarUpdates, MockClock, MockExecutionBook, MockFeatureStore,
    MockInstrumentOwnership, MockJobQueue, MockKillSwitch, MockLivePresence, MockMarketData,
    MockOhlcvStore, MockOrderExecutor, MockOrderQueue, MockOrderStore, MockPriceStream,
    MockRateGate, MockReferencePrice, MockWebhookOutbox, MockWebhookSender,
};
pub use schedule::{CronSpec, Schedule, ScheduleName, SchedulePlan, ScheduleStore, ScheduleView};
pub use secrets::{redact_url, scrub, url_password};
pub use symbol::{SYMBOL_MAX_LEN, Symbol, SymbolError};
pub use time::{TimeRange, TimeRangeError, UseCase, UseCaseError};
pub use timeframe::{Timeframe, TimeframeError};
pub use validation::{
    DropReason, DroppedBar, RawBar, ValidationReport, ValidationRules, validate_bars,
    validate_bars_with,
};
