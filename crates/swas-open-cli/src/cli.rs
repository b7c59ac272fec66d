//! The command line, as clap sees it: commands, flags and their help texts.
//!
//! Values that can carry a secret (the emulator's `--access-key`) and the operation's own
//! parameters are taken as plain strings and validated afterwards, so an error message never
//! echoes a secret and always names the field in one line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand};
use swas_open_core::{Nonce, SignatureVersion, Timestamp};

/// The exit statuses, for every command's help.
macro_rules! exit_status {
    () => {
        "\
Exit status:
  0  success
  1  the service answered with an error (its fields as JSON on stderr)
  2  invalid input, configuration or usage, or credentials refused by their service (a
     wrong key, an unknown role, a bad token): fix them; nothing was deleted
  3  outcome unknown: no answer or an unusable one (connection failure, timeout, redirect,
     unreadable body); the image may be deleted: repeat with the --client-token printed.
     Also when a credentials service (STS, the metadata service, a credentials URI) gave
     no usable answer (unreachable, 5xx, throttling, credentials arriving expired: check
     the clock); nothing was deleted: try again later"
    };
}
const EXIT_STATUS: &str = exit_status!();

/// The default credential chain, in the order it is tried, with the variables of each
/// source (the names the core reads).
macro_rules! credential_chain {
    () => {
        "\
Credentials (without --profile or --emulator): these sources in turn, the first that gives
credentials is used:
  1. environment: ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
     ALIBABA_CLOUD_SECURITY_TOKEN (for a temporary key)
  2. OIDC role (RRSA): ALIBABA_CLOUD_OIDC_TOKEN_FILE, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and
     ALIBABA_CLOUD_ROLE_ARN, all three set; ALIBABA_CLOUD_ROLE_SESSION_NAME,
     ALIBABA_CLOUD_STS_ENDPOINT, ALIBABA_CLOUD_STS_REGION, ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED
  3. the aliyun CLI's config file: ALIBABA_CLOUD_CONFIG_FILE (default ~/.aliyun/config.json),
     profile --profile, ALIBABA_CLOUD_PROFILE or the file's current one;
     ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true skips it
  4. the credentials ini file: ALIBABA_CLOUD_CREDENTIALS_FILE (default
     ~/.alibabacloud/credentials.ini or ~/.alibabacloud/credentials)
  5. the ECS instance RAM role: ALIBABA_CLOUD_ECS_METADATA (the role name; else asked of the
     metadata service), ALIBABA_CLOUD_ECS_METADATA_DISABLED=true skips it,
     ALIBABA_CLOUD_IMDSV1_DISABLED=true requires a session token,
     ALIBABA_CLOUD_IMDS_ENDPOINT (another metadata address)
  6. a credentials URI: ALIBABA_CLOUD_CREDENTIALS_URI"
    };
}

