//! A server that answers every request with the same bytes, and the emulator's admin route
//! that drops pending faults.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use swas_open_emulator::Emulator;

/// A listener on a free loopback port that hands every connection to a handler, each on a
/// thread of its own, until it is dropped: the accept loop of the test servers.
#[derive(Debug)]
pub struct Loopback {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Loopback {
    /// Binds a free port and starts handing its connections to `handle`.
    pub fn start(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let (stopped, handle) = (stop.clone(), Arc::new(handle));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Acquire) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let handle = handle.clone();
                thread::spawn(move || handle(stream));
            }
        });
        Self { addr, stop }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// A loopback HTTP server answering every request with the same bytes, then closing the
/// connection: for answers the emulator never gives (too large, a redirect, a `Date` that is
/// missing or garbage). Stops when dropped.
#[derive(Debug)]
pub struct CannedServer {
    listener: Loopback,
    requests: Arc<AtomicU64>,
}

impl CannedServer {
    /// Starts serving `answer` on a free port.
    pub fn start(answer: impl Into<Vec<u8>>) -> Self {
        let answer: Arc<[u8]> = answer.into().into();
        let requests = Arc::new(AtomicU64::new(0));
        let count = requests.clone();
        let listener = Loopback::start(move |stream| {
            // A client that gives up early (at its body cap) closes: a failed write is
            // expected then.
            let _ = answer_one(stream, &answer, &count);
        });
        Self { listener, requests }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// Requests whose head arrived in full.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Acquire)
    }
}

/// Reads one request head, writes `answer`, closes.
fn answer_one(mut stream: TcpStream, answer: &[u8], count: &AtomicU64) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf)? {
            0 => return Ok(()),
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    count.fetch_add(1, Ordering::AcqRel);
    stream.write_all(answer)?;
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Write)
}

/// A loopback address nothing listens on: a port bound, then let go.
pub(crate) fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("a bound port has an address")
}

/// Drops the emulator's pending faults through its admin route; returns how many there were.
pub fn clear_faults(emu: &Emulator) -> u64 {
    let mut stream = TcpStream::connect(emu.addr()).expect("connect to the emulator");
    write!(
        stream,
        "DELETE /__emulator/faults HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        emu.addr()
    )
    .expect("send the admin request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read the admin answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cleared = answer
        .split("\"cleared\":")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|n| n.parse().ok());
    cleared.unwrap_or_else(|| panic!("no count in {answer}"))
}
