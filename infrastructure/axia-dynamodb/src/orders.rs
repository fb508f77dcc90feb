//! [`DynamoOrderStore`].

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ScalarAttributeType,
};
use axia_domain::{
    Claim, ClaimOutcome, ClientOrderId, CreateOutcome, Execution, ExecutionBook, ExecutionError,
    Order, OrderId, OrderStatus, OrderStore, OrderStoreError, PoisonRecord, Recorded,
};
use chrono::{DateTime, Utc};

use crate::errors::{Failure, classify};

/// Orders in a DynamoDB table (layout in the crate docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoOrderStore {
    client: Client,
    table: String,
}

fn store_error(f: Failure) -> OrderStoreError {
    match f {
        Failure::Unavailable(m) => OrderStoreError::Unavailable(m),
        Failure::Timeout => OrderStoreError::Timeout(Duration::ZERO),
        Failure::Other(m) => OrderStoreError::Backend(m.into()),
    }
}

fn item(order: &Order) -> Result<HashMap<String, AttributeValue>, OrderStoreError> {
    let doc = serde_json::to_string(order).map_err(|e| OrderStoreError::Backend(Box::new(e)))?;
    Ok(HashMap::from([
        (
            "order_id".to_owned(),
            AttributeValue::S(order.id().to_string()),
        ),
        (
            "status".to_owned(),
            AttributeValue::S(order.status().as_str().to_owned()),
        ),
        (
            "symbol".to_owned(),
            AttributeValue::S(order.symbol().to_string()),
        ),
        (
            "created_at".to_owned(),
            AttributeValue::N(order.created_at().timestamp_millis().to_string()),
        ),
        ("doc".to_owned(), AttributeValue::S(doc)),
    ]))
}

fn ms(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(t.timestamp_millis().to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// The claim recorded in an item, if any.
fn claim_of(item: &HashMap<String, AttributeValue>) -> Option<Claim> {
    let owner = item.get("claim_owner")?.as_s().ok()?.clone();
    let expires = item
        .get("claim_expires")?
        .as_n()
        .ok()?
        .parse::<i64>()
        .ok()?;
    Some(Claim {
        owner,
        expires_at: DateTime::from_timestamp_millis(expires)?,
    })
}

fn conditional_failed<E>(e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

fn decode(item: &HashMap<String, AttributeValue>) -> Result<Order, OrderStoreError> {
    let id = item
        .get("order_id")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let doc =
        item.get("doc")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| OrderStoreError::Corrupt {
                id: id.clone(),
                detail: "no doc".into(),
            })?;
    serde_json::from_str(doc).map_err(|e| OrderStoreError::Corrupt {
        id,
        detail: e.to_string(),
    })
}

impl DynamoOrderStore {
    /// The store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table and its indexes (on-demand billing), for tests and first deployments.
    ///
    /// # Errors
    /// As the store's operations.
    pub async fn create_table(&self) -> Result<(), OrderStoreError> {
        let attr = |n: &str, t| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(t)
                .build()
        };
        let key = |n: &str, t| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
        };
        let gsi = |name: &str, pk: &str| -> Result<GlobalSecondaryIndex, OrderStoreError> {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(
                    key(pk, KeyType::Hash).map_err(|e| OrderStoreError::Backend(Box::new(e)))?,
                )
                .key_schema(
                    key("created_at", KeyType::Range)
                        .map_err(|e| OrderStoreError::Backend(Box::new(e)))?,
                )
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| OrderStoreError::Backend(Box::new(e)))
        };
        let b = |e: aws_sdk_dynamodb::error::BuildError| OrderStoreError::Backend(Box::new(e));
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("order_id", ScalarAttributeType::S).map_err(b)?)
            .attribute_definitions(attr("status", ScalarAttributeType::S).map_err(b)?)
            .attribute_definitions(attr("symbol", ScalarAttributeType::S).map_err(b)?)
            .attribute_definitions(attr("created_at", ScalarAttributeType::N).map_err(b)?)
            .key_schema(key("order_id", KeyType::Hash).map_err(b)?)
            .global_secondary_indexes(gsi("by_status", "status")?)
            .global_secondary_indexes(gsi("by_symbol", "symbol")?)
            .send()
            .await
            .map_err(|e| store_error(classify(&e, "create table")))?;
        Ok(())
    }

    /// Fails with one line when the table does not exist (a start-up check).
    ///
    /// # Errors
    /// [`OrderStoreError::Unavailable`] naming the table.
    pub async fn check_table(&self) -> Result<(), OrderStoreError> {
        crate::errors::check_table(&self.client, &self.table, "orders")
            .await
            .map_err(store_error)
    }

    /// The raw item of `key`, read strongly consistent.
    async fn item(
        &self,
        key: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, OrderStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("order_id", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(classify(&e, "get item")))?;
        Ok(out.item().cloned())
    }

    /// Orders with `status`, oldest first (the `by_status` index; eventually consistent).
    ///
    /// # Errors
    /// As the store's operations.
    pub async fn by_status(
        &self,
        status: OrderStatus,
        limit: i32,
    ) -> Result<Vec<Order>, OrderStoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("by_status")
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", AttributeValue::S(status.as_str().into()))
            .limit(limit)
            .send()
            .await
            .map_err(|e| store_error(classify(&e, "query by status")))?;
        out.items().iter().map(decode).collect()
    }
}

