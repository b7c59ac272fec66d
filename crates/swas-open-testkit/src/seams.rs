//! Promises across the seams between a client and the services it depends on: credential
//! services that fail or answer credentials already expired, and proxies. Each scenario
//! runs for both clients over real sockets against the emulator.

use std::path::Path;
use std::time::Duration;

use swas_open_core::{
    ClientBuilder, Credentials, CredentialsError, CredentialsProvider, DeleteCustomImage, ErrorKind,
};
use swas_open_emulator::{Emulator, Fault, Service};

use crate::creds::{
    chain, credential_services, credentials_error, role_options, role_provider, Home, AK,
    OIDC_PROVIDER, ROLE,
};
use crate::server::closed_port;
use crate::{quick_retries, Driver, REGION};

/// A RAM role client of `emu`: a new STS session at its first call.
fn role_client<D: Driver>(emu: &Emulator) -> D::Client {
    client::<D>(emu, role_provider(emu), None)
}

/// The scenarios of this module.
pub(crate) fn list<D: Driver>() -> Vec<crate::Scenario<D>> {
    crate::scenario_list![
        expired_on_arrival_is_a_failed_fetch,
        expirations_are_judged_by_the_service_clock,
        sts_outage_is_retried_and_a_refusal_is_not,
        metadata_is_never_proxied_and_a_dead_proxy_is_named,
        local_files_are_read_only_if_regular_and_bounded,
        a_retry_under_refreshed_credentials_gets_the_first_answer,
        a_second_sts_session_with_a_saved_token_gets_the_first_answer,
    ]
}

/// A client of `emu` with `provider`, three quick attempts a call, through `proxy` if any.
fn client<D: Driver>(
    emu: &Emulator,
    provider: CredentialsProvider,
    proxy: Option<&str>,
) -> D::Client {
    let mut builder = ClientBuilder::<D::Client>::default()
        .credentials(provider)
        .endpoint(&emu.url())
        .retry_policy(quick_retries(3));
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    builder.build().expect("client builds")
}

/// The provider of the credentials `emu` issues through `source`: `STS` (a RAM role), `URI`
/// (its credentials URI) or `IMDS` (its instance role).
fn issuer(source: &str, emu: &Emulator) -> CredentialsProvider {
    match source {
        "STS" => role_provider(emu),
        "URI" => {
            CredentialsProvider::credentials_uri(&emu.credentials_uri().expect("a credentials URI"))
        }
        _ => CredentialsProvider::ecs_ram_role_at(Some("web-role"), &emu.url()),
    }
}

/// An image `emu` now holds, and its delete.
fn image(emu: &Emulator, name: &str) -> DeleteCustomImage {
    emu.add_image(REGION, name, false);
    crate::input(name)
}