/// Alibaba Cloud Simple Application Server: delete custom images.
#[derive(Debug, Parser)]
#[command(
    name = "swas",
    version,
    about = "Delete Simple Application Server custom images (DeleteCustomImage, API 2020-06-01)",
    long_about = "Delete Simple Application Server custom images (DeleteCustomImage, API \
                  2020-06-01), run a local emulator of the service, or measure the signer.\n\n\
                  Try it with no account:\n  \
                  swas delete-custom-image --emulator --region-id cn-hangzhou --image-id m-demo",
    after_help = EXIT_STATUS,
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Delete custom images (prints {"RequestId":"..."} on success)
    #[command(
        after_help = EXIT_STATUS,
        after_long_help = concat!(credential_chain!(), "\n\n", exit_status!()),
        long_about = "Delete a custom image. On success prints the service's answer, \
                      {\"RequestId\":\"...\"}, on stdout.\n\n\
                      Several images (--image-id repeated, or --image-ids-from): every id is \
                      checked first, then --concurrency calls run at once through one client. \
                      Each image gets one JSON line on stdout: ImageId, ClientToken, then \
                      RequestId, or the service error's fields, or Error when no usable \
                      answer came, and Attempts. A summary follows on stderr. Exit status: \
                      0 all deleted, 3 some call got no usable answer (from the service or \
                      a credentials service), else 2 some call was not sent for something \
                      to fix (credentials refused, configuration), else 1.\n\n\
                      When a call's outcome is unknown (no answer, or one that cannot be \
                      read), the image may be deleted: repeat the call with the ClientToken \
                      printed, and the service answers the first result instead of deleting \
                      twice or saying the image does not exist.\n\n\
                      With --emulator, a local emulator and a throwaway key are used instead \
                      of the credential chain below."
    )]
    DeleteCustomImage(DeleteArgs),
    /// Run a local emulator of the service until killed
    #[command(
        long_about = "Run a local emulator of the service until killed. It checks signatures \
                      (V1 and V3) against the given keys, holds the given images in memory and \
                      answers with the service's error bodies. On the same port it plays STS \
                      (AssumeRole, AssumeRoleWithOIDC), the instance metadata service and a \
                      credentials URI, and SWAS accepts the temporary credentials they issue \
                      until they expire.\n\n\
                      The first line on stdout is `listening on http://HOST:PORT` (https with \
                      --tls), then with --imds-listen `listening on http://HOST:PORT` for the \
                      metadata listener; then one line per request on stderr: method, action, \
                      outcome, status, latency.\n\n\
                      This tool's own clients read ALIBABA_CLOUD_STS_ENDPOINT (STS), \
                      ALIBABA_CLOUD_IMDS_ENDPOINT (instance metadata) and \
                      ALIBABA_CLOUD_CREDENTIALS_URI: point them at the URLs printed. Alibaba's \
                      official credential libraries read neither of the first two: they take \
                      the STS endpoint in code (always HTTPS: use --tls and trust the CA) and \
                      reach the metadata service at http://100.100.100.200 only; the README's \
                      section on testing code that uses Alibaba's official SDKs has recipes."
    )]
    Emulator(EmulatorArgs),
    /// Measure how fast requests are signed
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `swas delete-custom-image`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("images").required(true).args(["image_ids", "image_ids_from"])))]
pub struct DeleteArgs {
    /// The image's region, e.g. cn-hangzhou
    #[arg(
        long,
        visible_alias = "RegionId",
        alias = "region",
        value_name = "REGION"
    )]
    pub region_id: String,

    /// The custom image to delete, e.g. m-2zehv38jjmwva1ee****. Repeat it to delete several
    /// (then one JSON line per image)
    #[arg(long = "image-id", visible_alias = "ImageId", value_name = "IMAGE_ID")]
    pub image_ids: Vec<String>,

    /// Delete the images listed in FILE, one id a line (- for stdin); blank lines and spaces
    /// around an id are ignored. Prints one JSON line per image
    #[arg(long, value_name = "FILE")]
    pub image_ids_from: Option<PathBuf>,

    /// With several images: how many calls run at once, all through one client (one
    /// connection pool, one retry budget)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    pub concurrency: u16,

    /// Idempotency token (ASCII, at most 64 characters): repeating the call with the same
    /// token never deletes twice. Without it, a random one is used for this call (and none is
    /// sent in a dry run)
    #[arg(long, visible_alias = "ClientToken", value_name = "TOKEN")]
    pub client_token: Option<String>,

    /// Send to this endpoint: https://HOST[:PORT], http://HOST[:PORT] or a bare HOST (HTTPS).
    /// Default: swas.<REGION>.aliyuncs.com
    #[arg(long, value_name = "URL|HOST", conflicts_with = "emulator")]
    pub endpoint: Option<String>,

    /// Signature scheme: v1 (HMAC-SHA1) or v3 (ACS3-HMAC-SHA256)
    #[arg(
        long,
        value_name = "v1|v3",
        default_value = "v1",
        value_parser = parse_signature_version
    )]
    pub signature_version: SignatureVersion,

    /// Take the credentials from this profile of the aliyun CLI's config file
    #[arg(long, short = 'p', value_name = "NAME", conflicts_with = "emulator")]
    pub profile: Option<String>,

    /// Bound on connecting, in seconds (decimals allowed) [default: 5]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub connect_timeout: Option<Duration>,

    /// Bound on waiting for and reading the answer, in seconds (decimals allowed) [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub read_timeout: Option<Duration>,

    /// Also trust the CA certificates of this PEM file (repeatable), besides the built-in
    /// roots and SSL_CERT_FILE's
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_files: Vec<std::path::PathBuf>,

    /// Go through this proxy: http://[USER:PASSWORD@]HOST[:PORT] (HTTPS by a CONNECT
    /// tunnel). Default: HTTPS_PROXY / ALL_PROXY, minus NO_PROXY; "none" for no proxy
    #[arg(long, value_name = "URL|none")]
    pub proxy: Option<String>,

    /// Bound on the whole call (each image's, with several), waits and retries included, in
    /// seconds (decimals allowed) [default: none]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub deadline: Option<Duration>,

    /// Attempts in all, the first included; retries reuse the ClientToken [default: 3]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: Option<u32>,

    /// Build and sign the request, print it (request line, then headers), send nothing.
    /// Secrets never print; an STS token shows as ***
    #[arg(long, visible_alias = "dryrun")]
    pub dry_run: bool,

    /// Sign with this time instead of now (dry run only)
    #[arg(
        long,
        value_name = "YYYY-MM-DDThh:mm:ssZ",
        requires = "dry_run",
        value_parser = parse_timestamp
    )]
    pub timestamp: Option<Timestamp>,

    /// Sign with this nonce instead of a random one (dry run only)
    #[arg(long, value_name = "NONCE", requires = "dry_run", value_parser = parse_nonce)]
    pub nonce: Option<Nonce>,

    /// Run against a local emulator started for this call, holding the requested image, with
    /// a throwaway key: try the tool with no account
    #[arg(long)]
    pub emulator: bool,

    /// Show each attempt and the ClientToken used on stderr
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// `swas emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Accept requests signed with this key (repeatable); with STS_TOKEN, requests must carry
    /// exactly that token
    #[arg(
        long = "access-key",
        value_name = "ID:SECRET[:STS_TOKEN]",
        required_unless_present_any = ["oidc_tokens", "instance_role", "credentials_uri"]
    )]
    pub access_keys: Vec<String>,

    /// Hold this custom image (repeatable); a shared image cannot be deleted
    #[arg(long = "image", value_name = "REGION:IMAGE_ID[:shared]")]
    pub images: Vec<String>,

    /// Hold the images listed in FILE, one REGION:IMAGE_ID[:shared] a line (blank lines and
    /// # comments skipped; a regular file of at most 64 MiB) (repeatable)
    #[arg(long = "images-from", value_name = "FILE")]
    pub images_from: Vec<PathBuf>,

    /// The default account: of every --access-key that names none (see --key-account) and
    /// of the instance (instance metadata and credentials URI credentials). ClientTokens
    /// are remembered per account; AssumeRole by a key of a named account may assume only
    /// that account's roles (or roles that trust it) [default: one unnamed account, trusted
    /// by every role]
    #[arg(long, value_name = "ACCOUNT")]
    pub account: Option<String>,

    /// Put the --access-key ID in ACCOUNT instead of the default account (repeatable)
    #[arg(long = "key-account", value_name = "ID=ACCOUNT")]
    pub key_accounts: Vec<String>,

    /// Let STS's AssumeRole (signed by an --access-key) assume this RAM role (repeatable):
    /// ARN is acs:ram::ACCOUNT:role/NAME; external-id makes the call send exactly that
    /// ExternalId; max-duration bounds DurationSeconds [default: 3600]; trust-account lets
    /// keys of another account assume it (repeatable)
    #[arg(
        long = "role",
        value_name = "ARN[,external-id=ID][,max-duration=SECS][,trust-account=ACCOUNT]"
    )]
    pub roles: Vec<String>,

    /// Let STS's AssumeRoleWithOIDC assume ROLE_ARN with this token from the OIDC provider
    /// PROVIDER_ARN (acs:ram::ACCOUNT:oidc-provider/NAME) (repeatable)
    #[arg(long = "oidc-token", value_name = "ROLE_ARN,PROVIDER_ARN,TOKEN")]
    pub oidc_tokens: Vec<String>,

    /// Hold the OIDC provider's tokens to these claims: a JWT whose iss is URL and whose aud
    /// names one of the audiences (repeatable). Any JWT-shaped token is checked for expiry
    #[arg(
        long = "oidc-provider",
        value_name = "PROVIDER_ARN[,issuer=URL][,audience=ID]..."
    )]
    pub oidc_providers: Vec<String>,

    /// Also serve the instance metadata service alone on ADDR, in plain HTTP whatever --tls
    /// says (as official clients reach it), sharing the credentials issued
    #[arg(long, value_name = "ADDR")]
    pub imds_listen: Option<SocketAddr>,

    /// Serve this RAM role's credentials over the instance metadata service, at
    /// /latest/meta-data/ram/security-credentials/NAME (tokens from PUT /latest/api/token)
    #[arg(long, value_name = "NAME")]
    pub instance_role: Option<String>,

    /// Instance metadata in security hardening mode: reads without a session token get 403
    #[arg(long, requires = "instance_role")]
    pub imds_v2_only: bool,

    /// Serve temporary credentials at GET PATH, as a credentials URI
    /// (ALIBABA_CLOUD_CREDENTIALS_URI=http://HOST:PORT/PATH)
    #[arg(long, value_name = "PATH")]
    pub credentials_uri: Option<String>,

    /// Every credential issued (STS, instance metadata, credentials URI) lasts this long
    /// [default: STS DurationSeconds; 6 hours for the others]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub credential_lifetime: Option<Duration>,

    /// Run the emulator's clock this many seconds ahead of the system clock (negative:
    /// behind): request timestamps are checked against it, and Date headers come from it
    #[arg(
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        default_value_t = 0
    )]
    pub clock_skew: i64,

    /// Throttle DeleteCustomImage past this many requests a second (a token bucket holding
    /// one second's worth): the rest get 400 Throttling.User, as a service over its quota
    #[arg(long, value_name = "PER_SECOND")]
    pub rate_limit: Option<u32>,

    /// Serve HTTPS with a certificate generated at start for localhost, 127.0.0.1, ::1 and
    /// every --tls-name, signed by a CA generated with it
    #[arg(long)]
    pub tls: bool,

    /// Add this DNS name or IP address to the certificate (repeatable; implies --tls)
    #[arg(long = "tls-name", value_name = "NAME")]
    pub tls_names: Vec<String>,

    /// Write the CA certificate (PEM) to FILE before printing the listening line (implies
    /// --tls)
    #[arg(long, value_name = "FILE")]
    pub tls_ca_out: Option<PathBuf>,
}

