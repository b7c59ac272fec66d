//! The scenario suite every client runs (each scenario a test of its own), with the blocking client.

use swas_open_testkit::{on_threads, Driver};
use swas_open_ureq::{Client, DeleteCustomImage, DeleteCustomImageOutput, Error};

/// The blocking client: calls run on the test's thread, concurrent calls on scoped threads.
struct Blocking;

impl Driver for Blocking {
    type Client = Client;

    fn delete(
        &self,
        client: &Client,
        input: &DeleteCustomImage,
    ) -> Result<DeleteCustomImageOutput, Error> {
        client.delete_custom_image(input)
    }

    fn delete_all(
        &self,
        client: &Client,
        inputs: Vec<DeleteCustomImage>,
        concurrency: usize,
    ) -> Vec<Result<DeleteCustomImageOutput, Error>> {
        on_threads(inputs, concurrency, |input| {
            client.delete_custom_image(&input)
        })
    }

    fn clock_offset(&self, client: &Client) -> i64 {
        client.clock_offset()
    }
}

fn main() -> std::process::ExitCode {
    swas_open_testkit::run_suite(|| Blocking, &[])
}
