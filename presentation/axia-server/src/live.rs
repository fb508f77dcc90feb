//! Live bars over WebSocket: [`Hub`] holds the process's one Redis subscription to the hot
//! tier's update messages and fans them out to every socket; each socket filters its series
//! and sends the tail of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axia_domain::{BarUpdate, BarUpdates, OhlcvFrame, OhlcvStore, Symbol, TimeRange, Timeframe};
use axia_provider::{Follow, Followed, OhlcvRequest, Window};
use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::ExtensionRejection as ConnectInfoRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::Api;
use crate::bars::{BarDto, LIVE_USE_CASE, dtos};
use crate::params;
use crate::problem::Problem;

/// What the hub fans out.
#[derive(Debug, Clone)]
enum Event {
    /// A series of the hot tier changed.
    Update(Arc<Update>),
    /// The subscription was (re)made: messages may have been lost, every socket resends its
    /// tail.
    Resync,
}

/// One update message and the tail message its series' sockets send for it, made once (by the
/// first socket to handle it, with one read of the hot tier) and shared by the others. A read
/// that fails is shared too: the series' sockets skip this update and send the next one (or
/// the tail of a resync), as each did alone before.
#[derive(Debug)]
struct Update {
    message: BarUpdate,
    tail: tokio::sync::OnceCell<Option<String>>,
}

/// Messages the channel holds for a socket that has not read them yet; a socket further
/// behind gets `Lagged` and resyncs.
const CHANNEL_CAPACITY: usize = 1024;

/// The process's one subscription to the hot tier's updates, shared by every socket of an
/// [`Api`](crate::Api). It subscribes when the first socket opens, follows through
/// [`Follow`] (resubscribing with the one backoff, telling sockets to resync: updates are at
/// most once), and runs as long as the runtime does.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    updates: Arc<dyn BarUpdates>,
    tx: broadcast::Sender<Event>,
    started: OnceLock<()>,
    counters: HubCounters,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("counters", &self.inner.counters)
            .finish_non_exhaustive()
    }
}

/// What a [`Hub`] has done since it was built.
#[derive(Debug, Default)]
pub struct HubCounters {
    subscriptions: AtomicU64,
    sockets: AtomicU64,
    open: AtomicU64,
    updates: AtomicU64,
    tail_reads: AtomicU64,
    dropped_slow: AtomicU64,
    resyncs: AtomicU64,
}

impl HubCounters {
    /// Subscriptions made (1 while the connection holds, +1 per reconnect).
    #[must_use]
    pub fn subscriptions(&self) -> u64 {
        self.subscriptions.load(Ordering::Relaxed)
    }

    /// Sockets opened since the start.
    #[must_use]
    pub fn sockets(&self) -> u64 {
        self.sockets.load(Ordering::Relaxed)
    }

    /// Sockets open now.
    #[must_use]
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Updates received.
    #[must_use]
    pub fn updates(&self) -> u64 {
        self.updates.load(Ordering::Relaxed)
    }

    /// Reads of the hot tier for update messages: one per update of a series that has sockets
    /// open, however many (they share the tail it gives).
    #[must_use]
    pub fn tail_reads(&self) -> u64 {
        self.tail_reads.load(Ordering::Relaxed)
    }

    /// Sockets dropped because a send took longer than the limit.
    #[must_use]
    pub fn dropped_slow(&self) -> u64 {
        self.dropped_slow.load(Ordering::Relaxed)
    }

    /// Tails resent because a socket fell behind the channel or the subscription was remade.
    #[must_use]
    pub fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::Relaxed)
    }
}

impl Hub {
    pub(crate) fn new(updates: Arc<dyn BarUpdates>) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            inner: Arc::new(HubInner {
                updates,
                tx,
                started: OnceLock::new(),
                counters: HubCounters::default(),
            }),
        }
    }

    /// The counters.
    #[must_use]
    pub fn counters(&self) -> &HubCounters {
        &self.inner.counters
    }

    /// A receiver of every event from now on; the subscription task starts on the first call.
    fn subscribe(&self) -> broadcast::Receiver<Event> {
        let rx = self.inner.tx.subscribe();
        self.inner.started.get_or_init(|| {
            tokio::spawn(run(Arc::clone(&self.inner)));
        });
        rx
    }
}

