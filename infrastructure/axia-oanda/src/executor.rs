//! [`OandaExecutor`]: orders to OANDA v20 behind the [`OrderExecutor`] port, exactly once by
//! client order id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    ClientOrderId, Clock, Execution, ExecutionError, ExecutionOutcome, Fill, Order, OrderExecutor,
    OrderTerms, OrderType, Price, Quantity, Side, lock,
};
use axia_http::path_segment;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::OandaConfig;
use crate::http::{Http, SendError};

/// OANDA v20 orders behind the [`OrderExecutor`] port.
///
/// Exactly once by client order id, enforced here: OANDA refuses a repeated client id only
/// while the first order is pending, so a filled market order sent again would fill again.
/// `submit` first looks the client id up (`GET orders/@{id}`) and returns what it finds
/// without sending anything; only when OANDA has no such order does it POST (with the id in
/// `clientExtensions` and in `tradeClientExtensions`: OANDA refuses a second trade with the
/// client id of an open one, so a POST that arrives twice fills once), after noting the
/// account's last transaction id. Every execution carries the terms OANDA recorded
/// (instrument, units, type, price), so a reused client id is told apart from its order. A POST is never
/// retried: a lost answer (a timeout, a dropped connection, a 5xx) is an error whose outcome
/// is unknown, and the caller reconciles with [`lookup`](OrderExecutor::lookup) (the
/// process-order use case does). A lookup that finds nothing by client id falls back on the
/// transaction history since that POST (`transactions/sinceid`), for as long as this executor
/// lives. Reads are retried on
/// 429 (after `Retry-After`), 5xx and transport failures.
///
/// Outcomes: a fill (also a partial one: the quantity filled) is `Filled` with OANDA's
/// volume-weighted price; a 201 that cancels the order (`MARKET_HALTED`,
/// `INSUFFICIENT_MARGIN`, …) and a 400 with a reject transaction are `Rejected` with OANDA's
/// reason code; a resting limit or stop order is `Accepted`. 401 is
/// [`ExecutionError::Unauthorized`]. Market orders are FOK, limit and stop orders GTC.
#[derive(Clone)]
pub struct OandaExecutor {
    http: Http,
    account: String,
    clock: Arc<dyn Clock>,
    posts: Arc<AtomicU64>,
    /// Client id -> the account's last transaction id just before its POST: where the
    /// transaction history is searched when a lookup by client id finds nothing.
    sent: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for OandaExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OandaExecutor")
            .field("config", &self.http.config)
            .finish_non_exhaustive()
    }
}

/// An answer: its status and its body as JSON (`Null` when it was not JSON).
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<Duration>,
}

impl OandaExecutor {
    /// An executor on the config's account; `clock` stamps fills OANDA gives no time for.
    ///
    /// # Errors
    /// [`ExecutionError::Backend`] without an account id, or when the HTTP client cannot be
    /// built.
    pub fn new(config: OandaConfig, clock: impl Clock + 'static) -> Result<Self, ExecutionError> {
        let account = config.account_id.clone().ok_or_else(|| {
            ExecutionError::Backend("an OANDA executor needs an account id".into())
        })?;
        let http = Http::new(config).map_err(|e| ExecutionError::Backend(Box::new(e)))?;
        Ok(Self {
            http,
            account,
            clock: Arc::new(clock),
            posts: Arc::new(AtomicU64::new(0)),
            sent: Arc::default(),
        })
    }

    /// Orders POSTed since the executor was built.
    #[must_use]
    pub fn posts(&self) -> u64 {
        self.posts.load(Ordering::Relaxed)
    }

