//! Signer and parser benchmarks, each beside its floor in the same run.
//!
//! - `sign_v1`: build + sign a full DeleteCustomImage `http::Request` (RPC V1).
//! - `floor_hmac_sha1`: HMAC-SHA1 (key setup included) over a string as long as V1's string to sign.
//! - `sign_v3`: the same request signed with ACS3-HMAC-SHA256.
//! - `floor_sha256_hmac_sha256`: SHA-256 over a canonical request as long as V3's, then
//!   HMAC-SHA256 over the 81-byte string to sign.
//! - `part_crypto_v1`, `part_crypto_v3`: the cryptography the signer itself runs (its HMAC
//!   states are keyed once per signer, V1's with the query's head absorbed too).
//! - `part_request_v1`, `part_request_v3`: building and dropping the signed `http::Request`
//!   from its finished bytes, as the signer does: what returning an `http::Request` costs.
//! - `parse_ok`, `parse_error`: the response parser on the documented bodies.
//!
//! Before the timings it prints the heap allocations of one sign, counted by a wrapping
//! global allocator.
//!
//! With `SIGNING_ROUNDS=<n>` set, the signing routines first run interleaved, `n` rounds
//! round-robin in one thread, and print their per-call CPU time beside the floor's.
//!
//! The signing group runs twice: `signing` in wall-clock time, `signing_cpu` in the thread's
//! CPU time, which leaves out the time the thread waits for a core, so its ratios hold on a
//! busy machine too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use swas_open::sans_io::{
    parse_delete_custom_image, Credentials, DeleteCustomImage, Endpoint, EndpointKind, Nonce,
    SignatureVersion, Signer, SigningContext, Timestamp,
};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Fixture {
    signer: Signer,
    op: DeleteCustomImage,
    endpoint: Endpoint,
    ctx: SigningContext,
}

fn fixture(version: SignatureVersion) -> Fixture {
    let signer = Signer::new(
        Credentials::new(
            "LTAI5tExampleAccessKeyId",
            "ExampleAccessKeySecret0123456789",
        )
        .unwrap(),
    )
    .with_signature_version(version);
    let op = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")
        .unwrap()
        .with_client_token("123e4567-e89b-12d3-a456-426655440000")
        .unwrap();
    let endpoint = Endpoint::for_region(op.region_id(), EndpointKind::Public);
    let ctx = SigningContext::new(
        "2026-11-28T12:46:24Z".parse::<Timestamp>().unwrap(),
        Nonce::new("3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf").unwrap(),
    );
    Fixture {
        signer,
        op,
        endpoint,
        ctx,
    }
}

/// The V1 string to sign and V3 canonical request of the fixture, rebuilt from the signed
/// request by the published rules, so the floors hash inputs of exactly the same length.
fn v1_string_to_sign(f: &Fixture) -> String {
    let req = f.signer.sign(&f.op, &f.endpoint, &f.ctx);
    let unsigned = req
        .uri()
        .query()
        .unwrap()
        .rsplit_once("&Signature=")
        .unwrap()
        .0
        .to_owned();
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!(
        "POST&%2F&{}",
        percent_encoding::utf8_percent_encode(&unsigned, SET)
    )
}

fn v3_canonical_request(f: &Fixture) -> String {
    let req = f.signer.sign(&f.op, &f.endpoint, &f.ctx);
    let mut signed: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .filter(|(n, _)| *n == "host" || n.starts_with("x-acs-"))
        .collect();
    signed.sort_unstable();
    let lines: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let names: Vec<&str> = signed.iter().map(|(n, _)| *n).collect();
    format!(
        "POST\n/\n{}\n{lines}\n{}\n{}",
        req.uri().query().unwrap(),
        names.join(";"),
        req.headers()["x-acs-content-sha256"].to_str().unwrap()
    )
}

fn allocations_per_sign(f: &Fixture) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let req = black_box(f.signer.sign(&f.op, &f.endpoint, &f.ctx));
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    drop(req);
    after - before
}

/// The calling thread's CPU time.
struct ThreadCpu;

impl Measurement for ThreadCpu {
    type Intermediate = cpu_time::ThreadTime;
    type Value = std::time::Duration;
    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }
    fn add(&self, a: &Self::Value, b: &Self::Value) -> Self::Value {
        *a + *b
    }
    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }
    fn to_f64(&self, v: &Self::Value) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanos
    }
}

/// CPU nanoseconds, printed as ns or µs.
struct Nanos;

