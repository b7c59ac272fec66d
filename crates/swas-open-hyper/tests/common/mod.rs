//! Shared set-up: an emulator with known keys and a client pointed at it.

#![allow(dead_code)]

use std::time::Duration;

use swas_open_emulator::Emulator;
use swas_open_hyper::{
    Client, ClientBuilder, Credentials, DeleteCustomImage, DeleteOutput, Error, RetryPolicy,
};

pub const ID: &str = "test-access-key-id";
pub const SECRET: &str = "test-access-key-secret-9f2c";
pub const STS_ID: &str = "STS.test-temporary-id";
pub const STS_SECRET: &str = "test-sts-secret-41d7";
pub const STS_TOKEN: &str = "test-security-token-CAIS8gF1q6Ft5B2yfSjIr5bSEsnD2rVM";
pub const REGION: &str = "cn-hangzhou";

/// An emulator knowing both keys, with the given images in [`REGION`].
pub async fn emulator(images: &[&str]) -> Emulator {
    let mut builder = Emulator::builder()
        .access_key(ID, SECRET)
        .sts_access_key(STS_ID, STS_SECRET, STS_TOKEN)
        .shared_image(REGION, "m-shared");
    for image in images {
        builder = builder.image(REGION, image);
    }
    builder.start().await.expect("emulator starts")
}

/// A retry policy with short waits, so tests that retry stay quick.
pub fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::new(max_attempts)
        .with_base_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(50))
}

/// The temporary key the emulator knows: [`STS_ID`] with its secret and token.
pub fn temporary_credentials() -> Credentials {
    Credentials::new(STS_ID, STS_SECRET)
        .unwrap()
        .with_security_token(STS_TOKEN)
        .unwrap()
}

/// A builder aimed at `endpoint` with the plain test key and the default retry policy.
pub fn builder_for(endpoint: &str) -> ClientBuilder {
    Client::builder()
        .credentials(Credentials::new(ID, SECRET).unwrap())
        .endpoint(endpoint)
}

/// A builder aimed at `emu` with the plain test key and quick retries.
pub fn builder(emu: &Emulator) -> ClientBuilder {
    builder_for(&emu.url()).retry_policy(quick_retries(3))
}

pub fn client(emu: &Emulator) -> Client {
    builder(emu).build().expect("client builds")
}

/// The delete of `image` in [`REGION`].
pub fn input(image: &str) -> DeleteCustomImage {
    DeleteCustomImage::new(REGION, image).unwrap()
}

/// Deletes `image` in [`REGION`] with `client`.
pub async fn delete(client: &Client, image: &str) -> Result<DeleteOutput, Error> {
    client.delete_custom_image(&input(image)).await
}
