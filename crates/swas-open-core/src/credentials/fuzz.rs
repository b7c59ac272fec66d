//! Bounded fuzzing in the normal suite: random config and ini files given to the chain, and
//! random answers given to every provider's fetch. Nothing panics, and every fetch ends
//! within a bound of requests.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use proptest::prelude::*;

use super::chain::tests::env_of;
use super::machine::run_with;
use super::read::ReadFn;
use super::service::{Answer, NoAnswer, Reply};
use super::CredentialsProvider;

/// More requests than any provider makes in one fetch (the chain's six links, IMDS's four).
const MAX_REQUESTS: usize = 16;

fn wall() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// Text that is often almost JSON or ini: fragments of both, glued at random.
fn fragments() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(r#""profiles":"#.to_owned()),
        Just(r#""current":"p""#.to_owned()),
        Just(r#"{"name":"p","mode":"ChainableRamRoleArn","source_profile":"p"}"#.to_owned()),
        Just(r#"{"name":"p","mode":"AK","access_key_id":"a","access_key_secret":"b"}"#.to_owned()),
        Just(
            r#"{"name":"p","mode":"RamRoleArn","ram_role_arn":"r","sts_endpoint":"::"}"#.to_owned()
        ),
        Just("\n[default]\ntype = ".to_owned()),
        Just("access_key\n".to_owned()),
        Just("ram_role_arn\nrole_arn = x\n".to_owned()),
        Just("access_key_id = \u{0}\n".to_owned()),
        Just("oidc_role_arn\noidc_token_file_path = /nonexistent\n".to_owned()),
        "\\PC{0,12}",
    ];
    proptest::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

/// A random answer, or no answer.
fn replies() -> impl Strategy<Value = Vec<Option<(u16, Vec<u8>)>>> {
    let body = prop_oneof![
        Just(br#"{"Code":"Success","AccessKeyId":"a","AccessKeySecret":"b","SecurityToken":"c","Expiration":"2033-05-18T03:33:20Z"}"#.to_vec()),
        Just(br#"{"Credentials":{"AccessKeyId":"a","AccessKeySecret":"b","SecurityToken":"c","Expiration":"1970-01-01T00:00:00Z"}}"#.to_vec()),
        Just(b"web-role\n".to_vec()),
        Just(br#"{"Code":7,"RequestId":[]}"#.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ];
    let status = prop_oneof![Just(200u16), Just(404), Just(503), 100u16..600];
    proptest::collection::vec(
        proptest::option::weighted(0.9, (status, body)),
        0..MAX_REQUESTS,
    )
}

fn reply_of(r: Option<(u16, Vec<u8>)>) -> Reply {
    match r {
        Some((status, body)) => Ok(Answer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            date: None,
            body,
        }),
        None => Err(NoAnswer::text("connection refused")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_files_and_answers_end_without_panic(
        config in fragments(),
        ini in fragments(),
        answers in replies(),
        profile in proptest::option::of(prop_oneof![Just("p".to_owned()), Just("default".to_owned())]),
    ) {
        let files: ReadFn = Arc::new(move |p: &Path| match p.to_str() {
            Some("/h/.aliyun/config.json") => Ok(config.clone()),
            Some("/h/.alibabacloud/credentials.ini") => Ok(ini.clone()),
            _ => Err(std::io::ErrorKind::NotFound.into()),
        });
        let env = env_of(&[
            ("HOME", "/h"),
            ("ALIBABA_CLOUD_IMDS_ENDPOINT", "127.0.0.1:9"),
            ("ALIBABA_CLOUD_CREDENTIALS_URI", "http://127.0.0.1:9/creds"),
        ]);
        let kind = CredentialsProvider::chain_with(profile.as_deref(), Arc::new(env), files).spec;
        let mut answers = answers.into_iter();
        let (result, sent) = run_with(&kind, wall(), |_| {
            reply_of(answers.next().unwrap_or(None))
        });
        prop_assert!(sent.len() <= MAX_REQUESTS, "{} requests", sent.len());
        if let Err(e) = result {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn every_provider_survives_random_answers(answers in replies(), which in 0usize..4) {
        let options = super::RoleOptions {
            sts_endpoint: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        };
        let source = super::Credentials::new("a", "b").unwrap();
        let provider = match which {
            0 => CredentialsProvider::ram_role_arn(source, "acs:ram::1:role/r", options),
            1 => CredentialsProvider::ecs_ram_role_at(None, "127.0.0.1:9"),
            2 => CredentialsProvider::ecs_ram_role_at(Some("web"), "127.0.0.1:9"),
            _ => CredentialsProvider::credentials_uri("http://127.0.0.1:9/creds"),
        };
        let mut answers = answers.into_iter();
        let (_, sent) = run_with(&provider.spec, wall(), |_| {
            reply_of(answers.next().unwrap_or(None))
        });
        prop_assert!(sent.len() <= 4, "{} requests", sent.len());
    }
}
