//! The operator's token: the configured one, or the one `planexec up` keeps in its data folder
//! (made on first start, mode 0600), which the other subcommands read from there, or from the
//! copy `planexec up` leaves in the user's config folder so that they work from any folder.

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

/// The CLI's copy of the operator token: `$XDG_CONFIG_HOME/planexec/operator-token` (usually
/// `~/.config/planexec/operator-token`). `None` when there is no home folder.
pub fn user_token_file() -> Option<PathBuf> {
    use etcetera::BaseStrategy as _;
    let strategy = etcetera::choose_base_strategy().ok()?;
    Some(
        strategy
            .config_dir()
            .join("planexec")
            .join(OPERATOR_TOKEN_FILE),
    )
}

/// Leaves `token` in the user's config folder for the client commands (mode 0600, replaced
/// whole), unless that copy already holds it. Returns the file when it was written.
pub fn save_for_cli(token: &SecretString) -> anyhow::Result<Option<PathBuf>> {
    use secrecy::ExposeSecret as _;
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = user_token_file().context("no home folder for the CLI's copy of the token")?;
    if std::fs::read_to_string(&path).is_ok_and(|saved| saved.trim() == token.expose_secret()) {
        return Ok(None);
    }
    let dir = path.parent().expect("the token file is in a folder");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("writing {}", partial.display()))?;
    writeln!(file, "{}", token.expose_secret())?;
    std::fs::rename(&partial, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(Some(path))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
