//! The CPU cost of authentication (issue 8): access token checks, which every authenticated
//! request pays, and argon2id at the production parameters, which every signUp and signIn pays.
//!
//! `cargo bench --bench auth`

use std::hint::black_box;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::http::{HeaderMap, HeaderValue, header};
use criterion::{Criterion, criterion_group, criterion_main};
use todoql::auth::{bearer, passwords, tokens::TokenKeys};
use todoql::config::Config;

const USER_ID: &str = "0197a5d2-8c3e-7b41-9f00-3c2b5e6d7a81";

fn keys() -> TokenKeys {
    let mut config = Config::for_database("sqlite::memory:");
    config.jwt_secret = Some("a benchmark secret of at least 32 bytes, honestly".to_owned());
    match TokenKeys::from_config(&config) {
        Ok(keys) => keys,
        Err(error) => panic!("bench keys: {error}"),
    }
}

fn tokens(c: &mut Criterion) {
    let keys = keys();
    let token = keys.issue(USER_ID, "someone@example.com").expect("issue a token");
    let (signed, signature) = token.rsplit_once('.').expect("a JWT has three parts");
    let swapped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{signed}.{swapped}{}", &signature[1..]);
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("header"));

    let mut group = c.benchmark_group("token");
    group.bench_function("verify a valid token", |b| b.iter(|| keys.verify(black_box(&token)).expect("valid")));
    group.bench_function("refuse a bad signature", |b| b.iter(|| keys.verify(black_box(&forged)).expect_err("forged")));
    group.bench_function("read the Authorization header (valid)", |b| {
        b.iter(|| matches!(bearer::credential(black_box(&headers), &keys), bearer::Credential::Valid { .. }))
    });
    group.bench_function("issue", |b| b.iter(|| keys.issue(black_box(USER_ID), "someone@example.com")));
    group.finish();
}

fn argon2(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let stored = Argon2::default().hash_password(b"correct horse battery").expect("hash").to_string();

    let mut group = c.benchmark_group("argon2id (m=19456 KiB, t=2, p=1)");
    group.sample_size(20);
    // Params::default() is what production uses (see src/auth/passwords.rs).
    group.bench_function("hash", |b| {
        b.iter(|| Argon2::default().hash_password(black_box(b"correct horse battery")).expect("hash"))
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let hash = argon2::PasswordHash::new(&stored).expect("parse");
            Argon2::default().verify_password(black_box(b"correct horse battery"), &hash).is_ok()
        })
    });
    // The production entry point, off the async runtime on the blocking pool.
    group.bench_function("passwords::hash (spawn_blocking)", |b| {
        b.to_async(&runtime).iter(|| passwords::hash(black_box("correct horse battery").to_owned()))
    });
    group.finish();
}

criterion_group!(benches, tokens, argon2);
criterion_main!(benches);
