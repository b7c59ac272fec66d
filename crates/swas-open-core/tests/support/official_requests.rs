//! `tests/fixtures/official-requests.json`, typed. Every field of every request is named
//! here (`deny_unknown_fields`): a request cannot carry a field that no test reads, and a
//! misspelt one fails to load.

use serde::Deserialize;

/// `official-requests.json`: DeleteCustomImage requests captured from the official SDKs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Official {
    /// How the requests were captured, for the reader.
    #[serde(rename = "description")]
    pub _description: String,
    pub requests: Vec<OfficialRequest>,
}

impl Official {
    pub fn load() -> Self {
        serde_json::from_str(include_str!("../fixtures/official-requests.json"))
            .expect("official-requests.json loads")
    }
}

/// One captured request, as it went on the wire, with the key and input that made it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficialRequest {
    /// Which SDK sent it: `tea-v3`, `tea-v1` or `legacy-v1`.
    pub sdk: String,
    pub method: String,
    pub path: String,
    /// The query as sent.
    pub raw_query: String,
    /// The query decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
    pub region_id: String,
    pub image_id: String,
    pub client_token: String,
}

impl OfficialRequest {
    /// The value of header `name` as sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        value_of(&self.headers, name)
    }

    /// The value of query parameter `name` as sent.
    pub fn param(&self, name: &str) -> Option<&str> {
        value_of(&self.query, name)
    }
}

/// The value of the first pair named `name`.
fn value_of<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find_map(|(n, v)| (n == name).then_some(v.as_str()))
}
