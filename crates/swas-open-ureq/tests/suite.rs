//! The scenario suite every client runs (each scenario a test of its own), with the blocking
//! client.

use swas_open_testkit::clients::Blocking;

fn main() -> std::process::ExitCode {
    swas_open_testkit::run_suite(|| Blocking, &[])
}
