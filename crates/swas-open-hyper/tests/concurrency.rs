//! What only the async client has: futures that move between threads, a bounded pool under
//! load, and cancellation by dropping a call's future. The scenarios every client shares
//! are in `suite.rs`.

use std::time::Duration;

use swas_open_emulator::{Emulator, Fault};
use swas_open_hyper::{Client, DeleteCustomImage};
use swas_open_testkit::clients::delete_all;
use swas_open_testkit::{builder, emulator_builder, image_ids, input, REGION};

/// An emulator knowing the test keys and holding `ids` in [`REGION`], on the current
/// runtime.
async fn emulator_with(ids: &[String]) -> Emulator {
    let emu = emulator_builder(&[])
        .start()
        .await
        .expect("emulator starts");
    for id in ids {
        emu.add_image(REGION, id, false);
    }
    emu
}

fn client(emu: &Emulator) -> Client {
    builder(emu).build().expect("client builds")
}

fn inputs(ids: &[String]) -> Vec<DeleteCustomImage> {
    ids.iter().map(|id| input(id)).collect()
}

// Compile-time: the client can be shared across tasks and its futures moved between threads
// (a call's future must coerce to a `Send` one, or this does not compile).
const _: () = {
    const fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Client>();
    shareable::<swas_open_hyper::ClientBuilder>();
    let _: for<'a> fn(&'a Client, &'a DeleteCustomImage) -> SendCall<'a> =
        |client, input| Box::pin(client.delete_custom_image(input));
};

/// A call's future, boxed as one that may move between threads.
type SendCall<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<swas_open_hyper::DeleteCustomImageOutput, swas_open_hyper::Error>,
            > + Send
            + 'a,
    >,
>;

/// At most this many calls run at once in the load test.
const CONCURRENCY: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_deletes_share_a_bounded_pool() {
    let ids = image_ids(1000);
    let emu = emulator_with(&ids).await;
    let client = client(&emu);
    let results = delete_all(&client, inputs(&ids), CONCURRENCY).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
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
async fn a_dropped_future_does_not_poison_the_pool() {
    let ids = image_ids(20);
    let emu = emulator_with(&ids).await;
    let client = client(&emu);
    // Warm the pool, so the cancelled call runs on a pooled connection.
    client.delete_custom_image(&input(&ids[0])).await.unwrap();

    // socket: the server holds the call a second, ten times the wait that drops it.
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
        // socket: the call is dropped while its request is held by the delay fault;
        // it cannot finish first, the server holds it a full second.
        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
    }

    // The client carries on, sequentially and concurrently.
    for id in &ids[3..10] {
        client.delete_custom_image(&input(id)).await.unwrap();
    }
    let results = delete_all(&client, inputs(&ids[10..]), 10).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // The cancelled calls may still have been acted on by the server; the others all were.
    for id in ids[3..].iter().chain(std::iter::once(&ids[0])) {
        assert!(!emu.has_image(REGION, id), "{id}");
    }
}

/// A call whose future is dropped before its answer says so in its span (`swas.outcome` is
/// `cancelled`, with a `call cancelled` event); one that ends records `ok`.
#[test]
fn a_dropped_call_says_so_in_its_span() {
    use swas_open_testkit::capture;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let emu = swas_open_testkit::emulator(&["m-1", "m-2"]);
    let client = runtime.block_on(async { client(&emu) });
    // socket: the server holds the call 2 s, ten times the wait that drops it.
    emu.inject(Fault::delay(Duration::from_secs(2)));
    // The call runs on this thread under `block_on`, so the capture sees all of it.
    let (cancelled, entries) = capture(|| {
        runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_millis(200),
                client.delete_custom_image(&input("m-1")),
            )
            .await
        })
    });
    assert!(cancelled.is_err(), "the call was cancelled: {cancelled:?}");
    let outcomes: Vec<_> = entries
        .iter()
        .filter_map(|e| e.field("swas.outcome"))
        .collect();
    assert_eq!(outcomes, ["\"cancelled\""], "{entries:#?}");
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "event" && e.name == "call cancelled"),
        "{entries:#?}"
    );
    let (done, entries) = capture(|| runtime.block_on(client.delete_custom_image(&input("m-2"))));
    done.expect("deleted");
    let outcomes: Vec<_> = entries
        .iter()
        .filter_map(|e| e.field("swas.outcome"))
        .collect();
    assert_eq!(outcomes, ["\"ok\""], "{entries:#?}");
}
