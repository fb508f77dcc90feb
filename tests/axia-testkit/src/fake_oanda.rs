//! A fake OANDA v20 REST API on loopback, built from the documented response shapes and
//! serving the simulated broker's bars, so the OANDA adapter is tested without the internet.
//!
//! Like the real service it wants `Authorization: Bearer <token>`, returns **New York-aligned**
//! candles (D, W, M and H4 from 17:00 New York) unless the UTC alignment parameters are sent
//! (`dailyAlignment=0&alignmentTimezone=UTC&weeklyAlignment=Monday`), so a request that forgets
//! them gets bars an adapter must not take; refuses more than 5,000 candles (`count`, or a
//! `from`/`to` span) and a `to` in the future with 400; sends prices as decimal strings and
//! the candle still forming with `complete: false`. Orders on [`ACCOUNT`]: market orders fill
//! at the simulated price, limit and stop orders rest; a client id is refused again only while
//! its order is pending (a filled one would fill twice, as OANDA's would); lookups by
//! `@clientID` and transactions by id. Switches make it answer 503, 429 with `Retry-After`, a
//! malformed candle, a halted market, a rejected order, or a lost answer after a fill.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axia_domain::{DailyAlignment, InstrumentRegistry, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The most candles one request may ask for.
pub const MAX_COUNT: usize = 5_000;

/// The account the fake serves orders for.
pub const ACCOUNT: &str = "101-001-1234567-001";

/// The fake server.
pub struct FakeOanda {
    server: MockServer,
    state: Arc<State>,
}

struct State {
    seed: u64,
    now: DateTime<Utc>,
    token: String,
    down: AtomicBool,
    rate_limited: AtomicU32,
    corrupt_at_ms: AtomicI64,
    ignore_alignment: AtomicBool,
    book: Mutex<Book>,
    market_halted: AtomicBool,
    reject_next: Mutex<Option<String>>,
    lose_next_response: AtomicBool,
    hide_orders: AtomicBool,
    partial_next: Mutex<Option<u64>>,
    /// Hold the next POST: answer nothing useful now, apply it when released.
    hold_next: AtomicBool,
    held: Mutex<Vec<Vec<u8>>>,
}

/// Orders by client id and every transaction, as OANDA keeps them.
#[derive(Default)]
struct Book {
    next_id: u64,
    orders: HashMap<String, Value>,
    transactions: HashMap<String, Value>,
    created: usize,
    /// The client ids of open trades (`tradeClientExtensions`): OANDA refuses another.
    trade_ids: std::collections::HashSet<String>,
}

impl Book {
    fn id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }
}

fn granularity(g: &str) -> Option<Timeframe> {
    Some(match g {
        "M1" => Timeframe::M1,
        "M5" => Timeframe::M5,
        "M15" => Timeframe::M15,
        "M30" => Timeframe::M30,
        "H1" => Timeframe::H1,
        "H4" => Timeframe::H4,
        "D" => Timeframe::D1,
        "W" => Timeframe::W1,
        "M" => Timeframe::MN1,
        _ => return None,
    })
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("RequestID", "fake-1")
        .set_body_json(json!({ "errorMessage": message }))
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let secs = s.split('.').next()?.parse::<i64>().ok()?;
            DateTime::from_timestamp(secs, 0)
        })
}

