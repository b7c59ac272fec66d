//! The scenario suite every client runs, with the async client.

mod common;

swas_open_testkit::suite!(common::Async::new());
