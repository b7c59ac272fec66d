//! `swas emulator`, and the in-process emulator behind `delete-custom-image --emulator`.

use std::io::{self, Write};

use swas_open_core::{Credentials, DeleteCustomImage, ImageId, RegionId};
use swas_open_emulator::{parse_access_key_spec, parse_image_spec, Emulator};

use crate::cli::EmulatorArgs;
use crate::exit::Failure;

/// An emulator started for one call: holds the requested image, accepts one throwaway key.
/// Stops when dropped.
pub struct Local {
    emulator: Emulator,
    credentials: Credentials,
}

impl Local {
    /// Starts it on a free loopback port. `log_requests` writes one line per request to stderr.
    pub fn start(input: &DeleteCustomImage, log_requests: bool) -> Result<Self, Failure> {
        Self::holding(input.region_id(), [input.image_id()], log_requests)
    }

    /// Starts it holding every image of `images` in `region`.
    pub fn holding<'a>(
        region: &RegionId,
        images: impl IntoIterator<Item = &'a ImageId>,
        log_requests: bool,
    ) -> Result<Self, Failure> {
        let id = format!("emulator-{:08x}", rand::random::<u32>());
        let secret = format!("{:032x}", rand::random::<u128>());
        let credentials = Credentials::new(id.as_str(), secret.as_str())?;
        let builder = images.into_iter().fold(
            Emulator::builder().access_key(&id, &secret),
            |builder, image| builder.image(region.as_str(), image.as_str()),
        );
        let emulator = builder
            .log_requests(log_requests)
            .start_blocking()
            .map_err(|e| Failure::NoAnswer(format!("could not start the local emulator: {e}")))?;
        Ok(Self {
            emulator,
            credentials,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.emulator.url()
    }

    /// The throwaway key it accepts.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

/// Runs `swas emulator` until the process is killed.
pub fn run(args: &EmulatorArgs) -> Result<(), Failure> {
    let mut builder = Emulator::builder().listen(args.listen).log_requests(true);
    for spec in &args.access_keys {
        // The parser's messages never repeat a secret or token.
        builder = match parse_access_key_spec(spec).map_err(Failure::Usage)? {
            (id, secret, None) => builder.access_key(&id, &secret),
            (id, secret, Some(token)) => builder.sts_access_key(&id, &secret, &token),
        };
    }
    for spec in &args.images {
        builder = match parse_image_spec(spec).map_err(Failure::Usage)? {
            (region, image, false) => builder.image(&region, &image),
            (region, image, true) => builder.shared_image(&region, &image),
        };
    }
    let emulator = builder.start_blocking().map_err(|e| {
        let reason = format!("cannot listen on {}: {e}", args.listen);
        match e.kind() {
            io::ErrorKind::InvalidInput
            | io::ErrorKind::AddrInUse
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::PermissionDenied => Failure::Usage(reason),
            _ => Failure::NoAnswer(reason),
        }
    })?;

    // Whoever started us reads this line to learn the port: write it whole, then flush.
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {}", emulator.url())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::NoAnswer(format!("cannot write to stdout: {e}")))?;
    drop(stdout);

    // The server runs on its own threads; this one only keeps the process (and the
    // `emulator` handle, whose drop would stop it) alive.
    loop {
        std::thread::park();
    }
}
