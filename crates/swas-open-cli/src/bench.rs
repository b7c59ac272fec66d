//! `swas bench sign`: signer throughput without a benchmark harness.
//!
//! Each iteration does what a client does per call before sending: validate the input (with
//! a ClientToken), make the signing context, and sign with [`Signer::sign`]. The signer is
//! built once, as a client builds it once. One warm-up round, then the median of
//! [`ROUNDS`] rounds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use swas_open_core::{
    Credentials, DeleteCustomImage, Endpoint, Nonce, SignatureVersion, Signer, SigningContext,
    Timestamp,
};

use crate::cli::BenchSignArgs;
use crate::exit::Failure;
use crate::output;

/// Timed rounds per scheme.
pub const ROUNDS: usize = 7;

/// Prints `v1: <ns> ns/sign` and `v3: <ns> ns/sign`.
pub fn sign(args: &BenchSignArgs) -> Result<(), Failure> {
    let timestamp = "2016-02-23T12:46:24Z"
        .parse::<Timestamp>()
        .map_err(|e| Failure::NoAnswer(format!("benchmark timestamp: {e}")))?;
    let endpoint = "swas.cn-hangzhou.aliyuncs.com".parse::<Endpoint>()?;
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        let signer = Signer::new(Credentials::new("bench-access-key-id", "bench-secret")?)
            .with_signature_version(version);
        let round = || -> Result<Duration, Failure> {
            let started = Instant::now();
            for i in 0..args.iterations {
                let input = DeleteCustomImage::new(
                    black_box("cn-hangzhou"),
                    black_box("m-2zehv38jjmwva1ee****"),
                )?
                .with_client_token(black_box("123e4567-e89b-12d3-a456-426655440000"))?;
                let nonce = Nonce::from_random_bytes(u128::from(i).to_le_bytes());
                let ctx = SigningContext::new(timestamp, nonce);
                black_box(signer.sign(&input, &endpoint, &ctx));
            }
            Ok(started.elapsed())
        };
        round()?;
        let mut ns_per_sign = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            ns_per_sign.push(round()?.as_nanos() as f64 / args.iterations as f64);
        }
        ns_per_sign.sort_by(f64::total_cmp);
        let median = ns_per_sign[ROUNDS / 2];
        output::stdout(&format!("{}: {median:.1} ns/sign", version));
    }
    Ok(())
}
