//! Authentication, in the service's order: signature parts, key, signature (all checked by
//! the core's verifier), then the timestamp window, nonce replay, STS token ownership and the
//! expiry of temporary credentials. SWAS and STS's `AssumeRole` share it.

use bytes::Bytes;
use http::{Request, StatusCode};
use swas_open_core::{verify_request, ErrorCode, Verified};

use crate::nonce::Fresh;
use crate::reply::{Answer, Ctx};
use crate::state::{unix_secs, within_window, KnownKey, Shared};

/// A request whose signature, timestamp, nonce and token passed.
pub(crate) struct Authenticated {
    pub(crate) request: Verified,
    /// The account the signing key belongs to (`None`: the unnamed default account).
    pub(crate) account: Option<String>,
}

/// The verified request, or the error answer.
pub(crate) fn authenticate(
    shared: &Shared,
    ctx: &Ctx,
    request: &Request<Bytes>,
) -> Result<Authenticated, Answer> {
    let mut known: Option<KnownKey> = None;
    let verified = verify_request(request, |id| {
        known = shared.key(id);
        known.as_ref().map(|k| k.secret.clone())
    })
    .map_err(|e| {
        let code = e.code();
        Answer::error(ctx, code.status(), code, &e.to_string())
    })?;
    let Some(key) = known else {
        return Err(Answer::coded(ctx, ErrorCode::InvalidAccessKeyIdNotFound));
    };

    let now = shared.now_unix();
    let signed_at = unix_secs(verified.timestamp);
    if !within_window(signed_at, now) {
        return Err(Answer::coded(ctx, ErrorCode::InvalidTimeStampExpired));
    }
    match shared.fresh_nonce(&verified.access_key_id, &verified.nonce, signed_at) {
        Fresh::Yes => {}
        Fresh::Replay => return Err(Answer::coded(ctx, ErrorCode::SignatureNonceUsed)),
        Fresh::Full => {
            return Err(Answer::error(
                ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "Too many requests inside the timestamp window to remember every nonce; \
                 retry once older requests have left the window.",
            ))
        }
    }
    let received = verified.security_token.as_deref().filter(|t| !t.is_empty());
    if key.security_token.as_deref() != received {
        return Err(Answer::coded(
            ctx,
            ErrorCode::InvalidSecurityTokenMismatchWithAccessKey,
        ));
    }
    if key.expires_at.is_some_and(|at| now >= at) {
        return Err(Answer::coded(ctx, ErrorCode::InvalidSecurityTokenExpired));
    }
    Ok(Authenticated {
        request: verified,
        account: key.account,
    })
}
