//! Signer and parser benchmarks, each beside its floor in the same run.
//!
//! - `sign_v1`: build + sign a full DeleteCustomImage `http::Request` (RPC V1).
//! - `floor_hmac_sha1`: HMAC-SHA1 (key setup included) over a string as long as V1's string to sign.
//! - `sign_v3`: the same request signed with ACS3-HMAC-SHA256.
//! - `floor_sha256_hmac_sha256`: SHA-256 over a canonical request as long as V3's, then
//!   HMAC-SHA256 over the 81-byte string to sign.
//! - `parse_ok`, `parse_error`: the response parser on the documented bodies.
//!
//! Before the timings it prints the heap allocations of one sign, counted by a wrapping
//! global allocator.
//!
//! The signing group runs twice: `signing` in wall-clock time, `signing_cpu` in the thread's
//! CPU time, which leaves out the time the thread waits for a core, so its ratios hold on a
//! busy machine too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
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

fn signing_in<M: Measurement>(c: &mut Criterion<M>, group: &str, print: bool) {
    let v1f = fixture(SignatureVersion::V1);
    let v3f = fixture(SignatureVersion::V3);
    let sts1 = v1_string_to_sign(&v1f);
    let cr3 = v3_canonical_request(&v3f);
    let secret = "ExampleAccessKeySecret0123456789";
    if print {
        println!(
            "allocations per sign: v1 {}, v3 {} (string to sign {} bytes, canonical request {} bytes)",
            allocations_per_sign(&v1f),
            allocations_per_sign(&v3f),
            sts1.len(),
            cr3.len()
        );
    }

    let mut g = c.benchmark_group(group);
    g.bench_function("sign_v1", |b| {
        b.iter(|| {
            black_box(&v1f)
                .signer
                .sign(&v1f.op, &v1f.endpoint, &v1f.ctx)
        })
    });
    g.bench_function("floor_hmac_sha1", |b| {
        let key = format!("{secret}&");
        b.iter(|| {
            let mut mac =
                <Hmac<Sha1> as KeyInit>::new_from_slice(black_box(key.as_bytes())).unwrap();
            mac.update(black_box(sts1.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
    g.bench_function("sign_v3", |b| {
        b.iter(|| {
            black_box(&v3f)
                .signer
                .sign(&v3f.op, &v3f.endpoint, &v3f.ctx)
        })
    });
    g.bench_function("floor_sha256_hmac_sha256", |b| {
        b.iter(|| {
            let hashed = Sha256::digest(black_box(cr3.as_bytes()));
            let mut mac =
                <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(secret.as_bytes())).unwrap();
            mac.update(b"ACS3-HMAC-SHA256\n");
            mac.update(&hashed); // 32 bytes here vs 64 hex chars in the real string: same block count
            mac.update(&hashed);
            mac.finalize().into_bytes()
        })
    });
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
    let token = swas_open::ClientToken::new("123e4567-e89b-12d3-a456-426655440000").unwrap();
    let mut g = c.benchmark_group("parsing");
    g.bench_function("parse_ok", |b| {
        b.iter(|| parse_delete_custom_image(black_box(&ok), black_box(&token)))
    });
    g.bench_function("parse_error", |b| {
        b.iter(|| parse_delete_custom_image(black_box(&err), black_box(&token)))
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
