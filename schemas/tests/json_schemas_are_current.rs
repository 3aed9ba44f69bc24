//! The committed `schemas/json/` must be what the code generates; regenerate with
//! `cargo run -p planexec-schemas --bin write-json-schemas`.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn committed_json_schemas_match_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("json");
    let generated = planexec_schemas::json_schemas();
    let mut stale = Vec::new();
    for (name, schema) in &generated {
        let path = dir.join(format!("{name}.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != planexec_schemas::render_json_schema(schema) {
            stale.push(path.display().to_string());
        }
    }
    let expected: BTreeSet<String> = generated.iter().map(|(n, _)| format!("{n}.json")).collect();
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json") && !expected.contains(n))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "schemas/json is stale (changed or missing: {stale:?}; no longer generated: {extra:?}); \
         run `cargo run -p planexec-schemas --bin write-json-schemas` and commit the result"
    );
}

#[test]
fn every_schema_is_a_draft_2020_12_object_schema() {
    for (name, schema) in planexec_schemas::json_schemas() {
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name} does not declare draft 2020-12"
        );
        assert!(schema.get("title").is_some(), "{name} has no title");
    }
}

#[test]
fn every_schema_has_its_own_id() {
    for (name, schema) in planexec_schemas::json_schemas() {
        assert_eq!(
            schema["$id"].as_str(),
            Some(planexec_schemas::schema_id(name).as_str()),
            "{name}"
        );
    }
}

#[test]
fn the_committed_asyncapi_document_matches_the_code_and_names_only_generated_schemas() {
    let document = planexec_schemas::asyncapi();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("asyncapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == planexec_schemas::render_json_schema(&document),
        "{} is stale: run `cargo run -p planexec-schemas --bin write-json-schemas` and commit it",
        path.display()
    );
    let generated: BTreeSet<&str> = planexec_schemas::json_schemas()
        .iter()
        .map(|(name, _)| *name)
        .collect();
    for stem in planexec_schemas::referenced_schemas(&document) {
        assert!(
            generated.contains(stem.as_str()),
            "asyncapi.json refers to schemas/json/{stem}.json, which is not generated"
        );
    }
    assert_eq!(document["asyncapi"], "3.0.0");
}
