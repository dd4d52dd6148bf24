//! One published public key, decoded once and bound to the one algorithm its own type
//! (`kty`, `crv`) and `alg` allow: a token is only ever checked with that algorithm.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::settings::Settings;

/// The algorithms todoql verifies external tokens with: every asymmetric one jsonwebtoken
/// implements. Of Better Auth's list that is EdDSA (Ed25519), ES256, RS256 and PS256; its
/// ES512 (P-521) is not implemented by jsonwebtoken.
pub const SUPPORTED: [Algorithm; 9] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// Clock skew allowed between the issuer and todoql, seconds.
const LEEWAY_SECS: u64 = 30;

/// A decoded public key with the checks every token it signed must pass.
pub struct VerifyingKey {
    /// The one algorithm this key verifies.
    pub alg: Algorithm,
    /// The decoded key.
    pub key: DecodingKey,
    /// Exactly `alg`; `exp`, `sub`, `iss` and `aud` required and checked.
    pub validation: Validation,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey").field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// The key a JWK describes, or why todoql cannot use it.
    pub fn from_jwk(jwk: &Jwk, settings: &Settings) -> Result<Self, String> {
        if matches!(&jwk.common.public_key_use, Some(usage) if *usage != PublicKeyUse::Signature) {
            return Err("it is not a signing key (`use` is not `sig`)".to_owned());
        }
        let alg = algorithm_of(jwk)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("it cannot be decoded: {e}"))?;
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        Ok(Self { alg, key, validation })
    }
}

/// The algorithm a key is for: fixed by its type and curve, and by `alg` for RSA (which
/// must name it). A stated `alg` that contradicts the key's type is refused.
fn algorithm_of(jwk: &Jwk) -> Result<Algorithm, String> {
    let stated = jwk.common.key_algorithm;
    let implied = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(params) if params.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return Err(unsupported(stated, "its curve")),
        },
        AlgorithmParameters::RSA(_) => match stated.map(Algorithm::try_from) {
            Some(Ok(alg)) if SUPPORTED.contains(&alg) => alg,
            Some(_) => return Err(unsupported(stated, "its `alg`")),
            None => return Err("it is an RSA key without `alg` (RS256 or PS256?)".to_owned()),
        },
        AlgorithmParameters::OctetKey(_) => return Err("it is a symmetric key, never trusted from a JWKS".to_owned()),
        _ => return Err(unsupported(stated, "its key type")),
    };
    match stated {
        Some(stated) if stated != KeyAlgorithm::from(implied) => {
            Err(format!("its `alg` {stated} does not fit its key type ({implied:?})"))
        }
        _ => Ok(implied),
    }
}

fn unsupported(stated: Option<KeyAlgorithm>, what: &str) -> String {
    let alg = stated.map_or_else(|| "unstated".to_owned(), |alg| alg.to_string());
    format!(
        "todoql cannot verify {what} (alg {alg}); use EdDSA, ES256, RS256 or PS256 \
         (Better Auth's `jwks.keyPairConfig.alg`)"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn jwk(value: serde_json::Value) -> Jwk {
        serde_json::from_value(value).expect("a JWK")
    }

    fn settings() -> Settings {
        Settings { jwks_url: "http://x/jwks".into(), issuer: "http://x".into(), audience: "http://x".into() }
    }

    // Public keys as Better Auth 1.7 publishes them (from a real instance).
    fn ed25519() -> serde_json::Value {
        json!({ "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "a", "alg": "EdDSA" })
    }

    fn p256() -> serde_json::Value {
        json!({ "kty": "EC", "crv": "P-256", "kid": "b", "alg": "ES256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" })
    }

    #[test]
    fn each_key_type_fixes_its_algorithm() {
        assert_eq!(VerifyingKey::from_jwk(&jwk(ed25519()), &settings()).map(|k| k.alg).ok(), Some(Algorithm::EdDSA));
        assert_eq!(VerifyingKey::from_jwk(&jwk(p256()), &settings()).map(|k| k.alg).ok(), Some(Algorithm::ES256));
        let mut unstated = p256();
        unstated.as_object_mut().expect("object").remove("alg");
        assert_eq!(VerifyingKey::from_jwk(&jwk(unstated), &settings()).map(|k| k.alg).ok(), Some(Algorithm::ES256));
    }

    #[test]
    fn the_validation_allows_only_the_keys_algorithm() {
        let key = VerifyingKey::from_jwk(&jwk(ed25519()), &settings()).expect("usable");
        assert_eq!(key.validation.algorithms, vec![Algorithm::EdDSA]);
    }

    #[test]
    fn a_stated_alg_that_contradicts_the_key_type_is_refused() {
        let mut lying = ed25519();
        lying["alg"] = json!("RS256");
        assert!(VerifyingKey::from_jwk(&jwk(lying), &settings()).is_err());
        let mut hs = p256();
        hs["alg"] = json!("HS256");
        assert!(VerifyingKey::from_jwk(&jwk(hs), &settings()).is_err());
    }

    #[test]
    fn symmetric_unsupported_and_encryption_keys_are_refused() {
        let oct = json!({ "kty": "oct", "k": "c2VjcmV0", "kid": "c", "alg": "HS256" });
        assert!(VerifyingKey::from_jwk(&jwk(oct), &settings()).unwrap_err().contains("symmetric"));
        let p521 = json!({ "kty": "EC", "crv": "P-521", "kid": "d", "alg": "ES512",
                           "x": "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",
                           "y": "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1" });
        assert!(VerifyingKey::from_jwk(&jwk(p521), &settings()).unwrap_err().contains("ES256"));
        let mut encryption = ed25519();
        encryption["use"] = json!("enc");
        assert!(VerifyingKey::from_jwk(&jwk(encryption), &settings()).is_err());
    }

    #[test]
    fn an_rsa_key_must_state_its_algorithm() {
        let n = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";
        let stated = json!({ "kty": "RSA", "n": n, "e": "AQAB", "kid": "e", "alg": "PS256" });
        assert_eq!(VerifyingKey::from_jwk(&jwk(stated), &settings()).map(|k| k.alg).ok(), Some(Algorithm::PS256));
        let unstated = json!({ "kty": "RSA", "n": n, "e": "AQAB", "kid": "e" });
        assert!(VerifyingKey::from_jwk(&jwk(unstated), &settings()).is_err());
    }
}
