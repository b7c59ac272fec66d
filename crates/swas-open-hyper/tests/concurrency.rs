//! One client shared by many tasks: pooling, faults under load, cancellation.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use swas_open_emulator::Fault;
use swas_open_hyper::{Client, DeleteCustomImage, DeleteOutput, Error};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

fn image_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m-{i:04}")).collect()
}

async fn emulator_with(ids: &[String]) -> swas_open_emulator::Emulator {
    let emu = emulator(&[]).await;
    for id in ids {
        emu.add_image(REGION, id, false);
    }
    emu
}

// Compile-time: the client can be shared across tasks and its futures moved between threads.
const _: () = {
    const fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Client>();
    shareable::<swas_open_hyper::ClientBuilder>();
};

#[allow(dead_code)]
fn futures_are_send(client: &Client, input: &DeleteCustomImage) {
    fn send<T: Send>(_: &T) {}
    send(&client.delete_custom_image(input));
}

/// Runs one delete per id, at most `limit` at a time, each on its own task.
async fn delete_all(
    client: &Client,
    ids: &[String],
    limit: usize,
) -> Vec<Result<DeleteOutput, Error>> {
    let permits = Arc::new(Semaphore::new(limit));
    let mut tasks = JoinSet::new();
    for id in ids {
        let (client, permits, op) = (client.clone(), permits.clone(), input(id));
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            client.delete_custom_image(&op).await
        });
    }
    let mut results = Vec::with_capacity(ids.len());
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.expect("task does not panic"));
    }
    results
}

/// Asserts that every call succeeded, listing the errors if not.
#[track_caller]
fn assert_no_failures(results: &[Result<DeleteOutput, Error>]) {
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "{failures:?}");
}

/// At most this many calls run at once in the load test.
const CONCURRENCY: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_deletes_share_a_bounded_pool() {
    let ids = image_ids(1000);
    let emu = emulator_with(&ids).await;
    let client = client(&emu);
    let results = delete_all(&client, &ids, CONCURRENCY).await;
    assert_no_failures(&results);
    let stats = emu.stats();
    assert_eq!(stats.deletes, 1000);
    assert_eq!(stats.requests, 1000);
    assert!(emu.images(REGION).iter().all(|id| id == "m-shared"));
    // A connection is either serving one of the CONCURRENCY calls in flight, or on its way
    // back to the pool: hyper-util returns it from a background task just after the call's
    // answer is read, so a call starting in that gap finds no idle connection and opens one.
    // New connections are opened only in that case, and the pool keeps up to 128 idle per
    // host, so none is ever closed and reopened: the total stays below twice the calls in
    // flight. Without pooling it would be one per call (1,000).
    assert!(stats.connections <= 2 * CONCURRENCY as u64, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_among_concurrent_calls_are_retried() {
    let ids = image_ids(100);
    let emu = emulator_with(&ids).await;
    emu.inject(Fault::error(503, "ServiceUnavailable").times(10));
    // Any one call may meet every fault: with 11 attempts it still ends with a success.
    let client = builder(&emu)
        .retry_policy(quick_retries(11))
        .build()
        .unwrap();
    let results = delete_all(&client, &ids, 100).await;
    assert_no_failures(&results);
    let retried: u32 = results
        .iter()
        .map(|r| r.as_ref().unwrap().attempts - 1)
        .sum();
    assert_eq!(retried, 10);
    let stats = emu.stats();
    assert_eq!((stats.deletes, stats.requests), (100, 110));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_and_dropping_connections_under_load() {
    let ids = image_ids(100);
    let emu = emulator_with(&ids).await;
    emu.inject(Fault::drop_after_commit().times(5));
    let client = builder(&emu)
        .retry_policy(quick_retries(6))
        .build()
        .unwrap();
    let results = delete_all(&client, &ids, 32).await;
    assert_no_failures(&results);
    // Each committed-then-dropped delete is replayed by its ClientToken, never repeated.
    assert_eq!(emu.stats().deletes, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_future_does_not_poison_the_pool() {
    let ids = image_ids(20);
    let emu = emulator_with(&ids).await;
    let client = client(&emu);
    // Warm the pool, so the cancelled call runs on a pooled connection.
    client.delete_custom_image(&input(&ids[0])).await.unwrap();

    emu.inject(Fault::delay(Duration::from_secs(1)));
    let cancelled = tokio::time::timeout(
        Duration::from_millis(100),
        client.delete_custom_image(&input(&ids[1])),
    )
    .await;
    assert!(cancelled.is_err(), "the call was cancelled: {cancelled:?}");

    emu.inject(Fault::delay(Duration::from_secs(1)));
    let op = input(&ids[2]);
    tokio::select! {
        r = client.delete_custom_image(&op) => panic!("finished first: {r:?}"),
        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
    }

    // The client carries on, sequentially and concurrently.
    for id in &ids[3..10] {
        client.delete_custom_image(&input(id)).await.unwrap();
    }
    let results = delete_all(&client, &ids[10..], 10).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // The cancelled calls may still have been acted on by the server; the others all were.
    for id in ids[3..].iter().chain(std::iter::once(&ids[0])) {
        assert!(!emu.has_image(REGION, id), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_the_pool() {
    let ids = image_ids(6);
    let emu = emulator_with(&ids).await;
    let client = client(&emu);
    for (i, id) in ids.iter().enumerate() {
        let c = if i % 2 == 0 {
            client.clone()
        } else {
            client.clone().clone()
        };
        let op = input(id);
        tokio::spawn(async move { c.delete_custom_image(&op).await })
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(emu.stats().connections, 1);
}
