//! The NATS credentials file: a user JWT and its nkey seed, in the format every NATS client
//! reads (`nats --creds`, async-nats `credentials_file`, nats-py `user_credentials`).

/// The text of a credentials file for `jwt` and the user's `seed`.
pub fn file(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}

/// The JWT of a credentials file's text, if it holds one.
pub fn jwt_of(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN NATS USER JWT-----")?;
    text[start..].lines().nth(1).map(str::trim)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_jwt_comes_back_out_of_the_file() {
        let text = super::file("eyJ.abc.def", "SUAXYZ");
        assert_eq!(super::jwt_of(&text), Some("eyJ.abc.def"));
        assert!(text.contains("-----BEGIN USER NKEY SEED-----\nSUAXYZ\n"));
    }
}