#[async_trait]
impl OrderStore for DynamoOrderStore {
    async fn create_if_absent(&self, order: &Order) -> Result<CreateOutcome, OrderStoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(order)?))
            .condition_expression("attribute_not_exists(order_id)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                let stored =
                    self.get(order.id())
                        .await?
                        .ok_or_else(|| OrderStoreError::Corrupt {
                            id: order.id().to_string(),
                            detail: "exists for the condition, absent for the read".into(),
                        })?;
                Ok(CreateOutcome::AlreadyExists(Box::new(stored)))
            }
            Err(e) => Err(store_error(classify(&e, "put order"))),
        }
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, OrderStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("order_id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(classify(&e, "get order")))?;
        out.item().map(decode).transpose()
    }

    async fn claim(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ClaimOutcome, OrderStoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("order_id", s(id.as_str()))
            .update_expression("SET claim_owner = :me, claim_expires = :until")
            .condition_expression(
                "attribute_exists(order_id) AND (attribute_not_exists(claim_owner) OR claim_expires <= :now OR claim_owner = :me)",
            )
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":until", ms(until))
            .expression_attribute_values(":now", ms(now))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(o) => Ok(ClaimOutcome::Acquired {
                previous: o.attributes().and_then(claim_of),
            }),
            Err(e) if conditional_failed(&e) => match self.item(id.as_str()).await? {
                None => Err(OrderStoreError::Conflict {
                    id: id.clone(),
                    expected: OrderStatus::Received,
                    actual: None,
                }),
                // Released or lapsed between the two calls: try again in a moment.
                Some(item) => Ok(ClaimOutcome::Held(claim_of(&item).unwrap_or(Claim {
                    owner: String::new(),
                    expires_at: now,
                }))),
            },
            Err(e) => Err(store_error(classify(&e, "claim order"))),
        }
    }

    async fn renew(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("order_id", s(id.as_str()))
            .update_expression("SET claim_expires = :until")
            .condition_expression("claim_owner = :me AND claim_expires > :now")
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":until", ms(until))
            .expression_attribute_values(":now", ms(now))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Err(OrderStoreError::ClaimLost {
                id: id.clone(),
                owner: owner.to_owned(),
                holder: self.item(id.as_str()).await?.as_ref().and_then(claim_of),
            }),
            Err(e) => Err(store_error(classify(&e, "renew claim"))),
        }
    }

    async fn release(&self, id: &OrderId, owner: &str) -> Result<(), OrderStoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("order_id", s(id.as_str()))
            .update_expression("REMOVE claim_owner, claim_expires")
            .condition_expression("claim_owner = :me")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()), // not ours (any more)
            Err(e) => Err(store_error(classify(&e, "release claim"))),
        }
    }

    async fn update(
        &self,
        order: &Order,
        expected: OrderStatus,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        let doc =
            serde_json::to_string(order).map_err(|e| OrderStoreError::Backend(Box::new(e)))?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("order_id", s(order.id().as_str()))
            .update_expression("SET #s = :status, doc = :doc")
            .condition_expression("#s = :expected AND claim_owner = :me AND claim_expires > :now")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":status", s(order.status().as_str()))
            .expression_attribute_values(":doc", AttributeValue::S(doc))
            .expression_attribute_values(":expected", s(expected.as_str()))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":now", ms(now))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => {
                let item = self.item(order.id().as_str()).await?;
                let actual = item.as_ref().map(decode).transpose()?.map(|o| o.status());
                if actual == Some(expected) {
                    Err(OrderStoreError::ClaimLost {
                        id: order.id().clone(),
                        owner: owner.to_owned(),
                        holder: item.as_ref().and_then(claim_of),
                    })
                } else {
                    Err(OrderStoreError::Conflict {
                        id: order.id().clone(),
                        expected,
                        actual,
                    })
                }
            }
            Err(e) => Err(store_error(classify(&e, "update order"))),
        }
    }

    async fn record_poison(&self, record: &PoisonRecord) -> Result<(), OrderStoreError> {
        let doc =
            serde_json::to_string(record).map_err(|e| OrderStoreError::Backend(Box::new(e)))?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(
                "order_id",
                s(&format!("{POISON_PREFIX}{}", record.message_id)),
            )
            .item("status", s("POISON"))
            .item("created_at", ms(record.at))
            .item("doc", AttributeValue::S(doc))
            .condition_expression("attribute_not_exists(order_id)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()), // recorded by an earlier delivery
            Err(e) => Err(store_error(classify(&e, "record poison"))),
        }
    }
}

