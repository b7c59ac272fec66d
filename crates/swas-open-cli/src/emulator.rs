//! `swas emulator`, and the in-process emulator behind `delete-custom-image --emulator`.

mod flags;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use swas_open_core::{Credentials, DeleteCustomImage, ImageId, RegionId};
use swas_open_emulator::{Emulator, EmulatorBuilder};

use self::flags::{
    parse_access_key_spec, parse_key_account_spec, parse_oidc_provider_spec, parse_oidc_spec,
    parse_role_spec,
};
use crate::cli::EmulatorArgs;
use crate::exit::Failure;
use crate::SetSome;

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
    let mut builder = Emulator::builder()
        .listen(args.listen)
        .log_requests(true)
        .clock_skew(args.clock_skew);
    // The parsers' messages never repeat a secret or token.
    for spec in &args.access_keys {
        builder = match parse_access_key_spec(spec).map_err(Failure::Usage)? {
            (id, secret, None) => builder.access_key(&id, &secret),
            (id, secret, Some(token)) => builder.sts_access_key(&id, &secret, &token),
        };
    }
    builder = builder.set_some(args.account.as_deref(), EmulatorBuilder::account);
    for spec in &args.key_accounts {
        let (id, account) = parse_key_account_spec(spec).map_err(Failure::Usage)?;
        builder = builder.key_account(&id, &account);
    }
    for path in &args.images_from {
        builder = builder.images_from(path);
    }
    for spec in &args.images {
        builder = builder.image_spec(spec);
    }
    for spec in &args.roles {
        builder = builder.role(parse_role_spec(spec).map_err(Failure::Usage)?);
    }
    for spec in &args.oidc_tokens {
        let (role, provider, token) = parse_oidc_spec(spec).map_err(Failure::Usage)?;
        builder = builder.oidc_token(&role, &provider, &token);
    }
    for spec in &args.oidc_providers {
        let (provider, issuer, audiences) =
            parse_oidc_provider_spec(spec).map_err(Failure::Usage)?;
        let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
        builder = builder.oidc_provider(&provider, issuer.as_deref(), &audiences);
    }
    if let Some(name) = &args.instance_role {
        builder = builder.instance_role(name).imds_v2_only(args.imds_v2_only);
    }
    builder = builder
        .set_some(args.imds_listen, EmulatorBuilder::imds_listen)
        .set_some(
            args.credentials_uri.as_deref(),
            EmulatorBuilder::credentials_uri,
        )
        .set_some(
            args.credential_lifetime,
            EmulatorBuilder::credential_lifetime,
        )
        .set_some(args.rate_limit, EmulatorBuilder::rate_limit);
    if args.tls || args.tls_ca_out.is_some() {
        builder = builder.tls();
    }
    for name in &args.tls_names {
        builder = builder.tls_name(name);
    }
    let emulator = builder.start_blocking().map_err(|e| match e.kind() {
        // Invalid configuration: the builder's message names the value, never a secret.
        io::ErrorKind::InvalidInput => Failure::Usage(e.to_string()),
        io::ErrorKind::AddrInUse
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::PermissionDenied => {
            Failure::Usage(format!("cannot listen on {}: {e}", listening(args)))
        }
        _ => Failure::NoAnswer(format!("cannot listen on {}: {e}", listening(args))),
    })?;

    // Whoever started us reads the CA file once the listening line is out: write it first,
    // whole (a temporary file renamed into place).
    if let (Some(path), Some(pem)) = (&args.tls_ca_out, emulator.ca_pem()) {
        write_whole(path, pem).map_err(|e| {
            Failure::Usage(format!(
                "cannot write the CA certificate to {}: {e}",
                path.display()
            ))
        })?;
    }
    // Whoever started us reads this line to learn the port: write it whole, then flush.
    let mut stdout = io::stdout().lock();
    // The main line first, then the metadata listener's.
    writeln!(stdout, "listening on {}", emulator.url())
        .and_then(|()| match emulator.imds_url() {
            Some(url) => writeln!(stdout, "listening on {url}"),
            None => Ok(()),
        })
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::NoAnswer(format!("cannot write to stdout: {e}")))?;
    drop(stdout);

    // The server runs on its own threads; this one only keeps the process (and the
    // `emulator` handle, whose drop would stop it) alive.
    loop {
        std::thread::park();
    }
}

/// The address(es) asked for, for an error binding them.
fn listening(args: &EmulatorArgs) -> String {
    match args.imds_listen {
        Some(imds) => format!("{} or {imds}", args.listen),
        None => args.listen.to_string(),
    }
}

/// Writes `contents` to `path` so that a reader sees nothing or all of it.
fn write_whole(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
