//! [`SqsOrderQueue`].

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use axia_domain::{OrderQueue, QueueError, QueueMessage};

/// The three queues of an order queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// Orders arrive here.
    pub orders: String,
    /// Rejected (poison) messages are recorded here.
    pub poison: String,
    /// Messages received too often without an ack end up here.
    pub dead_letter: String,
}

/// Orders on SQS. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqsOrderQueue {
    client: Client,
    urls: QueueUrls,
    visibility: Duration,
}

fn queue_error<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
    what: &str,
) -> QueueError {
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            QueueError::Unavailable(format!("SQS unreachable ({what})"))
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("unknown");
            if se.raw().status().as_u16() >= 500 || code.contains("NonExistentQueue") {
                QueueError::Unavailable(format!("SQS {code} ({what})"))
            } else {
                QueueError::Backend(
                    format!(
                        "SQS {code}: {} ({what})",
                        se.err().message().unwrap_or_default()
                    )
                    .into(),
                )
            }
        }
        other => QueueError::Backend(format!("SQS ({what}): {other:?}").into()),
    }
}

impl SqsOrderQueue {
    /// The queue at `urls`; received messages stay hidden for `visibility`.
    pub fn new(client: Client, urls: QueueUrls, visibility: Duration) -> Self {
        Self {
            client,
            urls,
            visibility,
        }
    }

    /// The queues.
    #[must_use]
    pub const fn urls(&self) -> &QueueUrls {
        &self.urls
    }

    /// Finds the existing `{name}`, `{name}-poison` and `{name}-dlq`.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] when a queue does not exist.
    pub async fn find(client: &Client, name: &str) -> Result<QueueUrls, QueueError> {
        let url = |n: String| {
            let client = client.clone();
            async move {
                client
                    .get_queue_url()
                    .queue_name(&n)
                    .send()
                    .await
                    .map_err(|e| queue_error(&e, &format!("find queue {n}")))?
                    .queue_url
                    .ok_or_else(|| QueueError::Backend(format!("no url for queue {n}").into()))
            }
        };
        Ok(QueueUrls {
            orders: url(name.to_owned()).await?,
            poison: url(format!("{name}-poison")).await?,
            dead_letter: url(format!("{name}-dlq")).await?,
        })
    }

    /// Creates (or finds) `{name}`, `{name}-poison` and `{name}-dlq`, with the redrive policy
    /// moving a message to the dead-letter queue after `max_receives` receives.
    ///
    /// # Errors
    /// [`QueueError`] from SQS.
    pub async fn create(
        client: &Client,
        name: &str,
        max_receives: u32,
    ) -> Result<QueueUrls, QueueError> {
        let make = |n: String| {
            let client = client.clone();
            async move {
                client
                    .create_queue()
                    .queue_name(&n)
                    .send()
                    .await
                    .map_err(|e| queue_error(&e, "create queue"))?
                    .queue_url
                    .ok_or_else(|| QueueError::Backend("no queue url".into()))
            }
        };
        let dead_letter = make(format!("{name}-dlq")).await?;
        let poison = make(format!("{name}-poison")).await?;
        let orders = make(name.to_owned()).await?;
        let arn = client
            .get_queue_attributes()
            .queue_url(&dead_letter)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| queue_error(&e, "queue arn"))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| QueueError::Backend("no dead-letter queue arn".into()))?;
        let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives.max(1).to_string()}).to_string();
        client
            .set_queue_attributes()
            .queue_url(&orders)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
            .await
            .map_err(|e| queue_error(&e, "redrive policy"))?;
        Ok(QueueUrls {
            orders,
            poison,
            dead_letter,
        })
    }
}

#[async_trait]
impl OrderQueue for SqsOrderQueue {
    /// Long-polls for up to `wait` (at most 20 s, SQS's limit). The call's own timeouts are
    /// set above the wait (wait + 10 s per attempt), so a long poll is never abandoned while
    /// SQS still hides the messages it is about to return.
    async fn receive(&self, max: u16, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        let wait = wait.min(Duration::from_secs(20));
        let attempt = wait + Duration::from_secs(10);
        let timeouts = aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(attempt)
            .operation_timeout(attempt * 3)
            .build();
        let out = self
            .client
            .receive_message()
            .queue_url(&self.urls.orders)
            .max_number_of_messages(i32::from(max.clamp(1, 10)))
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20))
            .visibility_timeout(i32::try_from(self.visibility.as_secs().max(1)).unwrap_or(30))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::default().timeout_config(timeouts))
            .send()
            .await
            .map_err(|e| queue_error(&e, "receive"))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(QueueMessage {
                    message_id: m.message_id()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    receipt: m.receipt_handle()?.to_owned(),
                    receive_count: m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                })
            })
            .collect())
    }

    async fn ack(&self, message: &QueueMessage) -> Result<(), QueueError> {
        match self
            .client
            .delete_message()
            .queue_url(&self.urls.orders)
            .receipt_handle(&message.receipt)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se))
                if se
                    .err()
                    .code()
                    .is_some_and(|c| c.contains("ReceiptHandleIsInvalid")) =>
            {
                Err(QueueError::ReceiptExpired(message.message_id.clone()))
            }
            Err(e) => Err(queue_error(&e, "delete")),
        }
    }

    async fn retry_later(&self, message: &QueueMessage, after: Duration) -> Result<(), QueueError> {
        // SQS allows up to 12 hours.
        let secs = i32::try_from(after.as_secs().min(43_200)).unwrap_or(43_200);
        match self
            .client
            .change_message_visibility()
            .queue_url(&self.urls.orders)
            .receipt_handle(&message.receipt)
            .visibility_timeout(secs)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se))
                if se.err().code().is_some_and(|c| {
                    c.contains("ReceiptHandleIsInvalid") || c.contains("MessageNotInflight")
                }) =>
            {
                Err(QueueError::ReceiptExpired(message.message_id.clone()))
            }
            Err(e) => Err(queue_error(&e, "change visibility")),
        }
    }

    async fn reject(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError> {
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
        };
        let b = |e: aws_sdk_sqs::error::BuildError| QueueError::Backend(Box::new(e));
        // Record first, then delete: a crash in between delivers it again and records it twice,
        // never loses it.
        self.client
            .send_message()
            .queue_url(&self.urls.poison)
            .message_body(if message.body.is_empty() {
                "(empty)"
            } else {
                &message.body
            })
            .message_attributes(
                "reason",
                attr(&reason.chars().take(512).collect::<String>()).map_err(b)?,
            )
            .message_attributes("original_message_id", attr(&message.message_id).map_err(b)?)
            .message_attributes(
                "receive_count",
                attr(&message.receive_count.to_string()).map_err(b)?,
            )
            .send()
            .await
            .map_err(|e| queue_error(&e, "record poison"))?;
        self.ack(message).await
    }
}
