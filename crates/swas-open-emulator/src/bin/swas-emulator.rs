//! `swas-emulator`: the local Simple Application Server, from the command line.
//!
//! ```text
//! swas-emulator [--listen ADDR] [--access-key ID:SECRET[:STS_TOKEN]]... [--image REGION:IMAGE_ID[:shared]]...
//! ```
//! Prints `listening on http://HOST:PORT`, logs one line per request on stderr, runs until
//! killed.
#![forbid(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use swas_open_emulator::{parse_access_key_spec, parse_image_spec, Emulator};

const USAGE: &str = "usage: swas-emulator [--listen ADDR] [--access-key ID:SECRET[:STS_TOKEN]]... [--image REGION:IMAGE_ID[:shared]]...";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swas-emulator: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut builder = Emulator::builder().log_requests(true);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            return Ok(());
        }
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        builder = match flag.as_str() {
            "--listen" => builder.listen(
                value
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--listen {value}: {e}"))?,
            ),
            "--access-key" => match parse_access_key_spec(&value)? {
                (id, secret, None) => builder.access_key(&id, &secret),
                (id, secret, Some(token)) => builder.sts_access_key(&id, &secret, &token),
            },
            "--image" => match parse_image_spec(&value)? {
                (region, image, false) => builder.image(&region, &image),
                (region, image, true) => builder.shared_image(&region, &image),
            },
            other => return Err(format!("unknown argument {other}")),
        };
    }
    let emulator = builder.start_blocking().map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", emulator.url()).map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    drop(stdout);
    loop {
        std::thread::park();
    }
}