/// An error and its sources, on one line.
fn shown(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Credentials that arrive with a minute of life (inside the 3 minutes a call needs), from
/// STS, a credentials URI or the metadata service, are a failed fetch: the call fails with
/// an error that says so and points at the clock, after at most the policy's three fetches;
/// the next call gets that error at once, without a fetch of its own. Nothing is deleted.
fn expired_on_arrival_is_a_failed_fetch<D: Driver>(d: &D) {
    for source in ["STS", "URI", "IMDS"] {
        let emu = credential_services()
            .credential_lifetime(Duration::from_secs(60))
            .start_blocking()
            .expect("emulator starts");
        let client = client::<D>(&emu, issuer(source, &emu), None);
        let input = image(&emu, "m-1");
        for call in 0..2 {
            let e = credentials_error(d.delete(&client, &input).expect_err("expired"));
            assert!(
                matches!(e, CredentialsError::ExpiredOnArrival { .. }),
                "{source}: {e}"
            );
            assert!(e.to_string().contains("clock"), "{source}: {e}");
            let issued = emu.stats().credentials_issued;
            assert!((1..=3).contains(&issued), "{source}, call {call}: {issued}");
        }
        assert!(emu.has_image(REGION, "m-1"), "{source}");
        assert_eq!(emu.stats().requests, 0, "{source}: nothing was signed");
    }
}

/// This machine's clock 7 hours fast (the emulator's 7 hours behind): the credentials STS,
/// a credentials URI and the metadata service issue for an hour look long expired by our
/// clock, but their answers' `Date` says they have an hour left, and that is believed (it
/// is within 3 days of our clock). One fetch each, and one clock correction per client.
fn expirations_are_judged_by_the_service_clock<D: Driver>(d: &D) {
    for source in ["STS", "URI", "IMDS"] {
        let emu = credential_services()
            .clock_skew(-7 * 3600)
            .start_blocking()
            .expect("emulator starts");
        let client = client::<D>(&emu, issuer(source, &emu), None);
        let out = d
            .delete(&client, &image(&emu, "m-1"))
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        // STS checks the request's timestamp too: the refusal's Date corrects the client's
        // clock (one more STS request), and the delete is then right the first time.
        let (attempts, sts) = if source == "STS" { (1, 2) } else { (2, 0) };
        assert_eq!(out.attempts, attempts, "{source}: one clock correction");
        assert_eq!(emu.stats().sts_requests, sts, "{source}");
        assert_eq!(emu.stats().credentials_issued, 1, "{source}");
    }
}

/// One STS outage (a 503) is retried within the fetch and the call succeeds, and calls that
/// wait for that fetch share its retry; a refusal (an unknown role) is not retried, and its
/// error is typed, names the role and carries the RequestId.
fn sts_outage_is_retried_and_a_refusal_is_not<D: Driver>(d: &D) {
    let emu = credential_services()
        .start_blocking()
        .expect("emulator starts");
    emu.inject(Fault::error(503, "ServiceUnavailable").on(Service::Sts));
    let c = client::<D>(&emu, role_provider(&emu), None);
    d.delete(&c, &image(&emu, "m-1"))
        .expect("the second STS request succeeds");
    assert_eq!(emu.stats().sts_requests, 2);

    // Twenty calls at once through a fresh client: they share one fetch, whose first STS
    // request meets the outage and whose second succeeds.
    emu.inject(Fault::error(503, "ServiceUnavailable").on(Service::Sts));
    let before = emu.stats().sts_requests;
    let c = client::<D>(&emu, role_provider(&emu), None);
    let inputs = (0..20).map(|i| image(&emu, &format!("w-{i}"))).collect();
    for result in d.delete_all(&c, inputs, 20) {
        result.expect("every waiting call signs with the retried fetch's credentials");
    }
    assert_eq!(
        emu.stats().sts_requests - before,
        2,
        "one shared fetch, retried once"
    );

    let source = Credentials::new(AK.0, AK.1).expect("valid credentials");
    let unknown = "acs:ram::123456789012:role/unknown";
    let provider = CredentialsProvider::ram_role_arn(source, unknown, role_options(&emu));
    let c = client::<D>(&emu, provider, None);
    let e = credentials_error(d.delete(&c, &image(&emu, "m-2")).expect_err("refused"));
    let CredentialsError::Refused { refusal, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(refusal.status / 100, 4, "{e}");
    assert!(refusal.request_id.is_some(), "{e}");
    assert!(e.to_string().contains(unknown), "{e}");
    assert_eq!(emu.stats().sts_requests, 5, "a refusal is asked once");
}

/// The metadata service is never reached through a proxy: with a proxy where nothing
/// listens, the instance's credentials still come (three direct requests), and the
/// DeleteCustomImage request, which does go through the proxy, fails with an error that
/// names it. STS through that proxy fails the same way, as a credentials service that
/// could not be reached.
fn metadata_is_never_proxied_and_a_dead_proxy_is_named<D: Driver>(d: &D) {
    let emu = credential_services()
        .start_blocking()
        .expect("emulator starts");
    let proxy = closed_port().to_string();
    let url = format!("http://{proxy}");
    let imds = CredentialsProvider::ecs_ram_role_at(None, &emu.url());
    let c = client::<D>(&emu, imds, Some(&url));
    let e = d
        .delete(&c, &image(&emu, "m-1"))
        .expect_err("the delete goes through the dead proxy");
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Transport { .. } | ErrorKind::Timeout { .. }
        ),
        "{e:?}"
    );
    let text = shown(&e);
    assert!(text.contains(&proxy), "the proxy is named: {text}");
    let stats = emu.stats();
    assert_eq!((stats.imds_requests, stats.credentials_issued), (3, 1));
    assert_eq!(stats.requests, 0);

    let c = client::<D>(&emu, role_provider(&emu), Some(&url));
    let e = credentials_error(d.delete(&c, &image(&emu, "m-2")).expect_err("no STS"));
    assert!(e.is_transient(), "{e:?}");
    assert!(e.to_string().contains(&proxy), "the proxy is named: {e}");
    assert_eq!(emu.stats().sts_requests, 0);
}

