//! Sign-up and sign-in under pressure: sign-ups rationed per address, a sign-in shed by a
//! saturated hash queue not counted as a failure, refresh tokens swept, and a sign-out that
//! races a refresh of the same session leaving nothing alive.

use super::support::*;

const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken } }";
const REFRESH: &str = "mutation($token: String!) { refreshSession(refreshToken: $token) { refreshToken } }";
const SIGN_OUT: &str = "mutation($token: String!) { signOut(refreshToken: $token) }";

/// Signs up `email` through a proxy that forwarded for `forwarded_for`.
async fn sign_up_from(app: &TestApp, email: &str, forwarded_for: &str) -> Value {
    let variables = json!({ "input": { "email": email, "password": PASSWORD, "name": "N" } });
    let request = app
        .client
        .post(app.url("/graphql"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "query": SIGN_UP, "variables": variables }));
    let response = within(HANG, request.send()).await.expect("sign-up request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON body")
}

#[tokio::test]
async fn sign_ups_are_rationed_per_address_and_email_taken_answers_count_too() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = 1;
        c.sign_up_max_per_client = 3;
    })
    .await;
    let email = stranger();
    assert_eq!(outcome_of(&sign_up_from(&app, &email, "203.0.113.1").await), "OK");
    // Probing whether an address has an account is a sign-up too.
    assert_eq!(outcome_of(&sign_up_from(&app, &email, "203.0.113.1").await), "EMAIL_TAKEN");
    assert_eq!(outcome_of(&sign_up_from(&app, &stranger(), "203.0.113.1").await), "OK");
    for probe in [stranger(), email.clone()] {
        let body = sign_up_from(&app, &probe, "203.0.113.1").await;
        assert_eq!(outcome_of(&body), "RATE_LIMITED", "{body}");
        assert!(retry_after(&body) <= app.config.sign_in_window, "{body}");
    }
    // Another address has its own ration, and the refused address may still sign in.
    assert_eq!(outcome_of(&sign_up_from(&app, &stranger(), "203.0.113.2").await), "OK");
    assert_eq!(outcome(&sign_in_as(&app, &email, PASSWORD, &["203.0.113.1"]).await), "OK");
}

/// Issue 13, attack (c): a flood of sign-ups from an address past its ration cost a database
/// write each. Once the database has refused a budget, this instance refuses it without a
/// statement until its window ends; then it is counted anew. The same holds for sign-in's
/// budgets (an email's, an address's).
#[tokio::test]
async fn a_budget_the_database_refused_is_refused_without_a_statement_until_its_window_ends() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = 1;
        c.sign_up_max_per_client = 2;
        c.sign_in_max_failures_per_email = 2;
        // Long enough for three hashes on a loaded CI machine (2 s was not).
        c.sign_in_window = 6;
    })
    .await;
    let email = stranger();
    // Until the ration is used: a sign-up shed by a busy hash queue is not counted.
    let mut created = Vec::new();
    let first_refusal = loop {
        let candidate = if created.is_empty() { email.clone() } else { stranger() };
        let before = app.statements().await;
        let body = sign_up_from(&app, &candidate, "203.0.113.7").await;
        match outcome_of(&body) {
            "OK" => created.push(candidate),
            "SERVICE_UNAVAILABLE" => {}
            "RATE_LIMITED" => break app.statements().await - before,
            other => panic!("{other}: {body}"),
        }
        assert!(created.len() <= 2, "past the ration: {created:?}");
    };
    assert_eq!(created.first(), Some(&email));
    assert!(first_refusal > 0, "the first refusal is the database's");
    let before = app.statements().await;
    for _ in 0..5 {
        let body = sign_up_from(&app, &stranger(), "203.0.113.7").await;
        assert_eq!(outcome_of(&body), "RATE_LIMITED", "{body}");
        assert!((1..=6).contains(&retry_after(&body)), "{body}");
    }
    assert_eq!(app.statements().await, before, "refused again without a statement");
    // Another address is counted as before.
    assert_eq!(outcome_of(&sign_up_from(&app, &stranger(), "203.0.113.8").await), "OK");

    // Sign-in: the email's two failures, then its refusal by the database, then by this instance.
    for _ in 0..2 {
        assert_eq!(outcome(&sign_in_as(&app, &email, "wrong password", &["203.0.113.9"]).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in_as(&app, &email, PASSWORD, &["203.0.113.9"]).await), "RATE_LIMITED");
    let before = app.statements().await;
    assert_eq!(outcome(&sign_in_as(&app, &email, PASSWORD, &["203.0.113.10"]).await), "RATE_LIMITED");
    // The new address's own charge is the one statement: the email is not charged again.
    assert_eq!(app.statements().await - before, 1);

    // Once the window has passed, both are counted anew.
    tokio::time::sleep(Duration::from_millis(6100)).await;
    assert_eq!(outcome_of(&sign_up_from(&app, &stranger(), "203.0.113.7").await), "OK");
    assert_eq!(outcome(&sign_in_as(&app, &email, PASSWORD, &["203.0.113.9"]).await), "OK");
}