async fn run(hub: Arc<HubInner>) {
    let mut events = std::pin::pin!(Follow::new(Arc::clone(&hub.updates)).into_stream());
    while let Some(event) = events.next().await {
        match event {
            Followed::Subscribed => {
                hub.counters.subscriptions.fetch_add(1, Ordering::Relaxed);
                let _ = hub.tx.send(Event::Resync);
            }
            Followed::Update(message) => {
                hub.counters.updates.fetch_add(1, Ordering::Relaxed);
                let _ = hub.tx.send(Event::Update(Arc::new(Update {
                    message: *message,
                    tail: tokio::sync::OnceCell::new(),
                })));
            }
        }
    }
}

/// What a socket sends: the tail of its series.
#[derive(Debug, Serialize, PartialEq)]
struct TailMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    symbol: &'a str,
    timeframe: &'a str,
    bars: Vec<BarDto>,
    forming: Option<i64>,
}

pub(crate) async fn socket(
    State(api): State<Api>,
    Path((symbol, timeframe)): Path<(String, String)>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    client: Result<ConnectInfo<SocketAddr>, ConnectInfoRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (symbol, timeframe) = match params::series(&symbol, &timeframe) {
        Ok(s) => s,
        Err(p) => return p.at(uri.path()).into_response(),
    };
    // A browser names the page's origin; the same policy as the REST API's CORS decides.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && !api.policy().allows_origin(origin)
    {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "origin-not-allowed",
            "Origin not allowed",
            format!(
                "pages of {:?} may not open this WebSocket",
                params::clip(origin)
            ),
        )
        .at(uri.path())
        .into_response();
    }
    let ws = match upgrade {
        Ok(ws) => ws,
        Err(e) => {
            return Problem::invalid(format!("a WebSocket upgrade is expected: {e}"))
                .at(uri.path())
                .into_response();
        }
    };
    // Sockets per client address, counted while they are open.
    let slot = match client.ok().map(|c| c.0.ip()) {
        Some(ip) => match ClientSlot::take(&api, ip) {
            Some(slot) => Some(slot),
            None => {
                return Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-websockets",
                    "Too many WebSockets",
                    format!(
                        "{} WebSockets are open from this address; close one first",
                        api.limits().ws_per_client
                    ),
                )
                .at(uri.path())
                .into_response();
            }
        },
        None => None,
    };
    let max = api.limits().ws_max_message;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            session(api, symbol, timeframe, socket).await;
            drop(slot);
        })
        .into_response()
}

/// One open WebSocket of a client address: counted on creation, released on drop.
struct ClientSlot {
    api: Api,
    ip: IpAddr,
}

impl ClientSlot {
    fn take(api: &Api, ip: IpAddr) -> Option<Self> {
        let mut clients = axia_domain::lock(&api.inner.ws_clients);
        let open = clients.entry(ip).or_insert(0);
        if *open >= api.limits().ws_per_client {
            return None;
        }
        *open += 1;
        Some(Self {
            api: api.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = axia_domain::lock(&self.api.inner.ws_clients);
        if let Some(open) = clients.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                clients.remove(&self.ip);
            }
        }
    }
}

struct Session {
    api: Api,
    symbol: Symbol,
    timeframe: Timeframe,
    last_sent: Option<String>,
}