impl ValueFormatter for Nanos {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        if typical < 1_000.0 {
            "ns (cpu)"
        } else {
            values.iter_mut().for_each(|v| *v /= 1_000.0);
            "µs (cpu)"
        }
    }
    fn scale_throughputs(&self, _: f64, _: &Throughput, _: &mut [f64]) -> &'static str {
        "ns (cpu)"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn signing(c: &mut Criterion) {
    signing_in(c, "signing", true);
}

fn signing_cpu(c: &mut Criterion<ThreadCpu>) {
    signing_in(c, "signing_cpu", false);
}

/// A routine measured by name.
type Routine<'a> = (&'static str, Box<dyn Fn() + 'a>);

/// The signing routines, per scheme: the signer, its floor, and the two parts of the
/// signer's time that it cannot shed (its own cryptography, returning an `http::Request`).
fn routines<'a>(
    v1f: &'a Fixture,
    v3f: &'a Fixture,
    sts1: &'a str,
    cr3: &'a str,
) -> Vec<Routine<'a>> {
    let secret = "ExampleAccessKeySecret0123456789";
    let sign = |f: &'a Fixture| -> Box<dyn Fn() + 'a> {
        Box::new(move || {
            black_box(black_box(f).signer.sign(&f.op, &f.endpoint, &f.ctx));
        })
    };
    let v1_key = format!("{secret}&");
    // The signer absorbs the query's head (up to `Action`) once per signer.
    let head = sts1
        .find("%26ClientToken")
        .expect("the fixture has a ClientToken");
    let mut v1_keyed = <Hmac<Sha1> as KeyInit>::new_from_slice(v1_key.as_bytes()).unwrap();
    v1_keyed.update(&sts1.as_bytes()[..head]);
    let mut v3_keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    v3_keyed.update(b"ACS3-HMAC-SHA256\n");
    vec![
        ("sign_v1", sign(v1f)),
        (
            "floor_hmac_sha1",
            Box::new(move || {
                let mut mac =
                    <Hmac<Sha1> as KeyInit>::new_from_slice(black_box(v1_key.as_bytes())).unwrap();
                mac.update(black_box(sts1.as_bytes()));
                black_box(mac.finalize().into_bytes());
            }),
        ),
        (
            "part_crypto_v1",
            Box::new(move || {
                let mut mac = black_box(&v1_keyed).clone();
                mac.update(black_box(&sts1.as_bytes()[head..]));
                black_box(mac.finalize().into_bytes());
            }),
        ),
        ("part_request_v1", request_part(v1f)),
        ("sign_v3", sign(v3f)),
        (
            "floor_sha256_hmac_sha256",
            Box::new(move || {
                let hashed = Sha256::digest(black_box(cr3.as_bytes()));
                let mut mac =
                    <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(secret.as_bytes()))
                        .unwrap();
                mac.update(b"ACS3-HMAC-SHA256\n");
                mac.update(&hashed); // 32 bytes here vs 64 hex chars in the real string: same block count
                mac.update(&hashed);
                black_box(mac.finalize().into_bytes());
            }),
        ),
        (
            "part_crypto_v3",
            Box::new(move || {
                let hashed = Sha256::digest(black_box(cr3.as_bytes()));
                let mut mac = black_box(&v3_keyed).clone();
                mac.update(&hashed);
                mac.update(&hashed);
                black_box(mac.finalize().into_bytes());
            }),
        ),
        ("part_request_v3", request_part(v3f)),
    ]
}

/// What returning the signed request costs by itself: the fixture's request rebuilt from
/// its finished bytes as the signer builds it (the URI and the changing header values in
/// one allocation, sliced, each validated by `http`; the other headers static or shared),
/// then dropped.
fn request_part(f: &Fixture) -> Box<dyn Fn() + '_> {
    let req = f.signer.sign(&f.op, &f.endpoint, &f.ctx);
    let mut bytes = req
        .uri()
        .path_and_query()
        .unwrap()
        .as_str()
        .as_bytes()
        .to_vec();
    let query_end = bytes.len();
    let mut headers = Vec::new();
    for (name, value) in req.headers() {
        let changing = ["x-acs-date", "x-acs-signature-nonce", "authorization"];
        if changing.contains(&name.as_str()) {
            let start = bytes.len();
            bytes.extend_from_slice(value.as_bytes());
            headers.push((name.clone(), Err(start..bytes.len())));
        } else {
            headers.push((name.clone(), Ok(value.clone())));
        }
    }
    let (scheme, authority) = (
        req.uri().scheme().unwrap().clone(),
        req.uri().authority().unwrap().clone(),
    );
    Box::new(move || {
        let shared = Bytes::from(black_box(&bytes).clone());
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in &headers {
            let value = match value {
                Ok(value) => value.clone(),
                Err(range) => HeaderValue::from_maybe_shared(shared.slice(range.clone())).unwrap(),
            };
            map.insert(name.clone(), value);
        }
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(scheme.clone());
        parts.authority = Some(authority.clone());
        parts.path_and_query =
            Some(PathAndQuery::from_maybe_shared(shared.slice(..query_end)).unwrap());
        let mut request = http::Request::new(Vec::<u8>::new());
        *request.uri_mut() = http::Uri::from_parts(parts).unwrap();
        *request.headers_mut() = map;
        black_box(request);
    })
}

