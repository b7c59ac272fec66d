//! The scenario suite every client runs (each scenario a test of its own), with the async
//! client.

use swas_open_testkit::clients::Async;

fn main() -> std::process::ExitCode {
    swas_open_testkit::run_suite(Async::new, &[])
}
