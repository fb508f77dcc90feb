//! [`InstrumentOwnership`]: which process writes which instrument, and the fencing tokens that
//! make the store refuse the others.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::{StoreError, Symbol};

/// A fencing token: it grows with every acquisition of an instrument, so a store that has seen
/// a write under token `n` refuses writes under any smaller one (a holder that lost its lease
/// while paused, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fence(pub u64);

/// Leases on instruments shared by the processes of one deployment (the live feeds): at most
/// one holder per instrument at a time, a fencing token per acquisition, and the members alive.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InstrumentOwnership: Send + Sync {
    /// Says `member` is alive for the next `ttl`; returns how many members are alive (itself
    /// included).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached.
    async fn heartbeat(&self, member: &str, ttl: Duration) -> Result<usize, StoreError>;

    /// Takes `symbol` for `member` for `ttl` if nobody holds it: its new fencing token, else
    /// `None`.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached.
    async fn acquire(
        &self,
        symbol: &Symbol,
        member: &str,
        ttl: Duration,
    ) -> Result<Option<Fence>, StoreError>;

    /// Extends `member`'s hold on `symbol` by `ttl`; false when it no longer holds it.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached.
    async fn renew(&self, symbol: &Symbol, member: &str, ttl: Duration)
    -> Result<bool, StoreError>;

    /// Gives `symbol` up if `member` holds it.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached.
    async fn release(&self, symbol: &Symbol, member: &str) -> Result<(), StoreError>;

    /// The holder of `symbol` now, if any.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached.
    async fn holder(&self, symbol: &Symbol) -> Result<Option<String>, StoreError>;
}

/// The fencing tokens a process holds, by instrument: what its writes carry. Shared between
/// the holder of the leases (which sets and removes them) and the store (which sends them with
/// each write and refuses locally a write of an instrument without one).
#[derive(Debug, Clone, Default)]
pub struct Fences(Arc<RwLock<HashMap<Symbol, Fence>>>);

impl Fences {
    /// No token.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The token of `symbol`, if held.
    #[must_use]
    pub fn get(&self, symbol: &Symbol) -> Option<Fence> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(symbol)
            .copied()
    }

    /// Holds `symbol` under `fence`.
    pub fn set(&self, symbol: Symbol, fence: Fence) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(symbol, fence);
    }

    /// No longer holds `symbol`.
    pub fn remove(&self, symbol: &Symbol) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(symbol);
    }
}
