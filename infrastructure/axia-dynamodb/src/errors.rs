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

/// Fails with one line naming `table` (and what it is for) when it does not exist.
pub(crate) async fn check_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    what: &str,
) -> Result<(), Failure> {
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| match classify(&e, "describe table") {
            Failure::Unavailable(m) if m.contains("ResourceNotFound") => {
                Failure::Unavailable(format!("the {what} table {table:?} does not exist"))
            }
            f => f,
        })
}
