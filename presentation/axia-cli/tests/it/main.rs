//! `axia ohlcv` on the embedded defaults (offline: simulated broker, a local archive).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::process::{Command, Output};

fn axia(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_axia"))
        .args(args)
        .current_dir(dir)
        .env_remove("REDIS_URL")
        .env_remove("AXIA_ARCHIVE")
        .env_remove("AXIA_SOURCE")
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("axia-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn json_output_has_bars_and_metadata() {
    let dir = tmp("json");
    let out = axia(
        &[
            "ohlcv",
            "USDJPY",
            "H1",
            "--hours",
            "6",
            "--use-case",
            "trading",
            "--format",
            "json",
            "--at",
            "2026-03-04T12:00:00Z",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["bars"].as_array().unwrap().len(),
        7,
        "6 closed hours and the forming one"
    );
    assert_eq!(v["meta"]["served_by"], "broker");
    assert_eq!(v["meta"]["complete"], true);
    assert_eq!(v["meta"]["attempts"][0]["source"], "broker");
    assert_eq!(v["meta"]["attempts"][0]["outcome"]["kind"], "hit");
    assert_eq!(
        v["meta"]["forming"], "2026-03-04T12:00:00Z",
        "the forming bar is named"
    );
}

#[test]
fn chart_over_30_days_reads_the_archive_then_falls_back_and_csv_prints_every_bar() {
    let dir = tmp("csv");
    // The archive is empty and there is no Yahoo: chart > 24 h finds nothing, says so, exit 0.
    let out = axia(
        &[
            "ohlcv",
            "EURUSD",
            "D1",
            "--days",
            "30",
            "--format",
            "csv",
            "--at",
            "2026-03-04T12:00:00Z",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().next(),
        Some("time,open,high,low,close,volume,forming")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cold_archive") && stderr.contains("complete false"),
        "{stderr}"
    );
    // Trading over 30 days goes to the broker: every trading date of the window, five a week
    // (an FX pair's days end at the New York close).
    let out = axia(
        &[
            "ohlcv",
            "EURUSD",
            "D1",
            "--days",
            "30",
            "--use-case",
            "trading",
            "--format",
            "csv",
            "--at",
            "2026-03-04T12:00:00Z",
        ],
        &dir,
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    let rows = csv.lines().count() - 1;
    assert!((20..=23).contains(&rows), "{rows} daily bars");
    // Only today's bar is forming, and it says so.
    let forming: Vec<_> = csv.lines().skip(1).map(|l| l.ends_with(",true")).collect();
    assert_eq!(forming.iter().filter(|f| **f).count(), 1);
    assert_eq!(forming.last(), Some(&true));
}

#[test]
fn an_instrument_on_the_new_york_close_gets_five_daily_bars_a_week() {
    let dir = tmp("ny-close");
    std::fs::write(
        dir.join("axia.toml"),
        "[instruments.EURUSD]\nalignment = \"new_york_close\"\n",
    )
    .unwrap();
    let out = axia(
        &[
            "ohlcv",
            "EURUSD",
            "D1",
            "--days",
            "28",
            "--use-case",
            "trading",
            "--format",
            "json",
            "--at",
            "2026-03-20T12:00:00Z",
            "--config",
            "axia.toml",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["instrument"]["alignment"], "new_york_close");
    let times: Vec<String> = v["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["time"].as_str().unwrap().to_owned())
        .collect();
    // Four weeks of five daily bars, each opening at 17:00 New York: 22:00 UTC before the
    // change of 8 March, 21:00 UTC after it.
    assert!((19..=21).contains(&times.len()), "{times:?}");
    for t in &times {
        let t: chrono::DateTime<chrono::Utc> = t.parse().unwrap();
        let change: chrono::DateTime<chrono::Utc> = "2026-03-08T12:00:00Z".parse().unwrap();
        let expected = if t < change { 22 } else { 21 };
        assert_eq!(chrono::Timelike::hour(&t), expected, "{t}");
        assert_ne!(
            chrono::Datelike::weekday(&t),
            chrono::Weekday::Sat,
            "no Saturday bar"
        );
    }
}

#[test]
fn prices_print_at_each_instruments_precision() {
    let dir = tmp("precision");
    // Each when its market is open: Tokyo's afternoon session is 03:30-06:30 UTC. (symbol,
    // decimals printed, the tick's decimals): a coin's catch-all tick (0.00000001) prints the
    // decimals its prices use, the cents the simulator quotes it in.
    for (symbol, decimals, tick_decimals, at) in [
        ("USDJPY", 3, 3, "2026-03-04T15:00:00Z"),
        ("EURUSD", 5, 5, "2026-03-04T15:00:00Z"),
        ("AAPL", 2, 2, "2026-03-04T16:00:00Z"),
        ("7203.T", 1, 1, "2026-03-04T06:00:00Z"),
        ("BTC-USD", 2, 8, "2026-03-07T12:00:00Z"),
    ] {
        let out = axia(
            &[
                "ohlcv",
                symbol,
                "M5",
                "--hours",
                "3",
                "--use-case",
                "trading",
                "--format",
                "csv",
                "--at",
                at,
            ],
            &dir,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let csv = String::from_utf8_lossy(&out.stdout);
        let mut rows = 0;
        for line in csv.lines().skip(1) {
            rows += 1;
            for price in line.split(',').skip(1).take(4) {
                let (_, frac) = price.split_once('.').unwrap_or((price, ""));
                assert_eq!(frac.len(), decimals, "{symbol}: {price} in {line}");
            }
        }
        assert!(
            rows > 0,
            "{symbol}: no rows\n{csv}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = axia(
            &[
                "ohlcv",
                symbol,
                "M5",
                "--hours",
                "1",
                "--use-case",
                "trading",
                "--format",
                "json",
                "--at",
                at,
            ],
            &dir,
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["instrument"]["price_decimals"], tick_decimals, "{symbol}");
        // JSON numbers are the clean grid values: no float noise in their shortest form.
        for bar in v["bars"].as_array().unwrap() {
            for field in ["open", "high", "low", "close"] {
                let text = bar[field].to_string();
                let frac = text.split_once('.').map_or(0, |(_, f)| f.len());
                assert!(frac <= decimals, "{symbol} {field}: {text}");
            }
        }
    }
}

/// The damaged-archive scenario: one of the month's daily M1 files overwritten with 1 000
/// random bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_day_costs_only_its_bars_and_audit_repair_rebuilds_it() {
    use axia_domain::{OhlcvStore, TimeRange, Timeframe};
    use chrono::{Duration, TimeZone, Utc};
    let dir = tmp("damaged");
    let _ = std::fs::remove_dir_all(dir.join("axia-archive"));
    let at = Utc.with_ymd_and_hms(2026, 3, 30, 9, 0, 0).unwrap();
    let archive = axia_parquet::ParquetArchive::local(dir.join("axia-archive"));
    let sym = "USDJPY".parse().unwrap();
    let month = TimeRange::new(at - Duration::days(30), at).unwrap();
    // The simulated broker's bars, as the collector (seed 42, the default) archives them.
    let truth = axia_simbroker::generate(42, &sym, Timeframe::M1, month, at)
        .unwrap()
        .closed_at(at);
    archive.save(&truth).await.unwrap();
    let file = dir.join("axia-archive/ohlcv/symbol=USDJPY/timeframe=M1/2026-03-17.parquet");
    let noise: Vec<u8> = (0..1000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &noise).unwrap();
    let at_s = "2026-03-30T09:00:00Z";
    let analysis = [
        "ohlcv",
        "USDJPY",
        "M1",
        "--days",
        "30",
        "--use-case",
        "analysis",
        "--format",
        "json",
        "--at",
        at_s,
    ];

    let out = axia(&analysis, &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let day = TimeRange::new(
        Utc.with_ymd_and_hms(2026, 3, 17, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 18, 0, 0, 0).unwrap(),
    )
    .unwrap();
    assert_eq!(
        v["bars"].as_array().unwrap().len(),
        truth.len() - truth.slice(day).len(),
        "every other day"
    );
    assert_eq!(v["meta"]["complete"], false);

    let audit = [
        "audit",
        "USDJPY",
        "M1",
        "--from",
        "2026-02-28",
        "--to",
        "2026-03-29",
        "--at",
        at_s,
        "--json",
    ];
    let out = axia(&audit, &dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "not clean: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["damaged"][0]["object"]
            .as_str()
            .unwrap()
            .ends_with("2026-03-17.parquet")
    );

    let mut repair = audit.to_vec();
    repair.push("--repair");
    let out = axia(&repair, &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let moved = report["quarantined"][0]["object"].as_str().unwrap();
    assert_eq!(
        std::fs::read(moved).unwrap(),
        noise,
        "the damaged bytes are kept"
    );
    assert!(
        !moved.ends_with(".parquet")
            && moved.contains("axia-archive/quarantine/")
            && !moved.contains("axia-archive/ohlcv/"),
        "{moved}"
    );
    assert_eq!(
        archive.get(&sym, Timeframe::M1, month).await.unwrap(),
        truth,
        "rebuilt exactly"
    );

    let out = axia(&analysis, &dir);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bars"].as_array().unwrap().len(), truth.len());
    assert_eq!(v["meta"]["complete"], true);
}

#[test]
fn bad_arguments_are_one_clear_error() {
    let dir = tmp("bad");
    for args in [["ohlcv", "US/JPY", "H1"], ["ohlcv", "USDJPY", "H2"]] {
        let out = axia(&args, &dir);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn killswitch_halt_status_resume_round_trip_on_moto() {
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true"),
        "run through scripts/test.sh"
    );
    let dir = tmp("ks");
    let table = format!(
        "axia-cli-ks-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros()
    );
    let cfg = dir.join("ks.toml");
    std::fs::write(&cfg, format!("[orders]\nkill_switch_table = \"{table}\"\n")).unwrap();
    // --config after the subcommand's own arguments: accepted anywhere.
    let run = |args: &[&str]| {
        let mut all = vec!["killswitch"];
        all.extend_from_slice(args);
        all.extend(["--config", cfg.to_str().unwrap(), "--create-resources"]);
        axia(&all, &dir)
    };
    let out = run(&["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("global     ACTIVE  never set"));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("kill switch table: {table} (from --config)")),
        "the command says which table it uses"
    );
    // Without --config, the default table is named, and its absence is one clear error.
    let out = axia(&["killswitch", "status"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("kill switch table: axia-kill-switch (the default"),
        "{err}"
    );
    assert!(err.contains("does not exist"), "{err}");
    let out = run(&[
        "halt",
        "--symbol",
        "usdjpy",
        "--reason",
        "flash crash",
        "--actor",
        "ops",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "USDJPY: ACTIVE -> HALTED by ops (flash crash)"
    );
    let out = run(&["status", "--symbol", "USDJPY"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains("USDJPY     HALTED") && status.contains("flash crash"),
        "{status}"
    );
    let out = run(&[
        "resume", "--symbol", "USDJPY", "--reason", "ok", "--actor", "ops",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "USDJPY: HALTED -> ACTIVE by ops (ok)"
    );
    let out = run(&["halt", "--reason", " "]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn features_prints_every_standard_value_at_the_bar_of_at() {
    let dir = tmp("features");
    let run = || {
        let out = axia(
            &[
                "features",
                "EURUSD",
                "M1",
                "--at",
                "2026-03-04T12:30:20Z",
                "--format",
                "json",
            ],
            &dir,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let v = run();
    assert_eq!(v["bar_open"], "2026-03-04T12:30:00Z");
    assert_eq!(v["forming"], true, "the bar of --at has not closed at --at");
    let values = v["values"].as_object().unwrap();
    for name in [
        "sma_20",
        "ema_20",
        "rsi_14",
        "macd_12_26_9",
        "macd_signal_12_26_9",
        "macd_hist_12_26_9",
        "bb_upper_20_2",
        "bb_middle_20_2",
        "bb_lower_20_2",
        "atr_14",
    ] {
        assert!(values[name].is_f64(), "{name} in {values:?}");
    }
    let rsi = values["rsi_14"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&rsi));
    assert_eq!(run(), v, "recomputed the same, bit for bit");

    let table = axia(
        &["features", "EURUSD", "M1", "--at", "2026-03-04T12:31:00Z"],
        &dir,
    );
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with("EURUSD M1 bar opening 2026-03-04 12:31 UTC (forming"),
        "{text}"
    );
    let bad = axia(&["features", "EUR/USD", "M1"], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("symbol"));
    let stored = axia(&["features", "EURUSD", "M1", "--stored"], &dir);
    assert_eq!(stored.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stored.stderr).contains("REDIS_URL"));
}

/// `axia features` on an empty archive (a fresh machine) gives the values of the documented
/// definition: the indicators fed every bar from the bar's anchor, read here from the simulated
/// broker that the embedded defaults use (seed 42), independently of the provider. Also on a
/// weekend (Friday's last bar), for a W1 bar still forming days after it opened, for a stock and
/// a Tokyo stock; values that have not warmed up are null with their reason.
#[tokio::test]
async fn features_on_an_empty_archive_equal_the_full_documented_history() {
    use axia_domain::{ManualClock, MarketData as _, Symbol, TimeRange, Timeframe};
    use axia_features::{Anchoring, FeatureSet};
    use chrono::{DateTime, Utc};

    // (symbol, timeframe, --at, the bar it is of, forming, anchor bars: the default 500 but
    // for MN1, whose 500 months would have the simulator build 80 years of minutes).
    let cases = [
        (
            "EURUSD",
            "H1",
            "2026-11-13T21:30:00Z",
            "2026-11-13T21:00:00Z",
            true,
            500,
        ),
        // Sunday: Friday's last bar, closed.
        (
            "EURUSD",
            "H1",
            "2026-11-15T12:00:00Z",
            "2026-11-13T21:00:00Z",
            false,
            500,
        ),
        // Tuesday noon: the week of 11-09 is forming (38 h after its open, Sunday 17:00 New
        // York: an FX pair's weeks and months start at the New York close).
        (
            "USDJPY",
            "W1",
            "2026-11-10T12:00:00Z",
            "2026-11-08T22:00:00Z",
            true,
            500,
        ),
        // November opens at the New York close of October 31st (17:00 daylight time).
        (
            "USDJPY",
            "MN1",
            "2026-11-10T12:00:00Z",
            "2026-10-31T21:00:00Z",
            true,
            24,
        ),
        (
            "AAPL",
            "M5",
            "2026-11-15T12:00:00Z",
            "2026-11-13T20:55:00Z",
            false,
            500,
        ),
        // 13:20 in Tokyo, the afternoon session.
        (
            "7203.T",
            "M15",
            "2026-11-16T04:20:00Z",
            "2026-11-16T04:15:00Z",
            true,
            500,
        ),
    ];
    for (symbol, tf, at, bar_open, forming, anchor_bars) in cases {
        let dir = tmp(&format!("features-fresh-{}-{tf}", symbol.replace('.', "_")));
        let config = dir.join("axia.toml");
        std::fs::write(
            &config,
            format!("[features]\nanchor_bars = {anchor_bars}\n"),
        )
        .unwrap();
        let out = axia(
            &[
                "features",
                symbol,
                tf,
                "--at",
                at,
                "--format",
                "json",
                "--config",
                config.to_str().unwrap(),
            ],
            &dir,
        );
        assert!(
            out.status.success(),
            "{symbol} {tf} at {at}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["bar_open"], bar_open, "{symbol} {tf} at {at}");
        assert_eq!(v["forming"], forming, "{symbol} {tf} at {at}");

        // The reference: every bar from the anchor, straight from the simulator.
        let at: DateTime<Utc> = at.parse().unwrap();
        let open: DateTime<Utc> = bar_open.parse().unwrap();
        let sym: Symbol = symbol.parse().unwrap();
        let timeframe: Timeframe = tf.parse().unwrap();
        let anchor = Anchoring::new(timeframe, anchor_bars, chrono::Duration::days(7))
            .start_for(open.timestamp_millis());
        let anchor = DateTime::from_timestamp_millis(anchor).unwrap();
        let clock = std::sync::Arc::new(ManualClock::new(at));
        let sim = axia_simbroker::SimulatedBroker::new(42, clock);
        let range = TimeRange::new(anchor, open + chrono::Duration::milliseconds(1)).unwrap();
        let bars = sim.bars(&sym, timeframe, range).await.unwrap().frame;
        assert_eq!(bars.last_time(), Some(open));
        // A forming bar's values are those it would have if it closed as it is.
        let mut set = FeatureSet::standard();
        for b in bars.iter() {
            set.update(axia_indicators::Hlc {
                high: b.high(),
                low: b.low(),
                close: b.close(),
            })
            .unwrap();
        }
        let n = bars.len();
        let expected = set.values();
        let values = v["values"].as_object().unwrap();
        assert_eq!(
            values.len(),
            10,
            "every standard value, null or not: {values:?}"
        );
        for (name, value) in values {
            match expected.get(name) {
                Some(x) => assert_eq!(value.as_f64(), Some(*x), "{symbol} {tf} {name}: {n} bars"),
                None => {
                    assert!(value.is_null(), "{symbol} {tf} {name}");
                    let why = v["not_warmed_up"][name].as_str().unwrap();
                    assert!(why.starts_with("not warmed up: needs"), "{why}");
                }
            }
        }
        assert!(
            expected.keys().all(|k| values.contains_key(k)),
            "{symbol} {tf}: {expected:?}"
        );
    }
}

/// An unknown symbol is said at the default log level; csv is a format `features` prints.
#[test]
fn an_unknown_symbol_is_said_and_features_print_csv() {
    let dir = tmp("features-unknown");
    let out = axia(
        &[
            "features",
            "FOOBAR",
            "H1",
            "--at",
            "2026-11-13T18:00:00Z",
            "--format",
            "csv",
        ],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("FOOBAR is not a known instrument: using the defaults for a stock"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("name,value,reason"));
    assert_eq!(lines.count(), 10, "{stdout}");
}

/// `axia chart` offline: 30 days of H1 from the simulated broker (the archive is empty) drawn
/// into a PNG of the size asked; a bad series is refused before anything is drawn.
#[test]
fn chart_draws_a_png_offline() {
    let dir = tmp("chart");
    let out = axia(
        &[
            "chart", "USDJPY", "H1", "--days", "30", "-o", "c.png", "--width", "900", "--height",
            "500",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(dir.join("c.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 900);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 500);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("bars of USDJPY H1 drawn into c.png"),
        "{said}"
    );
    let bars: usize = said.split_whitespace().next().unwrap().parse().unwrap();
    assert!(bars > 400, "30 days of weekday hours: {said}");

    let bad = axia(&["chart", "USD/JPY", "H1", "-o", "x.png"], &dir);
    assert!(!bad.status.success());
    assert!(!dir.join("x.png").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

/// An archive written when FX pairs were aligned to UTC midnight keeps that alignment, symbol by
/// symbol (nothing refused, nothing rewritten), until `axia archive realign` moves it to the New
/// York close, the default for FX; `axia archive alignments` says which is which; a fresh
/// archive gets the New York close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_keeps_its_recorded_alignment_until_realigned() {
    use axia_domain::{DailyAlignment, InstrumentRegistry, OhlcvStore, TimeRange, Timeframe};
    use chrono::{Duration, TimeZone, Timelike, Utc};
    let dir = tmp("realign");
    let _ = std::fs::remove_dir_all(dir.join("axia-archive"));
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let sym: axia_domain::Symbol = "EURUSD".parse().unwrap();
    let utc = InstrumentRegistry::builtin()
        .resolve(&sym)
        .with_alignment(DailyAlignment::UtcMidnight);
    let mut registry = InstrumentRegistry::builtin();
    registry.insert(utc.clone());
    let archive = axia_parquet::ParquetArchive::local(dir.join("axia-archive"))
        .instruments(std::sync::Arc::new(registry));
    // H1 over 22 days; D1 over 20 days ending a day earlier, so every new daily bar of its span
    // can be rebuilt from the hours.
    for (tf, from, to) in [
        (Timeframe::H1, at - Duration::days(22), at),
        (
            Timeframe::D1,
            at - Duration::days(20),
            at - Duration::days(1),
        ),
    ] {
        let range = TimeRange::new(from, to).unwrap();
        let f = axia_simbroker::generate_for(42, &utc, tf, range, to)
            .unwrap()
            .closed_at(to);
        archive.save(&f).await.unwrap();
    }
    let daily = |dir: &std::path::Path, use_case: &str| {
        let out = axia(
            &[
                "ohlcv",
                "EURUSD",
                "D1",
                "--from",
                "2026-11-01T00:00:00Z",
                "--to",
                "2026-11-14T00:00:00Z",
                "--use-case",
                use_case,
                "--format",
                "json",
                "--at",
                "2026-11-20T12:00:00Z",
            ],
            dir,
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let hours: Vec<u32> = v["bars"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                b["time"]
                    .as_str()
                    .unwrap()
                    .parse::<chrono::DateTime<Utc>>()
                    .unwrap()
                    .hour()
            })
            .collect();
        (
            v["instrument"]["alignment"].as_str().unwrap().to_owned(),
            hours,
            stderr,
        )
    };
    // Kept as recorded, and said.
    let (alignment, hours, stderr) = daily(&dir, "analysis");
    assert_eq!(alignment, "utc_midnight");
    assert!(hours.iter().all(|h| *h == 0), "{hours:?}");
    assert!(stderr.contains("axia archive realign EURUSD"), "{stderr}");
    let out = axia(&["archive", "alignments"], &dir);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..3]
                == ["EURUSD", "utc_midnight", "new_york_close"]),
        "{listed}"
    );

    let out = axia(&["archive", "realign", "EURUSD"], &dir);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("EURUSD D1"), "{report}");
    assert!(
        dir.join("axia-archive/realigned/ohlcv/symbol=EURUSD")
            .is_dir()
    );
    // Two FX weeks: ten daily bars opening at 17:00 New York (22:00 UTC in November).
    let (alignment, hours, stderr) = daily(&dir, "analysis");
    assert_eq!(alignment, "new_york_close");
    assert_eq!(hours, vec![22; 10], "{stderr}");

    // A fresh archive: the New York close from the start (the broker's bars: trading).
    let fresh = tmp("realign-fresh");
    let _ = std::fs::remove_dir_all(fresh.join("axia-archive"));
    let (alignment, hours, _) = daily(&fresh, "trading");
    assert_eq!(alignment, "new_york_close");
    assert_eq!(hours, vec![22; 10]);
}

/// `axia alerts` on the embedded defaults with rules from a settings file: `list` shows them,
/// `test` replays one over history (the simulated broker, deterministic: the same alerts
/// twice, each at a closed bar in the range, with the values that fired it), a bad rule is
/// one error naming it, and the history needs Redis.
#[test]
fn alerts_list_test_and_history_offline() {
    let dir = tmp("alerts");
    let config = dir.join("alerts.toml");
    std::fs::write(
        &config,
        r#"
[[alerts.rules]]
id = "eur-cross"
symbol = "EURUSD"
timeframe = "H1"
condition = "crossing(close, ema_20)"
message = "{{symbol}} close {{close}} ema {{ema_20}}"

[[alerts.rules]]
id = "eur-first"
symbol = "EURUSD"
timeframe = "H1"
condition = { greater_than = { left = "rsi_14", right = 50 } }
frequency = "once"
"#,
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let list = axia(&["alerts", "list", "--config", c], &dir);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("eur-cross") && text.contains("crossing(close, ema_20)"),
        "{text}"
    );
    assert!(
        text.contains("eur-first") && text.contains("rsi_14 > 50"),
        "{text}"
    );

    let test = || {
        let out = axia(
            &[
                "alerts",
                "test",
                "eur-cross",
                "--from",
                "2026-03-02",
                "--to",
                "2026-03-06",
                "--json",
                "--config",
                c,
            ],
            &dir,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = test();
    assert_eq!(test(), first, "replayed the same");
    let alerts: Vec<serde_json::Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        alerts.len() >= 3,
        "four days of H1 cross their EMA: {first}"
    );
    for a in &alerts {
        assert_eq!(a["rule"], "eur-cross");
        assert_eq!(a["forming"], false);
        let open = a["bar_open"].as_str().unwrap();
        assert!(("2026-03-02".."2026-03-07").contains(&open), "{open}");
        let close = a["values"]["close"].as_f64().unwrap();
        let ema = a["values"]["ema_20"].as_f64().unwrap();
        assert!(close != ema, "a crossing ends on one side");
        let message = a["message"].as_str().unwrap();
        assert_eq!(message, format!("EURUSD close {close} ema {ema}"));
    }
    let once = axia(
        &[
            "alerts",
            "test",
            "eur-first",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-06",
            "--json",
            "--config",
            c,
        ],
        &dir,
    );
    assert_eq!(String::from_utf8_lossy(&once.stdout).lines().count(), 1);

    let missing = axia(
        &[
            "alerts",
            "test",
            "nope",
            "--from",
            "2026-03-02",
            "--config",
            c,
        ],
        &dir,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no alert rule \"nope\""));
    for what in ["history", "dead"] {
        let out = axia(&["alerts", what, "--config", c], &dir);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("REDIS_URL"));
    }

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[alerts.rules]]\nid = \"typo\"\nsymbol = \"EURUSD\"\ntimeframe = \"H1\"\ncondition = \"crossing(close, ema_2O)\"\n",
    )
    .unwrap();
    let out = axia(&["alerts", "list", "--config", bad.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("\"ema_2O\"") && e.contains("(line 5)"), "{e}");
    // A feature the series does not compute: named with its rule.
    std::fs::write(
        &bad,
        "[[alerts.rules]]\nid = \"typo\"\nsymbol = \"EURUSD\"\ntimeframe = \"H1\"\ncondition = \"crossing(close, ema_200)\"\n",
    )
    .unwrap();
    let out = axia(&["alerts", "list", "--config", bad.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("alert rule typo") && e.contains("ema_200 is not a feature of EURUSD H1"),
        "{e}"
    );
}