#[tokio::test]
async fn the_sign_up_ration_holds_against_a_concurrent_burst() {
    let app = TestApp::spawn_with(|c| c.sign_up_max_per_client = 5).await;
    let emails: Vec<String> = (0..20).map(|_| stranger()).collect();
    let bodies = futures::future::join_all(emails.iter().map(|email| {
        let variables = json!({ "input": { "email": email, "password": PASSWORD, "name": "N" } });
        app.post(None, SIGN_UP, variables)
    }))
    .await;
    let codes: Vec<&str> = bodies.iter().map(|(_, body)| outcome_of(body)).collect();
    let created = codes.iter().filter(|c| **c == "OK").count();
    assert!(created <= 5, "{created} accounts from one address: {codes:?}");
    // Shed by the hash queue is the only other answer, and it does not use up the ration.
    assert!(codes.iter().all(|c| ["OK", "RATE_LIMITED", "SERVICE_UNAVAILABLE"].contains(c)), "{codes:?}");
    assert!(codes.contains(&"RATE_LIMITED"), "{codes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_shed_by_someone_elses_flood_does_not_count_against_the_victim() {
    // Its own process: the hashing queue is per process.
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [("SIGN_IN_MAX_FAILURES_PER_CLIENT", "1000000"), ("SIGN_IN_MAX_FAILURES_PER_EMAIL", "2")];
    let server = Server::start(dir.path(), &fresh_database(dir.path()).await, &env);
    server.ready().await;
    let (_, victim) = server.sign_up(PASSWORD).await;

    // Waves of sign-ins for unknown emails, more at once than the queue holds (cores × 8),
    // until the victim has been shed three times in a row.
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flooders: Vec<_> = (0..64)
        .map(|_| {
            let (client, url, flooding) = (server.client.clone(), server.url("/graphql"), flooding.clone());
            tokio::spawn(async move {
                while flooding.load(std::sync::atomic::Ordering::SeqCst) {
                    let input = json!({ "input": { "email": stranger(), "password": WRONG } });
                    let _ = client.post(&url).json(&json!({ "query": SIGN_IN, "variables": input })).send().await;
                }
            })
        })
        .collect();

    let victim_input = json!({ "input": { "email": victim, "password": PASSWORD } });
    let (mut shed_in_a_row, deadline) = (0, Instant::now() + Duration::from_secs(60));
    while shed_in_a_row < 3 {
        assert!(Instant::now() < deadline, "the flood never shed the victim three times in a row");
        let (_, body) = server.graphql(None, SIGN_IN, victim_input.clone()).await;
        match outcome(&body) {
            "SERVICE_UNAVAILABLE" => shed_in_a_row += 1,
            // Got through the queue: its success forgave everything; try again.
            "OK" => shed_in_a_row = 0,
            // Counting the shed attempts as failures would lock the victim out here.
            other => panic!("the victim's sign-in answered {other} during the flood: {body}"),
        }
    }
    flooding.store(false, std::sync::atomic::Ordering::SeqCst);
    for flooder in flooders {
        flooder.await.expect("flooder");
    }
    let (_, body) = server.graphql(None, SIGN_IN, victim_input).await;
    assert_eq!(outcome(&body), "OK", "three shed sign-ins locked the victim out: {body}");
    server.stop().await;
}

#[tokio::test]
async fn a_sign_out_racing_a_refresh_of_the_same_session_leaves_no_token_alive() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let sign_in = |_| app.post(None, SIGN_IN, json!({ "input": { "email": user.email, "password": PASSWORD } }));
    // Forty sessions of one user (a few sign-ins at a time, within the hash queue), each
    // refreshed and signed out at the same moment.
    let sessions: Vec<(u16, Value)> = futures::stream::StreamExt::collect(futures::stream::StreamExt::buffered(
        futures::stream::iter((0..40).map(sign_in)),
        4,
    ))
    .await;
    let app = &app;
    let races = sessions.iter().map(|(_, body)| {
        let (_, refresh) = tokens(&body["data"]["signIn"]);
        async move {
            let variables = json!({ "token": refresh });
            let (refreshed, signed_out) =
                tokio::join!(app.post(None, REFRESH, variables.clone()), app.post(None, SIGN_OUT, variables));
            assert_eq!(signed_out.1, json!({ "data": { "signOut": true } }));
            refreshed.1["data"]["refreshSession"]["refreshToken"].as_str().map(str::to_owned)
        }
    });
    let successors: Vec<String> = futures::future::join_all(races).await.into_iter().flatten().collect();
    // Whichever came first, the session is over: a successor the refresh issued is dead too.
    for successor in &successors {
        let (_, body) = app.post(None, REFRESH, json!({ "token": successor })).await;
        assert_eq!(error_code(&body), "INVALID_REFRESH_TOKEN", "a successor outlived its sign-out: {body}");
    }
    println!("{} of 40 refreshes won their race", successors.len());
}

#[tokio::test]
async fn expired_and_revoked_refresh_tokens_are_swept_and_live_ones_stay() {
    let app = TestApp::spawn_with(|c| c.refresh_token_ttl = 1).await;
    // A second instance on the same database whose tokens live for the default time.
    let long_lived = TestApp::spawn_with(|c| c.database.database_url = app.config.database.database_url.clone()).await;
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.unwrap();
    let expiring = app.sign_up().await;
    // Signed out: revoked, though not expired.
    let signed_out = long_lived.sign_up().await;
    let (_, body) = long_lived.post(None, SIGN_OUT, json!({ "token": signed_out.refresh })).await;
    assert_eq!(body, json!({ "data": { "signOut": true } }));
    let live = long_lived.sign_up().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    assert_eq!(todoql::auth::refresh::sweep(&db).await.unwrap(), 2, "the expired and the revoked token");
    assert_eq!(todoql::auth::refresh::sweep(&db).await.unwrap(), 0);
    let (_, body) = long_lived.post(None, REFRESH, json!({ "token": live.refresh })).await;
    assert!(body["data"]["refreshSession"]["refreshToken"].is_string(), "a live token was swept: {body}");
    let (_, body) = app.post(None, REFRESH, json!({ "token": expiring.refresh })).await;
    assert_eq!(error_code(&body), "INVALID_REFRESH_TOKEN", "{body}");
}
