//! The AWS-protocol server answers S3, DynamoDB and SQS through the SDK clients configured by
//! `axia_aws::load_sdk_config`, as the adapters are.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::primitives::ByteStream;

use crate::{required_env, unique_name};

async fn sdk_config() -> axia_aws::SdkConfig {
    // The suite must never reach for the cloud metadata address.
    assert_eq!(required_env("AWS_EC2_METADATA_DISABLED"), "true");
    required_env("AWS_ACCESS_KEY_ID");
    let endpoint = required_env("AWS_ENDPOINT_URL");
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests talk to loopback only: {endpoint}"
    );
    axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await
}

#[tokio::test]
async fn s3_create_bucket_put_get() {
    let conf = sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique_name("smoke");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let key = "ohlcv/symbol=USDJPY/timeframe=H1/2026-01.parquet";
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .body(ByteStream::from_static(b"PAR1"))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..], b"PAR1");
    let missing = s3
        .get_object()
        .bucket(&bucket)
        .key("absent")
        .send()
        .await
        .unwrap_err();
    assert!(missing.into_service_error().is_no_such_key());
}

#[tokio::test]
async fn dynamodb_create_table_and_conditional_put() {
    let conf = sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let table = unique_name("smoke");
    ddb.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("order_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("order_id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let put = || {
        ddb.put_item()
            .table_name(&table)
            .item("order_id", AttributeValue::S("o-1".into()))
            .item("status", AttributeValue::S("RECEIVED".into()))
            .condition_expression("attribute_not_exists(order_id)")
    };
    put().send().await.unwrap();
    let second = put().send().await.unwrap_err();
    assert!(
        second
            .into_service_error()
            .is_conditional_check_failed_exception(),
        "the conditional put refuses a duplicate"
    );
    let item = ddb
        .get_item()
        .table_name(&table)
        .key("order_id", AttributeValue::S("o-1".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        item.item().unwrap()["status"],
        AttributeValue::S("RECEIVED".into())
    );
}

#[tokio::test]
async fn sqs_send_receive_delete() {
    let conf = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue = unique_name("smoke");
    let url = sqs
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body(r#"{"order_id":"o-1"}"#)
        .send()
        .await
        .unwrap();
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let messages = got.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body(), Some(r#"{"order_id":"o-1"}"#));
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(messages[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let again = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap();
    assert!(again.messages().is_empty(), "a deleted message is gone");
}
