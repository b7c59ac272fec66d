//! Export the client's metrics: here with a Prometheus recorder, whose scrape output is
//! printed at the end. The client chooses no exporter; any `metrics` recorder works.
//!
//! Runs offline against the local emulator, with a throttled answer and a server error on
//! the way, so retries and error codes show.
//!
//! `cargo run --example metrics --features blocking,emulator,metrics`

use metrics_exporter_prometheus::PrometheusBuilder;
use swas_open::blocking::Client;
use swas_open::emulator::{Emulator, Fault};
use swas_open::{Credentials, DeleteCustomImage, ErrorCode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let emulator = Emulator::builder()
        .access_key("demo-id", "demo-secret")
        .image("cn-hangzhou", "m-1")
        .image("cn-hangzhou", "m-2")
        .start_blocking()?;
    emulator.inject(Fault::throttling(20));
    emulator.inject(Fault::error(500, ErrorCode::InternalError));

    let client = Client::builder()
        .credentials(Credentials::new("demo-id", "demo-secret")?)
        .endpoint(&emulator.url())
        .build()?;
    for image in ["m-1", "m-2", "m-absent"] {
        let input = DeleteCustomImage::new("cn-hangzhou", image)?;
        match client.delete_custom_image(&input) {
            Ok(out) => println!("{image}: deleted after {} attempt(s)", out.attempts),
            Err(e) => println!("{image}: {}", e.code().map_or("no answer", |c| c.as_str())),
        }
    }

    println!("\n# scrape output\n{}", prometheus.render());
    Ok(())
}
