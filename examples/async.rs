//! Delete custom images from an async (tokio) app: 50 tasks at once through one client.
//!
//! Runs offline: it starts the local emulator first and points the client at it. Against the
//! real service, drop the emulator and the `.endpoint(..)` line.
//!
//! `cargo run --example async --features async,emulator`

use swas_open::asynchronous::Client;
use swas_open::emulator::Emulator;
use swas_open::{Credentials, DeleteCustomImage, SignatureVersion};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Emulator::builder().access_key("demo-id", "demo-secret");
    for i in 0..50 {
        builder = builder.image("cn-hangzhou", &format!("m-demo-{i}"));
    }
    let emulator = builder.start().await?;

    let client = Client::builder()
        .credentials(Credentials::new("demo-id", "demo-secret")?)
        .endpoint(&emulator.url())
        .signature_version(SignatureVersion::V3)
        .build()?;

    // `Client` is cheap to clone and its futures are `Send`: spawn one task per image.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let input = DeleteCustomImage::new("cn-hangzhou", format!("m-demo-{i}"))?;
            let out = client.delete_custom_image(&input).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(out.request_id)
        }));
    }
    let mut deleted = 0;
    for task in tasks {
        task.await?.map_err(|e| e.to_string())?;
        deleted += 1;
    }
    println!("deleted {deleted} images");
    println!("images left: {:?}", emulator.images("cn-hangzhou"));
    emulator.shutdown();
    Ok(())
}
