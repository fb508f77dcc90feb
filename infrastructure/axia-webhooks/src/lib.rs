//! Alerts posted to webhooks ([`HttpWebhooks`], the domain's
//! [`WebhookSender`](axia_domain::WebhookSender)), signed as Standard Webhooks 1.0 specifies:
//!
//! - `webhook-id`: the delivery id (`{alert id}|{webhook}`), the same on every attempt: the
//!   receiver's idempotency key;
//! - `webhook-timestamp`: this attempt's time, UNIX seconds;
//! - `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under
//!   the endpoint's secret (`whsec_` and base64, or any other string taken as its bytes).
//!
//! The body is `{"type": "alert.fired", "timestamp": …, "data": <the alert>}`, signed as sent.
//! A 2xx answer is delivered; 410 Gone is permanent; anything else (no answer, a timeout, 3xx,
//! 4xx, 5xx) is worth another try, with the receiver's `Retry-After` when it gives one.
//! Secrets appear in no log, error or `Debug`.

mod settings;
mod sign;

pub use settings::{WebhookSettings, WebhookSettingsError};
pub use sign::{WebhookSecret, sign, verify};

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{Clock, Delivery, PostOutcome, WebhookName, WebhookSender};

/// One endpoint, ready to post to.
#[derive(Debug, Clone)]
struct Endpoint {
    url: reqwest::Url,
    secret: WebhookSecret,
    timeout: Duration,
}

/// Posts deliveries to the configured webhooks by name.
#[derive(Clone)]
pub struct HttpWebhooks {
    client: reqwest::Client,
    endpoints: HashMap<WebhookName, Endpoint>,
    clock: std::sync::Arc<dyn Clock>,
}

impl std::fmt::Debug for HttpWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.endpoints.keys().map(WebhookName::as_str).collect();
        names.sort_unstable();
        f.debug_struct("HttpWebhooks")
            .field("webhooks", &names)
            .finish_non_exhaustive()
    }
}

impl HttpWebhooks {
    /// Posts to `webhooks` (checked settings with their secrets), stamping attempts with
    /// `clock`.
    ///
    /// # Errors
    /// [`WebhookSettingsError`] for a webhook whose settings are refused (its name in the
    /// message), or when the HTTP client cannot be built.
    pub fn new(
        webhooks: &[(WebhookName, WebhookSettings)],
        clock: std::sync::Arc<dyn Clock>,
    ) -> Result<Self, WebhookSettingsError> {
        let mut endpoints = HashMap::new();
        for (name, settings) in webhooks {
            let (url, secret) = settings.checked(name)?;
            endpoints.insert(
                name.clone(),
                Endpoint {
                    url,
                    secret,
                    timeout: Duration::from_secs(settings.timeout_secs.max(1)),
                },
            );
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("axia-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookSettingsError(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            endpoints,
            clock,
        })
    }
}

/// The body of a delivery.
fn body(delivery: &Delivery, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&serde_json::json!({
        "type": "alert.fired",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": delivery.alert,
    }))
    .map_err(|e| e.to_string())
}

/// `Retry-After` in seconds (the HTTP-date form is not read), at most a day.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(86_400)))
}

#[async_trait]
impl WebhookSender for HttpWebhooks {
    async fn post(&self, delivery: &Delivery) -> PostOutcome {
        let Some(endpoint) = self.endpoints.get(&delivery.webhook) else {
            return PostOutcome::Permanent(format!(
                "no webhook named {} is configured",
                delivery.webhook.as_str()
            ));
        };
        let now = self.clock.now();
        let body = match body(delivery, now) {
            Ok(b) => b,
            Err(e) => return PostOutcome::Permanent(format!("the alert cannot be encoded: {e}")),
        };
        let ts = now.timestamp();
        let signature = sign(&endpoint.secret, &delivery.id, ts, &body);
        let sent = self
            .client
            .post(endpoint.url.clone())
            .timeout(endpoint.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", delivery.id.as_str())
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => PostOutcome::Delivered,
            Ok(r) if r.status() == reqwest::StatusCode::GONE => PostOutcome::Permanent(
                "the receiver answered 410 Gone: it wants no more deliveries".to_owned(),
            ),
            Ok(r) => PostOutcome::Retry {
                why: format!("the receiver answered {}", r.status()),
                after: retry_after(r.headers()),
            },
            Err(e) if e.is_timeout() => PostOutcome::Retry {
                why: format!("no answer within {} s", endpoint.timeout.as_secs()),
                after: None,
            },
            Err(e) if e.is_connect() => PostOutcome::Retry {
                why: "the receiver could not be reached".to_owned(),
                after: None,
            },
            // reqwest's error names the URL, not the secret (which is only in a header).
            Err(e) => PostOutcome::Retry {
                why: format!("post failed: {}", e.without_url()),
                after: None,
            },
        }
    }
}