/// `swas bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time input validation plus Signer::sign, V1 and V3: median of 7 rounds, in ns/sign
    Sign(BenchSignArgs),
}

/// `swas bench sign`.
#[derive(Debug, Args)]
pub struct BenchSignArgs {
    /// Signatures per round
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000_000)
    )]
    pub iterations: u64,
}

fn parse_signature_version(s: &str) -> Result<SignatureVersion, String> {
    s.parse()
}

/// Seconds as a positive decimal number, e.g. `5` or `0.5`.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, e.g. 5 or 0.5".to_owned())?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be more than 0 seconds".to_owned());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| "too many seconds".to_owned())
}

fn parse_timestamp(s: &str) -> Result<Timestamp, String> {
    s.parse::<Timestamp>().map_err(|e| e.to_string())
}

fn parse_nonce(s: &str) -> Result<Nonce, String> {
    Nonce::new(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn emulator_flags() {
        let cli = Cli::try_parse_from([
            "swas",
            "emulator",
            "--instance-role",
            "r",
            "--clock-skew",
            "-1200",
            "--tls-name",
            "swas.test",
            "--rate-limit",
            "20",
        ])
        .unwrap();
        let Command::Emulator(args) = cli.command else {
            panic!("not the emulator")
        };
        assert_eq!(args.clock_skew, -1200);
        assert_eq!(args.rate_limit, Some(20));
        assert!(args.access_keys.is_empty());
        assert!(Cli::try_parse_from(["swas", "emulator"]).is_err());
        assert!(
            Cli::try_parse_from(["swas", "emulator", "--imds-v2-only", "--access-key", "a:b"])
                .is_err()
        );
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_seconds("2"), Ok(Duration::from_secs(2)));
        for bad in ["0", "-1", "abc", "NaN", "inf", "1e300", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
