//! Writes the OpenAPI document to `docs/openapi.json` (or the path given).
//!
//! `cargo run -p planexec-gateway --bin write-openapi`

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json"));
    let document = planexec_gateway::openapi(&planexec_gateway::GatewayOptions::default());
    let text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)? + "\n";
    std::fs::write(&out, text)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
