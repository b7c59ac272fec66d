//! `tests/fixtures/signing.json`, typed: one struct per kind of vector. Every field of every
//! vector is named here (`deny_unknown_fields`): a vector cannot carry a field that no test
//! reads, and a misspelt one fails to load.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `signing.json`: known-answer vectors of the signing stages.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// Where the vectors come from, and how they are checked.
    pub _about: String,
    pub v1_rpc_hmac_sha1: Vec<V1Vector>,
    pub hmac_sha1_raw: Vec<HmacVector>,
    pub percent_encode: Vec<PercentEncodeVector>,
    pub v3_acs3_hmac_sha256: Vec<V3Vector>,
}

impl Signing {
    pub fn load() -> Self {
        serde_json::from_str(include_str!("../fixtures/signing.json")).expect("signing.json loads")
    }
}

/// A V1 (RPC, HMAC-SHA1) vector: the parameters, and each stage the source gives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V1Vector {
    pub source: String,
    pub method: String,
    pub secret: String,
    pub params: BTreeMap<String, String>,
    pub canonical_query: Option<String>,
    pub string_to_sign: Option<String>,
    pub signature: String,
}

/// A raw HMAC-SHA1 vector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacVector {
    pub source: String,
    pub key: String,
    pub message: String,
    pub base64: String,
}

/// A percent-encoding vector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentEncodeVector {
    pub source: String,
    pub input: String,
    pub output: String,
}

/// A V3 (ACS3-HMAC-SHA256) vector: the request's parts, and each stage the source gives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V3Vector {
    pub source: String,
    pub method: String,
    pub canonical_uri: String,
    pub query: BTreeMap<String, String>,
    /// The headers, one value each; or else `headers_multi`.
    pub headers: Option<BTreeMap<String, String>>,
    /// The headers as pairs, where a name comes twice (in any case).
    pub headers_multi: Option<Vec<(String, String)>>,
    /// The payload's SHA-256 when it is not the empty body's.
    pub hashed_payload: Option<String>,
    pub access_key_id: String,
    pub secret: String,
    pub hashed_canonical_request: Option<String>,
    pub signature: Option<String>,
    pub authorization: Option<String>,
}

impl V3Vector {
    /// The headers as pairs, whichever form the vector gives them in.
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        match (&self.headers, &self.headers_multi) {
            (Some(map), None) => map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            (None, Some(pairs)) => pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            _ => panic!("{}: headers or headers_multi, one of them", self.source),
        }
    }
}
