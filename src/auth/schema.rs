//! The public sign-in mutations: signUp, signIn, refreshSession, signOut.

use async_graphql::{Context, Object, SimpleObject};
use todoql_macros::scoped;

use super::inputs::{self, SignInInput, SignUpInput};
use super::viewer::SignedInHere;
use super::{passwords, refresh, throttle};
use crate::error::{Error, Result};
use crate::state::State;
use crate::users::{self, User, store::NewUser};

/// What a successful sign-in returns.
#[scoped]
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A short-lived HS256 JWT to send as `Authorization: Bearer <accessToken>`.
    #[scopes(public)]
    access_token: String,
    /// An opaque token for `refreshSession`; single use, rotated on every refresh.
    #[scopes(public)]
    refresh_token: String,
    /// Always `Bearer`.
    #[scopes(public)]
    token_type: &'static str,
    /// Seconds until the access token expires.
    #[scopes(public)]
    expires_in: i64,
    /// The signed-in user.
    #[scopes(public)]
    user: User,
}

/// The sign-in mutations. They are public: they ignore any `Authorization` header.
#[derive(Default)]
pub struct AuthMutation;

#[scoped]
#[Object]
impl AuthMutation {
    /// Creates an account and signs it in.
    #[scopes(public)]
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account.")] input: SignUpInput,
    ) -> Result<AuthPayload> {
        let email = inputs::normalize_email(&input.email)?;
        inputs::check_password(&input.password)?;
        let name = inputs::normalize_name(&input.name)?;
        let state = State::of(ctx)?;
        let db = &state.db;
        // Rationed per address before anything is looked up or hashed.
        let client = ctx.data_opt::<throttle::ClientAddr>().copied();
        throttle::check_sign_up(db, &state.config, &state.spent, client).await?;
        if users::store::find_by_email(db, &email).await?.is_some() {
            return Err(Error::EmailTaken);
        }
        let password_hash = match passwords::hash(input.password).await {
            Ok(hash) => hash,
            Err(refused) => {
                // Nothing was created: the retry the refusal asks for must not cost a second sign-up.
                throttle::refund_sign_up(db, client).await?;
                return Err(refused);
            }
        };
        let user = users::store::create(db, NewUser { email, name, password_hash }).await?;
        session(ctx, user).await
    }

    /// Signs in with email and password. A wrong password and an unknown email get the same
    /// `INVALID_CREDENTIALS` answer after the same amount of work.
    #[scopes(public)]
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's credentials.")] input: SignInInput,
    ) -> Result<AuthPayload> {
        let state = State::of(ctx)?;
        let db = &state.db;
        let email = input.email.trim().to_lowercase();
        let attempt = throttle::Attempt::new(&email, ctx.data_opt::<throttle::ClientAddr>().copied());
        // Charged and possibly refused before any hashing: a brute force costs us one upsert.
        throttle::check(db, &state.config, &state.spent, &attempt).await?;
        if input.password.chars().count() > inputs::MAX_PASSWORD_CHARS {
            // No account has such a password: refuse without spending a hash on it.
            return Err(Error::InvalidCredentials);
        }
        // No account's email holds a NUL (nor could PostgreSQL look one up): nobody to find.
        let user = if email.contains('\0') { None } else { users::store::find_by_email(db, &email).await? };
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = match passwords::verify(input.password, hash).await {
            Ok(matches) => matches,
            Err(refused) => {
                // Not checked, so not a failure: the charge taken on admission goes back.
                throttle::refund(db, &attempt).await?;
                return Err(refused);
            }
        };
        match user {
            Some(user) if matches => {
                throttle::record_success(db, &attempt).await?;
                session(ctx, user).await
            }
            // The failure was charged when the attempt was admitted.
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// Exchanges a refresh token for a new access token and a new refresh token. The old
    /// refresh token stops working; presenting it again revokes every token of the session.
    #[scopes(public)]
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token of the last sign-in or refresh.")] refresh_token: String,
    ) -> Result<AuthPayload> {
        let state = State::of(ctx)?;
        let db = &state.db;
        let config = &state.config;
        let (user_id, next) = refresh::rotate(db, &refresh_token, config.refresh_token_ttl).await?;
        let user = users::store::find(db, &user_id).await?.ok_or(Error::InvalidRefreshToken)?;
        payload(ctx, user, next)
    }

    /// Ends the session of a refresh token. Always true, whether or not the token existed.
    #[scopes(public)]
    async fn sign_out(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's current refresh token.")] refresh_token: String,
    ) -> Result<bool> {
        let state = State::of(ctx)?;
        let db = &state.db;
        refresh::revoke(db, &refresh_token).await?;
        Ok(true)
    }
}

/// Starts a new session (refresh token family) for a user who just proved who they are.
async fn session(ctx: &Context<'_>, user: users::entity::Model) -> Result<AuthPayload> {
    let state = State::of(ctx)?;
    let (db, config) = (&state.db, &state.config);
    let refresh_token = refresh::issue(db, &user.id, config.refresh_token_ttl).await?;
    payload(ctx, user, refresh_token)
}

fn payload(ctx: &Context<'_>, user: users::entity::Model, refresh_token: String) -> Result<AuthPayload> {
    let keys = &State::of(ctx)?.keys;
    let access_token = keys.issue(&user.id, &user.email)?;
    // The user just proved who they are: the rest of this operation may show them their own data.
    if let Ok(here) = ctx.data::<SignedInHere>() {
        here.grant(&user.id);
    }
    Ok(AuthPayload {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: keys.ttl_secs(),
        user: User::from(user),
    })
}
