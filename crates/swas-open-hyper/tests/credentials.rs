//! What only the async client's credentials have: one refresh shared by a hundred
//! concurrent tasks, of which dropped waiters cancel nothing; a file read off the runtime's
//! workers. Every provider kind and
//! config-file mode runs end to end in the scenario suite (`suite.rs`).

use std::time::Duration;

use swas_open_emulator::{Fault, Service};
use swas_open_hyper::Client;
use swas_open_testkit::creds::{credential_services, role_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_for_a_hundred_calls_even_when_waiters_are_dropped() {
    let emu = credential_services().start().await.unwrap();
    // The STS answer is slow, so every call is waiting when half of them are dropped.
    emu.inject(Fault::delay(Duration::from_millis(300)).on(Service::Sts));
    let (client, inputs) = role_client::<Client>(&emu, 100);
    let tasks: Vec<_> = inputs
        .into_iter()
        .map(|input| {
            let client = client.clone();
            tokio::spawn(async move { client.delete_custom_image(&input).await })
        })
        .collect();
    // Drop the waiters only once the shared fetch is under way: STS has its request (it
    // counts it before the delay). This waits on real time because the emulator answers
    // over a real socket, which tokio's paused clock cannot hold back; the 300 ms STS delay
    // only keeps the fetch in flight while the waiters are dropped, and no assertion
    // depends on how long anything took.
    while emu.stats().sts_requests == 0 {
        // socket: only the emulator's count says the fetch's request has arrived.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut tasks = tasks.into_iter();
    for task in tasks.by_ref().take(50) {
        task.abort();
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // The first caller's task may be among the dropped ones: the refresh went on anyway.
    assert_eq!(emu.stats().sts_requests, 1);
}

/// On a multi-thread runtime, a fetch that reads a local file (here the aliyun CLI config
/// file) runs that step through `block_in_place` (which panics where it may not be used),
/// and the call succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_reading_a_file_runs_off_the_runtime_workers() {
    use swas_open_core::{ClientBuilder, CredentialsProvider};
    use swas_open_testkit::creds::{Home, AK, REGION};
    let emu = credential_services().start().await.unwrap();
    emu.add_image(REGION, "m-file", false);
    let home = Home::new();
    let config = home.write(
        "config.json",
        &format!(
            r#"{{"profiles":[{{"name":"p","mode":"AK","access_key_id":"{}","access_key_secret":"{}"}}]}}"#,
            AK.0, AK.1
        ),
    );
    let client: Client = ClientBuilder::default()
        .credentials(CredentialsProvider::cli_profile(&config, "p"))
        .endpoint(&emu.url())
        .build()
        .unwrap();
    let input = swas_open_testkit::input("m-file");
    client.delete_custom_image(&input).await.unwrap();
    assert!(!emu.has_image(REGION, "m-file"));
}
