//! The MarketData contract on: the simulated broker, and the Yahoo gateway against the fake
//! Yahoo server.

use std::sync::Arc;

use axia_domain::ManualClock;
use axia_simbroker::SimulatedBroker;
use axia_testkit::fake_yahoo::FakeYahoo;
use axia_testkit::market_data::Subject;
use axia_testkit::market_data_contract;
use axia_yahoo::{YahooConfig, YahooGateway};
use chrono::{DateTime, TimeZone, Utc};

/// Wednesday 2026-03-04 12:00 UTC: the FX market has been open all day.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

market_data_contract!(simulated_broker, || async {
    let broker = SimulatedBroker::new(42, Arc::new(ManualClock::new(now())));
    Subject::new(Arc::new(broker), "USDJPY".parse().unwrap(), now())
});

market_data_contract!(yahoo_on_fake_server, || async {
    let fake = FakeYahoo::start(42, now()).await;
    let config = YahooConfig::default()
        .base_url(fake.uri())
        .requests_per_second(1000.0);
    let gateway = YahooGateway::new(config, Arc::new(ManualClock::new(now()))).unwrap();
    Subject::new(Arc::new(gateway), "EURUSD".parse().unwrap(), now()).with_guard(fake)
});
