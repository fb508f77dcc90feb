//! One way to configure the AWS SDK for every axia adapter (S3 archive, DynamoDB orders and kill
//! switch, SQS queue), so they agree on region, endpoint and timeouts.
//!
//! Credentials and the rest come from the standard AWS chain (environment, profile, SSO, …): this
//! crate never sees or logs a secret. Point [`AwsSettings::endpoint_url`] (or the standard
//! `AWS_ENDPOINT_URL` variable) at an AWS-protocol server such as moto or MinIO for tests.
//!
//! ```no_run
//! # async fn demo() {
//! let settings = axia_aws::AwsSettings::default().with_endpoint_url("http://127.0.0.1:5000");
//! let sdk_config = axia_aws::load_sdk_config(&settings).await;
//! assert_eq!(sdk_config.region().map(|r| r.as_ref()), Some("us-east-1"));
//! # }
//! ```

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

/// The loaded configuration, re-exported so adapters need not depend on aws-config themselves.
pub use aws_config::SdkConfig;

/// The region used when neither the settings nor the AWS chain name one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How to reach AWS or an AWS-protocol server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsSettings {
    /// The region; `None` takes the AWS chain's (`AWS_REGION`, profile), then [`DEFAULT_REGION`].
    pub region: Option<String>,
    /// An endpoint for every service; `None` takes `AWS_ENDPOINT_URL` or the real AWS endpoints.
    pub endpoint_url: Option<String>,
    /// How long a TCP/TLS connect may take.
    pub connect_timeout: Duration,
    /// How long one attempt of a call may take.
    pub attempt_timeout: Duration,
    /// How long a call may take, retries included.
    pub operation_timeout: Duration,
    /// Attempts per call (1 = no retry).
    pub max_attempts: u32,
}

impl Default for AwsSettings {
    /// Connect 2 s, attempt 5 s, operation 15 s, 3 attempts.
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(15),
            max_attempts: 3,
        }
    }
}

impl AwsSettings {
    /// Sets the region.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets an endpoint for every service (moto, MinIO, LocalStack).
    #[must_use]
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Sets the connect, attempt and operation timeouts.
    #[must_use]
    pub const fn with_timeouts(
        mut self,
        connect: Duration,
        attempt: Duration,
        operation: Duration,
    ) -> Self {
        self.connect_timeout = connect;
        self.attempt_timeout = attempt;
        self.operation_timeout = operation;
        self
    }

    /// Sets the attempts per call (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }
}

/// Loads the SDK configuration for `settings` from the standard AWS chain.
pub async fn load_sdk_config(settings: &AwsSettings) -> SdkConfig {
    let region = RegionProviderChain::first_try(settings.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::new(DEFAULT_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.connect_timeout)
                .operation_attempt_timeout(settings.attempt_timeout)
                .operation_timeout(settings.operation_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)));
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
