//! The sign-up and sign-in inputs and the rules they must meet.

use async_graphql::InputObject;

use crate::error::{Error, Result};

/// A new account.
#[derive(InputObject)]
pub struct SignUpInput {
    /// Trimmed and lower-cased; at most 254 characters, one `@` with text on both sides.
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
    /// 1 to 100 characters after trimming.
    pub name: String,
}

/// Credentials of an existing account.
#[derive(InputObject)]
pub struct SignInInput {
    /// The account's email, in any case.
    pub email: String,
    /// The account's password.
    pub password: String,
}

/// Trims and lower-cases an email and checks its shape.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    };
    if !well_formed {
        return Err(Error::bad_input("email", "email must contain one @ with text on both sides"));
    }
    if email.chars().count() > 254 {
        return Err(Error::bad_input("email", "email must be at most 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::bad_input("email", "email must not contain spaces or control characters"));
    }
    Ok(email)
}

/// The longest password an account can have, in characters.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Checks a new password's length (it is never trimmed or altered).
pub fn check_password(password: &str) -> Result<()> {
    let length = password.chars().count();
    if !(8..=MAX_PASSWORD_CHARS).contains(&length) {
        return Err(Error::bad_input("password", "password must be 8 to 128 characters"));
    }
    Ok(())
}

/// Trims a display name and checks its length.
pub fn normalize_name(name: &str) -> Result<String> {
    Error::refuse_nul("name", name)?;
    let name = name.trim();
    let length = name.chars().count();
    if !(1..=100).contains(&length) {
        return Err(Error::bad_input("name", "name must be 1 to 100 characters after trimming"));
    }
    Ok(name.to_owned())
}
