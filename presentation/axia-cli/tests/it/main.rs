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
        Some("time,open,high,low,close,volume")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cold_archive") && stderr.contains("complete false"),
        "{stderr}"
    );
    // Trading over 30 days goes to the broker: every weekday of the window.
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
    let rows = String::from_utf8_lossy(&out.stdout).lines().count() - 1;
    assert!((25..=31).contains(&rows), "{rows} daily bars");
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
    let run = |args: &[&str]| {
        let mut all = vec![
            "killswitch",
            "--config",
            cfg.to_str().unwrap(),
            "--create-resources",
        ];
        all.extend_from_slice(args);
        axia(&all, &dir)
    };
    let out = run(&["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("global     ACTIVE  never set"));
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
