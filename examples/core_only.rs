//! Use only the sans-IO core, with an HTTP/1.1 exchange written by hand: the core signs,
//! retries, corrects the clock and parses; this file moves the bytes.
//!
//! Runs offline against the local emulator, which first answers `ServiceUnavailable` once,
//! so the call shows a retry.
//!
//! `cargo run --example core_only --features emulator,transport`

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Instant, SystemTime};

use swas_open::emulator::{Emulator, Fault};
use swas_open::sans_io::{http, Call, ClientBuilder, Config, Exchange, Outgoing, Readings, Step};
use swas_open::{CallOptions, Credentials, DeleteCustomImage, Error, ErrorCode, TransportFailure};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .access_key("demo-id", "demo-secret")
        .image("cn-hangzhou", "m-demo")
        .start_blocking()?;
    emulator.inject(Fault::error(503, ErrorCode::ServiceUnavailable));

    let config = ClientBuilder::<Config>::default()
        .credentials(Credentials::new("demo-id", "demo-secret")?)
        .endpoint(&emulator.url())
        .build()?;
    let input = DeleteCustomImage::new("cn-hangzhou", "m-demo")?;

    // The call draws nonces, jitter and the ClientToken from this seed.
    let seed: [u8; 32] = rand::random();
    let readings = Readings::new(seed, Instant::now(), SystemTime::now());
    let mut call = Call::new(&config, &input, CallOptions::new(), readings);
    let output = loop {
        match call.next(Instant::now()) {
            Step::Send(outgoing) => {
                let answer = send(outgoing);
                call.receive(Instant::now(), answer);
            }
            Step::Wait(until) => {
                std::thread::sleep(until.saturating_duration_since(Instant::now()))
            }
            // Fixed credentials need no fetch; a provider's would be driven like the call.
            Step::Detach(_) => unreachable!("credentials given to the builder are fixed"),
            Step::Done(result) => break result?,
        }
    };
    println!(
        "deleted m-demo: RequestId {}, ClientToken {}, {} attempt(s)",
        output.request_id, output.client_token, output.attempts
    );
    assert_eq!(output.attempts, 2);
    Ok(())
}

/// One request over a fresh connection: the request line from the URI's path and query, the
/// signed headers, `Content-Length`, then the answer read to the end.
fn send(outgoing: Outgoing) -> Result<http::Response<Vec<u8>>, Error> {
    let failed = |kind, e: std::io::Error| Error::transport(kind, e);
    let request = outgoing.request;
    let authority = request.uri().authority().expect("absolute URI").as_str();
    let mut stream =
        TcpStream::connect(authority).map_err(|e| failed(TransportFailure::Connect, e))?;
    stream
        .set_read_timeout(Some(outgoing.read_timeout))
        .map_err(|e| failed(TransportFailure::Other, e))?;
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!("{} {target} HTTP/1.1\r\n", request.method());
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().unwrap_or_default()
        ));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        request.body().len()
    ));
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(request.body()))
        .map_err(|e| failed(TransportFailure::Reset, e))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| failed(TransportFailure::from_io(&e), e))?;
    parse(&raw).ok_or_else(|| {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP/1.1 answer");
        failed(TransportFailure::Other, e)
    })
}

/// Status line, headers and body of a whole HTTP/1.1 answer (`Connection: close`).
fn parse(raw: &[u8]) -> Option<http::Response<Vec<u8>>> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut response = http::Response::builder().status(status);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        response = response.header(name.trim(), value.trim());
    }
    response.body(raw[split + 4..].to_vec()).ok()
}
