use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::*;
use crate::Symbol;
use chrono::TimeZone;

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0).unwrap()
}

fn order(qty: &str, ty: OrderType) -> Order {
    Order::new(
        "o-1".parse().unwrap(),
        "c-1".parse().unwrap(),
        "USDJPY".parse().unwrap(),
        Side::Buy,
        ty,
        qty.parse().unwrap(),
        at(),
    )
}

fn fill() -> Fill {
    Fill {
        broker_order_id: "b-1".into(),
        quantity: "1000".parse().unwrap(),
        price: "150.1".parse().unwrap(),
        filled_at: at(),
    }
}

#[test]
fn status_machine_allows_exactly_the_legal_transitions() {
    use OrderStatus::*;
    let all = [Received, Submitted, Filled, Rejected, Failed, Cancelled];
    let legal = [
        (Received, Submitted),
        (Received, Rejected),
        (Submitted, Filled),
        (Submitted, Rejected),
        (Submitted, Failed),
        (Submitted, Cancelled),
    ];
    for from in all {
        for to in all {
            assert_eq!(
                from.can_become(to),
                legal.contains(&(from, to)),
                "{from} -> {to}"
            );
        }
        assert_eq!(from.is_final(), !matches!(from, Received | Submitted));
        assert_eq!(from.as_str().parse::<OrderStatus>().unwrap(), from);
    }
}

#[test]
fn order_methods_enforce_transitions() {
    let mut o = order("1000", OrderType::Market);
    let later = at() + chrono::Duration::seconds(1);
    assert!(
        o.mark_filled(fill(), later, "t").is_err(),
        "received cannot fill"
    );
    assert!(o.mark_failed("x", later, "t").is_err());
    assert!(o.mark_cancelled(later, "t", "x").is_err());
    assert_eq!(o.status(), OrderStatus::Received);
    o.mark_submitted(later, "t").unwrap();
    assert_eq!(o.updated_at(), later);
    let err = o.mark_submitted(later, "t").unwrap_err();
    assert_eq!(
        (err.from, err.to),
        (OrderStatus::Submitted, OrderStatus::Submitted)
    );
    o.mark_filled(fill(), later, "t").unwrap();
    assert_eq!(o.fill(), Some(&fill()));
    for r in [
        o.clone().mark_rejected(
            Rejection::new(RejectionReason::BrokerRejected, "x"),
            later,
            "t",
        ),
        o.clone().mark_cancelled(later, "t", "x"),
        o.clone().mark_failed("x", later, "t"),
    ] {
        assert!(r.is_err(), "filled is final");
    }
    let mut r = order("1", OrderType::Market);
    r.mark_rejected(
        Rejection::new(RejectionReason::KillSwitchActive, "halted"),
        later,
        "t",
    )
    .unwrap();
    assert_eq!(
        r.rejection().map(|x| x.reason.code()),
        Some("KILL_SWITCH_ACTIVE")
    );
    let mut f = order("1", OrderType::Market);
    f.mark_submitted(later, "p-1").unwrap();
    f.mark_failed("broker timeout", later, "p-2").unwrap();
    assert_eq!(f.failure(), Some("broker timeout"));
    let h: Vec<_> = f
        .history()
        .iter()
        .map(|t| (t.from, t.to, t.by.as_str(), t.reason.as_str()))
        .collect();
    assert_eq!(
        h,
        [
            (None, OrderStatus::Received, "", "received"),
            (
                Some(OrderStatus::Received),
                OrderStatus::Submitted,
                "p-1",
                "sent to the executor"
            ),
            (
                Some(OrderStatus::Submitted),
                OrderStatus::Failed,
                "p-2",
                "broker timeout"
            ),
        ]
    );
    // A refused change leaves no trace.
    assert!(f.mark_submitted(later, "p-3").is_err());
    assert_eq!(f.history().len(), 3);
    // Records stored before the history existed still read.
    let mut old = serde_json::to_value(&f).unwrap();
    old.as_object_mut().unwrap().remove("history");
    let back: Order = serde_json::from_value(old).unwrap();
    assert!(back.history().is_empty());
}

