//! What the credential tests of both clients share: the emulator's roles and keys, a
//! temporary HOME, a default chain over a scrubbed environment that refuses to leave the
//! metadata service at its real address, and the credential scenarios of
//! [`run_suite`](crate::run_suite): every provider kind and config-file mode end to end, over
//! real sockets, with the emulator playing STS, the metadata service, the credentials URI and
//! SWAS.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use swas_open_core::{
    ClientBuilder, Credentials, CredentialsError, CredentialsProvider, DeleteCustomImage, Error,
    ErrorKind, FromConfig, RoleOptions,
};
use swas_open_emulator::{Emulator, EmulatorBuilder, Fault, Role, Service};

use crate::Driver;
pub use crate::REGION;

pub const ROLE: &str = "acs:ram::123456789012:role/deleter";
pub const GUARDED_ROLE: &str = "acs:ram::123456789012:role/guarded";
pub const OIDC_PROVIDER: &str = "acs:ram::123456789012:oidc-provider/ack";
pub const OIDC_TOKEN: &str = "oidc-jwt-secret-0707";
pub const AK: (&str, &str) = ("LTAI-long-term", "long-term-secret-0808");

/// The credential scenarios.
pub(crate) fn list<D: Driver>() -> Vec<crate::Scenario<D>> {
    crate::scenario_list![
        every_config_file_mode_end_to_end,
        explicit_providers_and_ini_file,
        chain_order_pinning_and_errors,
        imds_v2_only_and_v1_fallback,
        short_credentials_are_refreshed,
    ]
}

/// An emulator playing SWAS, STS (two roles, one demanding an `ExternalId`), OIDC, the
/// metadata service (`web-role`) and a credentials URI (`/creds`).
pub fn credential_services() -> EmulatorBuilder {
    swas_open_emulator::Emulator::builder()
        .access_key(AK.0, AK.1)
        .role(Role::new(ROLE))
        .role(Role::new(GUARDED_ROLE).external_id("ext-1"))
        .oidc_token(ROLE, OIDC_PROVIDER, OIDC_TOKEN)
        .instance_role("web-role")
        .credentials_uri("/creds")
}

/// A temporary HOME with `.aliyun` and `.alibabacloud`, removed on drop.
pub struct Home(pub PathBuf);

impl Home {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "swas-cred-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(dir.join(".aliyun")).unwrap();
        std::fs::create_dir_all(dir.join(".alibabacloud")).unwrap();
        Home(dir)
    }

    /// Writes `text` at `rel` under HOME.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The default chain over `vars` and HOME only. The guard: a chain that would ask the real
/// metadata service fails the test.
pub fn chain(home: &Home, profile: Option<&str>, vars: &[(&str, String)]) -> CredentialsProvider {
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    map.insert("HOME".into(), home.0.display().to_string());
    assert!(
        map.contains_key("ALIBABA_CLOUD_IMDS_ENDPOINT")
            || map
                .get("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
                .map(String::as_str)
                == Some("true"),
        "this chain would reach the real metadata service"
    );
    CredentialsProvider::from_variables(profile, move |k| map.get(k).cloned())
}

/// [`credential_services`], started on a thread of its own, its metadata service answering
/// IMDSv2 only when `v2_only`.
pub fn credential_emulator(v2_only: bool) -> Emulator {
    credential_services()
        .imds_v2_only(v2_only)
        .start_blocking()
        .expect("emulator starts")
}

/// Builds a client for `emu` with `provider` and deletes a fresh image with it, which must
/// then be gone; returns the client.
pub fn delete_with<D: Driver>(
    d: &D,
    emu: &Emulator,
    provider: CredentialsProvider,
) -> Result<D::Client, Error> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let image = format!("m-{}", N.fetch_add(1, Ordering::Relaxed));
    emu.add_image(REGION, &image, false);
    let client = ClientBuilder::<D::Client>::default()
        .credentials(provider)
        .endpoint(&emu.url())
        .build()?;
    d.delete(&client, &DeleteCustomImage::new(REGION, &image)?)?;
    assert!(!emu.has_image(REGION, &image));
    Ok(client)
}

