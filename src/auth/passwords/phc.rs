//! argon2id hashes as PHC strings, computed in [`Memory`] the caller brings.
//!
//! The argon2 crate's `PasswordHasher` and `PasswordVerifier` allocate their working memory
//! from the global allocator; these two functions do what they do (same parameters, same
//! PHC strings, the same constant-time comparison of outputs) through
//! `Argon2::hash_password_into_with_memory`, so that the caller owns that memory.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::try_generate_salt;
use argon2::{Algorithm, Argon2, Params, Version};

use super::memory::Memory;
use crate::error::{Error, Result};

/// Hashes `password` with a random 16-byte salt at the crate's defaults, OWASP's argon2id
/// parameters (v=19, m=19456 KiB, t=2, p=1): the string `Argon2::default().hash_password`
/// gives.
pub(super) fn hash(password: &[u8], memory: &mut Memory) -> Result<String> {
    let salt = try_generate_salt().map_err(|e| internal("no random salt", e))?;
    let params = Params::default();
    let (algorithm, version) = (Algorithm::default(), Version::default());
    let mut output = [0; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory.blocks(params.block_count()).map_err(|e| internal("no memory for argon2", e))?;
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut output, blocks)
        .map_err(|e| internal("argon2 hash failed", e))?;
    let hash = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params).map_err(|e| internal("argon2 parameters", e))?,
        salt: Some(Salt::new(&salt).map_err(|e| internal("argon2 salt", e))?),
        hash: Some(Output::new(&output).map_err(|e| internal("argon2 output", e))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` hashes to the PHC string `stored`, at the algorithm, version and
/// parameters it names. A string that does not parse as an argon2 hash matches nothing;
/// only a failure to get memory is an error.
pub(super) fn verify(password: &[u8], stored: &str, memory: &mut Memory) -> Result<bool> {
    let Ok(stored) = PasswordHash::new(stored) else { return Ok(false) };
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else { return Ok(false) };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else { return Ok(false) };
    let Ok(version) = stored.version.map_or(Ok(Version::default()), Version::try_from) else { return Ok(false) };
    // Carries the output length of `expected`, as well as m, t, p and any keyid or data.
    let Ok(params) = Params::try_from(&stored) else { return Ok(false) };
    let mut output = [0; Output::MAX_LENGTH];
    let Some(output) = output.get_mut(..expected.len()) else { return Ok(false) };
    let blocks = memory.blocks(params.block_count()).map_err(|e| internal("no memory for argon2", e))?;
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2.hash_password_into_with_memory(password, salt, output, blocks).is_err() {
        return Ok(false);
    }
    // `Output`'s equality runs in constant time.
    Ok(Output::new(output).is_ok_and(|computed| computed == *expected))
}

/// An internal error that says what failed and why.
fn internal(what: &str, error: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};

    use super::*;

    /// From the argon2 reference implementation's test vectors (its `test.c`): "password"
    /// hashed with the salt "somesalt", in 64 MiB.
    const REFERENCE: &str = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    /// From the argon2 crate's PHC tests: "password" with argon2d, version 16, three lanes
    /// and associated data, in 32 KiB.
    const THREE_LANES: &str =
        "$argon2d$v=16$m=32,t=2,p=3,data=Dw8PDw8P$AAAAAAAAAAA$KnH4gniiaFnDvlA1xev3yovC4cnrrI6tnHOYtmja90o";

    fn hash_anew(password: &[u8]) -> String {
        hash(password, &mut Memory::default()).expect("hash")
    }

    fn verify_anew(password: &[u8], stored: &str) -> bool {
        verify(password, stored, &mut Memory::default()).expect("verify")
    }

    #[test]
    fn a_hash_verifies_with_its_password_and_no_other() {
        let hash = hash_anew(b"correct horse");
        assert!(verify_anew(b"correct horse", &hash));
        assert!(!verify_anew(b"correct horsf", &hash));
        assert!(!verify_anew(b"", &hash));
    }

    #[test]
    fn hashes_are_standard_argon2id_phc_strings_at_owasp_parameters() {
        let hash = hash_anew(b"correct horse");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        let parsed = PasswordHash::new(&hash).expect("a PHC string");
        assert_eq!(parsed.salt.expect("a salt").len(), 16);
        assert_eq!(parsed.hash.expect("an output").len(), 32);
        // The argon2 crate's own verifier, in its own memory, agrees.
        assert!(Argon2::default().verify_password(b"correct horse", hash.as_str()).is_ok());
        assert!(Argon2::default().verify_password(b"correct horsf", hash.as_str()).is_err());
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_verify() {
        let made = Argon2::default().hash_password(b"hunter42").expect("hash").to_string();
        assert!(verify_anew(b"hunter42", &made));
        assert!(!verify_anew(b"hunter43", &made));
    }

    #[test]
    fn the_reference_implementations_hash_verifies() {
        assert!(verify_anew(b"password", REFERENCE));
        assert!(!verify_anew(b"passwore", REFERENCE));
    }

    #[test]
    fn hashes_at_other_parameters_verify() {
        assert!(verify_anew(b"password", THREE_LANES));
        assert!(!verify_anew(b"Password", THREE_LANES));
    }

    #[test]
    fn memory_left_by_earlier_hashes_gives_the_same_answers() {
        let mut memory = Memory::default();
        let first = hash(b"first", &mut memory).expect("hash");
        // Smaller, larger (the memory grows) and equal sizes, each over what came before.
        for _ in 0..2 {
            assert!(verify(b"password", THREE_LANES, &mut memory).expect("verify"));
            assert!(verify(b"first", &first, &mut memory).expect("verify"));
            assert!(!verify(b"second", &first, &mut memory).expect("verify"));
            assert!(verify(b"password", REFERENCE, &mut memory).expect("verify"));
            assert!(!verify(b"passwore", REFERENCE, &mut memory).expect("verify"));
        }
        let second = hash(b"second", &mut memory).expect("hash");
        assert!(Argon2::default().verify_password(b"second", second.as_str()).is_ok());
        assert!(Argon2::default().verify_password(b"first", first.as_str()).is_ok());
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_their_salt() {
        assert_ne!(hash_anew(b"same"), hash_anew(b"same"));
    }

    #[test]
    fn strings_that_are_not_argon2_hashes_match_nothing() {
        for stored in [
            "",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
            "$scrypt$ln=16,r=8,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=42$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        ] {
            assert!(!verify_anew(b"password", stored), "{stored:?}");
        }
    }
}
