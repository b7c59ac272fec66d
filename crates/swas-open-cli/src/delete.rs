//! `swas delete-custom-image`: one DeleteCustomImage call, against the service or a local
//! emulator, or a dry run that only signs.

use swas_open_core::chain;
use swas_open_core::{
    ClientToken, Credentials, DeleteCustomImage, Endpoint, EndpointKind, RegionId, SignatureVersion,
};
use swas_open_ureq::{Client, ClientBuilder};

use crate::cli::DeleteArgs;
use crate::emulator::Local;
use crate::exit::Failure;
use crate::{dry_run, output, random, verbose};

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

    // `local` lives until the call is over: dropping it stops the emulator.
    let local = if args.emulator {
        Some(Local::start(&input, args.verbose)?)
    } else {
        None
    };
    let (endpoint, credentials) = match &local {
        Some(local) => (Endpoint::parse(&local.url())?, local.credentials().clone()),
        None => (
            resolve_endpoint(args.endpoint.as_deref(), input.region_id())?,
            chain::default_chain_from_process(args.profile.as_deref())?.credentials,
        ),
    };

    // One configuration for both paths, so a dry run signs exactly as the call would.
    let builder = client_builder(args, &endpoint, credentials);
    if args.dry_run {
        dry_run::run(args, &input, &endpoint, &builder.resolve()?.signer)
    } else {
        call(args, input, &endpoint, builder)
    }
}

/// The client's options from the command line.
fn client_builder(
    args: &DeleteArgs,
    endpoint: &Endpoint,
    credentials: Credentials,
) -> ClientBuilder {
    let mut builder = Client::builder()
        .credentials(credentials)
        .endpoint(&endpoint.to_string())
        .signature_version(args.signature_version)
        .user_agent_suffix(USER_AGENT_SUFFIX);
    if let Some(timeout) = args.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = args.read_timeout {
        builder = builder.read_timeout(timeout);
    }
    if let Some(attempts) = args.max_attempts {
        builder = builder.max_attempts(attempts);
    }
    builder
}

/// The explicit endpoint, else the region's public one (with a warning when the region is
/// not in the published table: new regions still follow the pattern).
pub fn resolve_endpoint(explicit: Option<&str>, region: &RegionId) -> Result<Endpoint, Failure> {
    if let Some(url) = explicit {
        return Ok(Endpoint::parse(url)?);
    }
    let endpoint = Endpoint::for_region(region);
    if !EndpointKind::Public.is_listed(region) {
        output::note(&format!(
            "warning: region {:?} is not in the published endpoint table; trying {endpoint}",
            region.as_str()
        ));
    }
    Ok(endpoint)
}

/// The scheme's name as the command line spells it.
pub fn scheme_name(version: SignatureVersion) -> &'static str {
    match version {
        SignatureVersion::V3 => "v3",
        _ => "v1",
    }
}

fn call(
    args: &DeleteArgs,
    input: DeleteCustomImage,
    endpoint: &Endpoint,
    builder: ClientBuilder,
) -> Result<(), Failure> {
    // The client would make a token up too; making it here lets a failure name it, so the
    // caller can retry without risking `InvalidImageId.NotFound` for an image already gone.
    let generated = input.client_token().is_none();
    let input = match input.client_token() {
        Some(_) => input,
        None => input.with_client_token(ClientToken::from_random_bytes(random::bytes()?))?,
    };
    let token = input
        .client_token()
        .map(ClientToken::to_string)
        .unwrap_or_default();

    let client = builder.build()?;

    if args.verbose {
        output::note(&format!(
            "DeleteCustomImage RegionId={} ImageId={} ClientToken={token} to {endpoint}, signature {}",
            input.region_id(),
            input.image_id(),
            scheme_name(args.signature_version),
        ));
    }
    match client.delete_custom_image(&input) {
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
            let failure = match Failure::from(e) {
                Failure::NoAnswer(reason) => {
                    let failure = Failure::NoAnswer(reason)
                        .with_context(&format!("DeleteCustomImage at {endpoint}"));
                    if generated {
                        failure.with_hint(&format!(
                            "to retry safely, repeat with --client-token {token}"
                        ))
                    } else {
                        failure
                    }
                }
                other => other,
            };
            Err(failure)
        }
    }
}
