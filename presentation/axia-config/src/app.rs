//! What every axia binary's `main` does: logs on stderr, a runtime, one error line, an exit code.

use std::future::Future;
use std::process::ExitCode;

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logs {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Sets up logging (`RUST_LOG`, else `default_filter`), runs `body` on a multi-threaded tokio
/// runtime, and turns its result into the process's exit code: `Ok(code)`, or `Err(line)`
/// printed as `{name}: {line}` with exit code 2.
pub fn run(
    name: &str,
    logs: Logs,
    default_filter: &str,
    body: impl Future<Output = Result<u8, String>>,
) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match logs {
        Logs::Text => builder.init(),
        Logs::Json => builder.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(body) {
        Ok(code) => ExitCode::from(code),
        Err(line) => {
            eprintln!("{name}: {line}");
            ExitCode::from(2)
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM: what the long-running binaries stop on.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The clock of a service: the system's, or (`--at`) one started at `at` that runs from there
/// (a weekend or a night shown as a moving market, for demos and tests).
#[must_use]
pub fn clock_at(
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> std::sync::Arc<dyn axia_domain::Clock> {
    match at {
        Some(t) => std::sync::Arc::new(axia_domain::ShiftedClock::starting_at(t)),
        None => std::sync::Arc::new(axia_domain::SystemClock),
    }
}

/// The settings of `args` and the adapters they select, on `clock`; a wrong configuration is
/// one line (`configuration error: …`).
///
/// # Errors
/// That line.
#[cfg(all(feature = "simulated", feature = "parquet"))]
pub async fn wire(
    args: &crate::CommonArgs,
    clock: std::sync::Arc<dyn axia_domain::Clock>,
) -> Result<(crate::Settings, crate::Wiring), String> {
    let config_error = |e: crate::ConfigError| format!("configuration error: {e}");
    let settings = crate::Settings::load(&args.overrides()).map_err(config_error)?;
    let wiring = crate::Wiring::build(&settings, clock)
        .await
        .map_err(config_error)?;
    Ok((settings, wiring))
}
