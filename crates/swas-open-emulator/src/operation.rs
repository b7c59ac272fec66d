//! The one operation: DeleteCustomImage on the in-memory images, idempotent by ClientToken.

use http::StatusCode;
use swas_open_core::{ClientToken, ErrorCode, ImageId, RegionId, Verified, ACTION, API_VERSION};

use crate::auth::Authenticated;
use crate::idempotency::{Fingerprint, Lookup};
use crate::reply::{Answer, Ctx};
use crate::state::Shared;

/// Parameters of the signing protocol rather than of the operation: they differ between two
/// attempts of one call and so are left out of the idempotency comparison.
const PROTOCOL_PARAMS: &[&str] = &[
    "AccessKeyId",
    "Action",
    "ClientToken",
    "Format",
    "SecurityToken",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureType",
    "SignatureVersion",
    "Timestamp",
    "Version",
];

/// Answers an authenticated request.
pub(crate) fn handle(shared: &Shared, ctx: &Ctx, authenticated: &Authenticated) -> Answer {
    let request = &authenticated.request;
    match request.action.as_deref() {
        None | Some("") => return missing(ctx, "Action"),
        Some(ACTION) => {}
        Some(_) => return Answer::coded(ctx, ErrorCode::InvalidActionNotFound),
    }
    match request.api_version.as_deref() {
        None | Some("") => return missing(ctx, "Version"),
        Some(API_VERSION) => {}
        Some(_) => return Answer::coded(ctx, ErrorCode::InvalidVersion),
    }
    // An empty ClientToken, as some SDKs send for unset optional parameters, means none.
    let token = match request.param("ClientToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match ClientToken::new(t) {
            Ok(t) => Some(t),
            Err(e) => return invalid(ctx, e),
        },
    };

    let mut store = shared.store();
    let Some(token) = token else {
        return delete(shared, &mut store.images, ctx, request);
    };
    let operation: Vec<(String, String)> = request
        .params
        .iter()
        .filter(|(n, _)| !PROTOCOL_PARAMS.contains(&n.as_str()))
        .cloned()
        .collect();
    let fingerprint = Fingerprint::of(&operation);
    // Per account: a retry signed with refreshed credentials (a new AccessKey id) is the
    // same caller.
    let account = authenticated.account.as_deref();
    match store.tokens.lookup(account, token.as_str(), fingerprint) {
        Lookup::Replay(answer) => answer,
        Lookup::Mismatch => Answer::coded(ctx, ErrorCode::IdempotentParameterMismatch),
        Lookup::New => {
            let answer = delete(shared, &mut store.images, ctx, request);
            store
                .tokens
                .record(account, token.as_str(), fingerprint, answer.clone());
            answer
        }
    }
}

fn delete(
    shared: &Shared,
    images: &mut std::collections::BTreeMap<String, std::collections::BTreeMap<String, bool>>,
    ctx: &Ctx,
    request: &Verified,
) -> Answer {
    let region = match request.param("RegionId").filter(|v| !v.is_empty()) {
        None => return missing(ctx, "RegionId"),
        Some(r) => match RegionId::new(r) {
            Ok(r) => r,
            Err(e) => return invalid(ctx, e),
        },
    };
    let image = match request.param("ImageId").filter(|v| !v.is_empty()) {
        None => return missing(ctx, "ImageId"),
        Some(i) => match ImageId::new(i) {
            Ok(i) => i,
            Err(e) => return invalid(ctx, e),
        },
    };
    let Some(region_images) = images.get_mut(region.as_str()) else {
        return Answer::coded(ctx, ErrorCode::InvalidImageIdNotFound);
    };
    match region_images.get(image.as_str()) {
        None => Answer::coded(ctx, ErrorCode::InvalidImageIdNotFound),
        Some(true) => Answer::coded(ctx, ErrorCode::CustomImageInShare),
        Some(false) => {
            region_images.remove(image.as_str());
            shared.count_delete();
            Answer::success(ctx)
        }
    }
}

fn missing(ctx: &Ctx, name: &str) -> Answer {
    Answer::error(
        ctx,
        StatusCode::BAD_REQUEST,
        ErrorCode::MissingParameter,
        &format!(
            "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
        ),
    )
}

fn invalid(ctx: &Ctx, e: swas_open_core::InputError) -> Answer {
    Answer::error(
        ctx,
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidParameter,
        &e.to_string(),
    )
}
