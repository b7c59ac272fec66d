//! The chain official clients need, with this project's own clients: credentials from the
//! emulator's plain-HTTP metadata listener, DeleteCustomImage over its HTTPS listener.

use std::collections::HashMap;
use std::io;

use swas_open::emulator::Emulator;
use swas_open::sans_io::{ClientBuilder, CredentialsProvider, FromConfig};
use swas_open::DeleteCustomImage;

/// The default chain over an environment that names only the instance role and the
/// metadata listener (no file is readable), as on an instance.
fn instance_credentials(imds_url: &str) -> CredentialsProvider {
    let env: HashMap<&str, String> = HashMap::from([
        ("ALIBABA_CLOUD_ECS_METADATA", "EcsRole".to_owned()),
        ("ALIBABA_CLOUD_IMDS_ENDPOINT", imds_url.to_owned()),
    ]);
    CredentialsProvider::from_environment(
        None,
        move |name| env.get(name).cloned(),
        |_| Err(io::Error::from(io::ErrorKind::NotFound)),
    )
}

/// A client of either transport with [`instance_credentials`], calling `url` over HTTPS
/// with `ca` trusted.
fn client<C: FromConfig>(imds_url: &str, url: &str, ca: &str) -> C {
    ClientBuilder::<C>::default()
        .credentials(instance_credentials(imds_url))
        .endpoint(url)
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

#[test]
fn instance_credentials_over_http_then_the_service_over_https() {
    let emulator = Emulator::builder()
        .instance_role("EcsRole")
        .imds_v2_only(true)
        .image("cn-hangzhou", "m-1")
        .image("cn-hangzhou", "m-2")
        .tls()
        .imds_listen("127.0.0.1:0".parse().unwrap())
        .start_blocking()
        .unwrap();
    let imds = emulator.imds_url().expect("a metadata listener");
    assert!(imds.starts_with("http://127.0.0.1:"), "{imds}");
    assert!(emulator.url().starts_with("https://127.0.0.1:"));
    assert_ne!(emulator.imds_addr(), Some(emulator.addr()));
    let ca = emulator.ca_pem().unwrap();

    let blocking: swas_open::blocking::Client = client(&imds, &emulator.url(), ca);
    let input = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
    blocking.delete_custom_image(&input).unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let asynchronous: swas_open::asynchronous::Client = client(&imds, &emulator.url(), ca);
    let input = DeleteCustomImage::new("cn-hangzhou", "m-2").unwrap();
    runtime
        .block_on(asynchronous.delete_custom_image(&input))
        .unwrap();

    assert!(emulator.images("cn-hangzhou").is_empty());
    let stats = emulator.stats();
    assert_eq!((stats.deletes, stats.credentials_issued), (2, 2));
    // A token and a credentials read each, all on the metadata listener.
    assert!(stats.imds_requests >= 4, "{stats:?}");
}
