//! The scenario suite every client runs (each scenario a test of its own), with the async client.

mod common;

use swas_open_hyper::{Client, DeleteCustomImage, DeleteCustomImageOutput, Error};
use swas_open_testkit::Driver;
use tokio::runtime::Runtime;

/// The async client driven from plain tests: each call runs to its end on a current-thread
/// runtime, and concurrent calls are tasks on it.
///
/// Current-thread, because on a multi-threaded runtime a call that starts while hyper-util
/// is still handing the previous call's connection back to its pool (from a background task)
/// opens another connection, which makes connection counts vary from run to run; the pool's
/// behaviour on a multi-threaded runtime is tested on its own in `concurrency.rs`.
struct Async {
    runtime: Runtime,
}

impl Async {
    fn new() -> Self {
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
            .block_on(common::delete_all(client, inputs, concurrency))
    }

    fn clock_offset(&self, client: &Client) -> i64 {
        client.clock_offset()
    }
}

fn main() -> std::process::ExitCode {
    swas_open_testkit::run_suite(Async::new, &[])
}
