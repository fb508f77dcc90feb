//! [`AdapterContext`]: what every adapter's builder takes from the composition root.

use std::fmt;
use std::sync::Arc;

use crate::{Clock, DailyAlignment, InstrumentRegistry, MarketCalendar, Symbol, SystemClock};

/// The clock and the instruments, given once by the composition root to every builder that
/// needs them (a source's gateway, the archive, the use cases), so they cannot disagree.
///
/// ```
/// use std::sync::Arc;
/// use axia_domain::{AdapterContext, InstrumentRegistry, SystemClock};
///
/// let ctx = AdapterContext::new(Arc::new(SystemClock), Arc::new(InstrumentRegistry::builtin()));
/// let usdjpy = "USDJPY".parse()?;
/// assert_eq!(ctx.alignments()(&usdjpy), ctx.instruments().resolve(&usdjpy).alignment());
/// # Ok::<(), axia_domain::SymbolError>(())
/// ```
#[derive(Clone)]
pub struct AdapterContext {
    clock: Arc<dyn Clock>,
    instruments: Arc<InstrumentRegistry>,
}

impl AdapterContext {
    /// A context of `clock` and `instruments`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>, instruments: Arc<InstrumentRegistry>) -> Self {
        Self { clock, instruments }
    }

    /// The clock everything reads the time from.
    #[must_use]
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The instruments: calendars, alignments, ticks and limits.
    #[must_use]
    pub fn instruments(&self) -> Arc<InstrumentRegistry> {
        Arc::clone(&self.instruments)
    }

    /// The trading calendar of each symbol.
    pub fn calendars(&self) -> impl Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync + 'static {
        let instruments = self.instruments();
        move |s| instruments.resolve(s).calendar()
    }

    /// Where each symbol's daily bars start.
    pub fn alignments(&self) -> impl Fn(&Symbol) -> DailyAlignment + Send + Sync + 'static {
        let instruments = self.instruments();
        move |s| instruments.resolve(s).alignment()
    }
}

impl Default for AdapterContext {
    /// The system clock and the built-in instruments.
    fn default() -> Self {
        Self::new(
            Arc::new(SystemClock),
            Arc::new(InstrumentRegistry::shared_builtin().clone()),
        )
    }
}

impl fmt::Debug for AdapterContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterContext")
            .field("now", &self.clock.now())
            .finish_non_exhaustive()
    }
}
