//! `GET /api/v1/alerts/{symbol}/{timeframe}`: the alerts recorded for a series (the chart's
//! markers).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::pages::json;
use crate::{Api, Problem, params};

/// How many of the newest alerts recorded are searched for a series.
pub(crate) const SEARCHED: usize = 1_000;

/// One alert.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AlertDto {
    /// `{rule}:{revision}:{bar open ms}` (or `…:once`).
    id: String,
    rule: String,
    /// The open time of the bar it fired at, UNIX seconds.
    bar_time: i64,
    /// True when that bar was forming (a once-per-bar rule).
    forming: bool,
    condition: String,
    message: String,
    /// The bar's close when it fired.
    close: f64,
    /// The values that made the condition hold.
    values: BTreeMap<String, f64>,
}

/// The alerts of a series, in bar time order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Alerts {
    symbol: String,
    timeframe: String,
    alerts: Vec<AlertDto>,
}

/// `?limit=`: how many alerts at most (1 to 1,000, default 200).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    /// At most this many (the newest), 1 to 1,000; default 200.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// `GET /api/v1/alerts/{symbol}/{timeframe}`: the newest alerts recorded for a series (among
/// the newest 1,000 recorded), in bar time order.
#[utoipa::path(get, path = "/api/v1/alerts/{symbol}/{timeframe}", tag = "alerts",
    params(params::SeriesPath, AlertsQuery),
    responses(
        (status = 200, description = "The alerts, in bar time order", body = Alerts),
        (status = 400, description = "A bad symbol, timeframe or limit", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No alert history, or it cannot be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn alerts(
    State(api): State<Api>,
    Path((symbol, timeframe)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let run = async {
        let (symbol, timeframe) = params::series(&symbol, &timeframe)?;
        let q = params::query::<AlertsQuery>(uri.query())?;
        let limit = match q.limit {
            None => 200,
            Some(n @ 1..=1_000) => n as usize,
            Some(n) => return Err(Problem::invalid(format!("limit {n}: 1 to 1000"))),
        };
        let log = api
            .inner
            .alerts
            .as_ref()
            .ok_or_else(|| Problem::unavailable("no alert history is configured"))?;
        let recent = log
            .recent(SEARCHED)
            .await
            .map_err(|e| Problem::unavailable(format!("alert history: {e}")))?;
        let mut alerts: Vec<AlertDto> = recent
            .into_iter()
            .map(|l| l.alert)
            .filter(|a| a.symbol == symbol && a.timeframe == timeframe)
            .map(|a| AlertDto {
                id: a.id.to_string(),
                rule: a.rule.to_string(),
                bar_time: a.bar_open.timestamp(),
                forming: a.forming,
                condition: a.condition,
                message: a.message,
                close: a.prices.close,
                values: a.values,
            })
            .collect();
        let skip = alerts.len().saturating_sub(limit);
        alerts.drain(..skip);
        // The chart draws markers in time order; alerts of different bars may be recorded out
        // of it (a forming bar's alert, a replay).
        alerts.sort_by_key(|a| a.bar_time);
        Ok::<_, Problem>(json(
            StatusCode::OK,
            &Alerts {
                symbol: symbol.to_string(),
                timeframe: timeframe.to_string(),
                alerts,
            },
        ))
    };
    run.await
        .unwrap_or_else(|p| p.at(uri.path()).into_response())
}