    fn path(&self, tail: &str) -> String {
        format!("accounts/{}/{tail}", path_segment(&self.account))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, ExecutionError> {
        let reply = self.http.send(request).await.map_err(|e| match e {
            SendError::Timeout(d) => ExecutionError::Timeout(d),
            SendError::Transport(t) => ExecutionError::Unavailable(t),
        })?;
        let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        if reply.status == 401 || reply.status == 403 {
            return Err(ExecutionError::Unauthorized(format!(
                "OANDA answered {}: {}",
                reply.status,
                message(&body)
            )));
        }
        Ok(Answer {
            status: reply.status,
            body,
            retry_after: reply.retry_after,
        })
    }

    /// A GET, retried on 429, 5xx and transport failures.
    async fn get(&self, tail: &str) -> Result<Answer, ExecutionError> {
        let mut attempt = 0;
        loop {
            let result = self.send(self.http.get(&self.path(tail))).await;
            let retry = match &result {
                Ok(a) if a.status == 429 || a.status >= 500 => Some(a.retry_after),
                Err(ExecutionError::Unavailable(_) | ExecutionError::Timeout(_)) => Some(None),
                _ => None,
            };
            match retry {
                Some(after) if attempt < self.http.config.max_retries => {
                    let wait = after.unwrap_or_else(|| self.http.config.backoff.delay(attempt));
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Some(_) => {
                    return match result {
                        Ok(a) => Err(ExecutionError::Unavailable(format!(
                            "OANDA answered {}: {}",
                            a.status,
                            message(&a.body)
                        ))),
                        Err(e) => Err(e),
                    };
                }
                None => return result,
            }
        }
    }

    /// The execution a transaction records: a fill, or the cancel's reason.
    async fn transaction(&self, id: &str) -> Result<Value, ExecutionError> {
        let a = self
            .get(&format!("transactions/{}", path_segment(id)))
            .await?;
        if a.status == 200 {
            Ok(at(&a.body, &["transaction"]).clone())
        } else {
            Err(ExecutionError::Backend(
                format!(
                    "transaction {id}: OANDA answered {}: {}",
                    a.status,
                    message(&a.body)
                )
                .into(),
            ))
        }
    }

    fn fill(&self, tx: &Value, order_id: &str) -> Result<Fill, ExecutionError> {
        let units = decimal(at(tx, &["units"]))
            .map(|u| u.abs())
            .and_then(|u| Quantity::new(u).ok())
            .ok_or_else(|| invalid("a fill without units", tx))?;
        let price = [
            at(tx, &["fullVWAP"]),
            at(tx, &["tradeOpened", "price"]),
            at(tx, &["price"]),
        ]
        .into_iter()
        .find_map(decimal)
        .and_then(|p| Price::new(p).ok())
        .ok_or_else(|| invalid("a fill without a price", tx))?;
        let filled_at = at(tx, &["time"])
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(|| self.clock.now(), |t| t.with_timezone(&Utc));
        Ok(Fill {
            broker_order_id: at(tx, &["orderID"]).as_str().unwrap_or(order_id).to_owned(),
            quantity: units,
            price,
            filled_at,
        })
    }

    /// What a 201 to the POST says happened.
    fn created(&self, body: &Value) -> Result<ExecutionOutcome, ExecutionError> {
        let order_id = at(body, &["orderCreateTransaction", "id"])
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let fill = at(body, &["orderFillTransaction"]);
        if fill.is_object() {
            return self.fill(fill, &order_id).map(ExecutionOutcome::Filled);
        }
        let cancel = at(body, &["orderCancelTransaction"]);
        if cancel.is_object() {
            return Ok(rejected(
                at(cancel, &["reason"]).as_str(),
                "cancelled by OANDA",
            ));
        }
        if order_id.is_empty() {
            return Err(invalid("a 201 without an order", body));
        }
        Ok(ExecutionOutcome::Accepted {
            broker_order_id: order_id,
        })
    }

    fn body(&self, order: &Order) -> Result<Value, ExecutionError> {
        let instrument = self.http.config.name_of(order.symbol()).ok_or_else(|| {
            ExecutionError::Backend(format!("no OANDA instrument for {}", order.symbol()).into())
        })?;
        let units = order.quantity().get().normalize();
        let units = match order.side() {
            Side::Buy => units,
            Side::Sell => -units,
        };
        let (kind, price, tif) = match order.order_type() {
            OrderType::Market => ("MARKET", None, "FOK"),
            OrderType::Limit { price } => ("LIMIT", Some(price), "GTC"),
            OrderType::Stop { price } => ("STOP", Some(price), "GTC"),
        };
        let mut o = serde_json::Map::new();
        o.insert("type".into(), json!(kind));
        o.insert("instrument".into(), json!(instrument));
        o.insert("units".into(), json!(units.to_string()));
        o.insert("timeInForce".into(), json!(tif));
        o.insert("positionFill".into(), json!("DEFAULT"));
        o.insert(
            "clientExtensions".into(),
            json!({"id": order.client_order_id().as_str(), "tag": "axia"}),
        );
        // The trade it opens carries the id too: OANDA refuses a second trade with the client
        // id of an open one, so a POST that arrives twice (a lost answer, then a second
        // processor's submission) cannot fill twice.
        o.insert(
            "tradeClientExtensions".into(),
            json!({"id": order.client_order_id().as_str(), "tag": "axia"}),
        );
        if let Some(p) = price {
            o.insert("price".into(), json!(p.get().normalize().to_string()));
        }
        Ok(json!({ "order": o }))
    }
}

impl OandaExecutor {
    /// The account's last transaction id (`GET accounts/{id}/summary`).
    async fn last_transaction_id(&self) -> Result<String, ExecutionError> {
        let a = self.get("summary").await?;
        match (a.status, at(&a.body, &["lastTransactionID"]).as_str()) {
            (200, Some(id)) => Ok(id.to_owned()),
            (s, _) => Err(ExecutionError::Unavailable(format!(
                "OANDA account summary: {s}: {}",
                message(&a.body)
            ))),
        }
    }

    /// What the transactions since this executor's POST of `cid` say: the order's creation,
    /// then its fill, cancel or reject. `None` when it sent nothing for `cid`, or nothing of
    /// it is in the history.
    async fn in_history(&self, cid: &ClientOrderId) -> Result<Option<Execution>, ExecutionError> {
        let Some(since) = lock(&self.sent).get(cid.as_str()).cloned() else {
            return Ok(None);
        };
        let a = self
            .get(&format!("transactions/sinceid?id={}", path_segment(&since)))
            .await?;
        if a.status != 200 {
            return Err(ExecutionError::Unavailable(format!(
                "OANDA transactions since {since}: {}: {}",
                a.status,
                message(&a.body)
            )));
        }
        let txs = at(&a.body, &["transactions"])
            .as_array()
            .cloned()
            .unwrap_or_default();
        let of_cid = |t: &&Value| {
            at(t, &["clientExtensions", "id"]).as_str() == Some(cid.as_str())
                || at(t, &["clientOrderID"]).as_str() == Some(cid.as_str())
        };
        let kind = |t: &Value| at(t, &["type"]).as_str().unwrap_or_default().to_owned();
        // A refusal for a repeated client id is not this order's outcome: the first one is.
        let repeated = |t: &&Value| {
            matches!(
                at(t, &["rejectReason"]).as_str(),
                Some("CLIENT_ORDER_ID_ALREADY_EXISTS" | "CLIENT_TRADE_ID_ALREADY_EXISTS")
            )
        };
        if let Some(reject) = txs
            .iter()
            .filter(of_cid)
            .filter(|t| !repeated(t))
            .find(|t| kind(t).ends_with("_REJECT"))
        {
            return Ok(Some(Execution {
                client_order_id: cid.clone(),
                outcome: rejected(at(reject, &["rejectReason"]).as_str(), "rejected by OANDA"),
                order: self.terms_of(reject),
            }));
        }
        let Some(create) = txs
            .iter()
            .filter(of_cid)
            .find(|t| kind(t).ends_with("_ORDER"))
        else {
            return Ok(None);
        };
        let order_id = at(create, &["id"]).as_str().unwrap_or_default().to_owned();
        let of_order = |t: &&Value| at(t, &["orderID"]).as_str() == Some(order_id.as_str());
        let outcome = if let Some(fill) = txs
            .iter()
            .filter(of_order)
            .find(|t| kind(t) == "ORDER_FILL")
        {
            ExecutionOutcome::Filled(self.fill(fill, &order_id)?)
        } else if let Some(cancel) = txs
            .iter()
            .filter(of_order)
            .find(|t| kind(t) == "ORDER_CANCEL")
        {
            rejected(at(cancel, &["reason"]).as_str(), "cancelled by OANDA")
        } else {
            ExecutionOutcome::Accepted {
                broker_order_id: order_id,
            }
        };
        Ok(Some(Execution {
            client_order_id: cid.clone(),
            outcome,
            order: self.terms_of(create),
        }))
    }
}

#[async_trait]
impl OrderExecutor for OandaExecutor {
    async fn submit(&self, order: &Order) -> Result<Execution, ExecutionError> {
        let cid = order.client_order_id();
        if let Some(existing) = self.lookup(cid).await? {
            tracing::info!(client_order_id = %cid, "OANDA already has this order; not sending it again");
            return Ok(existing);
        }
        let body = self.body(order)?;
        let before = self.last_transaction_id().await?;
        lock(&self.sent).insert(cid.as_str().to_owned(), before);
        self.posts.fetch_add(1, Ordering::Relaxed);
        // Never retried: a lost answer leaves the outcome to `lookup`.
        let a = self
            .send(self.http.post(&self.path("orders")).json(&body))
            .await?;
        let outcome = match a.status {
            201 | 200 => self.created(&a.body)?,
            400 | 404 => {
                let code = at(&a.body, &["errorCode"])
                    .as_str()
                    .or_else(|| at(&a.body, &["orderRejectTransaction", "rejectReason"]).as_str());
                if matches!(
                    code,
                    Some("CLIENT_ORDER_ID_ALREADY_EXISTS" | "CLIENT_TRADE_ID_ALREADY_EXISTS")
                ) {
                    return self.lookup(cid).await?.ok_or_else(|| {
                        ExecutionError::Backend(
                            "OANDA says the client id exists but has no such order".into(),
                        )
                    });
                }
                rejected(code, &message(&a.body))
            }
            429 => {
                return Err(ExecutionError::Unavailable(format!(
                    "OANDA rate limited the order (429{})",
                    a.retry_after
                        .map(|d| format!(", retry after {} s", d.as_secs()))
                        .unwrap_or_default()
                )));
            }
            s => {
                return Err(ExecutionError::Unavailable(format!(
                    "OANDA answered {s}: {}",
                    message(&a.body)
                )));
            }
        };
        Ok(Execution::of(order, outcome))
    }

    async fn lookup(&self, cid: &ClientOrderId) -> Result<Option<Execution>, ExecutionError> {
        let a = self
            .get(&format!("orders/%40{}", path_segment(cid.as_str())))
            .await?;
        match a.status {
            // Not (yet) visible by client id: if this executor sent it, the transaction
            // history since then says what became of it.
            404 => return self.in_history(cid).await,
            200 => {}
            s => {
                return Err(ExecutionError::Unavailable(format!(
                    "OANDA answered {s}: {}",
                    message(&a.body)
                )));
            }
        }
        let order = at(&a.body, &["order"]);
        let order_id = at(order, &["id"]).as_str().unwrap_or_default().to_owned();
        let filling = at(order, &["fillingTransactionID"]).as_str();
        let outcome = match (at(order, &["state"]).as_str(), filling) {
            (_, Some(tx)) => {
                let tx = self.transaction(tx).await?;
                ExecutionOutcome::Filled(self.fill(&tx, &order_id)?)
            }
            (Some("CANCELLED"), None) => {
                let reason = match at(order, &["cancellingTransactionID"]).as_str() {
                    Some(tx) => at(&self.transaction(tx).await?, &["reason"])
                        .as_str()
                        .map(str::to_owned),
                    None => None,
                };
                rejected(reason.as_deref(), "cancelled by OANDA")
            }
            (Some("PENDING" | "TRIGGERED"), None) => ExecutionOutcome::Accepted {
                broker_order_id: order_id,
            },
            _ => return Err(invalid("an order in an unknown state", order)),
        };
        Ok(Some(Execution {
            client_order_id: cid.clone(),
            outcome,
            order: self.terms_of(order),
        }))
    }
}

impl OandaExecutor {
    /// The terms of an order as OANDA recorded it (an order, or its creating transaction):
    /// instrument, units (their sign the side), type and price. `None` for a type axia does
    /// not send.
    fn terms_of(&self, o: &Value) -> Option<OrderTerms> {
        let symbol = self
            .http
            .config
            .symbol_of(at(o, &["instrument"]).as_str()?)?;
        let units = decimal(at(o, &["units"]))?;
        let side = if units.is_sign_negative() {
            Side::Sell
        } else {
            Side::Buy
        };
        let quantity = Quantity::new(units.abs()).ok()?;
        let price = || decimal(at(o, &["price"])).and_then(|p| Price::new(p).ok());
        let kind = at(o, &["type"]).as_str()?;
        let order_type = match kind.strip_suffix("_ORDER").unwrap_or(kind) {
            "MARKET" => OrderType::Market,
            "LIMIT" => OrderType::Limit { price: price()? },
            "STOP" => OrderType::Stop { price: price()? },
            _ => return None,
        };
        Some(OrderTerms {
            symbol,
            side,
            quantity,
            order_type,
        })
    }
}

fn rejected(code: Option<&str>, detail: &str) -> ExecutionOutcome {
    ExecutionOutcome::Rejected {
        code: code.unwrap_or("REJECTED").to_owned(),
        detail: detail.to_owned(),
    }
}

fn invalid(what: &str, v: &Value) -> ExecutionError {
    let text: String = v.to_string().chars().take(200).collect();
    ExecutionError::Backend(format!("OANDA answered {what}: {text}").into())
}

/// `errorMessage` of a body, or a placeholder.
fn message(v: &Value) -> String {
    at(v, &["errorMessage"])
        .as_str()
        .map_or_else(|| "no message".to_owned(), str::to_owned)
}

/// A decimal string (OANDA's prices and units).
fn decimal(v: &Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse::<Decimal>().ok())
}

/// The value at `path` in `v`, or `Null`: reading a body never panics.
fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .unwrap_or(&Value::Null)
}