/// The credentials error inside `e`; any other error fails the test.
pub fn credentials_error(e: Error) -> CredentialsError {
    match e.into_kind() {
        ErrorKind::Credentials(e) => e,
        other => panic!("expected a credentials error, got {other:?}"),
    }
}

/// [`delete_with`], which must fail with a credentials error.
fn refused<D: Driver>(d: &D, emu: &Emulator, provider: CredentialsProvider) -> CredentialsError {
    credentials_error(delete_with(d, emu, provider).expect_err("the credentials fail"))
}

/// The RAM role [`ROLE`] assumed with [`AK`] through the emulator's STS.
pub fn role_provider(emu: &Emulator) -> CredentialsProvider {
    let source = Credentials::new(AK.0, AK.1).expect("valid credentials");
    CredentialsProvider::ram_role_arn(source, ROLE, role_options(emu))
}

/// A client for `emu` assuming [`role_provider`], and the deletes of `n` images `c-0` and up
/// that `emu` now holds.
pub fn role_client<C: FromConfig>(emu: &Emulator, n: usize) -> (C, Vec<DeleteCustomImage>) {
    let client = ClientBuilder::<C>::default()
        .credentials(role_provider(emu))
        .endpoint(&emu.url())
        .build()
        .expect("client builds");
    let inputs = (0..n)
        .map(|i| {
            let image = format!("c-{i}");
            emu.add_image(REGION, &image, false);
            crate::input(&image)
        })
        .collect();
    (client, inputs)
}

/// Options that send a role's STS requests to `emu`.
pub(crate) fn role_options(emu: &Emulator) -> RoleOptions {
    let mut options = RoleOptions::default();
    options.sts_endpoint = Some(emu.url());
    options
}

fn no_secret(text: &str) {
    for secret in [AK.1, OIDC_TOKEN] {
        assert!(!text.contains(secret), "secret in: {text}");
    }
}

fn imds_at(emu: &Emulator) -> (&'static str, String) {
    ("ALIBABA_CLOUD_IMDS_ENDPOINT", emu.url())
}

