//! What the credential tests of both clients share: the emulator's roles and keys, a
//! temporary HOME, and a default chain over a scrubbed environment that refuses to leave
//! the metadata service at its real address.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use swas_open_core::CredentialsProvider;
use swas_open_emulator::{EmulatorBuilder, Role};

pub const REGION: &str = "cn-hangzhou";
pub const ROLE: &str = "acs:ram::123456789012:role/deleter";
pub const GUARDED_ROLE: &str = "acs:ram::123456789012:role/guarded";
pub const OIDC_PROVIDER: &str = "acs:ram::123456789012:oidc-provider/ack";
pub const OIDC_TOKEN: &str = "oidc-jwt-secret-0707";
pub const AK: (&str, &str) = ("LTAI-long-term", "long-term-secret-0808");

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
    CredentialsProvider::from_environment(
        profile,
        move |k| map.get(k).cloned(),
        |p: &Path| std::fs::read_to_string(p),
    )
}