/// Keys of poison records in the orders table (order ids cannot hold `#`).
const POISON_PREFIX: &str = "poison#";
/// Keys of paper executions in the orders table.
const PAPER_PREFIX: &str = "paper#";

impl DynamoOrderStore {
    /// The poison records, newest first (the `by_status` index under `POISON`; eventually
    /// consistent).
    ///
    /// # Errors
    /// As the store's operations.
    pub async fn poison_records(&self, limit: i32) -> Result<Vec<PoisonRecord>, OrderStoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("by_status")
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s("POISON"))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(|e| store_error(classify(&e, "query poison")))?;
        out.items()
            .iter()
            .map(|i| {
                let doc = i
                    .get("doc")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                serde_json::from_str(&doc).map_err(|e| OrderStoreError::Corrupt {
                    id: "poison record".into(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// The paper executor's book in this table (items `paper#{client order id}`), shared by
    /// every process that uses the table.
    #[must_use]
    pub fn execution_book(&self) -> DynamoExecutionBook {
        DynamoExecutionBook {
            client: self.client.clone(),
            table: self.table.clone(),
        }
    }
}

/// A paper executor's executions in the orders table, one item per client order id with the
/// execution (`doc`) and the submissions that reached it (`attempts`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoExecutionBook {
    client: Client,
    table: String,
}

fn execution_error(f: Failure) -> ExecutionError {
    match f {
        Failure::Unavailable(m) => ExecutionError::Unavailable(m),
        Failure::Timeout => ExecutionError::Timeout(Duration::ZERO),
        Failure::Other(m) => ExecutionError::Backend(m.into()),
    }
}

fn decode_execution(item: &HashMap<String, AttributeValue>) -> Result<Execution, ExecutionError> {
    let doc = item
        .get("doc")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| ExecutionError::Backend("paper execution without doc".into()))?;
    serde_json::from_str(doc).map_err(|e| ExecutionError::Backend(Box::new(e)))
}

impl DynamoExecutionBook {
    /// Executions recorded and submissions that reached the book, over the whole table (a
    /// scan: for tests and audits, not for hot paths).
    ///
    /// # Errors
    /// [`ExecutionError`] from DynamoDB.
    pub async fn totals(&self) -> Result<(u64, u64), ExecutionError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(order_id, :p)")
            .expression_attribute_values(":p", s(PAPER_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .send();
        let (mut executions, mut attempts) = (0, 0);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| execution_error(classify(&e, "scan paper book")))?;
            for i in page.items() {
                executions += 1;
                attempts += i
                    .get("attempts")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        Ok((executions, attempts))
    }
}

#[async_trait]
impl ExecutionBook for DynamoExecutionBook {
    async fn record_first(&self, execution: &Execution) -> Result<Recorded, ExecutionError> {
        let doc =
            serde_json::to_string(execution).map_err(|e| ExecutionError::Backend(Box::new(e)))?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "order_id",
                s(&format!("{PAPER_PREFIX}{}", execution.client_order_id)),
            )
            .update_expression("SET doc = if_not_exists(doc, :doc) ADD attempts :one")
            .expression_attribute_values(":doc", AttributeValue::S(doc))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| execution_error(classify(&e, "record paper execution")))?;
        let item = out
            .attributes()
            .ok_or_else(|| ExecutionError::Backend("no attributes returned".into()))?;
        let first = item
            .get("attempts")
            .and_then(|v| v.as_n().ok())
            .is_some_and(|n| n == "1");
        Ok(Recorded {
            execution: decode_execution(item)?,
            first,
        })
    }

    async fn get(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("order_id", s(&format!("{PAPER_PREFIX}{client_order_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| execution_error(classify(&e, "get paper execution")))?;
        out.item().map(decode_execution).transpose()
    }
}