#[test]
fn safe_defaults_follow_the_instrument_not_the_spelling() {
    let limits = |s: &str| OrderLimits::safe_default_for(&s.parse().unwrap());
    let q = |n: i64| Quantity::new(Decimal::from(n)).ok();
    for (s, qty, notional) in [
        ("USDJPY", 10_000_000, 2_000_000_000),
        ("USDJPY=X", 10_000_000, 2_000_000_000),
        ("GBP_JPY", 10_000_000, 2_000_000_000),
        ("EURUSD", 10_000_000, 20_000_000),
        ("EURUSD=X", 10_000_000, 20_000_000),
        ("BTC-USD", 10_000_000, 20_000_000),
        ("7203.T", 1_000_000, 3_000_000_000_i64),
        ("AAPL", 1_000_000, 20_000_000),
        ("ES=F", 1_000, 20_000_000),
    ] {
        let l = limits(s);
        assert_eq!(l.max_quantity, q(qty), "{s}");
        assert_eq!(l.max_notional, Some(Decimal::from(notional)), "{s}");
    }
    // The validator's own instruments decide: an override to a yen-quoted pair.
    let mut r = crate::InstrumentRegistry::builtin();
    let s: Symbol = "ABCD".parse().unwrap();
    r.override_with(
        &s,
        &serde_json::from_str(
            r#"{"asset_class": {"kind": "fx_pair", "base": "ABC", "quote": "JPY"}}"#,
        )
        .unwrap(),
    );
    let v =
        OrderValidator::with_safe_defaults(OrderLimits::new()).instruments(std::sync::Arc::new(r));
    assert_eq!(
        v.limits_for(&s).max_notional,
        Some(Decimal::from(2_000_000_000))
    );
}

#[test]
fn safe_defaults_refuse_absurd_orders_and_configuration_overrides_them() {
    let v = OrderValidator::with_safe_defaults(OrderLimits::new());
    let reference = Some("150".parse().unwrap());
    let absurd = order("79000000000000000000000000000", OrderType::Market);
    assert_eq!(
        v.validate(&absurd, reference).unwrap_err().reason,
        RejectionReason::QuantityOutOfRange
    );
    assert!(
        v.validate(&order("1000000", OrderType::Market), reference)
            .is_ok()
    );
    // 10 M USDJPY at 150 is 1.5 bn JPY: inside; at 250 it is not.
    assert!(
        v.validate(&order("10000000", OrderType::Market), reference)
            .is_ok()
    );
    assert_eq!(
        v.validate(
            &order("10000000", OrderType::Market),
            Some("250".parse().unwrap())
        )
        .unwrap_err()
        .reason,
        RejectionReason::NotionalLimitExceeded
    );
    // A limit far from the market.
    let far = order(
        "1000",
        OrderType::Limit {
            price: "200".parse().unwrap(),
        },
    );
    assert_eq!(
        v.validate(&far, reference).unwrap_err().reason,
        RejectionReason::PriceInvalid
    );
    // Configured limits win, for every symbol or for one.
    let v = OrderValidator::with_safe_defaults(
        OrderLimits::new().quantity_range("1".parse().unwrap(), "100".parse().unwrap()),
    );
    assert!(
        v.validate(&order("1000", OrderType::Market), reference)
            .is_err()
    );
    let v = v.symbol_limits(
        "USDJPY".parse().unwrap(),
        OrderLimits::new().quantity_range("1".parse().unwrap(), "5000".parse().unwrap()),
    );
    assert!(
        v.validate(&order("1000", OrderType::Market), reference)
            .is_ok()
    );
    assert_eq!(
        v.limits_for(&"AAPL".parse().unwrap()).max_quantity,
        Some("100".parse().unwrap())
    );
    // Without safe defaults nothing is implied.
    let bare = OrderValidator::new(OrderLimits::new());
    assert!(bare.validate(&absurd, None).is_ok());
}

