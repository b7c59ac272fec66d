//! `--dry-run`: sign the request exactly as it would be sent, print it, send nothing.
//!
//! The output is the request line `METHOD URL`, then one `name: value` line per header in
//! the request's order. The AccessKey secret is never part of a request; an STS token is,
//! and shows as `***` both in the query (`SecurityToken`) and in its header.

use std::fmt::Write as _;
use std::time::SystemTime;

use swas_open_core::{DeleteCustomImage, Endpoint, Nonce, Signer, SigningContext, Timestamp};

use crate::cli::DeleteArgs;
use crate::exit::Failure;
use crate::output;

/// What stands in for a security token.
const MASK: &str = "***";

/// Signs `input` with `--timestamp`/`--nonce` (else now and a random nonce) and prints it.
pub fn run(
    args: &DeleteArgs,
    input: &DeleteCustomImage,
    endpoint: &Endpoint,
    signer: &Signer,
) -> Result<(), Failure> {
    let timestamp = match args.timestamp {
        Some(timestamp) => timestamp,
        None => Timestamp::try_from(SystemTime::now())
            .map_err(|e| Failure::NoAnswer(format!("the system clock is unusable: {e}")))?,
    };
    let nonce = match &args.nonce {
        Some(nonce) => nonce.clone(),
        None => Nonce::from_random_bytes(rand::random()),
    };
    let request = signer.sign(input, endpoint, &SigningContext::new(timestamp, nonce));
    output::stdout(&render(&request));
    Ok(())
}

/// `METHOD URL`, then `name: value` per header, each line ending in `\n`, tokens masked.
pub fn render<B>(request: &http::Request<B>) -> String {
    let uri = request.uri();
    let mut out = format!(
        "{} {}://{}{}",
        request.method(),
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map_or("", |a| a.as_str()),
        uri.path()
    );
    if let Some(query) = uri.query() {
        out.push('?');
        out.push_str(&mask_query(query));
    }
    out.push('\n');
    for (name, value) in request.headers() {
        let value = if name.as_str() == "x-acs-security-token" {
            MASK.into()
        } else {
            String::from_utf8_lossy(value.as_bytes())
        };
        let _ = writeln!(out, "{name}: {value}");
    }
    out
}

/// The query with the value of every `SecurityToken` parameter replaced by `***`.
fn mask_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("SecurityToken", _)) => format!("SecurityToken={MASK}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use swas_open_core::{Credentials, SignatureVersion};

    fn signed(version: SignatureVersion) -> String {
        let creds = Credentials::new("STS.id", "the-secret")
            .unwrap()
            .with_security_token("zz9/tok+en")
            .unwrap();
        let signer = Signer::new(creds).with_signature_version(version);
        let op = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
        let ctx = SigningContext::new(
            "2016-02-23T12:46:24Z".parse::<Timestamp>().unwrap(),
            Nonce::new("n-1").unwrap(),
        );
        let endpoint = Endpoint::for_region(op.region_id(), swas_open_core::EndpointKind::Public);
        render(&signer.sign(&op, &endpoint, &ctx))
    }

    #[test]
    fn tokens_and_secrets_never_print() {
        for version in [SignatureVersion::V1, SignatureVersion::V3] {
            let text = signed(version);
            for hidden in ["the-secret", "zz9"] {
                assert!(
                    !text.contains(hidden),
                    "{version:?} shows {hidden}:\n{text}"
                );
            }
            assert!(text.starts_with("POST https://swas.cn-hangzhou.aliyuncs.com/?"));
            assert!(text.ends_with('\n'));
        }
        assert!(signed(SignatureVersion::V1).contains("&SecurityToken=***&"));
        assert!(signed(SignatureVersion::V3).contains("\nx-acs-security-token: ***\n"));
    }

    #[test]
    fn masking_keeps_other_parameters() {
        assert_eq!(
            mask_query("A=1&SecurityToken=x%2Fy&SecurityTokenX=2&B="),
            "A=1&SecurityToken=***&SecurityTokenX=2&B="
        );
    }
}
