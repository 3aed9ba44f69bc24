//! The operator's token: the configured one, or the one `planexec up` keeps in its data folder
//! (made on first start, mode 0600), which the other subcommands read from there.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use secrecy::SecretString;

/// The token's file in the data folder.
pub const OPERATOR_TOKEN_FILE: &str = "operator-token";

/// The operator token of a gateway replica: the configured one, or the one `planexec up` keeps in
/// the data folder. Replicas must agree, so a lone gateway never makes one up.
pub fn existing_operator_token(
    configured: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<SecretString> {
    if let Some(token) = configured.filter(|t| !t.is_empty()) {
        return Ok(SecretString::from(token.to_owned()));
    }
    let path = data_dir.join(OPERATOR_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => Ok(SecretString::from(token.trim().to_owned())),
        _ => anyhow::bail!(
            "no operator token: set PLANEXE_OPERATOR_TOKEN (the same for every gateway replica), or point \
             --data-dir at the folder where `planexec up` keeps {OPERATOR_TOKEN_FILE}"
        ),
    }
}

/// The operator token: the configured one, or the one kept in the data folder (made on first
/// start, mode 0600). Returns the token and, when it was just made, where it is kept.
pub fn operator_token(
    configured: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<(SecretString, Option<PathBuf>)> {
    if let Some(token) = configured.filter(|t| !t.is_empty()) {
        return Ok((SecretString::from(token.to_owned()), None));
    }
    let path = data_dir.join(OPERATOR_TOKEN_FILE);
    if let Ok(token) = std::fs::read_to_string(&path)
        && !token.trim().is_empty()
    {
        return Ok((SecretString::from(token.trim().to_owned()), None));
    }
    use rand::RngCore;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("pxo_{}", hex_encode(&secret));
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{token}")?;
    Ok((SecretString::from(token), Some(path)))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
