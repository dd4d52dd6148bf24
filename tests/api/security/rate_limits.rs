//! Sign-in rate limits: per email, per client, shared by instances, charged before hashing.

use super::support::*;

#[tokio::test]
async fn after_five_wrong_passwords_even_the_right_one_is_rate_limited_before_any_hashing() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let mut failed_cost = 0;
    for attempt in 1..=5 {
        let before = app.statements().await;
        assert_eq!(outcome(&sign_in(&app, &user.email, WRONG).await), "INVALID_CREDENTIALS", "attempt {attempt}");
        failed_cost = app.statements().await - before;
    }

    let before = app.statements().await;
    let body = sign_in(&app, &user.email, PASSWORD).await;
    let refused_cost = app.statements().await - before;
    assert_eq!(outcome(&body), "RATE_LIMITED", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert!(retry_after(&body) <= app.config.sign_in_window, "{body}");
    // Hashing needs the user's stored hash, read with the user. A refused attempt stops at the
    // rate-limit bookkeeping: it issues fewer statements than a wrong password, which reads
    // the user and hashes. (Checking after the hash would cost at least as much.)
    assert!(refused_cost < failed_cost, "refused: {refused_cost} statements, failed: {failed_cost}");
}

#[tokio::test]
async fn concurrent_wrong_passwords_cannot_outrun_the_email_limit() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    // All at once: every one could pass a check made before the first failure is counted.
    let attempts = futures::future::join_all((0..10).map(|_| sign_in(&app, &user.email, WRONG))).await;
    let codes: Vec<&str> = attempts.iter().map(outcome).collect();
    let guessed = codes.iter().filter(|c| **c == "INVALID_CREDENTIALS").count();
    assert!(guessed <= 5, "{guessed} guesses were checked against the password: {codes:?}");
    assert!(codes.contains(&"RATE_LIMITED"), "{codes:?}");
    // Under load a guess may be shed before hashing; it must still have been counted.
    assert!(
        codes.iter().all(|c| ["INVALID_CREDENTIALS", "RATE_LIMITED", "SERVICE_UNAVAILABLE"].contains(c)),
        "{codes:?}"
    );
    assert_eq!(outcome(&sign_in(&app, &user.email, PASSWORD).await), "RATE_LIMITED");
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_emails_failures() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    for _ in 0..4 {
        assert_eq!(outcome(&sign_in(&app, &user.email, WRONG).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in(&app, &user.email, PASSWORD).await), "OK");
    // Without the reset the second of these would be the sixth failure.
    for attempt in 1..=5 {
        assert_eq!(outcome(&sign_in(&app, &user.email, WRONG).await), "INVALID_CREDENTIALS", "attempt {attempt}");
    }
    assert_eq!(outcome(&sign_in(&app, &user.email, PASSWORD).await), "RATE_LIMITED");
}

#[tokio::test]
async fn the_email_may_try_again_once_its_window_has_passed() {
    let app = TestApp::spawn_with(|c| c.sign_in_window = 1).await;
    let user = app.sign_up().await;
    for _ in 0..5 {
        assert_eq!(outcome(&sign_in(&app, &user.email, WRONG).await), "INVALID_CREDENTIALS");
    }
    let deadline = Instant::now() + HANG;
    loop {
        let body = sign_in(&app, &user.email, PASSWORD).await;
        match outcome(&body) {
            "OK" => break,
            "RATE_LIMITED" => assert_eq!(retry_after(&body), 1, "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
        assert!(Instant::now() < deadline, "still rate limited long after a 1 s window");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn one_client_failing_across_many_emails_is_rate_limited() {
    let app = TestApp::spawn_with(|c| c.sign_in_max_failures_per_client = 3).await;
    let user = app.sign_up().await;
    for _ in 0..3 {
        assert_eq!(outcome(&sign_in(&app, &stranger(), WRONG).await), "INVALID_CREDENTIALS");
    }
    let body = sign_in(&app, &stranger(), WRONG).await;
    assert_eq!(outcome(&body), "RATE_LIMITED", "{body}");
    retry_after(&body);
    // The client is refused before hashing, whatever the credentials.
    assert_eq!(outcome(&sign_in(&app, &user.email, PASSWORD).await), "RATE_LIMITED");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = 1;
        c.sign_in_max_failures_per_client = 2;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["203.0.113.1"]).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["203.0.113.1"]).await), "RATE_LIMITED");
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["203.0.113.2"]).await), "INVALID_CREDENTIALS");
    // Only the hop the proxy appended is trusted: what the client wrote before it is not.
    let spoofed = sign_in_from(&app, &stranger(), &["198.51.100.9, 203.0.113.1"]).await;
    assert_eq!(outcome(&spoofed), "RATE_LIMITED", "{spoofed}");
}

