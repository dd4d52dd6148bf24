//! Secrets stay secret: nothing sensitive reaches the log.

use super::support::*;

#[tokio::test]
async fn a_whole_session_logged_at_debug_shows_no_password_token_or_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = format!("{}-{}", unique("log-secret"), "s".repeat(32));
    let server = Server::start_with(
        dir.path(),
        &fresh_database(dir.path()).await,
        &[("RUST_LOG", "debug"), ("JWT_SECRET", secret.as_str())],
    );
    server.ready().await;
    let password = format!("pw-{}", unique("right"));
    let wrong = format!("pw-{}", unique("wrong"));
    let short = "Zq7!x9#".to_owned();
    let mut secrets = vec![secret.clone(), SECRET.to_owned(), password.clone(), wrong.clone(), short.clone()];

    let (access, email) = server.sign_up(&password).await;
    secrets.push(access.clone());
    let sign_up = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }";
    let input = json!({ "input": { "email": stranger(), "password": short, "name": "Short" } });
    assert_eq!(outcome_of(&server.graphql(None, sign_up, input).await.1), "BAD_USER_INPUT");
    let credentials = |password: &str| json!({ "input": { "email": email, "password": password } });
    assert_eq!(outcome_of(&server.graphql(None, SIGN_IN, credentials(&wrong)).await.1), "INVALID_CREDENTIALS");
    let (_, body) = server.graphql(None, SIGN_IN, credentials(&password)).await;
    let (access, refresh) = tokens(&body["data"]["signIn"]);
    secrets.extend([access.clone(), refresh.clone()]);
    assert!(server.graphql(Some(&access), "{ me { id } }", json!({})).await.1["data"]["me"]["id"].is_string());

    let refresh_session = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
    let (_, body) = server.graphql(None, refresh_session, json!({ "t": refresh })).await;
    let (rotated_access, rotated_refresh) = tokens(&body["data"]["refreshSession"]);
    secrets.extend([rotated_access.clone(), rotated_refresh.clone()]);
    // Replaying the rotated token revokes the family: a warning is logged, without the token.
    let (_, body) = server.graphql(None, refresh_session, json!({ "t": refresh })).await;
    assert_eq!(outcome_of(&body), "INVALID_REFRESH_TOKEN");

    let tampered = format!("{}x", &rotated_access[..rotated_access.len() - 1]);
    let expired = sign(&json!({ "sub": "someone", "email": email, "iat": now() - 7200, "exp": now() - 3600 }), &secret);
    let forged = sign(&json!({ "sub": "someone", "email": email, "iat": now(), "exp": now() + 3600 }), SECRET);
    for token in [&tampered, &expired, &forged] {
        let (status, _) = server.graphql(Some(token), "{ me { id } }", json!({})).await;
        assert_eq!(status, 401);
        secrets.push(token.clone());
    }
    let sign_out = "mutation($t: String!) { signOut(refreshToken: $t) }";
    assert_eq!(server.graphql(None, sign_out, json!({ "t": rotated_refresh })).await.1["data"]["signOut"], true);

    let log = server.stop().await;
    // The log is there and detailed: the rejected tokens and the replay were noted.
    assert!(log.contains("DEBUG"), "no debug lines were captured:\n{log}");
    assert!(log.contains("rejected a bearer token"), "{log}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the log shows {secret:?}:\n{log}");
        // Nor any part of a token long enough to matter, such as its signature.
        for part in secret.split('.').filter(|part| part.len() >= 16) {
            assert!(!log.contains(part), "the log shows {part:?} of {secret:?}:\n{log}");
        }
    }
}

#[tokio::test]
async fn a_failed_announcement_is_logged_with_ids_not_the_todo_text() {
    // PostgreSQL only: a pg_notify that fails. A `pg_notify` of our own, found before the
    // catalog's through the database's search path, fails the way a real one may, quoting its
    // payload in its message.
    if !std::env::var("TODOQL_TEST_DATABASE").is_ok_and(|url| url.starts_with("postgres")) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(dir.path()).await;
    let server = Server::start(dir.path(), &url, &[]);
    server.ready().await;
    let (token, _) = server.sign_up(PASSWORD).await;
    {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&url).await.expect("connect");
        db.execute_unprepared(
            "CREATE FUNCTION public.pg_notify(channel text, payload text) RETURNS void LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'cannot notify: %', payload; END $$",
        )
        .await
        .expect("shadow pg_notify");
        let name = url.rsplit('/').next().expect("database name");
        db.execute_unprepared(&format!("ALTER DATABASE {name} SET search_path = public, pg_catalog"))
            .await
            .expect("search path");
        db.close().await.ok();
    }
    // New connections take the search path; the pool's old ones are replaced when they fail
    // or age, so write until the shadow answers.
    let title = unique("private-todo-text");
    let create = "mutation($t: String!) { createTodo(input: { title: $t }) { id } }";
    let deadline = Instant::now() + HANG;
    loop {
        let (_, body) = server.graphql(Some(&token), create, json!({ "t": title })).await;
        // The backends this loop terminates can be met mid-reconnect: that is answered
        // SERVICE_UNAVAILABLE (retry later), which is not the failure looked for.
        if body.get("errors").is_some() && error_code(&body) == "SERVICE_UNAVAILABLE" {
            assert!(!body.to_string().contains(&title), "{body}");
            assert!(Instant::now() < deadline, "pg_notify never failed");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        if body.get("errors").is_some() {
            assert_eq!(error_code(&body), "INTERNAL_SERVER_ERROR", "{body}");
            assert!(!body.to_string().contains(&title), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "pg_notify never failed");
        // Each pool connection in turn: restart it by terminating the backends.
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&url).await.expect("connect");
        let name = url.rsplit('/').next().expect("database name");
        db.execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("terminate");
        db.close().await.ok();
    }
    let log = server.stop().await;
    assert!(log.contains("could not announce the change of todo"), "{log}");
    assert!(!log.contains(&title), "the todo's text reached the log:\n{log}");
}