#[test]
fn prices_are_checked_against_the_tick_and_quantities_against_the_lot_step() {
    let v = OrderValidator::with_safe_defaults(OrderLimits::new());
    let reference = Some("150".parse().unwrap());
    let limit = |qty: &str, p: &str| {
        order(
            qty,
            OrderType::Limit {
                price: p.parse().unwrap(),
            },
        )
    };
    // USDJPY's tick is 0.001 and its lot one unit.
    assert!(v.validate(&limit("1000", "150.123"), reference).is_ok());
    assert!(v.validate(&limit("1000", "150.1230"), reference).is_ok());
    let off_tick = v
        .validate(&limit("1000", "150.1234"), reference)
        .unwrap_err();
    assert_eq!(off_tick.reason, RejectionReason::PriceInvalid);
    assert!(
        off_tick.detail.contains("tick of 0.001"),
        "{}",
        off_tick.detail
    );
    let part_lot = v
        .validate(&limit("1000.5", "150.123"), reference)
        .unwrap_err();
    assert_eq!(part_lot.reason, RejectionReason::QuantityStepInvalid);
    assert!(
        part_lot.detail.contains("lot step 1"),
        "{}",
        part_lot.detail
    );
    // A registry from configuration: a coarser tick and 1 000-unit lots.
    let mut r = crate::InstrumentRegistry::builtin();
    r.override_with(
        &"USDJPY".parse().unwrap(),
        &crate::InstrumentOverride {
            tick: Some("0.01".parse().unwrap()),
            lot_step: Some("1000".parse().unwrap()),
            ..Default::default()
        },
    );
    let v = v.instruments(std::sync::Arc::new(r));
    assert_eq!(
        v.validate(&limit("1000", "150.123"), reference)
            .unwrap_err()
            .reason,
        RejectionReason::PriceInvalid
    );
    assert_eq!(
        v.validate(&limit("1500", "150.12"), reference)
            .unwrap_err()
            .reason,
        RejectionReason::QuantityStepInvalid
    );
    assert!(v.validate(&limit("2000", "150.12"), reference).is_ok());
    // Market orders have no price to check; a bare validator checks no instrument.
    assert!(
        v.validate(&order("3000", OrderType::Market), reference)
            .is_ok()
    );
    let bare = OrderValidator::new(OrderLimits::new());
    assert!(bare.validate(&limit("0.5", "150.1234"), None).is_ok());
}

fn order_of(symbol: &str, ty: OrderType, at: DateTime<Utc>) -> Order {
    Order::new(
        "o-9".parse().unwrap(),
        "c-9".parse().unwrap(),
        symbol.parse().unwrap(),
        Side::Buy,
        ty,
        "10".parse().unwrap(),
        at,
    )
}

#[test]
fn only_registered_instruments_trade_unless_allowed() {
    let v = OrderValidator::with_safe_defaults(OrderLimits::new());
    let noon = Utc.with_ymd_and_hms(2026, 11, 17, 16, 0, 0).unwrap();
    let price = Some("150".parse().unwrap());
    for unknown in ["ZZZQX", "QQQQQQ", "XYZ9.T"] {
        let e = v
            .validate_at(&order_of(unknown, OrderType::Market, noon), price, noon)
            .unwrap_err();
        assert_eq!(e.reason, RejectionReason::UnknownSymbol, "{unknown}");
        assert_eq!(e.reason.code(), "UNKNOWN_SYMBOL");
        assert!(e.detail.starts_with(unknown), "{}", e.detail);
    }
    assert!(
        v.validate_at(&order_of("USDJPY", OrderType::Market, noon), price, noon)
            .is_ok()
    );
    // Named in the allowed list, or allowed by the operator: it trades on its defaults.
    let named = OrderValidator::with_safe_defaults(
        OrderLimits::new().allowed_symbols(["ZZZQX".parse().unwrap()]),
    );
    let o = order_of("ZZZQX", OrderType::Market, noon);
    assert!(named.validate_at(&o, price, noon).is_ok());
    assert!(
        v.clone()
            .unknown_symbols(true)
            .validate_at(&o, price, noon)
            .is_ok()
    );
}

