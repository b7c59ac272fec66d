//! What only the blocking client's credentials have: one refresh shared by a hundred calls
//! on as many threads. Every provider kind and config-file mode runs end to end in the
//! scenario suite (`suite.rs`).

use std::sync::{Arc, Barrier};

use swas_open_testkit::creds::{credential_emulator, role_client};
use swas_open_ureq::Client;

#[test]
fn one_refresh_for_a_hundred_concurrent_calls() {
    let emu = credential_emulator(false);
    let (client, inputs) = role_client::<Client>(&emu, 100);
    let barrier = Arc::new(Barrier::new(inputs.len()));
    let threads: Vec<_> = inputs
        .into_iter()
        .map(|input| {
            let (client, barrier) = (client.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                client.delete_custom_image(&input)
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(emu.stats().sts_requests, 1);
}
