//! The JSON Schema of request bodies, generated once per type with the settings the OpenAPI
//! document uses, so that what a body is checked against is what the document publishes.
//!
//! Two additions to schemars' output state limits of the wire that the Rust types imply but do
//! not say: an integer format (`uint32`, `int64`, ...) states its bounds as `minimum`/`maximum`
//! (tools that read the document, clients and schemathesis, do not know what `uint32` means
//! and would send 2^40 as a valid `attempt`), and a plain string says by a `pattern` that it
//! holds no NUL character (PostgreSQL cannot store one, so every body refuses it). Body schemas
//! get them from the generator; the document from [`state_wire_limits_in`], because aide
//! inlines the schemas of query and path parameters without the generator's transforms. The
//! document also says it of free-form values (`params`, `output`): they refer to a recursive
//! `JsonValue` schema, any JSON whose strings and member names hold no NUL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aide::openapi::{OpenApi, ParameterSchemaOrContent, ReferenceOr, SchemaObject};
use schemars::generate::SchemaSettings;
use schemars::transform::{RecursiveTransform, Transform};
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// The settings aide generates the document's schemas with (draft 7), plus the integer bounds.
fn settings() -> SchemaSettings {
    SchemaSettings::draft07().with_transform(RecursiveTransform(wire_limits))
}

/// Adds the integer bounds to the schemas of an OpenAPI document: its components, and the
/// inline schemas of parameters and request bodies (aide generates parameter schemas without
/// the generator's transforms, so they are bounded here).
pub fn state_wire_limits_in(api: &mut OpenApi) {
    let mut bound = RecursiveTransform(|schema: &mut Schema| {
        wire_limits(schema);
        nul_free_values(schema);
    });
    let mut apply = |schema: &mut SchemaObject| bound.transform(&mut schema.json_schema);
    if let Some(components) = &mut api.components {
        components.schemas.values_mut().for_each(&mut apply);
        components.schemas.insert(
            JSON_VALUE.to_owned(),
            SchemaObject {
                json_schema: json_value_schema(),
                external_docs: None,
                example: None,
            },
        );
    }
    let Some(paths) = &mut api.paths else {
        return;
    };
    for item in paths.paths.values_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for parameter in &mut operation.parameters {
                if let ReferenceOr::Item(parameter) = parameter
                    && let ParameterSchemaOrContent::Schema(schema) =
                        &mut parameter.parameter_data_mut().format
                {
                    apply(schema);
                }
            }
            if let Some(ReferenceOr::Item(body)) = &mut operation.request_body {
                body.content
                    .values_mut()
                    .filter_map(|media| media.schema.as_mut())
                    .for_each(&mut apply);
            }
        }
    }
}

/// The component that free-form values (`params`, `output`, `outputData`) refer to.
const JSON_VALUE: &str = "JsonValue";

/// Any JSON value without NUL: the limit of free-form values, stated recursively.
fn json_value_schema() -> Schema {
    let any = serde_json::json!({ "$ref": format!("#/components/schemas/{JSON_VALUE}") });
    schemars::json_schema!({
        "description": "Any JSON value whose strings and member names hold no NUL character.",
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "pattern": NUL_FREE},
            {"type": "array", "items": any},
            {"type": "object", "propertyNames": {"pattern": NUL_FREE}, "additionalProperties": any}
        ]
    })
}

/// A free-form schema (`true`, or one that only describes) refers to [`JSON_VALUE`] instead,
/// and a free-form map says that its member names hold no NUL.
fn nul_free_values(schema: &mut Schema) {
    const DESCRIBING: [&str; 4] = ["description", "default", "title", "examples"];
    let reference = serde_json::json!([{ "$ref": format!("#/components/schemas/{JSON_VALUE}") }]);
    match schema.as_value() {
        Value::Bool(true) => *schema = schemars::json_schema!({ "allOf": reference }),
        Value::Object(object) if object.keys().all(|k| DESCRIBING.contains(&k.as_str())) => {
            schema.insert("allOf".into(), reference);
        }
        Value::Object(object)
            if object.get("type").is_some_and(|t| t == "object")
                && object.get("additionalProperties") == Some(&Value::Bool(true)) =>
        {
            schema.insert(
                "propertyNames".into(),
                serde_json::json!({ "pattern": NUL_FREE }),
            );
        }
        _ => {}
    }
}

