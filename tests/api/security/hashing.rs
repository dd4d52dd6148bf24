//! Password hashing cannot starve the server.

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_sign_ins_is_shed_with_service_unavailable_while_reads_are_served() {
    // Its own process: the hashing queue is per process, and this flood must not starve the
    // sign-ups of tests running beside it.
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        Server::start(dir.path(), &fresh_database(dir.path()).await, &[("SIGN_IN_MAX_FAILURES_PER_CLIENT", "100000")]);
    server.ready().await;
    let (token, email) = server.sign_up(PASSWORD).await;

    // Twice the queue (cores × 8) and at least 200, all at once, each for an unknown email.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let flood_size = (cores * 16).max(200);
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flood = {
        let (client, url, flooding) = (server.client.clone(), server.url("/graphql"), flooding.clone());
        tokio::spawn(async move {
            let attempts = (0..flood_size).map(|_| {
                let request = client.post(&url).json(
                    &json!({ "query": SIGN_IN, "variables": { "input": { "email": stranger(), "password": WRONG } } }),
                );
                async move {
                    let response = request.send().await.expect("sign-in request");
                    (response.status().as_u16(), response.json::<Value>().await.expect("JSON body"))
                }
            });
            let results = futures::future::join_all(attempts).await;
            flooding.store(false, std::sync::atomic::Ordering::SeqCst);
            results
        })
    };

    // Meanwhile a request that needs no hashing, and one that reads the database, are served.
    let mut answered_during_flood = 0;
    while flooding.load(std::sync::atomic::Ordering::SeqCst) {
        let (status, body) = server.graphql(None, "{ __typename }", json!({})).await;
        assert_eq!((status, &body), (200, &json!({ "data": { "__typename": "Query" } })));
        let (status, body) = server.graphql(Some(&token), "{ me { email } }", json!({})).await;
        assert_eq!((status, &body["data"]["me"]["email"]), (200, &json!(email)), "{body}");
        if flooding.load(std::sync::atomic::Ordering::SeqCst) {
            answered_during_flood += 1;
        }
    }
    assert!(answered_during_flood > 0, "the flood ended before any read was answered; make it larger");

    let results = flood.await.expect("flood");
    let mut shed = 0;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        match outcome(body) {
            "INVALID_CREDENTIALS" => {}
            "SERVICE_UNAVAILABLE" => {
                retry_after(body);
                shed += 1;
            }
            other => panic!("a flooded sign-in answered {other}: {body}"),
        }
    }
    // The queue holds cores × 8: a flood of twice that, all at once, cannot fit in it.
    assert!(shed > 0, "none of {flood_size} concurrent sign-ins was shed");
    // Once the flood has passed, signing in works again.
    let (_, body) = server.graphql(None, SIGN_IN, json!({ "input": { "email": email, "password": PASSWORD } })).await;
    assert!(body["data"]["signIn"]["accessToken"].is_string(), "{body}");
    server.stop().await;
}
