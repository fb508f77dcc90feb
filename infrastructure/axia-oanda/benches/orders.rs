//! Order round trip over a local fake (release: `cargo bench -p axia-oanda --bench orders`):
//! what `OandaExecutor::submit` adds over the server's own latency. A submit is three requests
//! (the lookup by client id, 404; the account's last transaction id, kept for a lookup that
//! must fall back on the transaction history; the POST, 201 with a fill), so the overhead is
//! its time less three bare round trips of the same client to the same server. Prints p50 and
//! p99.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::time::Instant;

use axia_domain::{
    ClientOrderId, ManualClock, Order, OrderExecutor, OrderId, OrderType, Quantity, Side,
};
use axia_oanda::{OandaConfig, OandaExecutor};
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/accounts/[^/]+/orders/.+$"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errorCode": "ORDER_DOESNT_EXIST", "errorMessage": "The Order specified does not exist"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/accounts/[^/]+/summary$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"account": {"id": "101-1", "lastTransactionID": "12"}, "lastTransactionID": "12"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/v3/accounts/[^/]+/orders$"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "orderCreateTransaction": {"id": "13", "type": "MARKET_ORDER", "instrument": "USD_JPY", "units": "1000"},
            "orderFillTransaction": {"id": "14", "type": "ORDER_FILL", "orderID": "13", "units": "1000",
                "price": "150.123", "fullVWAP": "150.123", "time": "2026-03-04T12:00:00.000000000Z",
                "tradeOpened": {"tradeID": "14", "units": "1000", "price": "150.123"}},
            "lastTransactionID": "14"})))
        .mount(&server)
        .await;
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let executor = OandaExecutor::new(
        OandaConfig::new("bench-token")
            .base_url(server.uri())
            .account_id("101-1")
            .requests_per_second(1e6),
        ManualClock::new(now),
    )
    .unwrap();
    let bare = reqwest::Client::new();
    let url = format!("{}/v3/accounts/101-1/orders/%40none", server.uri());
    let n = 2_000;
    for round in 0..2 {
        let mut base = Vec::with_capacity(n);
        let mut submit = Vec::with_capacity(n);
        let mut lookup = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            let _ = bare
                .get(&url)
                .bearer_auth("bench-token")
                .send()
                .await
                .unwrap()
                .bytes()
                .await;
            base.push(t.elapsed().as_secs_f64() * 1e6);
            let order = Order::new(
                OrderId::new(&format!("o-{round}-{i}")).unwrap(),
                ClientOrderId::new(&format!("c-{round}-{i}")).unwrap(),
                "USDJPY".parse().unwrap(),
                Side::Buy,
                OrderType::Market,
                Quantity::new(Decimal::from(1000)).unwrap(),
                now,
            );
            let t = Instant::now();
            executor.lookup(order.client_order_id()).await.unwrap();
            lookup.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            executor.submit(&order).await.unwrap();
            submit.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let (b50, b99) = (quantile(&mut base, 0.5), quantile(&mut base, 0.99));
        let (s50, s99) = (quantile(&mut submit, 0.5), quantile(&mut submit, 0.99));
        let l50 = quantile(&mut lookup, 0.5);
        println!(
            "round {round}: bare round trip p50 {b50:.0} us, p99 {b99:.0} us; lookup p50 {l50:.0} us; submit (lookup, summary, POST) p50 {s50:.0} us, p99 {s99:.0} us; overhead over three round trips p50 {:.0} us",
            s50 - 3.0 * b50
        );
    }
}