#[test]
fn market_orders_wait_for_the_market_to_open() {
    let v = OrderValidator::with_safe_defaults(OrderLimits::new());
    let price = Some("150".parse().unwrap());
    let registry = crate::InstrumentRegistry::shared_builtin();
    // Every hour of a week that holds a weekend, for a New York stock, a Tokyo stock and
    // an FX pair: a market order is refused exactly when the instrument's calendar is
    // closed; a limit order never for that.
    let start = Utc.with_ymd_and_hms(2026, 11, 13, 0, 30, 0).unwrap();
    for symbol in ["AAPL", "7203.T", "USDJPY"] {
        let calendar = registry.resolve(&symbol.parse().unwrap()).calendar();
        for h in 0..(24 * 5) {
            let t = start + chrono::Duration::hours(h);
            let market = v.validate_at(&order_of(symbol, OrderType::Market, t), price, t);
            if calendar.is_open(t) {
                assert!(market.is_ok(), "{symbol} at {t}: {market:?}");
            } else {
                let e = market.unwrap_err();
                assert_eq!(e.reason, RejectionReason::MarketClosed, "{symbol} at {t}");
                assert!(e.detail.contains("it opens at"), "{}", e.detail);
            }
            let limit = OrderType::Limit {
                price: "150".parse().unwrap(),
            };
            let r = v.validate_at(&order_of(symbol, limit, t), price, t);
            assert!(
                r.as_ref()
                    .map_or_else(|e| e.reason != RejectionReason::MarketClosed, |()| true),
                "{symbol} limit at {t}: {r:?}"
            );
        }
    }
    // The operator's choice: market orders go out while closed.
    let sunday = Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap();
    let o = order_of("USDJPY", OrderType::Market, sunday);
    assert!(v.validate_at(&o, price, sunday).is_err());
    assert!(
        v.clone()
            .market_orders_when_closed(true)
            .validate_at(&o, price, sunday)
            .is_ok()
    );
    // The instruments are counted in the validator's Debug, not listed.
    assert!(format!("{v:?}").len() < 600, "{v:?}");
}

#[test]
fn ids_and_values_are_validated() {
    assert!(OrderId::new("").is_err());
    assert!(OrderId::new("a b").is_err());
    assert!(OrderId::new(&"x".repeat(65)).is_err());
    assert!(ClientOrderId::new("abc-123_X").is_ok());
    assert!("0".parse::<Quantity>().is_err());
    assert!("-1".parse::<Quantity>().is_err());
    assert!(matches!(
        "abc".parse::<Price>(),
        Err(DecimalError::NotANumber { .. })
    ));
    let e = "7.9e28".parse::<Quantity>().unwrap_err();
    assert_eq!(e.to_string(), "quantity \"7.9e28\" is not a decimal number");
    // 1e30 written out in full is a number, out of range.
    let big = format!("1{}", "0".repeat(30));
    let e = big.parse::<Quantity>().unwrap_err();
    assert!(matches!(e, DecimalError::OutOfRange { .. }), "{e:?}");
    assert!(e.to_string().contains("is out of range"), "{e}");
    let fine = format!("0.{}1", "0".repeat(29));
    assert!(matches!(
        fine.parse::<Price>(),
        Err(DecimalError::OutOfRange { .. })
    ));
    assert!(matches!(
        "-1".parse::<Quantity>(),
        Err(DecimalError::NotPositive(_))
    ));
    assert_eq!("0.01".parse::<Quantity>().unwrap().get(), dec("0.01"));
    let json = serde_json::to_string(&order(
        "10",
        OrderType::Limit {
            price: "150.25".parse().unwrap(),
        },
    ))
    .unwrap();
    let back: Order = serde_json::from_str(&json).unwrap();
    assert_eq!(back.order_type().price(), Some("150.25".parse().unwrap()));
    assert!(serde_json::from_str::<Quantity>("\"0\"").is_err());
}

