//! [`Http`]: the one client a gateway or an executor talks to OANDA through: keep-alive
//! connections (OANDA allows 2 new ones a second), the request pacer, the bearer token, the
//! datetime format, and transport errors with the token scrubbed out.

use std::sync::Arc;
use std::time::Duration;

use axia_http::Pacer;
use tokio::time::Instant;

use crate::OandaConfig;

#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    pub(crate) config: Arc<OandaConfig>,
    pacer: Arc<Pacer<Instant>>,
}

/// An answer: its status, its body, and the `Retry-After` it asked for.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
}

/// No answer.
pub(crate) enum SendError {
    /// Not within the request timeout.
    Timeout(Duration),
    /// The connection failed; the text holds no token.
    Transport(String),
}

impl Http {
    pub(crate) fn new(config: OandaConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("axia/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            pacer: Arc::new(Pacer::per_second(config.requests_per_second)),
            config: Arc::new(config),
        })
    }

    /// `{base}/v3/{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v3/{path}", self.config.base_url)
    }

    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    /// Sends `request` in its turn, authenticated, and reads the whole answer.
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, SendError> {
        let now = Instant::now();
        let slot = self.pacer.reserve(now);
        // A timer costs a tick of tokio's 1 ms wheel even when already due: only wait to wait.
        if slot > now {
            tokio::time::sleep_until(slot).await;
        }
        let response = request
            .bearer_auth(&self.config.token)
            .header("Accept-Datetime-Format", "RFC3339")
            .send()
            .await
            .map_err(|e| self.failed(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| self.failed(&e))?;
        Ok(Reply {
            status,
            body: body.to_vec(),
            retry_after,
        })
    }

    fn failed(&self, e: &reqwest::Error) -> SendError {
        if e.is_timeout() {
            SendError::Timeout(self.config.request_timeout)
        } else {
            SendError::Transport(axia_domain::scrub(
                &e.to_string(),
                std::slice::from_ref(&self.config.token),
            ))
        }
    }
}

/// `errorMessage` of an error body, or the first characters of a body that is not one.
pub(crate) fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(120).collect())
}
