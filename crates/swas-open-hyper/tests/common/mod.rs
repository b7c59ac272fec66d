//! What the async client's test crates share: many calls at once on tasks.

use std::sync::Arc;

use swas_open_hyper::{Client, DeleteCustomImage, DeleteCustomImageOutput, Error};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Runs one delete per input, at most `limit` at a time, each on its own task; the results
/// come back in the order of `inputs`.
pub async fn delete_all(
    client: &Client,
    inputs: Vec<DeleteCustomImage>,
    limit: usize,
) -> Vec<Result<DeleteCustomImageOutput, Error>> {
    let permits = Arc::new(Semaphore::new(limit));
    let mut tasks = JoinSet::new();
    for (i, op) in inputs.into_iter().enumerate() {
        let (client, permits) = (client.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            (i, client.delete_custom_image(&op).await)
        });
    }
    let mut results = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.expect("task does not panic"));
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
