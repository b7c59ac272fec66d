//! Shared set-up: the scenario suite's fixture, and the driver that runs it on tokio.

#![allow(dead_code, unused_imports)]

use std::sync::Arc;

use swas_open_emulator::Emulator;
use swas_open_hyper::{Client, DeleteCustomImage, DeleteCustomImageOutput, Error};
pub use swas_open_testkit::{
    builder, input, quick_retries, Driver, ID, REGION, SECRET, STS_ID, STS_SECRET, STS_TOKEN,
};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// An emulator knowing the test keys, with the given images in [`REGION`], on the current
/// runtime.
pub async fn emulator(images: &[&str]) -> Emulator {
    swas_open_testkit::emulator_builder(images)
        .start()
        .await
        .expect("emulator starts")
}

pub fn client(emu: &Emulator) -> Client {
    builder(emu).build().expect("client builds")
}

/// Deletes `image` in [`REGION`] with `client`.
pub async fn delete(client: &Client, image: &str) -> Result<DeleteCustomImageOutput, Error> {
    client.delete_custom_image(&input(image)).await
}

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

/// The async client driven from plain tests: each call runs to its end on a current-thread
/// runtime, and concurrent calls are tasks on it.
///
/// Current-thread, because on a multi-threaded runtime a call that starts while hyper-util
/// is still handing the previous call's connection back to its pool (from a background task)
/// opens another connection, which makes connection counts vary from run to run; the pool's
/// behaviour on a multi-threaded runtime is tested on its own in `concurrency.rs`.
pub struct Async {
    runtime: Runtime,
}

impl Async {
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime starts");
        Self { runtime }
    }
}

impl Driver for Async {
    type Client = Client;

    fn delete(
        &self,
        client: &Client,
        input: &DeleteCustomImage,
    ) -> Result<DeleteCustomImageOutput, Error> {
        self.runtime.block_on(client.delete_custom_image(input))
    }

    fn delete_all(
        &self,
        client: &Client,
        inputs: Vec<DeleteCustomImage>,
        concurrency: usize,
    ) -> Vec<Result<DeleteCustomImageOutput, Error>> {
        self.runtime
            .block_on(delete_all(client, inputs, concurrency))
    }

    fn clock_offset(&self, client: &Client) -> i64 {
        client.clock_offset()
    }
}
