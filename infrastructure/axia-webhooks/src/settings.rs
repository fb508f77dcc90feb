//! [`WebhookSettings`]: one `[alerts.webhooks.NAME]` section.

use std::net::IpAddr;

use axia_domain::WebhookName;
use serde::Deserialize;

use crate::WebhookSecret;

/// A refused webhook setting; names the webhook, never its secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WebhookSettingsError(pub String);

/// `[alerts.webhooks.NAME]`:
///
/// ```toml
/// [alerts.webhooks.ops]
/// url = "https://hooks.example.com/axia"
/// secret_env = "AXIA_WEBHOOK_OPS_SECRET"   # the variable holding its secret (whsec_…)
/// timeout_secs = 15
/// allow_private_network = false            # true: loopback and private addresses allowed
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to post: `https://` (or `http://`).
    pub url: String,
    /// The environment variable holding the signing secret; none: the deliveries are unsigned
    /// (refused unless `allow_unsigned`).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Post without a signature (for a receiver on the same host, say).
    #[serde(default)]
    pub allow_unsigned: bool,
    /// Seconds to wait for an answer (Standard Webhooks: 15 to 30).
    #[serde(default = "fifteen")]
    pub timeout_secs: u64,
    /// Allow a URL whose host is a loopback, private or link-local address or `localhost`
    /// (refused by default: an alert rule must not reach into the network axia runs in).
    #[serde(default)]
    pub allow_private_network: bool,
    /// The secret, read from `secret_env` by [`resolve`](Self::resolve); never printed.
    #[serde(skip)]
    pub secret: Option<String>,
}

const fn fifteen() -> u64 {
    15
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &axia_domain::redact_url(&self.url))
            .field("secret_env", &self.secret_env)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("timeout_secs", &self.timeout_secs)
            .field("allow_private_network", &self.allow_private_network)
            .finish()
    }
}

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| private(IpAddr::V4(v4)))
        }
    }
}

impl WebhookSettings {
    /// Reads the secret from `secret_env` with `env`.
    ///
    /// # Errors
    /// [`WebhookSettingsError`] when the variable is unset or empty.
    pub fn resolve(
        mut self,
        name: &WebhookName,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, WebhookSettingsError> {
        if let Some(var) = &self.secret_env {
            let value = env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                WebhookSettingsError(format!(
                    "webhook {}: secret_env {var} is not set",
                    name.as_str()
                ))
            })?;
            self.secret = Some(value);
        }
        Ok(self)
    }

    /// The URL and secret, checked: an http(s) URL with a host, not on a private network
    /// unless allowed, a secret unless unsigned posts are allowed.
    ///
    /// # Errors
    /// [`WebhookSettingsError`] naming the webhook and what is wrong.
    pub fn checked(
        &self,
        name: &WebhookName,
    ) -> Result<(reqwest::Url, WebhookSecret), WebhookSettingsError> {
        let bad = |why: String| WebhookSettingsError(format!("webhook {}: {why}", name.as_str()));
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| bad(format!("url {}: {e}", axia_domain::redact_url(&self.url))))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "url scheme {:?}: only http and https",
                url.scheme()
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| bad("the url has no host".to_owned()))?;
        let is_private = match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => private(ip),
            Err(_) => {
                host.eq_ignore_ascii_case("localhost")
                    || host.to_ascii_lowercase().ends_with(".localhost")
            }
        };
        if is_private && !self.allow_private_network {
            return Err(bad(format!(
                "{host} is on a loopback or private network (set allow_private_network = true to allow it)"
            )));
        }
        let secret = match &self.secret {
            Some(s) => WebhookSecret::new(s),
            None if self.allow_unsigned => WebhookSecret::new(""),
            None => {
                return Err(bad(
                    "no secret (secret_env) and allow_unsigned is not set".to_owned()
                ));
            }
        };
        Ok((url, secret))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(url: &str) -> WebhookSettings {
        WebhookSettings {
            url: url.to_owned(),
            secret_env: Some("HOOK".to_owned()),
            allow_unsigned: false,
            timeout_secs: 15,
            allow_private_network: false,
            secret: None,
        }
    }

    #[test]
    fn urls_are_http_s_on_public_hosts_and_secrets_come_from_the_environment() {
        let name: WebhookName = "ops".parse().unwrap();
        let env = |v: &str| (v == "HOOK").then(|| "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=".to_owned());
        let ok = settings("https://hooks.example.com/axia")
            .resolve(&name, env)
            .unwrap();
        assert!(ok.checked(&name).is_ok());
        for (url, says) in [
            ("ftp://hooks.example.com/", "only http and https"),
            ("file:///etc/passwd", "only http and https"),
            ("not a url", "url"),
            ("http://127.0.0.1:9/", "private network"),
            ("http://localhost/", "private network"),
            ("http://10.1.2.3/", "private network"),
            ("http://169.254.169.254/latest/meta-data", "private network"),
            ("http://[::1]/", "private network"),
            ("http://[::ffff:192.168.0.1]/", "private network"),
        ] {
            let s = settings(url).resolve(&name, env).unwrap();
            let e = s.checked(&name).unwrap_err().to_string();
            assert!(
                e.starts_with("webhook ops: ") && e.contains(says),
                "{url}: {e}"
            );
        }
        let mut local = settings("http://127.0.0.1:9/").resolve(&name, env).unwrap();
        local.allow_private_network = true;
        assert!(local.checked(&name).is_ok());
        let e = settings("https://h.example.com/")
            .resolve(&name, |_| None)
            .unwrap_err();
        assert!(e.to_string().contains("secret_env HOOK is not set"), "{e}");
        let mut unsigned = settings("https://h.example.com/");
        unsigned.secret_env = None;
        assert!(
            unsigned
                .checked(&name)
                .unwrap_err()
                .to_string()
                .contains("allow_unsigned")
        );
        let printed = format!("{ok:?}");
        assert!(
            !printed.contains("c2VjcmV0") && printed.contains("***"),
            "{printed}"
        );
    }
}
