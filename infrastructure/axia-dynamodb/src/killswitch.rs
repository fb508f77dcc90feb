//! [`DynamoKillSwitch`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem,
};
use axia_domain::{
    Clock, KillSwitch, KillSwitchAudit, KillSwitchChange, KillSwitchError, KillSwitchRecord,
    KillSwitchScope,
};

use crate::errors::{Failure, classify};

/// Kill switches and their audit trail in a DynamoDB table (layout in the crate docs).
#[derive(Clone)]
pub struct DynamoKillSwitch {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    /// Changes made through this value and its clones take turns; the conditional transaction
    /// then only arbitrates between processes (and stays correct on its own on DynamoDB, whose
    /// transactions are atomic; moto's are not under concurrency).
    turns: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for DynamoKillSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoKillSwitch")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

fn ks_error(f: Failure) -> KillSwitchError {
    match f {
        Failure::Unavailable(m) => KillSwitchError::Unavailable(m),
        Failure::Timeout => KillSwitchError::Timeout(Duration::ZERO),
        Failure::Other(m) => KillSwitchError::Backend(m.into()),
    }
}

fn record_doc(r: &KillSwitchRecord) -> Result<String, KillSwitchError> {
    serde_json::to_string(r).map_err(|e| KillSwitchError::Backend(Box::new(e)))
}

impl DynamoKillSwitch {
    /// The kill switches in `table`; `clock` stamps changes.
    pub fn new(client: Client, table: impl Into<String>, clock: impl Clock + 'static) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        Self {
            client,
            table: table.into(),
            clock,
            turns: Arc::default(),
        }
    }

    /// Fails with one line when the table does not exist (a start-up check).
    ///
    /// # Errors
    /// [`KillSwitchError::Unavailable`] naming the table.
    pub async fn check_table(&self) -> Result<(), KillSwitchError> {
        crate::errors::check_table(&self.client, &self.table, "kill-switch")
            .await
            .map_err(ks_error)
    }

    /// The table's name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on-demand billing), for tests and first deployments.
    ///
    /// # Errors
    /// As the switch's operations.
    pub async fn create_table(&self) -> Result<(), KillSwitchError> {
        let b = |e: aws_sdk_dynamodb::error::BuildError| KillSwitchError::Backend(Box::new(e));
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("scope")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(b)?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("sk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(b)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("scope")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(b)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("sk")
                    .key_type(KeyType::Range)
                    .build()
                    .map_err(b)?,
            )
            .send()
            .await
            .map_err(|e| ks_error(classify(&e, "create table")))?;
        Ok(())
    }

    /// The audit trail of `scope`, oldest first.
    ///
    /// # Errors
    /// As [`KillSwitch::read`].
    pub async fn audit(
        &self,
        scope: &KillSwitchScope,
    ) -> Result<Vec<KillSwitchAudit>, KillSwitchError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#p = :p AND begins_with(sk, :a)")
            .expression_attribute_names("#p", "scope")
            .expression_attribute_values(":p", AttributeValue::S(scope.to_string()))
            .expression_attribute_values(":a", AttributeValue::S("AUDIT#".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ks_error(classify(&e, "query audit")))?;
        out.items()
            .iter()
            .map(|i| {
                let doc = i
                    .get("doc")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                serde_json::from_str(&doc).map_err(|e| KillSwitchError::Corrupt {
                    scope: scope.to_string(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// The current record and its change number (`None` before the first change).
    async fn current(
        &self,
        scope: &KillSwitchScope,
    ) -> Result<(KillSwitchRecord, Option<u64>), KillSwitchError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("scope", AttributeValue::S(scope.to_string()))
            .key("sk", AttributeValue::S("CURRENT".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ks_error(classify(&e, "read kill switch")))?;
        let Some(item) = out.item() else {
            return Ok((KillSwitchRecord::never_set(scope.clone()), None));
        };
        let doc = item
            .get("doc")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let record: KillSwitchRecord =
            serde_json::from_str(&doc).map_err(|e| KillSwitchError::Corrupt {
                scope: scope.to_string(),
                detail: e.to_string(),
            })?;
        let seq = item
            .get("seq")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok());
        Ok((record, seq))
    }
}

#[async_trait]
impl KillSwitch for DynamoKillSwitch {
    async fn read(&self, scope: &KillSwitchScope) -> Result<KillSwitchRecord, KillSwitchError> {
        Ok(self.current(scope).await?.0)
    }

    async fn set(
        &self,
        scope: &KillSwitchScope,
        change: KillSwitchChange,
    ) -> Result<KillSwitchAudit, KillSwitchError> {
        let _turn = self.turns.lock().await;
        for _ in 0..20 {
            let (current, seq) = self.current(scope).await?;
            let now = self.clock.now();
            let audit = current.apply(change.clone(), now);
            // The change number orders the trail; the condition below makes it unique.
            let next = seq.map_or(1, |s| s + 1);
            let current_item = HashMap::from([
                ("scope".to_owned(), AttributeValue::S(scope.to_string())),
                ("sk".to_owned(), AttributeValue::S("CURRENT".into())),
                (
                    "state".to_owned(),
                    AttributeValue::S(audit.current.state.as_str().into()),
                ),
                ("seq".to_owned(), AttributeValue::N(next.to_string())),
                (
                    "doc".to_owned(),
                    AttributeValue::S(record_doc(&audit.current)?),
                ),
            ]);
            let audit_doc =
                serde_json::to_string(&audit).map_err(|e| KillSwitchError::Backend(Box::new(e)))?;
            let audit_item = HashMap::from([
                ("scope".to_owned(), AttributeValue::S(scope.to_string())),
                (
                    "sk".to_owned(),
                    AttributeValue::S(format!("AUDIT#{next:012}")),
                ),
                (
                    "changed_at".to_owned(),
                    AttributeValue::N(now.timestamp_millis().to_string()),
                ),
                ("doc".to_owned(), AttributeValue::S(audit_doc)),
            ]);
            let b = |e: aws_sdk_dynamodb::error::BuildError| KillSwitchError::Backend(Box::new(e));
            let mut put_current = Put::builder()
                .table_name(&self.table)
                .set_item(Some(current_item));
            put_current = match seq {
                None => put_current.condition_expression("attribute_not_exists(sk)"),
                Some(s) => put_current
                    .condition_expression("seq = :s")
                    .expression_attribute_values(":s", AttributeValue::N(s.to_string())),
            };
            let result = self
                .client
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder()
                        .put(put_current.build().map_err(b)?)
                        .build(),
                )
                .transact_items(
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.table)
                                .set_item(Some(audit_item))
                                .condition_expression("attribute_not_exists(sk)")
                                .build()
                                .map_err(b)?,
                        )
                        .build(),
                )
                .send()
                .await;
            match result {
                Ok(_) => return Ok(audit),
                Err(SdkError::ServiceError(se)) if se.err().is_transaction_canceled_exception() => {
                    tracing::debug!(%scope, "kill switch changed concurrently; retrying");
                }
                Err(e) => return Err(ks_error(classify(&e, "set kill switch"))),
            }
        }
        Err(KillSwitchError::Backend(
            format!("kill switch {scope} kept changing concurrently").into(),
        ))
    }
}
