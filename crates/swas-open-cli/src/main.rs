//! `swas`: Alibaba Cloud Simple Application Server DeleteCustomImage from the shell.
//!
//! - `swas delete-custom-image --region-id R --image-id I [--client-token T]`: the call, with
//!   `--dry-run` (sign and print, send nothing) and `--emulator` (against a local emulator
//!   started for the call, with a throwaway key). Many images: `--image-id` repeated or
//!   `--image-ids-from FILE|-`, `--concurrency N` calls at once through one client, one JSON
//!   line per image.
//! - `swas emulator --access-key ID:SECRET[:TOKEN] --image REGION:IMAGE[:shared]`: a local
//!   emulator of the service, until killed.
//! - `swas bench sign`: signer throughput, V1 and V3.
//!
//! Exit status: 0 success; 1 the service answered with an error (its fields as JSON on
//! stderr); 2 invalid input, configuration or usage; 3 the outcome is unknown (no answer, or
//! one that cannot be read: repeat with the `--client-token` printed).
#![forbid(unsafe_code)]
// The doc comments of the argument structs are the command's --help text, written for a
// terminal (`HOST[:PORT]`, `<REGION>`), not rustdoc markup.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod batch;
mod bench;
mod cli;
mod delete;
mod dry_run;
mod emulator;
mod exit;
mod output;
mod verbose;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{BenchCommand, Cli, Command};

fn main() -> ExitCode {
    // Usage errors exit 2 and `--help`/`--version` exit 0, as clap does.
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::DeleteCustomImage(args) => delete::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Bench(BenchCommand::Sign(args)) => bench::sign(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
}

/// A builder's setter applied to an option's value when the option was given:
/// `builder.set_some(args.deadline, ClientBuilder::deadline)`.
trait SetSome: Sized {
    fn set_some<T>(self, value: Option<T>, set: impl FnOnce(Self, T) -> Self) -> Self {
        match value {
            Some(value) => set(self, value),
            None => self,
        }
    }
}

impl<B> SetSome for B {}
