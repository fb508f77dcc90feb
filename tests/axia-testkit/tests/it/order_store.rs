//! The OrderStore contract on: the in-memory store, and DynamoDB on moto (a fresh table each).

use std::sync::Arc;

use axia_domain::OrderStore;
use axia_memory::MemoryOrderStore;
use axia_testkit::order_store_contract;

order_store_contract!(memory, || async {
    Arc::new(MemoryOrderStore::default()) as Arc<dyn OrderStore>
});

order_store_contract!(dynamodb_on_moto, || async {
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let table = format!(
        "axia-contract-orders-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let store = axia_dynamodb::DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(&conf), table);
    store.create_table().await.unwrap();
    Arc::new(store) as Arc<dyn OrderStore>
});