/// `SIGNING_ROUNDS=<n>`: before criterion, `n` rounds of 10,000 calls of every routine,
/// round-robin in one thread, timed in its CPU time. Each routine's minimum, first quartile
/// and median over the rounds, and its ratio to the floor of the same rounds: on a busy
/// machine these hold better than routines measured one after another.
fn interleaved(routines: &[Routine<'_>]) {
    let Some(rounds) = std::env::var("SIGNING_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
    else {
        return;
    };
    const CALLS: u32 = 10_000;
    let mut times = vec![Vec::with_capacity(rounds); routines.len()];
    for _ in 0..rounds.max(1) {
        for ((_, routine), times) in routines.iter().zip(&mut times) {
            let start = cpu_time::ThreadTime::now();
            for _ in 0..CALLS {
                routine();
            }
            times.push(start.elapsed().as_nanos() as f64 / f64::from(CALLS));
        }
    }
    let stats: Vec<[f64; 3]> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            [t[0], t[t.len() / 4], t[t.len() / 2]]
        })
        .collect();
    println!("interleaved, {rounds} rounds of {CALLS} calls, thread CPU ns per call: min / p25 / median (x floor)");
    for (i, (name, _)) in routines.iter().enumerate() {
        // Each scheme's routines come in fours, the floor second.
        let floor = &stats[i / 4 * 4 + 1];
        let [min, p25, p50] = stats[i];
        println!(
            "  {name:26} {min:7.0} ({:.2}x) {p25:7.0} ({:.2}x) {p50:7.0} ({:.2}x)",
            min / floor[0],
            p25 / floor[1],
            p50 / floor[2]
        );
    }
}

fn signing_in<M: Measurement>(c: &mut Criterion<M>, group: &str, print: bool) {
    let v1f = fixture(SignatureVersion::V1);
    let v3f = fixture(SignatureVersion::V3);
    let sts1 = v1_string_to_sign(&v1f);
    let cr3 = v3_canonical_request(&v3f);
    let routines = routines(&v1f, &v3f, &sts1, &cr3);
    if print {
        println!(
            "allocations per sign: v1 {}, v3 {} (string to sign {} bytes, canonical request {} bytes)",
            allocations_per_sign(&v1f),
            allocations_per_sign(&v3f),
            sts1.len(),
            cr3.len()
        );
        interleaved(&routines);
    }

    let mut g = c.benchmark_group(group);
    for (name, routine) in &routines {
        g.bench_function(*name, |b| b.iter(routine));
    }
    g.finish();
}

fn parsing(c: &mut Criterion) {
    let ok = http::Response::builder()
        .status(200)
        .body(br#"{"RequestId":"30637AD6-D977-4833-A54C-CC89483E****"}"#.to_vec())
        .unwrap();
    let err = http::Response::builder()
        .status(404)
        .body(br#"{"RequestId":"30637AD6-D977-4833-A54C-CC89483E****","HostId":"swas.cn-hangzhou.aliyuncs.com","Code":"InvalidImageId.NotFound","Message":"The specified ImageId does not exist.","Recommend":"https://api.alibabacloud.com/troubleshoot?q=InvalidImageId.NotFound&product=swas-open"}"#.to_vec())
        .unwrap();
    let mut g = c.benchmark_group("parsing");
    g.bench_function("parse_ok", |b| {
        b.iter(|| parse_delete_custom_image(black_box(&ok)))
    });
    g.bench_function("parse_error", |b| {
        b.iter(|| parse_delete_custom_image(black_box(&err)))
    });
    g.finish();
}

criterion_group!(benches, signing, parsing);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = signing_cpu
}
criterion_main!(benches, cpu);
