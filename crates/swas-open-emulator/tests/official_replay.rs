//! Requests captured from the official Python SDKs (Tea V3 and RPC V1, legacy aliyunsdkcore;
//! plain and STS credentials), replayed byte for byte over a real socket against an emulator
//! that holds their keys and images and whose clock reads their timestamp.

mod support;

use std::time::{Duration, SystemTime};

use official_requests::{Official, OfficialRequest};
use support::{send, Resp};
use swas_open_core::Timestamp;
use swas_open_emulator::{Emulator, EmulatorBuilder};

#[path = "../../swas-open-core/tests/support/official_requests.rs"]
mod official_requests;

/// The captured requests, all six of them.
fn fixture() -> Vec<OfficialRequest> {
    let requests = Official::load().requests;
    assert_eq!(requests.len(), 6);
    requests
}

/// The request as the SDK wrote it: its method, target, headers in arrival order, body.
fn wire(c: &OfficialRequest) -> Vec<u8> {
    let mut raw = format!("{} {}?{} HTTP/1.1\r\n", c.method, c.path, c.raw_query);
    for (name, value) in &c.headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    raw.push_str(&c.body);
    raw.into_bytes()
}

/// The instant every captured request was signed at.
fn signed_at(requests: &[OfficialRequest]) -> SystemTime {
    let dates: Vec<&str> = requests
        .iter()
        .map(|c| {
            c.header("x-acs-date")
                .or_else(|| c.param("Timestamp"))
                .expect("a signing time")
        })
        .collect();
    assert!(dates.windows(2).all(|w| w[0] == w[1]), "{dates:?}");
    SystemTime::from(dates[0].parse::<Timestamp>().unwrap())
}

/// An emulator with the fixture's keys (one plain, one STS), its clock pinned to when the
/// requests were signed, and the images `add` registers.
async fn emulator(
    requests: &[OfficialRequest],
    add: impl Fn(EmulatorBuilder, &str, &str) -> EmulatorBuilder,
) -> Emulator {
    // A minute later than the signatures: well inside the 15-minute window.
    let now = signed_at(requests) + Duration::from_secs(60);
    let mut builder = Emulator::builder().clock(move || now);
    let mut seen = Vec::new();
    for c in requests {
        let (id, secret) = (c.access_key_id.as_str(), c.access_key_secret.as_str());
        if !seen.contains(&id) {
            seen.push(id);
            builder = match c.security_token.as_deref() {
                Some(token) => builder.sts_access_key(id, secret, token),
                None => builder.access_key(id, secret),
            };
        }
    }
    let mut images = Vec::new();
    for c in requests {
        let image = (c.region_id.as_str(), c.image_id.as_str());
        if !images.contains(&image) {
            images.push(image);
            builder = add(builder, image.0, image.1);
        }
    }
    builder.start().await.expect("emulator starts")
}

async fn replay(emu: &Emulator, c: &OfficialRequest) -> Resp {
    send(emu.addr(), &wire(c)).await.expect("an answer")
}

#[tokio::test]
async fn official_requests_succeed_replays_of_their_nonces_are_refused() {
    let requests = &fixture();
    let emu = emulator(requests, |b, region, image| b.image(region, image)).await;

    // Per ClientToken (one per image), the first request deletes and the others, from the
    // other SDKs with the same key and parameters, get the first answer again.
    let mut first_answer: Vec<(String, String)> = Vec::new();
    for c in requests {
        let sdk = &c.sdk;
        let resp = replay(&emu, c).await;
        assert_eq!(resp.status, 200, "{sdk}: {:?}", resp.json());
        let token = c.client_token.clone();
        match first_answer.iter().find(|(t, _)| *t == token) {
            Some((_, id)) => assert_eq!(&resp.request_id(), id, "{sdk}: replayed answer"),
            None => first_answer.push((token, resp.request_id())),
        }
        assert!(!emu.has_image(&c.region_id, &c.image_id), "{sdk}");
    }
    assert_eq!(emu.stats().deletes, 2);

    // The same bytes again: each nonce was used already.
    for c in requests {
        replay(&emu, c)
            .await
            .assert_error(400, "SignatureNonceUsed");
    }
    emu.shutdown();
}

#[tokio::test]
async fn official_requests_get_not_found_and_in_share() {
    let requests = &fixture();

    let absent = emulator(requests, |b, _, _| b).await;
    for c in requests {
        replay(&absent, c)
            .await
            .assert_error(404, "InvalidImageId.NotFound");
    }
    absent.shutdown();

    let shared = emulator(requests, |b, region, image| b.shared_image(region, image)).await;
    for c in requests {
        replay(&shared, c)
            .await
            .assert_error(400, "CustomImageInShare");
        assert!(shared.has_image(&c.region_id, &c.image_id));
    }
    shared.shutdown();
}

/// The emulator's clock decides: the same requests 16 minutes later are expired, and an STS
/// key registered with another token refuses them.
#[tokio::test]
async fn official_requests_outside_the_window_or_with_another_token_fail() {
    let requests = &fixture();
    let late = signed_at(requests) + Duration::from_secs(16 * 60);
    let mut builder = Emulator::builder().clock(move || late);
    for (id, secret) in keys(requests) {
        builder = builder.access_key(id, secret);
    }
    let emu = builder.start().await.unwrap();
    for c in requests {
        replay(&emu, c)
            .await
            .assert_error(400, "InvalidTimeStamp.Expired");
    }
    emu.shutdown();

    let on_time = signed_at(requests);
    let mut builder = Emulator::builder().clock(move || on_time);
    for (id, secret) in keys(requests) {
        builder = builder.sts_access_key(id, secret, "another-token");
    }
    let emu = builder.start().await.unwrap();
    for c in requests.iter().filter(|c| c.security_token.is_some()) {
        replay(&emu, c)
            .await
            .assert_error(400, "InvalidSecurityToken.MismatchWithAccessKey");
    }
    emu.shutdown();
}

/// Each AccessKey of the fixture once.
fn keys(requests: &[OfficialRequest]) -> Vec<(&str, &str)> {
    let mut keys: Vec<(&str, &str)> = requests
        .iter()
        .map(|c| (c.access_key_id.as_str(), c.access_key_secret.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}