/// Every mode of the aliyun CLI's config file, and the ways a profile fails.
fn every_config_file_mode_end_to_end<D: Driver>(d: &D) {
    let emu = credential_emulator(false);
    let home = Home::new();
    let url = emu.url();
    let uri = emu.credentials_uri().expect("a credentials URI");
    let token_file = home.write("token", OIDC_TOKEN);
    home.write(
        ".aliyun/config.json",
        &format!(
            r#"{{"current":"ak","profiles":[
            {{"name":"ak","mode":"AK","access_key_id":"{}","access_key_secret":"{}"}},
            {{"name":"role","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"{ROLE}","sts_endpoint":"{url}"}},
            {{"name":"guarded","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"{GUARDED_ROLE}","external_id":"ext-1","sts_endpoint":"{url}"}},
            {{"name":"wrong-ext","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"{GUARDED_ROLE}","external_id":"nope","sts_endpoint":"{url}"}},
            {{"name":"bad-role","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"acs:ram::1:role/none","sts_endpoint":"{url}"}},
            {{"name":"chained","mode":"ChainableRamRoleArn","source_profile":"role","ram_role_arn":"{ROLE}","sts_endpoint":"{url}"}},
            {{"name":"loop","mode":"ChainableRamRoleArn","source_profile":"loop","ram_role_arn":"{ROLE}"}},
            {{"name":"ecs","mode":"EcsRamRole","ram_role_name":"web-role"}},
            {{"name":"ecs-any","mode":"EcsRamRole"}},
            {{"name":"oidc","mode":"OIDC","oidc_token_file":"{}","oidc_provider_arn":"{OIDC_PROVIDER}","ram_role_arn":"{ROLE}","sts_endpoint":"{url}"}},
            {{"name":"uri","mode":"CredentialsURI","credentials_uri":"{uri}"}},
            {{"name":"sso","mode":"CloudSSO"}}
        ]}}"#,
            AK.0, AK.1, AK.0, AK.1, AK.0, AK.1, AK.0, AK.1, AK.0, AK.1,
            token_file.display()
        ),
    );
    let imds = imds_at(&emu);
    let profile_chain = |profile| chain(&home, Some(profile), std::slice::from_ref(&imds));
    for (profile, expected_sts) in [
        ("ak", 0),
        ("role", 1),
        ("guarded", 1),
        ("chained", 2),
        ("ecs", 0),
        ("ecs-any", 0),
        ("oidc", 1),
        ("uri", 0),
    ] {
        let before = emu.stats().sts_requests;
        delete_with(d, &emu, profile_chain(profile))
            .unwrap_or_else(|e| panic!("profile {profile}: {e}"));
        let sts = emu.stats().sts_requests - before;
        assert_eq!(sts, expected_sts, "{profile}");
    }
    for (profile, needle) in [
        ("wrong-ext", "NoPermission"),
        ("bad-role", "EntityNotExist.Role"),
        ("loop", "loops back"),
        ("sso", "\"CloudSSO\" is not supported"),
        ("nobody", "no profile named"),
    ] {
        let e = refused(d, &emu, profile_chain(profile));
        assert!(e.to_string().contains(needle), "{profile}: {e}");
        no_secret(&format!("{e} {e:?}"));
    }
    // No config file where one is named: the chain names what it tried.
    let vars = [
        ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true".into()),
        ("ALIBABA_CLOUD_CONFIG_FILE", "/nonexistent.json".into()),
    ];
    let e = refused(d, &emu, chain(&home, None, &vars));
    assert!(matches!(e, CredentialsError::Chain { .. }), "{e}");
    assert!(e.to_string().contains("aliyun CLI profile: "), "{e}");
}

/// The providers built by hand, and the ini file's profiles by type.
fn explicit_providers_and_ini_file<D: Driver>(d: &D) {
    let emu = credential_emulator(false);
    let url = emu.url();
    let options = role_options(&emu);
    delete_with(d, &emu, role_provider(&emu)).expect("a RAM role");
    let home = Home::new();
    let token = home.write("token", OIDC_TOKEN);
    let oidc = || CredentialsProvider::oidc(ROLE, OIDC_PROVIDER, &token, options.clone());
    delete_with(d, &emu, oidc()).expect("OIDC");
    let uri = emu.credentials_uri().expect("a credentials URI");
    delete_with(d, &emu, CredentialsProvider::credentials_uri(&uri)).expect("a URI");
    // A token file that changed is read again; a wrong token is refused, without showing it.
    std::fs::write(&token, "forged-token-0909").expect("write the token");
    let e = refused(d, &emu, oidc());
    assert!(e.to_string().contains("AuthenticationFail"), "{e}");
    assert!(!e.to_string().contains("forged-token-0909"), "{e}");

    // The ini file, by type.
    home.write(
        ".alibabacloud/credentials.ini",
        &format!(
            "[default]\ntype = ram_role_arn\naccess_key_id = {}\naccess_key_secret = {}\nrole_arn = {ROLE}\n\n[ecs]\ntype = ecs_ram_role\nrole_name = web-role\n",
            AK.0, AK.1
        ),
    );
    let sts = ("ALIBABA_CLOUD_STS_ENDPOINT", url);
    let imds = imds_at(&emu);
    delete_with(d, &emu, chain(&home, None, &[sts, imds.clone()])).expect("the ini default");
    let ecs = [imds, ("ALIBABA_CLOUD_PROFILE", "ecs".into())];
    delete_with(d, &emu, chain(&home, None, &ecs)).expect("the ini ecs profile");
}

/// The chain's order, the provider it pins, and what it says when nothing works.
fn chain_order_pinning_and_errors<D: Driver>(d: &D) {
    let emu = credential_emulator(false);
    let home = Home::new();
    let token = home.write("token", OIDC_TOKEN);
    let imds = imds_at(&emu);
    // OIDC comes before IMDS and the URI.
    let before = emu.stats();
    let vars = [
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token.display().to_string()),
        ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", OIDC_PROVIDER.into()),
        ("ALIBABA_CLOUD_ROLE_ARN", ROLE.into()),
        ("ALIBABA_CLOUD_STS_ENDPOINT", emu.url()),
        imds.clone(),
        (
            "ALIBABA_CLOUD_CREDENTIALS_URI",
            emu.credentials_uri().expect("a credentials URI"),
        ),
    ];
    delete_with(d, &emu, chain(&home, None, &vars)).expect("OIDC from the environment");
    let after = emu.stats();
    let sts = after.sts_requests - before.sts_requests;
    let imds_requests = after.imds_requests - before.imds_requests;
    assert_eq!((sts, imds_requests), (1, 0));

    // The environment beats everything; a half-set one is recorded and the chain goes on to
    // IMDS, which is then pinned: a second client built from the same provider asks IMDS only.
    let half = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "half".to_owned());
    let provider = chain(&home, None, &[half.clone(), imds]);
    delete_with(d, &emu, provider.clone()).expect("IMDS after a half-set environment");
    let before = emu.stats();
    delete_with(d, &emu, provider).expect("the pinned IMDS");
    let imds_requests = emu.stats().imds_requests - before.imds_requests;
    assert_eq!(imds_requests, 3, "token, role name, credentials");

    // Nothing works: every provider tried is named, no secret shown.
    let vars = [
        half,
        ("ALIBABA_CLOUD_IMDS_ENDPOINT", "http://127.0.0.1:1".into()),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", String::new()),
    ];
    let e = refused(d, &emu, chain(&home, None, &vars));
    let CredentialsError::Chain { tried, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(tried.len(), 2, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("environment: ") && text.contains("ECS RAM role (IMDS): "),
        "{e}"
    );
    // Nothing configured at all.
    let off = [("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true".into())];
    let e = refused(d, &emu, chain(&home, None, &off));
    assert!(matches!(e, CredentialsError::NotFound { .. }), "{e}");
}

/// A metadata service that answers IMDSv2 only, and the fall back to v1 where it may.
fn imds_v2_only_and_v1_fallback<D: Driver>(d: &D) {
    let emu = credential_emulator(true);
    let imds = imds_at(&emu);
    let home = Home::new();
    let imds_only = || chain(&home, None, std::slice::from_ref(&imds));
    delete_with(d, &emu, imds_only()).expect("IMDSv2");
    // No token (the PUT fails): v1 is refused in v2-only mode, and when disabled.
    let no_token = || emu.inject(Fault::error(500, "InternalError").on(Service::Imds));
    no_token();
    let e = refused(d, &emu, imds_only());
    assert!(e.to_string().contains("403"), "{e}");
    no_token();
    let v1_off = [
        imds.clone(),
        ("ALIBABA_CLOUD_IMDSV1_DISABLED", "true".into()),
    ];
    let e = refused(d, &emu, chain(&home, None, &v1_off));
    assert!(e.to_string().contains("IMDSv1 is disabled"), "{e}");

    let emu = credential_emulator(false);
    emu.inject(Fault::error(500, "InternalError").on(Service::Imds));
    let imds = [imds_at(&emu)];
    delete_with(d, &emu, chain(&home, None, &imds)).expect("IMDSv1 after a failed PUT");
}

/// Credentials issued for 2 s are never used: a second fetch replaces them first.
fn short_credentials_are_refreshed<D: Driver>(d: &D) {
    let emu = credential_emulator(false);
    emu.inject(Fault::expires_in(Duration::from_secs(2)).on(Service::Sts));
    delete_with(d, &emu, role_provider(&emu)).expect("a RAM role");
    assert_eq!(emu.stats().sts_requests, 2);
}