#[test]
fn codes_are_stable() {
    use RejectionReason::*;
    let codes: Vec<_> = [
        KillSwitchActive,
        KillSwitchUnavailable,
        SymbolNotAllowed,
        QuantityOutOfRange,
        QuantityStepInvalid,
        NotionalLimitExceeded,
        PriceInvalid,
        InvalidMessage,
        BrokerRejected,
        UnknownSymbol,
        MarketClosed,
        DuplicateClientOrderId,
    ]
    .iter()
    .map(|r| r.code())
    .collect();
    assert_eq!(
        codes,
        [
            "KILL_SWITCH_ACTIVE",
            "KILL_SWITCH_UNAVAILABLE",
            "SYMBOL_NOT_ALLOWED",
            "QUANTITY_OUT_OF_RANGE",
            "QUANTITY_STEP_INVALID",
            "NOTIONAL_LIMIT_EXCEEDED",
            "PRICE_INVALID",
            "INVALID_MESSAGE",
            "BROKER_REJECTED",
            "UNKNOWN_SYMBOL",
            "MARKET_CLOSED",
            "DUPLICATE_CLIENT_ORDER_ID",
        ]
    );
    assert_eq!(
        serde_json::to_string(&KillSwitchActive).unwrap(),
        "\"KILL_SWITCH_ACTIVE\""
    );
    // Stored rejections read back: the serde name is the code.
    for r in [UnknownSymbol, MarketClosed, DuplicateClientOrderId] {
        assert_eq!(serde_json::to_value(r).unwrap(), r.code());
    }
}

#[test]
fn validator_checks_each_limit() {
    let q = |s: &str| s.parse::<Quantity>().unwrap();
    let p = |s: &str| s.parse::<Price>().unwrap();
    let v = OrderValidator::new(
        OrderLimits::new()
            .allowed_symbols(["USDJPY".parse().unwrap(), "EURUSD".parse().unwrap()])
            .quantity_range(q("1000"), q("1000000"))
            .quantity_step(q("1000"))
            .max_notional(dec("50000000"))
            .max_price_deviation(dec("0.05")),
    );
    let reason = |o: &Order, r: Option<Price>| v.validate(o, r).err().map(|e| e.reason);
    let reference = Some(p("150"));
    assert_eq!(reason(&order("10000", OrderType::Market), reference), None);
    let mut other = order("10000", OrderType::Market);
    other.symbol = "GBPJPY".parse().unwrap();
    assert_eq!(
        reason(&other, reference),
        Some(RejectionReason::SymbolNotAllowed)
    );
    assert_eq!(
        reason(&order("500", OrderType::Market), reference),
        Some(RejectionReason::QuantityOutOfRange)
    );
    assert_eq!(
        reason(&order("2000000", OrderType::Market), reference),
        Some(RejectionReason::QuantityOutOfRange)
    );
    assert_eq!(
        reason(&order("1500", OrderType::Market), reference),
        Some(RejectionReason::QuantityStepInvalid)
    );
    let far = OrderType::Limit { price: p("170") };
    assert_eq!(
        reason(&order("1000", far), reference),
        Some(RejectionReason::PriceInvalid)
    );
    let near = OrderType::Stop { price: p("151") };
    assert_eq!(reason(&order("1000", near), reference), None);
    assert_eq!(
        reason(&order("1000", near), None),
        Some(RejectionReason::PriceInvalid),
        "fails closed"
    );
    assert_eq!(
        reason(&order("1000", OrderType::Market), None),
        Some(RejectionReason::PriceInvalid),
        "fails closed"
    );
    assert_eq!(
        reason(&order("400000", OrderType::Market), reference),
        Some(RejectionReason::NotionalLimitExceeded)
    );
    // No limits: anything positive passes.
    assert!(
        OrderValidator::default()
            .validate(&order("0.5", OrderType::Market), None)
            .is_ok()
    );
}