/// A FIFO (opening it would block) and `/dev/zero` (reading it never ends) as the aliyun CLI
/// config file, the ini file and the OIDC token file each fail at once with an error that
/// names the file; so does a `source_profile` chain 10,000 profiles deep, in one short line.
fn local_files_are_read_only_if_regular_and_bounded<D: Driver>(d: &D) {
    let emu = credential_services()
        .start_blocking()
        .expect("emulator starts");
    let home = Home::new();
    let fifo = home.0.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", fifo.display());
    let options = role_options(&emu);
    for file in [fifo.as_path(), Path::new("/dev/zero")] {
        let shown = file.display().to_string();
        let imds_off = ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true".to_owned());
        let ini = [
            ("ALIBABA_CLOUD_CREDENTIALS_FILE", shown.clone()),
            imds_off.clone(),
        ];
        let providers = [
            ("config.json", CredentialsProvider::cli_profile(file, "p")),
            ("ini", chain(&home, None, &ini)),
            (
                "OIDC token",
                CredentialsProvider::oidc(ROLE, OIDC_PROVIDER, file, options.clone()),
            ),
        ];
        for (what, provider) in providers {
            let c = client::<D>(&emu, provider, None);
            let e = credentials_error(d.delete(&c, &image(&emu, "m-f")).expect_err(what));
            let text = e.to_string();
            assert!(text.contains(&shown), "{what}: {text}");
            assert!(text.contains("not a regular file"), "{what}: {text}");
        }
    }
    let mut profiles = vec![format!(
        r#"{{"name":"p0","mode":"AK","access_key_id":"{}","access_key_secret":"{}"}}"#,
        AK.0, AK.1
    )];
    for i in 1..10_000 {
        profiles.push(format!(
            r#"{{"name":"p{i}","mode":"ChainableRamRoleArn","source_profile":"p{}","ram_role_arn":"r"}}"#,
            i - 1
        ));
    }
    let config = home.write(
        "deep.json",
        &format!(r#"{{"profiles":[{}]}}"#, profiles.join(",")),
    );
    let c = client::<D>(
        &emu,
        CredentialsProvider::cli_profile(&config, "p9999"),
        None,
    );
    let e = credentials_error(d.delete(&c, &image(&emu, "m-d")).expect_err("too deep"));
    let text = e.to_string();
    assert!(text.contains("deeper than 32"), "{text}");
    assert!(text.len() < 300, "{} characters", text.len());
    assert_eq!(emu.stats().sts_requests, 0);
}

/// Credentials refreshed between a lost answer and the retry, within one call: the first
/// STS session's credentials can sign for about 3 s (a call needs 180 s of their 184), the
/// first attempt deletes the image and its answer is lost, the second is throttled with a
/// 5 s hint, so the third signs with a new STS session's credentials, and the same
/// ClientToken. The service remembers the token per account, not per AccessKey id: the
/// third attempt gets the first answer, and the image is deleted once.
fn a_retry_under_refreshed_credentials_gets_the_first_answer<D: Driver>(d: &D) {
    let emu = credential_services()
        .start_blocking()
        .expect("emulator starts");
    // socket: a new STS session within one call takes real time, as the clients read the
    // real clock. The first attempt has about 3 s to sign, a loopback exchange after the
    // fetch; the 5 s hint is a lower bound past that window, which load cannot break. When to
    // refresh is checked in virtual time; this shows the ClientToken surviving a refresh.
    emu.inject(Fault::expires_in(Duration::from_secs(184)));
    emu.inject(Fault::drop_after_commit());
    emu.inject(Fault::throttling(5_000));
    let mut policy = quick_retries(3);
    policy.max_delay = Duration::from_secs(10);
    let c = ClientBuilder::<D::Client>::default()
        .credentials(role_provider(&emu))
        .endpoint(&emu.url())
        .retry_policy(policy)
        .build()
        .expect("client builds");
    let out = d
        .delete(&c, &image(&emu, "m-1"))
        .expect("the retry gets the first answer, not InvalidImageId.NotFound");
    assert_eq!(out.attempts, 3);
    assert!(!emu.has_image(REGION, "m-1"));
    let stats = emu.stats();
    assert_eq!(
        (stats.requests, stats.deletes, stats.throttled),
        (3, 1, 1),
        "one delete: {stats:?}"
    );
    assert_eq!(
        (stats.sts_requests, stats.credentials_issued),
        (2, 2),
        "a new STS session before the third attempt: {stats:?}"
    );
}

/// Two clients of the same role, each with its own STS session (another AccessKey id), send
/// the same saved ClientToken: the second gets the first answer, same RequestId, and the
/// image is deleted once. A key of another account sending it is a new request, which finds
/// the image gone.
fn a_second_sts_session_with_a_saved_token_gets_the_first_answer<D: Driver>(d: &D) {
    let emu = credential_services()
        .start_blocking()
        .expect("emulator starts");
    let input = image(&emu, "m-1")
        .with_client_token("saved-token-0001")
        .expect("valid token");
    let first = d
        .delete(&role_client::<D>(&emu), &input)
        .expect("first session deletes");
    let second = d
        .delete(&role_client::<D>(&emu), &input)
        .expect("second session gets the first answer");
    assert_eq!(second.request_id, first.request_id);
    assert_eq!(second.client_token, first.client_token);
    let stats = emu.stats();
    assert_eq!(
        (stats.deletes, stats.credentials_issued),
        (1, 2),
        "{stats:?}"
    );

    // The long-term key is of the default account, not the role's.
    let source = Credentials::new(AK.0, AK.1).expect("valid credentials");
    let other = client::<D>(&emu, CredentialsProvider::from(source), None);
    let e = d.delete(&other, &input).expect_err("a new request");
    assert_eq!(
        e.code(),
        Some(&swas_open_core::ErrorCode::InvalidImageIdNotFound),
        "{e}"
    );
    assert_eq!(emu.stats().deletes, 1);
}