/// The root schema of `T` (its definitions under `#/definitions/`), generated once.
pub(crate) fn root_schema<T: JsonSchema>() -> Arc<Schema> {
    static SCHEMAS: OnceLock<Mutex<HashMap<String, Arc<Schema>>>> = OnceLock::new();
    let id = T::schema_id().into_owned();
    let mut schemas = SCHEMAS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    schemas
        .entry(id)
        .or_insert_with(|| Arc::new(settings().into_generator().into_root_schema_for::<T>()))
        .clone()
}

/// Text without the NUL character, as a JSON Schema `pattern`.
pub const NUL_FREE: &str = "^[^\\u0000]*$";

/// Adds `minimum`/`maximum` to a schema whose `format` names a fixed-size integer, and
/// [`NUL_FREE`] to a string schema that has no pattern, format, enum or const of its own.
fn wire_limits(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some((min, max)) = object
        .get("format")
        .and_then(Value::as_str)
        .and_then(integer_bounds)
    {
        object.entry("minimum").or_insert(min);
        object.entry("maximum").or_insert(max);
    }
    let string = match object.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    let constrained = ["pattern", "format", "enum", "const"]
        .iter()
        .any(|k| object.contains_key(*k));
    if string && !constrained {
        object.insert("pattern".into(), NUL_FREE.into());
    }
}

/// The range of an integer `format`, e.g. `uint32` → 0..=4294967295.
fn integer_bounds(format: &str) -> Option<(Value, Value)> {
    Some(match format {
        "uint8" => (0.into(), u8::MAX.into()),
        "uint16" => (0.into(), u16::MAX.into()),
        "uint32" => (0.into(), u32::MAX.into()),
        "uint64" | "uint" => (0.into(), u64::MAX.into()),
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" | "int" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Sample {
        attempt: u32,
        #[schemars(range(min = 1, max = 20))]
        bounded: Option<u32>,
        created: i64,
    }

    #[test]
    fn integer_formats_state_their_bounds_without_overriding_given_ones() {
        let schema = root_schema::<Sample>();
        let properties = &schema.as_value()["properties"];
        assert_eq!(properties["attempt"]["minimum"], 0);
        assert_eq!(properties["attempt"]["maximum"], u32::MAX);
        assert_eq!(properties["bounded"]["minimum"], 1);
        assert_eq!(properties["bounded"]["maximum"], 20);
        assert_eq!(properties["created"]["minimum"], i64::MIN);
        assert_eq!(properties["created"]["maximum"], i64::MAX);
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Texts {
        name: String,
        #[schemars(regex(pattern = r"^[a-z]+$"))]
        capability: String,
        id: uuid::Uuid,
        note: Option<String>,
    }

    #[test]
    fn plain_strings_say_they_hold_no_nul_and_constrained_ones_keep_their_own_rules() {
        let schema = root_schema::<Texts>();
        let properties = &schema.as_value()["properties"];
        assert_eq!(properties["name"]["pattern"], NUL_FREE);
        assert_eq!(properties["note"]["pattern"], NUL_FREE);
        assert_eq!(properties["capability"]["pattern"], "^[a-z]+$");
        assert!(properties["id"].get("pattern").is_none());
        // JSON Schema (ECMA 262) reads `\u0000` in a pattern as the NUL character.
        assert_eq!(NUL_FREE, r"^[^\u0000]*$");
    }
}

#[cfg(test)]
mod document_tests {
    #[test]
    fn the_document_states_integer_bounds_for_parameters_and_bodies() {
        let api = crate::openapi(&crate::GatewayOptions::default());
        let document = serde_json::to_value(&api).expect("serialises");
        let wait = &document["paths"]["/api/agents/{agent_id}/work"]["get"]["parameters"][1];
        assert_eq!(wait["name"], "wait");
        assert_eq!(wait["schema"]["maximum"], u32::MAX, "{wait}");
        let attempt =
            &document["components"]["schemas"]["ReportEventRequest"]["properties"]["attempt"];
        assert_eq!(
            (&attempt["minimum"], &attempt["maximum"]),
            (&1.into(), &u32::MAX.into())
        );
    }
}
