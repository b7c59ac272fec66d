//! `swas delete-custom-image`: one DeleteCustomImage call, against the service or a local
//! emulator, or a dry run that only signs.

use swas_open_core::{DeleteCustomImage, Endpoint, EndpointKind, SignatureVersion};
use swas_open_ureq::{Client, ClientBuilder};

use crate::cli::DeleteArgs;
use crate::emulator::Local;
use crate::exit::Failure;
use crate::{dry_run, output, verbose};

/// Appended to the `user-agent` of every request this tool signs, dry runs included.
pub const USER_AGENT_SUFFIX: &str = concat!("swas-cli/", env!("CARGO_PKG_VERSION"));

/// Runs the command.
pub fn run(args: &DeleteArgs) -> Result<(), Failure> {
    let mut input = DeleteCustomImage::new(args.region_id.as_str(), args.image_id.as_str())?;
    if let Some(token) = &args.client_token {
        input = input.with_client_token(token.as_str())?;
    }
    if args.verbose {
        verbose::install();
    }

    let local = if args.emulator {
        Some(Local::start(&input, args.verbose)?)
    } else {
        None
    };
    let builder = client_builder(args, local.as_ref())?;
    let config = builder.clone().resolve()?;
    let endpoint = config.endpoint_for(&input);
    if local.is_none()
        && args.endpoint.is_none()
        && !EndpointKind::Public.is_listed(input.region_id())
    {
        output::note(&format!(
            "warning: region {:?} is not in the published endpoint table; trying {endpoint}",
            input.region_id().as_str()
        ));
    }
    if args.dry_run {
        dry_run::run(args, &input, &endpoint, config.signer())
    } else {
        call(args, &input, &endpoint, builder)
    }
}

/// The client's options: the emulator's throwaway key with `--emulator`, else the profile
/// given or the default credential chain. Fails when a `--ca-file` cannot be read.
fn client_builder(args: &DeleteArgs, local: Option<&Local>) -> Result<ClientBuilder, Failure> {
    let mut builder = Client::builder()
        .signature_version(args.signature_version)
        .user_agent_suffix(USER_AGENT_SUFFIX);
    match local {
        Some(local) => {
            builder = builder
                .credentials(local.credentials().clone())
                .endpoint(&local.url());
        }
        None => {
            if let Some(profile) = &args.profile {
                builder = builder.profile(profile);
            }
            if let Some(url) = &args.endpoint {
                builder = builder.endpoint(url);
            }
        }
    }
    if let Some(timeout) = args.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = args.read_timeout {
        builder = builder.read_timeout(timeout);
    }
    if let Some(attempts) = args.max_attempts {
        builder = builder.max_attempts(attempts);
    }
    for path in &args.ca_files {
        let pem = std::fs::read(path).map_err(|e| {
            Failure::Usage(format!("--ca-file {}: cannot be read: {e}", path.display()))
        })?;
        builder = builder.add_root_certificate(pem);
    }
    match args.proxy.as_deref() {
        Some("none") => builder = builder.no_proxies(),
        Some(url) => builder = builder.proxy(url),
        None => {}
    }
    Ok(builder)
}

pub fn scheme_name(version: SignatureVersion) -> &'static str {
    match version {
        SignatureVersion::V3 => "v3",
        _ => "v1",
    }
}

fn call(
    args: &DeleteArgs,
    input: &DeleteCustomImage,
    endpoint: &Endpoint,
    builder: ClientBuilder,
) -> Result<(), Failure> {
    let client = builder.build()?;
    if args.verbose {
        output::note(&format!(
            "DeleteCustomImage RegionId={} ImageId={}{} to {endpoint}, signature {}",
            input.region_id(),
            input.image_id(),
            input
                .client_token()
                .map(|t| format!(" ClientToken={t}"))
                .unwrap_or_default(),
            scheme_name(args.signature_version),
        ));
    }
    match client.delete_custom_image(input) {
        Ok(out) => {
            if args.verbose {
                output::note(&format!(
                    "deleted after {} attempt(s); RequestId={} ClientToken={}",
                    out.attempts, out.request_id, out.client_token
                ));
            }
            output::stdout(&serde_json::json!({ "RequestId": out.request_id }).to_string());
            Ok(())
        }
        Err(e) => {
            // Only a generated token is news to the user: theirs is on their command line.
            let hint = match (input.client_token(), e.client_token()) {
                (None, Some(token)) if e.is_no_answer() => Some(format!(
                    "to retry safely, repeat with --client-token {token}"
                )),
                _ => None,
            };
            let failure = match Failure::from(e) {
                Failure::NoAnswer(reason) => {
                    let failure = Failure::NoAnswer(reason)
                        .with_context(&format!("DeleteCustomImage at {endpoint}"));
                    match hint {
                        Some(hint) => failure.with_hint(&hint),
                        None => failure,
                    }
                }
                other => other,
            };
            Err(failure)
        }
    }
}
