//! NATS JWTs (version 2 claims), encoded and signed the way nats-server verifies them: a fixed
//! header, the claims with a `jti` that hashes them, an ed25519 signature by an nkey.

use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use nkeys::KeyPair;
use serde::Serialize;
use sha2::{Digest, Sha512_256};

use crate::Error;

const HEADER: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;

/// The fields every NATS JWT has; `nats` holds what kind of token it is.
#[derive(Debug, Serialize)]
struct Claims<'a, N: Serialize> {
    jti: String,
    iat: u64,
    iss: String,
    name: &'a str,
    sub: &'a str,
    nats: &'a N,
}

/// Encodes `nats` claims about `subject` (a public key) and signs them with `signer`.
pub(crate) fn encode<N: Serialize>(
    subject: &str,
    name: &str,
    nats: &N,
    signer: &KeyPair,
) -> Result<String, Error> {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = Claims {
        jti: String::new(),
        iat,
        iss: signer.public_key(),
        name,
        sub: subject,
        nats,
    };
    // As the reference implementation does: the id is the hash of the claims without an id.
    let unnamed = serde_json::to_vec(&claims).map_err(Error::Json)?;
    claims.jti = BASE32_NOPAD.encode(&Sha512_256::digest(&unnamed));
    let body = serde_json::to_vec(&claims).map_err(Error::Json)?;
    let signed = format!(
        "{}.{}",
        BASE64URL_NOPAD.encode(HEADER.as_bytes()),
        BASE64URL_NOPAD.encode(&body)
    );
    let signature = signer
        .sign(signed.as_bytes())
        .map_err(|e| Error::Key(e.to_string()))?;
    Ok(format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature)))
}

/// The claims of `jwt`, unverified (for tests and for showing what a credential allows).
pub fn claims(jwt: &str) -> Result<serde_json::Value, Error> {
    let body = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| Error::Malformed("a JWT has three dot-separated parts".into()))?;
    let bytes = BASE64URL_NOPAD
        .decode(body.as_bytes())
        .map_err(|e| Error::Malformed(format!("the JWT's claims are not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(Error::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_names_its_issuer_and_subject_and_verifies_with_the_issuers_key() {
        let account = KeyPair::new_account();
        let user = KeyPair::new_user();
        let jwt = encode(
            &user.public_key(),
            "someone",
            &serde_json::json!({"type": "user", "version": 2}),
            &account,
        )
        .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let signature = BASE64URL_NOPAD.decode(parts[2].as_bytes()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        account.verify(signed.as_bytes(), &signature).unwrap();
        let claims = claims(&jwt).unwrap();
        assert_eq!(claims["iss"], account.public_key());
        assert_eq!(claims["sub"], user.public_key());
        assert_eq!(claims["name"], "someone");
        assert_eq!(claims["nats"]["type"], "user");
        assert_eq!(claims["jti"].as_str().map(str::len), Some(52));
    }
}
