//! SDK errors to what callers can act on.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// Coarse classes of SDK failures.
pub(crate) enum Failure {
    Unavailable(String),
    Timeout,
    Other(String),
}

pub(crate) fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    what: &str,
) -> Failure {
    match e {
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(f) if f.is_timeout() => Failure::Timeout,
        SdkError::DispatchFailure(_) => {
            Failure::Unavailable(format!("DynamoDB unreachable ({what})"))
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("unknown");
            let status = se.raw().status().as_u16();
            if status >= 500 || code == "ResourceNotFoundException" {
                Failure::Unavailable(format!("DynamoDB {code} ({what})"))
            } else {
                Failure::Other(format!(
                    "DynamoDB {code}: {} ({what})",
                    se.err().message().unwrap_or_default()
                ))
            }
        }
        other => Failure::Other(format!("DynamoDB ({what}): {other:?}")),
    }
}
