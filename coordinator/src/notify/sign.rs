//! The signature of a notification: `t=<unix seconds>,v1=<hex HMAC-SHA256>` of `"<t>.<body>"`,
//! keyed with the subscription's secret. The timestamp is signed too, so a receiver that refuses
//! old timestamps cannot be replayed a captured delivery.

use sha2::{Digest, Sha256};

const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The value of the signature header for `body` sent at `timestamp` (unix seconds).
pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let mac = hmac_sha256(secret.as_bytes(), &signed);
    format!("t={timestamp},v1={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_test_vectors() {
        // Test case 2: a short key.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block, hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_header_signs_the_timestamp_and_the_body() {
        let a = header("whsec_x", 1_700_000_000, b"{}");
        assert!(a.starts_with("t=1700000000,v1="));
        assert_ne!(a, header("whsec_x", 1_700_000_001, b"{}"));
        assert_ne!(a, header("whsec_x", 1_700_000_000, b"{ }"));
        assert_ne!(a, header("whsec_y", 1_700_000_000, b"{}"));
    }
}
