//! The JSON Schema of request bodies, generated once per type with the settings the OpenAPI
//! document uses, so that what a body is checked against is what the document publishes.
//!
//! One addition to schemars' output: an integer format (`uint32`, `int64`, ...) also states its
//! bounds as `minimum`/`maximum`. Tools that read the document (clients, schemathesis) do not
//! know what `uint32` means and would otherwise send 2^40 as a valid `attempt`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// The settings of both the OpenAPI document (definitions under `#/components/schemas/`) and
/// the body checks (definitions inside the root schema).
fn settings() -> SchemaSettings {
    SchemaSettings::draft07().with_transform(RecursiveTransform(bound_integer_formats))
}

/// The generator of the OpenAPI document: as aide's own, plus the integer bounds.
pub fn openapi_generator() -> SchemaGenerator {
    settings()
        .with(|s| {
            s.inline_subschemas = false;
            s.definitions_path = "#/components/schemas/".into();
        })
        .into_generator()
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

/// Adds `minimum`/`maximum` to a schema whose `format` names a fixed-size integer.
fn bound_integer_formats(schema: &mut Schema) {
    let Some(format) = schema.get("format").and_then(Value::as_str) else {
        return;
    };
    let (min, max): (Value, Value) = match format {
        "uint8" => (0.into(), u8::MAX.into()),
        "uint16" => (0.into(), u16::MAX.into()),
        "uint32" => (0.into(), u32::MAX.into()),
        "uint64" | "uint" => (0.into(), u64::MAX.into()),
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" | "int" => (i64::MIN.into(), i64::MAX.into()),
        _ => return,
    };
    if let Some(object) = schema.as_object_mut() {
        object.entry("minimum").or_insert(min);
        object.entry("maximum").or_insert(max);
    }
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
}
