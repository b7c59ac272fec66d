//! Authentication, in the service's order: signature parts, key, signature (all checked by
//! the core's verifier), then the timestamp window, nonce replay and STS token ownership.

use bytes::Bytes;
use http::Request;
use swas_open_core::{verify_request, ErrorCode, Verified};

use crate::reply::{Answer, Ctx};
use crate::state::{Shared, WINDOW_SECS};

/// The verified request, or the error answer.
pub(crate) fn authenticate(
    shared: &Shared,
    ctx: &Ctx,
    request: &Request<Bytes>,
) -> Result<Verified, Answer> {
    let keys = &shared.config.keys;
    let verified =
        verify_request(request, |id| keys.get(id).map(|k| k.secret.clone())).map_err(|e| {
            let code = e.code();
            Answer::error(ctx, code.status(), code, e.to_string())
        })?;

    let now = shared.now_unix();
    if verified.timestamp.unix().abs_diff(now) > WINDOW_SECS {
        return Err(Answer::coded(ctx, ErrorCode::InvalidTimeStampExpired));
    }
    if !shared.fresh_nonce(
        &verified.access_key_id,
        &verified.nonce,
        verified.timestamp.unix(),
    ) {
        return Err(Answer::coded(ctx, ErrorCode::SignatureNonceUsed));
    }
    let expected = keys
        .get(&verified.access_key_id)
        .and_then(|k| k.security_token.as_deref());
    let received = verified.security_token.as_deref().filter(|t| !t.is_empty());
    if expected != received {
        return Err(Answer::coded(
            ctx,
            ErrorCode::InvalidSecurityTokenMismatchWithAccessKey,
        ));
    }
    Ok(verified)
}
