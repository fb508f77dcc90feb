//! [`DynamoOrderStore`].

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use axia_domain::{CreateOutcome, Order, OrderId, OrderStatus, OrderStore, OrderStoreError};

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

    async fn update(&self, order: &Order, expected: OrderStatus) -> Result<(), OrderStoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(order)?))
            .condition_expression("#s = :expected")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":expected", AttributeValue::S(expected.as_str().into()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                let actual = self.get(order.id()).await?.map(|o| o.status());
                Err(OrderStoreError::Conflict {
                    id: order.id().clone(),
                    expected,
                    actual,
                })
            }
            Err(e) => Err(store_error(classify(&e, "update order"))),
        }
    }
}
