//! `swas delete-custom-image`: one DeleteCustomImage call, against the service or a local
//! emulator, or a dry run that only signs (several images: see [`batch`]).

use swas_open_core::{
    ClientBuilder, Config, DeleteCustomImage, Endpoint, EndpointKind, FromConfig, RegionId,
    RetryPolicy,
};
use swas_open_ureq::Client;

use crate::cli::DeleteArgs;
use crate::emulator::Local;
use crate::exit::Failure;
use crate::{batch, dry_run, output, verbose, SetSome};

/// Appended to the `user-agent` of every request this tool signs, dry runs included.
pub const USER_AGENT_SUFFIX: &str = concat!("swas-cli/", env!("CARGO_PKG_VERSION"));

/// Runs the command: one call as below when given one `--image-id`, else the batch.
pub fn run(args: &DeleteArgs) -> Result<(), Failure> {
    let Some(image_id) = batch::single_image(args) else {
        return batch::run(args);
    };
    let mut input = DeleteCustomImage::new(args.region_id.as_str(), image_id)?;
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
    let config = client_config(args, local.as_ref())?;
    let endpoint = config.endpoint_for(&input);
    warn_if_unlisted(args, local.as_ref(), input.region_id(), &endpoint);
    if args.dry_run {
        if let Some(signer) = config.signer() {
            return dry_run::run(args, &input, &endpoint, signer);
        }
        // Credentials that a provider fetches (an STS role, the instance's RAM role, a
        // credentials URI): fetched now, the DeleteCustomImage request is not sent.
        let signer = Client::from_config(config)?.signer()?;
        return dry_run::run(args, &input, &endpoint, &signer);
    }
    call(args, &input, &endpoint, &Client::from_config(config)?)
}

/// Warns when the endpoint was derived from a region the published table does not list.
pub fn warn_if_unlisted(
    args: &DeleteArgs,
    local: Option<&Local>,
    region: &RegionId,
    endpoint: &Endpoint,
) {
    if local.is_none() && args.endpoint.is_none() && !EndpointKind::Public.is_listed(region) {
        output::note(&format!(
            "warning: region {:?} is not in the published endpoint table; trying {endpoint}",
            region.as_str()
        ));
    }
}

/// The client's options, resolved once: the emulator's throwaway key with `--emulator`, else
/// the profile given or the default credential chain. Fails when a `--ca-file` cannot be
/// read (or is not a regular file, or is too large) or an option is invalid.
pub fn client_config(args: &DeleteArgs, local: Option<&Local>) -> Result<Config, Failure> {
    let mut builder = ClientBuilder::<Config>::default()
        .signature_version(args.signature_version)
        .user_agent_suffix(USER_AGENT_SUFFIX);
    builder = match local {
        Some(local) => builder
            .credentials(local.credentials().clone())
            .endpoint(&local.url()),
        None => builder
            .set_some(args.profile.as_deref(), ClientBuilder::profile)
            .set_some(args.endpoint.as_deref(), ClientBuilder::endpoint),
    };
    builder = builder
        .set_some(args.connect_timeout, ClientBuilder::connect_timeout)
        .set_some(args.read_timeout, ClientBuilder::read_timeout)
        .set_some(args.deadline, ClientBuilder::deadline)
        .set_some(
            args.max_attempts.map(RetryPolicy::new),
            ClientBuilder::retry_policy,
        );
    for path in &args.ca_files {
        // Read when the configuration resolves: a regular file only, bounded in size; the
        // error names the file.
        builder = builder.add_root_certificate_file(path);
    }
    match args.proxy.as_deref() {
        Some("none") => builder = builder.no_proxy("*"),
        Some(url) => builder = builder.proxy(url),
        None => {}
    }
    Ok(builder.build()?)
}

fn call(
    args: &DeleteArgs,
    input: &DeleteCustomImage,
    endpoint: &Endpoint,
    client: &Client,
) -> Result<(), Failure> {
    if args.verbose {
        output::note(&format!(
            "DeleteCustomImage RegionId={} ImageId={}{} to {endpoint}, signature {}",
            input.region_id(),
            input.image_id(),
            input
                .client_token()
                .map(|t| format!(" ClientToken={t}"))
                .unwrap_or_default(),
            args.signature_version,
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
            let hint = retry_hint(&e);
            let failure = match Failure::from(e) {
                Failure::NoAnswer(reason) => Failure::NoAnswer(reason)
                    .with_context(&format!("DeleteCustomImage at {endpoint}")),
                other => other,
            };
            Err(match hint {
                Some(hint) => failure.with_hint(&hint),
                None => failure,
            })
        }
    }
}

/// For a call whose outcome is unknown (the image may be deleted), how to learn it without
/// deleting twice: repeat with the ClientToken every attempt carried, the user's or the
/// one made for the call.
pub fn retry_hint(e: &swas_open_core::Error) -> Option<String> {
    let token = e.client_token().filter(|_| e.outcome_unknown())?;
    Some(format!(
        "the outcome is unknown: to retry safely, repeat with --client-token {token}"
    ))
}