impl State {
    /// Down, rate limited or unauthorized: the answer, before anything else is looked at.
    fn gate(&self, req: &Request) -> Option<ResponseTemplate> {
        if self.down.load(Ordering::SeqCst) {
            return Some(ResponseTemplate::new(503).set_body_string("upstream unavailable"));
        }
        if self
            .rate_limited
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            // OANDA documents no body for 429.
            return Some(ResponseTemplate::new(429).insert_header("Retry-After", "1"));
        }
        let authorized = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {}", self.token));
        (!authorized).then(|| error(401, "Insufficient authorization to perform request."))
    }

    fn candles(&self, req: &Request) -> ResponseTemplate {
        if let Some(answer) = self.gate(req) {
            return answer;
        }
        let segments: Vec<&str> = req.url.path().split('/').collect();
        let name = segments.get(3).copied().unwrap_or_default();
        let registry = InstrumentRegistry::shared_builtin();
        let Some(symbol) = name
            .replace('_', "")
            .parse::<Symbol>()
            .ok()
            .filter(|s| registry.knows(s) && name.contains('_'))
        else {
            return error(400, "Invalid value specified for 'instrument'");
        };
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let Some(tf) = granularity(q.get("granularity").map_or("S5", String::as_str)) else {
            return error(400, "Invalid value specified for 'granularity'");
        };
        let utc = q.get("dailyAlignment").map(String::as_str) == Some("0")
            && q.get("alignmentTimezone").map(String::as_str) == Some("UTC")
            && q.get("weeklyAlignment").map(String::as_str) == Some("Monday");
        let utc = utc && !self.ignore_alignment.load(Ordering::SeqCst);
        let alignment = if utc {
            DailyAlignment::UtcMidnight
        } else {
            DailyAlignment::NewYorkClose
        };
        let count = match q.get("count").map(|c| c.parse::<usize>()) {
            None => None,
            Some(Ok(c)) if (1..=MAX_COUNT).contains(&c) => Some(c),
            Some(_) => return error(400, "Maximum value for 'count' exceeded"),
        };
        let from = q.get("from").map(|f| time(f));
        let to = q.get("to").map(|t| time(t));
        if matches!(from, Some(None)) || matches!(to, Some(None)) {
            return error(400, "Invalid value specified for 'from' or 'to'");
        }
        let (from, to) = (from.flatten(), to.flatten());
        if to.is_some_and(|t| t > self.now) {
            return error(
                400,
                "Invalid value specified for 'to'. Time is in the future",
            );
        }
        if from.is_some() && to.is_some() && count.is_some() {
            return error(400, "'count' cannot be specified with both 'from' and 'to'");
        }
        let include_first = q.get("includeFirst").map(String::as_str) != Some("false");
        let instrument = registry.resolve(&symbol).with_alignment(alignment);
        let end = to.unwrap_or(self.now) + chrono::Duration::milliseconds(1);
        let start = from.unwrap_or_else(|| {
            end - chrono::Duration::milliseconds(tf.max_millis())
                * i32::try_from(count.unwrap_or(500)).unwrap_or(500)
        });
        let Ok(range) = TimeRange::new(start, end.max(start)) else {
            return error(400, "Invalid range");
        };
        let Ok(frame) = axia_simbroker::generate_for(self.seed, &instrument, tf, range, self.now)
        else {
            return error(500, "generation failed");
        };
        let mut bars: Vec<_> = frame
            .iter()
            .filter(|b| include_first || from.is_none_or(|f| b.time() > f))
            .collect();
        if from.is_some() && to.is_some() && bars.len() > MAX_COUNT {
            return error(400, "Maximum value for 'count' exceeded");
        }
        if let Some(c) = count {
            if from.is_some() {
                bars.truncate(c);
            } else {
                let skip = bars.len().saturating_sub(c);
                bars.drain(..skip);
            }
        }
        let forming = frame.forming_millis();
        let decimals = usize::try_from(instrument.price_decimals()).unwrap_or(5);
        let half_spread = instrument
            .tick()
            .value()
            .to_string()
            .parse::<f64>()
            .unwrap_or(0.00001);
        let corrupt = self.corrupt_at_ms.load(Ordering::SeqCst);
        let price = q.get("price").map_or("M", String::as_str);
        let px = |p: f64| format!("{p:.decimals$}");
        let candles: Vec<Value> = bars
            .iter()
            .map(|b| {
                let ohlc = |shift: f64| {
                    json!({"o": px(b.open() + shift), "h": px(b.high() + shift),
                           "l": px(b.low() + shift), "c": px(b.close() + shift)})
                };
                let mut c = json!({
                    "complete": Some(b.time_millis()) != forming,
                    "volume": b.volume().round() as u64,
                    "time": b.time().to_rfc3339_opts(SecondsFormat::Nanos, true),
                });
                if price.contains('M') {
                    c["mid"] = ohlc(0.0);
                }
                if price.contains('B') {
                    c["bid"] = ohlc(-half_spread);
                }
                if price.contains('A') {
                    c["ask"] = ohlc(half_spread);
                }
                if b.time_millis() == corrupt {
                    c["mid"]["o"] = json!("abc");
                }
                c
            })
            .collect();
        ResponseTemplate::new(200)
            .insert_header("RequestID", "fake-1")
            .set_body_json(json!({
                "instrument": name,
                "granularity": q.get("granularity"),
                "candles": candles,
            }))
    }
}

