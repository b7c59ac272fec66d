//! Temporary credentials the emulator issues (STS, IMDS, credentials URI), the store that
//! lets SWAS accept them until they expire, and IMDS session tokens.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use swas_open_core::{Secret, Timestamp};

/// How long an expired temporary key is still recognised (so a late request gets
/// `InvalidSecurityToken.Expired` rather than `InvalidAccessKeyId.NotFound`), in seconds.
const KEEP_EXPIRED_SECS: u64 = 3600;
/// The most temporary keys remembered at once.
const KEY_CAPACITY: usize = 100_000;
/// The most IMDS session tokens remembered at once.
const IMDS_TOKEN_CAPACITY: usize = 10_000;

/// A random string of `n` UUIDs' worth of hex digits.
fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect()
}

/// `YYYY-MM-DDThh:mm:ssZ`, as STS, IMDS and credentials URIs write `Expiration` (the core's
/// [`Timestamp`] form); past year 9999, the last second of it.
pub(crate) fn iso8601(unix: u64) -> String {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(unix))
        .and_then(|t| Timestamp::try_from(t).ok())
        .map_or_else(|| "9999-12-31T23:59:59Z".to_owned(), |t| t.to_string())
}

/// One set of temporary credentials.
#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Issued {
    pub(crate) access_key_id: String,
    pub(crate) access_key_secret: String,
    pub(crate) security_token: String,
    /// Unix seconds; written as `Expiration`, `YYYY-MM-DDThh:mm:ssZ`.
    #[serde(rename = "Expiration", serialize_with = "expiration")]
    pub(crate) expires_at: u64,
}

fn expiration<S: serde::Serializer>(expires_at: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso8601(*expires_at))
}

impl Issued {
    /// Fresh random credentials expiring at `expires_at` (Unix seconds).
    pub(crate) fn new(expires_at: u64) -> Self {
        Self {
            access_key_id: format!("STS.{}", &random_hex(1)[..24]),
            access_key_secret: random_hex(1),
            security_token: format!("CAIS{}", random_hex(4)),
            expires_at,
        }
    }
}

/// A temporary key as SWAS checks it.
pub(crate) struct TemporaryKey {
    pub(crate) secret: Secret,
    pub(crate) security_token: String,
    pub(crate) expires_at: u64,
    /// The assumed role's account, or the instance's (`None`: the unnamed default).
    pub(crate) account: Option<String>,
}

/// Temporary keys by id, kept until an hour past their expiry, at most [`KEY_CAPACITY`].
#[derive(Default)]
pub(crate) struct TemporaryKeys {
    keys: HashMap<String, TemporaryKey>,
}

impl TemporaryKeys {
    /// Remembers `issued`, credentials of `account` (a secret the core would refuse is never
    /// issued: random hex).
    pub(crate) fn insert(&mut self, issued: &Issued, account: Option<&str>, now: u64) {
        let Ok(secret) = Secret::access_key_secret(issued.access_key_secret.as_str()) else {
            return;
        };
        if self.keys.len() >= KEY_CAPACITY {
            self.keys
                .retain(|_, k| k.expires_at.saturating_add(KEEP_EXPIRED_SECS) >= now);
        }
        if self.keys.len() >= KEY_CAPACITY {
            // Still full of live keys: forget the one closest to expiry.
            let oldest = self
                .keys
                .iter()
                .min_by_key(|(_, k)| k.expires_at)
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                self.keys.remove(&id);
            }
        }
        self.keys.insert(
            issued.access_key_id.clone(),
            TemporaryKey {
                secret,
                security_token: issued.security_token.clone(),
                expires_at: issued.expires_at,
                account: account.map(str::to_owned),
            },
        );
    }

    pub(crate) fn get(&self, access_key_id: &str) -> Option<&TemporaryKey> {
        self.keys.get(access_key_id)
    }
}

/// IMDS session tokens and their expiry (Unix seconds).
#[derive(Default)]
pub(crate) struct ImdsTokens {
    tokens: HashMap<String, u64>,
}

impl ImdsTokens {
    /// A new token valid until `expires_at`.
    pub(crate) fn issue(&mut self, expires_at: u64, now: u64) -> String {
        if self.tokens.len() >= IMDS_TOKEN_CAPACITY {
            self.tokens.retain(|_, e| *e > now);
        }
        if self.tokens.len() >= IMDS_TOKEN_CAPACITY {
            let oldest = self
                .tokens
                .iter()
                .min_by_key(|(_, e)| **e)
                .map(|(t, _)| t.clone());
            if let Some(t) = oldest {
                self.tokens.remove(&t);
            }
        }
        let token = random_hex(2);
        self.tokens.insert(token.clone(), expires_at);
        token
    }

    pub(crate) fn is_valid(&self, token: &str, now: u64) -> bool {
        self.tokens.get(token).is_some_and(|e| *e > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_format() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(iso8601(253_402_300_800), "9999-12-31T23:59:59Z");
        assert_eq!(iso8601(u64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn issued_credentials_look_like_sts_ones() {
        let a = Issued::new(10);
        let b = Issued::new(10);
        assert!(a.access_key_id.starts_with("STS.") && a.access_key_id.len() == 28);
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.security_token, b.security_token);
        let json = serde_json::to_value(&a).unwrap();
        for field in [
            "AccessKeyId",
            "AccessKeySecret",
            "SecurityToken",
            "Expiration",
        ] {
            assert!(json[field].is_string(), "{field}: {json}");
        }
        assert_eq!(json.as_object().unwrap().len(), 4);
        assert_eq!(json["Expiration"], "1970-01-01T00:00:10Z");
    }

    #[test]
    fn temporary_keys_are_bounded() {
        let mut keys = TemporaryKeys::default();
        let first = Issued::new(5);
        keys.insert(&first, None, 0);
        for i in 0..KEY_CAPACITY as u64 {
            keys.insert(&Issued::new(100 + i), None, 0);
        }
        assert_eq!(keys.keys.len(), KEY_CAPACITY);
        assert!(keys.get(&first.access_key_id).is_none());
    }

    #[test]
    fn imds_tokens_expire() {
        let mut t = ImdsTokens::default();
        let token = t.issue(100, 0);
        assert!(t.is_valid(&token, 99));
        assert!(!t.is_valid(&token, 100));
        assert!(!t.is_valid("other", 0));
    }
}
