//! Delete a custom image from a sync app.
//!
//! Runs offline: it starts the local emulator first and points the client at it. Against the
//! real service, drop the emulator and the `.endpoint(..)` line, and let the client find
//! credentials in the environment or the aliyun CLI's config.
//!
//! `cargo run --example blocking --features blocking,emulator`

use std::time::Duration;

use swas_open::blocking::Client;
use swas_open::emulator::Emulator;
use swas_open::ErrorCode;
use swas_open::{Credentials, DeleteCustomImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .access_key("demo-id", "demo-secret")
        .image("cn-hangzhou", "m-demo")
        .start_blocking()?;

    let client = Client::builder()
        .credentials(Credentials::new("demo-id", "demo-secret")?)
        .endpoint(&emulator.url())
        .read_timeout(Duration::from_secs(10))
        .build()?;

    let input = DeleteCustomImage::new("cn-hangzhou", "m-demo")?;
    let out = client.delete_custom_image(&input)?;
    println!(
        "deleted m-demo: RequestId {}, ClientToken {}, {} attempt(s)",
        out.request_id, out.client_token, out.attempts
    );

    // A second delete with a new ClientToken finds nothing to delete.
    match client.delete_custom_image(&input) {
        Err(e) if e.code() == Some(&ErrorCode::InvalidImageIdNotFound) => {
            println!("second delete: {e}")
        }
        other => return Err(format!("unexpected: {other:?}").into()),
    }
    // Repeating the first call's ClientToken replays its answer instead.
    let again = client.delete_custom_image(&input.clone().with_client_token(out.client_token)?)?;
    assert_eq!(again.request_id, out.request_id);
    println!(
        "replayed with the same ClientToken: RequestId {}",
        again.request_id
    );
    Ok(())
}
