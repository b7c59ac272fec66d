//! The blocking and async clients are interchangeable: the same inputs against the same
//! emulator give the same outcomes, down to the error codes and the attempts made.

#![cfg(all(feature = "blocking", feature = "async", feature = "emulator"))]

use swas_open::emulator::{Emulator, Fault};
use swas_open::sans_io::ErrorCode;
use swas_open::{Credentials, DeleteCustomImage, SignatureVersion};

/// What a call came to, comparable across clients.
#[derive(Debug, PartialEq)]
enum Outcome {
    Deleted { attempts: u32 },
    Failed(ErrorCode),
}

fn outcome(result: Result<swas_open::DeleteOutput, swas_open::Error>) -> Outcome {
    match result {
        Ok(out) => Outcome::Deleted {
            attempts: out.attempts,
        },
        Err(e) => Outcome::Failed(e.code().cloned().unwrap_or_else(|| panic!("{e}"))),
    }
}

/// A call through one client: the emulator, the secret to sign with, the input.
type CallFn<'a> = &'a dyn Fn(&Emulator, &str, &DeleteCustomImage) -> Outcome;

/// Runs the scenarios against a fresh emulator: success, the same image again, a shared
/// image, a wrong secret, and two injected 503s before success.
fn scenarios(call: CallFn<'_>) -> Vec<Outcome> {
    let emulator = Emulator::builder()
        .access_key("id", "secret")
        .image("cn-hangzhou", "m-1")
        .image("cn-hangzhou", "m-2")
        .shared_image("cn-hangzhou", "m-shared")
        .start_blocking()
        .unwrap();
    let input = |image: &str| DeleteCustomImage::new("cn-hangzhou", image).unwrap();
    let mut out = vec![
        call(&emulator, "secret", &input("m-1")),
        call(&emulator, "secret", &input("m-1")),
        call(&emulator, "secret", &input("m-shared")),
        call(&emulator, "wrong", &input("m-2")),
    ];
    emulator.inject(Fault::error(503, "ServiceUnavailable").times(2));
    out.push(call(&emulator, "secret", &input("m-2")));
    assert_eq!(emulator.stats().deletes, 2);
    out
}

#[test]
fn blocking_and_async_clients_agree() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        let blocking = scenarios(&|emu, secret, input| {
            let client = swas_open::blocking::Client::builder()
                .credentials(Credentials::new("id", secret).unwrap())
                .endpoint(&emu.url())
                .signature_version(version)
                .build()
                .unwrap();
            outcome(client.delete_custom_image(input))
        });
        let asynchronous = scenarios(&|emu, secret, input| {
            let client = swas_open::asynchronous::Client::builder()
                .credentials(Credentials::new("id", secret).unwrap())
                .endpoint(&emu.url())
                .signature_version(version)
                .build()
                .unwrap();
            outcome(runtime.block_on(client.delete_custom_image(input)))
        });
        assert_eq!(
            blocking,
            [
                Outcome::Deleted { attempts: 1 },
                Outcome::Failed(ErrorCode::InvalidImageIdNotFound),
                Outcome::Failed(ErrorCode::CustomImageInShare),
                Outcome::Failed(ErrorCode::SignatureDoesNotMatch),
                Outcome::Deleted { attempts: 3 },
            ],
            "{version:?}"
        );
        assert_eq!(blocking, asynchronous, "{version:?}");
    }
}
