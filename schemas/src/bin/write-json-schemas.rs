//! Writes the JSON Schema of every wire type into `schemas/json/` (or the folder given), and
//! the AsyncAPI document of the NATS wire into `schemas/asyncapi.json` (by default).
//!
//! `cargo run -p planexec-schemas --bin write-json-schemas`

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json"));
    std::fs::create_dir_all(&out)?;
    for entry in std::fs::read_dir(&out)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(path)?;
        }
    }
    let schemas = planexec_schemas::json_schemas();
    for (name, schema) in &schemas {
        std::fs::write(
            out.join(format!("{name}.json")),
            planexec_schemas::render_json_schema(schema),
        )?;
    }
    eprintln!("wrote {} schemas to {}", schemas.len(), out.display());
    if std::env::args_os().nth(1).is_none() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("asyncapi.json");
        std::fs::write(
            &path,
            planexec_schemas::render_json_schema(&planexec_schemas::asyncapi()),
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