#[tokio::test]
async fn addresses_of_one_ipv6_slash_64_share_a_client_budget() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = 1;
        c.sign_in_max_failures_per_client = 2;
    })
    .await;
    // Anyone handed a /64 can send from any of its 2^64 addresses.
    for address in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
        assert_eq!(outcome(&sign_in_from(&app, &stranger(), &[address]).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["2001:db8:1:2:ffff::3"]).await), "RATE_LIMITED");
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["2001:db8:1:3::1"]).await), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn a_forwarded_for_line_the_proxy_adds_below_the_clients_is_the_one_trusted() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = 1;
        c.sign_in_max_failures_per_client = 2;
    })
    .await;
    // A proxy may add its own header line rather than extend the client's; the lines form
    // one list (RFC 9110 §5.3), whose last entry is still the trusted one.
    for n in 0..3 {
        let spoofed = format!("198.51.100.{n}");
        let body = sign_in_from(&app, &stranger(), &[spoofed.as_str(), "203.0.113.7"]).await;
        let expected = if n < 2 { "INVALID_CREDENTIALS" } else { "RATE_LIMITED" };
        assert_eq!(outcome(&body), expected, "attempt {n}: {body}");
    }
}

#[tokio::test]
async fn without_trust_proxy_the_forwarded_for_header_is_ignored() {
    let app = TestApp::spawn_with(|c| c.sign_in_max_failures_per_client = 2).await;
    assert_eq!(app.config.trust_proxy, 0);
    for address in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(outcome(&sign_in_from(&app, &stranger(), &[address]).await), "INVALID_CREDENTIALS");
    }
    // A new header value is no new client: the socket peer has used up its budget.
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["203.0.113.3"]).await), "RATE_LIMITED");
}

#[tokio::test]
async fn two_instances_on_one_database_share_the_sign_in_budget() {
    let first = TestApp::spawn().await;
    let url = first.config.database.database_url.clone();
    let second = TestApp::spawn_with(|c| c.database.database_url = url).await;
    let user = first.sign_up().await;
    for app in [&first, &second, &first, &second, &first] {
        assert_eq!(outcome(&sign_in(app, &user.email, WRONG).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in(&second, &user.email, PASSWORD).await), "RATE_LIMITED");
}

#[tokio::test]
async fn an_overlong_email_is_just_wrong_credentials() {
    let app = TestApp::spawn().await;
    // Longer than any email may be, and than the rate-limit key column (300).
    let email = format!("{}@example.com", "a".repeat(400));
    let body = sign_in(&app, &email, WRONG).await;
    assert_eq!(outcome(&body), "INVALID_CREDENTIALS", "{body}");
}

#[tokio::test]
async fn expired_rate_limit_counters_are_swept_away() {
    // Three seconds: long enough that a busy machine does not let the window pass between
    // the sign-in and the first sweep (it did with one).
    let app = TestApp::spawn_with(|c| c.sign_in_window = 3).await;
    let wrong =
        "mutation { signIn(input: { email: \"sweep@example.com\", password: \"wrong password\" }) { accessToken } }";
    assert_eq!(error_code(&app.anonymous(wrong, json!({})).await), "INVALID_CREDENTIALS");
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.unwrap();
    assert_eq!(todoql::auth::throttle::sweep(&db, &app.config).await.unwrap(), 0, "a live window stays");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert!(todoql::auth::throttle::sweep(&db, &app.config).await.unwrap() >= 1, "a passed window is swept");
}
