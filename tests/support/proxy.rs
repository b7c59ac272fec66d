//! A loopback forward proxy for tests: `CONNECT` tunnels and absolute-form requests,
//! optionally asking for Basic credentials or refusing everything, and counting what went
//! through it. Whatever host a request names, it connects to that port on 127.0.0.1: a
//! test can name any host without a resolver, and nothing leaves the machine.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use base64::Engine;
use swas_open_testkit::Loopback;

/// How the proxy treats requests.
#[derive(Debug, Clone, Default)]
pub enum Policy {
    /// Carries every request.
    #[default]
    Open,
    /// Answers 407 unless the request carries these Basic credentials.
    Basic { user: String, password: String },
    /// Answers 403 to every request.
    Deny,
}

/// What went through the proxy.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Connections accepted from clients.
    pub connections: u64,
    /// The targets of the `CONNECT` requests carried (`host:port`).
    pub tunnels: Vec<String>,
    /// The URLs of the absolute-form requests carried.
    pub absolute: Vec<String>,
    /// Requests refused with 407 or 403.
    pub refused: u64,
    /// Every `Proxy-Authorization` value received.
    pub authorizations: Vec<String>,
}

pub struct Proxy {
    listener: Loopback,
    seen: Arc<Mutex<Seen>>,
}

impl Proxy {
    pub fn start(policy: Policy) -> Proxy {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        let listener = Loopback::start(move |conn| {
            s.lock().unwrap().connections += 1;
            let _ = serve(conn, &policy, &s);
        });
        Proxy { listener, seen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.listener.addr())
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

/// A request head: its request line and headers.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::other("bad request line"));
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    Ok(Some(Head {
        method,
        target,
        headers,
    }))
}

/// The port of `host:port` or of an absolute URL's authority (80 without one).
fn port_of(authority: &str) -> u16 {
    authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(80)
}

fn serve(client: TcpStream, policy: &Policy, seen: &Mutex<Seen>) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client_w = client;
    let Some(head) = read_head(&mut reader)? else {
        return Ok(());
    };
    if let Some(auth) = head.header("proxy-authorization") {
        seen.lock().unwrap().authorizations.push(auth.to_owned());
    }
    let refusal = match policy {
        Policy::Open => None,
        Policy::Deny => Some("403 Forbidden"),
        Policy::Basic { user, password } => {
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            );
            (head.header("proxy-authorization") != Some(expected.as_str()))
                .then_some("407 Proxy Authentication Required")
        }
    };
    if let Some(status) = refusal {
        seen.lock().unwrap().refused += 1;
        let body = "<html><body>denied by the proxy</body></html>";
        write!(
            client_w,
            "HTTP/1.1 {status}\r\nProxy-Authenticate: Basic realm=\"test\"\r\n\
             Content-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return Ok(());
    }
    if head.method.eq_ignore_ascii_case("CONNECT") {
        let upstream = TcpStream::connect(("127.0.0.1", port_of(&head.target)))?;
        seen.lock().unwrap().tunnels.push(head.target.clone());
        client_w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        // Bytes the client sent after the CONNECT head are in the reader's buffer.
        let buffered = reader.buffer().to_vec();
        let mut up_w = upstream.try_clone()?;
        up_w.write_all(&buffered)?;
        let mut up_r = upstream;
        let mut client_r = reader.into_inner();
        let down = thread::spawn(move || {
            let _ = io::copy(&mut up_r, &mut client_w);
            let _ = client_w.shutdown(Shutdown::Write);
        });
        let _ = io::copy(&mut client_r, &mut up_w);
        let _ = up_w.shutdown(Shutdown::Write);
        let _ = down.join();
        return Ok(());
    }
    // Absolute form: one request per connection, forwarded in origin form.
    let Some(rest) = head.target.strip_prefix("http://") else {
        client_w.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    seen.lock().unwrap().absolute.push(head.target.clone());
    let length: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut upstream = TcpStream::connect(("127.0.0.1", port_of(authority)))?;
    let mut out = format!("{} {path} HTTP/1.1\r\n", head.method);
    for (n, v) in &head.headers {
        let hop = ["proxy-authorization", "proxy-connection", "connection"];
        if !hop.iter().any(|h| n.eq_ignore_ascii_case(h)) {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    upstream.write_all(out.as_bytes())?;
    upstream.write_all(&body)?;
    io::copy(&mut upstream, &mut client_w)?;
    Ok(())
}