impl State {
    fn accounts(&self, req: &Request) -> ResponseTemplate {
        if let Some(answer) = self.gate(req) {
            return answer;
        }
        let path = req.url.path().replace("%40", "@");
        let Some(rest) = path.strip_prefix(&format!("/v3/accounts/{ACCOUNT}/")) else {
            return error(400, "Invalid value specified for 'accountID'");
        };
        let mut book = self.book.lock().unwrap();
        match (req.method.as_str(), rest) {
            ("POST", "orders") if self.hold_next.swap(false, Ordering::SeqCst) => {
                // Received, not applied: the answer the client gets says nothing of it.
                self.held.lock().unwrap().push(req.body.clone());
                ResponseTemplate::new(504).set_body_string("upstream request timeout")
            }
            ("POST", "orders") => self.create(&mut book, &req.body),
            ("GET", "summary") => {
                let last = book.next_id.to_string();
                ResponseTemplate::new(200).set_body_json(json!({
                    "account": {"id": ACCOUNT, "lastTransactionID": last},
                    "lastTransactionID": last}))
            }
            ("GET", "transactions/sinceid") => {
                let since: u64 = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "id")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut txs: Vec<(u64, Value)> = book
                    .transactions
                    .iter()
                    .filter_map(|(id, t)| id.parse::<u64>().ok().map(|n| (n, t.clone())))
                    .filter(|(n, _)| *n > since)
                    .collect();
                txs.sort_by_key(|(n, _)| *n);
                ResponseTemplate::new(200).set_body_json(json!({
                    "transactions": txs.into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
                    "lastTransactionID": book.next_id.to_string()}))
            }
            ("GET", r) if r.starts_with("orders/@") => {
                let cid = r.trim_start_matches("orders/@");
                let cid = percent_decode(cid);
                let hidden = self.hide_orders.load(Ordering::SeqCst);
                match book.orders.get(&cid).filter(|_| !hidden) {
                    Some(o) => ResponseTemplate::new(200).set_body_json(
                        json!({"order": o, "lastTransactionID": book.next_id.to_string()}),
                    ),
                    None => ResponseTemplate::new(404).set_body_json(json!({
                        "errorCode": "ORDER_DOESNT_EXIST",
                        "errorMessage": "The Order specified does not exist"})),
                }
            }
            ("GET", r) if r.starts_with("transactions/") => {
                match book.transactions.get(r.trim_start_matches("transactions/")) {
                    Some(t) => ResponseTemplate::new(200).set_body_json(json!({"transaction": t})),
                    None => error(404, "The Transaction specified does not exist"),
                }
            }
            _ => error(404, "no such endpoint in the fake"),
        }
    }

    fn create(&self, book: &mut Book, body: &[u8]) -> ResponseTemplate {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return error(400, "Invalid JSON");
        };
        let o = &body["order"];
        let (Some(kind), Some(name), Some(units)) = (
            o["type"].as_str(),
            o["instrument"].as_str(),
            o["units"].as_str(),
        ) else {
            return error(400, "Invalid order specification");
        };
        let cid = o["clientExtensions"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(reason) = self.reject_next.lock().unwrap().take() {
            let id = book.id();
            let tx = json!({"id": id, "type": format!("{kind}_ORDER_REJECT"), "rejectReason": reason,
                "clientExtensions": {"id": cid}});
            book.transactions.insert(id.clone(), tx.clone());
            return ResponseTemplate::new(400).set_body_json(json!({
                "orderRejectTransaction": tx,
                "lastTransactionID": id, "errorCode": reason, "errorMessage": format!("The order was rejected: {reason}")}));
        }
        // A trade's client id is refused while that trade is open (as OANDA):
        // CLIENT_TRADE_ID_ALREADY_EXISTS, with a reject transaction.
        let trade_cid = o["tradeClientExtensions"]["id"]
            .as_str()
            .unwrap_or_default();
        if !trade_cid.is_empty() && book.trade_ids.contains(trade_cid) {
            let id = book.id();
            let reason = "CLIENT_TRADE_ID_ALREADY_EXISTS";
            let tx = json!({"id": id, "type": format!("{kind}_ORDER_REJECT"), "rejectReason": reason,
                "instrument": name, "units": units, "clientExtensions": {"id": cid}});
            book.transactions.insert(id.clone(), tx.clone());
            return ResponseTemplate::new(400).set_body_json(json!({
                "orderRejectTransaction": tx, "lastTransactionID": id, "errorCode": reason,
                "errorMessage": "The client trade ID specified is already assigned to another open trade"}));
        }
        // Only a pending order's client id is refused again: a filled one's is not (as OANDA).
        if book
            .orders
            .get(&cid)
            .is_some_and(|o| o["state"] == "PENDING")
        {
            return ResponseTemplate::new(400).set_body_json(json!({
                "errorCode": "CLIENT_ORDER_ID_ALREADY_EXISTS",
                "errorMessage": "The client order ID specified is already assigned to another pending order"}));
        }
        let Ok(symbol) = name.replace('_', "").parse::<Symbol>() else {
            return error(400, "Invalid value specified for 'instrument'");
        };
        book.created += 1;
        let order_id = book.id();
        let time = self.now.to_rfc3339_opts(SecondsFormat::Nanos, true);
        let mut create = json!({"id": order_id, "type": format!("{kind}_ORDER"), "instrument": name,
            "units": units, "reason": "CLIENT_ORDER", "time": time,
            "clientExtensions": {"id": cid}});
        let mut order = json!({"id": order_id, "type": kind, "instrument": name, "units": units,
            "state": "PENDING", "createTime": time, "clientExtensions": {"id": cid}});
        if let Some(p) = o["price"].as_str() {
            create["price"] = json!(p);
            order["price"] = json!(p);
        }
        let mut answer = json!({"orderCreateTransaction": create});
        if kind == "MARKET" {
            if self.market_halted.load(Ordering::SeqCst) {
                let tx = book.id();
                let cancel = json!({"id": tx, "type": "ORDER_CANCEL", "orderID": order_id,
                    "reason": "MARKET_HALTED", "time": time});
                order["state"] = json!("CANCELLED");
                order["cancellingTransactionID"] = json!(tx);
                book.transactions.insert(tx.clone(), cancel.clone());
                answer["orderCancelTransaction"] = cancel;
            } else {
                let tx = book.id();
                let price = self.price(&symbol);
                // A partial fill: part of the units, the rest cancelled (as an IOC order is).
                let filled = match self.partial_next.lock().unwrap().take() {
                    Some(part) => {
                        let cancel_id = book.id();
                        let cancel = json!({"id": cancel_id, "type": "ORDER_CANCEL",
                            "orderID": order_id, "reason": "INSUFFICIENT_LIQUIDITY", "time": time});
                        book.transactions.insert(cancel_id, cancel.clone());
                        answer["orderCancelTransaction"] = cancel;
                        if units.starts_with('-') {
                            format!("-{part}")
                        } else {
                            part.to_string()
                        }
                    }
                    None => units.to_owned(),
                };
                let units = filled.as_str();
                let fill = json!({"id": tx, "type": "ORDER_FILL", "orderID": order_id,
                    "clientOrderID": cid, "instrument": name, "units": units,
                    "price": price, "fullVWAP": price, "reason": "MARKET_ORDER", "time": time,
                    "tradeOpened": {"tradeID": tx, "units": units, "price": price}});
                order["state"] = json!("FILLED");
                order["fillingTransactionID"] = json!(tx);
                if !trade_cid.is_empty() {
                    book.trade_ids.insert(trade_cid.to_owned());
                }
                book.transactions.insert(tx.clone(), fill.clone());
                answer["orderFillTransaction"] = fill;
            }
        }
        book.transactions.insert(order_id.clone(), create);
        book.orders.insert(cid, order);
        answer["lastTransactionID"] = json!(book.next_id.to_string());
        if self.lose_next_response.swap(false, Ordering::SeqCst) {
            // Applied, but the answer never arrives.
            return ResponseTemplate::new(503).set_body_string("upstream connect error");
        }
        ResponseTemplate::new(201).set_body_json(answer)
    }

    /// The close of the simulated broker's bar forming now, at the instrument's decimals.
    fn price(&self, symbol: &Symbol) -> String {
        let instrument = InstrumentRegistry::shared_builtin().resolve(symbol);
        let range = TimeRange::new(
            self.now - chrono::Duration::minutes(1),
            self.now + chrono::Duration::milliseconds(1),
        )
        .unwrap();
        let close =
            axia_simbroker::generate_for(self.seed, &instrument, Timeframe::M1, range, self.now)
                .ok()
                .and_then(|f| f.last())
                .map_or(1.0, |b| b.close());
        let decimals = usize::try_from(instrument.price_decimals()).unwrap_or(5);
        format!("{close:.decimals$}")
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => {
                let v = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = v {
                    out.push(v);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Accounts(Arc<State>);

impl Respond for Accounts {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.accounts(req)
    }
}

struct Candles(Arc<State>);

impl Respond for Candles {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.candles(req)
    }
}

impl FakeOanda {
    /// A fake serving the simulated broker's bars for `seed` as of `now`, to clients bearing
    /// `token`. Instrument names are OANDA's (`USD_JPY`); symbols the built-in registry does
    /// not know are refused as OANDA refuses an unknown instrument.
    pub async fn start(seed: u64, now: DateTime<Utc>, token: &str) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(State {
            seed,
            now,
            token: token.to_owned(),
            down: AtomicBool::new(false),
            rate_limited: AtomicU32::new(0),
            corrupt_at_ms: AtomicI64::new(i64::MIN),
            ignore_alignment: AtomicBool::new(false),
            book: Mutex::new(Book::default()),
            market_halted: AtomicBool::new(false),
            reject_next: Mutex::new(None),
            lose_next_response: AtomicBool::new(false),
            hide_orders: AtomicBool::new(false),
            partial_next: Mutex::new(None),
            hold_next: AtomicBool::new(false),
            held: Mutex::new(Vec::new()),
        });
        Mock::given(path_regex(r"^/v3/instruments/[^/]+/candles$"))
            .respond_with(Candles(Arc::clone(&state)))
            .mount(&server)
            .await;
        Mock::given(path_regex(r"^/v3/accounts/.+$"))
            .respond_with(Accounts(Arc::clone(&state)))
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// The base URL to give `OandaConfig::base_url`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Answers HTTP 503 to everything while `down`.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Answers the next `n` requests with 429 and `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.state.rate_limited.store(n, Ordering::SeqCst);
    }

    /// Sends the candle opening at `t` with an open price that is not a number.
    pub fn corrupt_candle_at(&self, t: DateTime<Utc>) {
        self.state
            .corrupt_at_ms
            .store(t.timestamp_millis(), Ordering::SeqCst);
    }

    /// Answers New York-aligned candles whatever the alignment parameters say (a server
    /// that ignores them).
    pub fn ignore_alignment(&self, ignore: bool) {
        self.state.ignore_alignment.store(ignore, Ordering::SeqCst);
    }

    /// Cancels every market order (a 201 with `orderCancelTransaction`, reason
    /// `MARKET_HALTED`) while `halted`.
    pub fn set_market_halted(&self, halted: bool) {
        self.state.market_halted.store(halted, Ordering::SeqCst);
    }

    /// Rejects the next order with `reason` (400 with `orderRejectTransaction`).
    pub fn reject_next(&self, reason: &str) {
        *self.state.reject_next.lock().unwrap() = Some(reason.to_owned());
    }

    /// Applies the next order (it fills) and then answers 503: the response is lost.
    pub fn lose_next_response(&self) {
        self.state.lose_next_response.store(true, Ordering::SeqCst);
    }

    /// Answers 404 to every lookup by client id while `hidden` (an order not yet visible
    /// that way), so only the transaction history tells what became of it.
    pub fn hide_orders(&self, hidden: bool) {
        self.state.hide_orders.store(hidden, Ordering::SeqCst);
    }

    /// Holds the next order POST: it is answered 504 at once and applied only at
    /// [`FakeOanda::apply_held`] (a POST that reaches OANDA after the client gave up on it).
    pub fn hold_next_post(&self) {
        self.state.hold_next.store(true, Ordering::SeqCst);
    }

    /// Applies the held POSTs now, as OANDA would have on receipt (a second trade with the
    /// client id of an open one is refused), and says of each whether it created an order.
    pub fn apply_held(&self) -> Vec<bool> {
        let held = std::mem::take(&mut *self.state.held.lock().unwrap());
        let mut book = self.state.book.lock().unwrap();
        held.iter()
            .map(|body| {
                let before = book.created;
                let _ = self.state.create(&mut book, body);
                book.created > before
            })
            .collect()
    }

    /// Fills only `units` of the next market order and cancels the rest.
    pub fn partial_fill_next(&self, units: u64) {
        *self.state.partial_next.lock().unwrap() = Some(units);
    }

    /// Orders created so far (a refused or rejected one is not created).
    pub fn orders_created(&self) -> usize {
        self.state.book.lock().unwrap().created
    }

    /// The requests received so far, oldest first.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }
}
