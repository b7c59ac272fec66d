//! Valid signing inputs, as one strategy for the property tests inside the crate (the fast
//! signers against the generic construction) and those of the public API (sign, verify,
//! tamper). The including module has the core's types in scope.

use super::{
    Credentials, DeleteCustomImage, Nonce, SignatureVersion, Signer, SigningContext, Timestamp,
};
use proptest::prelude::*;

prop_compose! {
    /// A signer (V1 or V3, with or without an STS token), an input, a context, and what
    /// they were built from that a check needs: the secret, the version and the token.
    pub(crate) fn valid_inputs()(
        region in "[a-z0-9-]{1,20}",
        image in "[^\\s\\p{Cc}]{1,40}",
        token in proptest::option::of("[ -~]{1,64}"),
        id in "[A-Za-z0-9.]{1,24}",
        secret in "[!-~]{1,40}",
        // Long tokens take the signers' buffers past the stack.
        sts in proptest::option::of(prop_oneof!["[!-~]([ -~]{0,78}[!-~])?", "[!-~]{600,2000}"]),
        unix in 0u64..4_102_444_800,
        nonce in "[A-Za-z0-9_.~-]{1,64}",
        v3 in any::<bool>(),
    ) -> (Signer, DeleteCustomImage, SigningContext, String, SignatureVersion, Option<String>) {
        let mut creds = Credentials::new(id, secret.clone()).unwrap();
        if let Some(t) = &sts {
            creds = creds.with_security_token(t.clone()).unwrap();
        }
        let mut op = DeleteCustomImage::new(region, image).unwrap();
        if let Some(t) = token {
            op = op.with_client_token(t).unwrap();
        }
        let ctx = SigningContext::new(Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix)).unwrap(), Nonce::new(nonce).unwrap());
        let version = if v3 { SignatureVersion::V3 } else { SignatureVersion::V1 };
        (Signer::new(creds).with_signature_version(version), op, ctx, secret, version, sts)
    }
}