async fn session(api: Api, symbol: Symbol, timeframe: Timeframe, socket: WebSocket) {
    let hub = api.hub().cloned();
    let counters = hub.as_ref().map(|h| h.counters());
    if let Some(c) = counters {
        c.sockets.fetch_add(1, Ordering::Relaxed);
        c.open.fetch_add(1, Ordering::Relaxed);
    }
    // Subscribed before the first tail is read: nothing written after the read is missed.
    let mut rx = hub.as_ref().map(Hub::subscribe);
    let limits = api.limits().clone();
    let (mut sink, mut incoming) = socket.split();
    let mut s = Session {
        api,
        symbol,
        timeframe,
        last_sent: None,
    };
    let mut ping = tokio::time::interval(limits.ws_ping);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut poll = tokio::time::interval(limits.ws_poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    let mut outgoing = s.tail(None).await;
    // The client must say something (a pong to the pings, at least) this often.
    let idle = tokio::time::sleep(limits.ws_idle);
    tokio::pin!(idle);
    loop {
        if let Some(text) = outgoing.take() {
            let send = sink.send(Message::Text(text.into()));
            match tokio::time::timeout(limits.ws_send_timeout, send).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    if let Some(c) = counters {
                        c.dropped_slow.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::info!(symbol = %s.symbol, timeframe = %s.timeframe, "a slow WebSocket client dropped");
                    break;
                }
            }
        }
        tokio::select! {
            event = recv(rx.as_mut()) => match event {
                Ok(Event::Update(u)) => {
                    if u.message.symbol == s.symbol && u.message.timeframe == s.timeframe {
                        outgoing = s.tail(Some(&u)).await;
                    }
                }
                Ok(Event::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(c) = counters {
                        c.resyncs.fetch_add(1, Ordering::Relaxed);
                    }
                    s.last_sent = None;
                    outgoing = s.tail(None).await;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = poll.tick(), if rx.is_none() => {
                outgoing = s.tail(None).await;
            }
            _ = ping.tick() => {
                let send = sink.send(Message::Ping(Vec::new().into()));
                if !matches!(tokio::time::timeout(limits.ws_send_timeout, send).await, Ok(Ok(()))) {
                    break;
                }
            }
            message = incoming.next() => match message {
                // A message over the size limit ends the socket with an error here.
                None | Some(Err(_) | Ok(Message::Close(_))) => break,
                Some(Ok(_)) => idle.as_mut().reset(tokio::time::Instant::now() + limits.ws_idle),
            },
            () = &mut idle => {
                tracing::info!(symbol = %s.symbol, timeframe = %s.timeframe, "an idle WebSocket closed");
                break;
            }
        }
    }
    if let Some(c) = counters {
        c.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn recv(
    rx: Option<&mut broadcast::Receiver<Event>>,
) -> Result<Event, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Session {
    /// The tail as a message, `None` when it cannot be read or is what was sent last. For an
    /// update, the message every socket of the series sends for it (read once); otherwise read
    /// for this socket.
    async fn tail(&mut self, update: Option<&Update>) -> Option<String> {
        let text = match update {
            Some(u) => u
                .tail
                .get_or_init(|| {
                    read_tail(&self.api, &self.symbol, self.timeframe, Some(&u.message))
                })
                .await
                .clone()?,
            None => read_tail(&self.api, &self.symbol, self.timeframe, None).await?,
        };
        if self.last_sent.as_deref() == Some(text.as_str()) {
            return None;
        }
        self.last_sent = Some(text.clone());
        Some(text)
    }
}

/// The last bars of a series as a tail message: after an update from the hot tier (it has just
/// changed), otherwise the provider's last `ws_tail` bars ([`Window::Bars`]).
async fn read_tail(
    api: &Api,
    symbol: &Symbol,
    timeframe: Timeframe,
    update: Option<&BarUpdate>,
) -> Option<String> {
    let n = api.limits().ws_tail.max(1);
    let period = chrono::Duration::milliseconds(timeframe.max_millis());
    let now = api.now();
    let newest = update.map_or(now, |m| m.newest_open.max(now));
    let span = period.checked_mul(i32::try_from(n).unwrap_or(i32::MAX))?;
    let range = TimeRange::new(
        newest.checked_sub_signed(span)?,
        newest.checked_add_signed(chrono::Duration::milliseconds(1))?,
    )
    .ok()?;
    let frame = match (update, &api.inner.hot) {
        (Some(_), Some(hot)) => {
            if let Some(h) = api.hub() {
                h.counters().tail_reads.fetch_add(1, Ordering::Relaxed);
            }
            hot.store
                .get(symbol, timeframe, range)
                .await
                .ok()?
                .with_forming_at(now)
        }
        _ => {
            api.provider()
                .get(OhlcvRequest::new(
                    symbol.clone(),
                    timeframe,
                    // The last bars on the instrument's calendar: a weekend holds none.
                    Window::last_bars(n),
                    LIVE_USE_CASE,
                ))
                .await
                .ok()?
                .frame
        }
    };
    tail_message(symbol, timeframe, &frame.last_n(n))
}

fn tail_message(symbol: &Symbol, timeframe: Timeframe, frame: &OhlcvFrame) -> Option<String> {
    let (bars, forming) = dtos(frame);
    let message = TailMessage {
        kind: "bars",
        symbol: symbol.as_str(),
        timeframe: timeframe.as_str(),
        bars,
        forming,
    };
    serde_json::to_string(&message).ok()
}
