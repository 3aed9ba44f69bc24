//! A JSON body is held to the JSON Schema the OpenAPI document publishes for it, before it is
//! deserialised into its Rust type, in two ways serde alone gets wrong:
//!
//! - **Shape**: a value whose JSON type the schema excludes is refused with the field's path
//!   (serde, for one, happily reads a struct from an array of its fields, so
//!   `["name", "assistant", ["x"]]` would register an agent).
//! - **Integers**: JSON Schema counts `6.0` as an integer; serde refuses it for a `u32`. A whole
//!   number written as a float is rewritten as an integer where the schema asks for one, and
//!   only there, so free-form values (`params`, `output`) reach the handler as sent.
//!
//! Everything else (required fields, lengths, patterns, ranges, enums) is left to serde and
//! the types' `Validate` rules, which name the fields in their own words.

use serde_json::{Number, Value};

use planexec_schemas::validate::FieldError;

/// The schema that admits anything: where a reference leads nowhere, nothing is refused.
static ANYTHING: Value = Value::Bool(true);

/// Checks `value` against `schema` (a root schema with its `definitions`) and rewrites whole
/// floats where integers are due. The error names the first field of the wrong JSON type.
pub(crate) fn conform(value: &mut Value, schema: &Value) -> Result<(), FieldError> {
    Walker { root: schema }.check(value, &[schema], "")
}

struct Walker<'s> {
    root: &'s Value,
}

impl<'s> Walker<'s> {
    /// Follows `$ref`s to the schema they name.
    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        for _ in 0..64 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return schema;
            };
            schema = reference
                .strip_prefix('#')
                .and_then(|pointer| self.root.pointer(pointer))
                .unwrap_or(&ANYTHING);
        }
        &ANYTHING
    }

    /// `value` must fit at least one of `schemas` (several when the field is described by
    /// more than one branch of a `oneOf`); the first that fits decides the rewrite.
    fn check(
        &self,
        value: &mut Value,
        schemas: &[&'s Value],
        path: &str,
    ) -> Result<(), FieldError> {
        let kind = kind_of(value);
        let fitting: Vec<&Value> = schemas
            .iter()
            .map(|s| self.resolve(s))
            .filter(|s| self.admits(s, kind))
            .collect();
        if fitting.is_empty() {
            let expected = self.expected(schemas);
            return Err(FieldError::new(
                field(path),
                format!("expected {expected}, found {}", article(kind)),
            ));
        }
        if let [only] = fitting.as_slice() {
            return self.descend(value, only, path);
        }
        let mut first_error = None;
        for schema in &fitting {
            let mut candidate = value.clone();
            match self.descend(&mut candidate, schema, path) {
                Ok(()) => {
                    *value = candidate;
                    return Ok(());
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| FieldError::new(field(path), "does not fit the schema")))
    }

    /// Rewrites a whole float, or checks the members of an object or array.
    fn descend(&self, value: &mut Value, schema: &'s Value, path: &str) -> Result<(), FieldError> {
        match value {
            Value::Number(n) if n.is_f64() && self.wants_integer(schema) => {
                if let Some(whole) = n.as_f64().and_then(as_integer) {
                    *n = whole;
                }
                Ok(())
            }
            Value::Object(members) => {
                for (key, member) in members.iter_mut() {
                    let mut schemas = Vec::new();
                    self.member_schemas(schema, key, &mut schemas);
                    if !schemas.is_empty() {
                        let path = if path.is_empty() {
                            key.clone()
                        } else {
                            format!("{path}.{key}")
                        };
                        self.check(member, &schemas, &path)?;
                    }
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let mut schemas = Vec::new();
                    self.item_schemas(schema, i, &mut schemas);
                    if !schemas.is_empty() {
                        self.check(item, &schemas, &format!("{path}[{i}]"))?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether a value of JSON type `kind` may stand where `schema` is.
    fn admits(&self, schema: &Value, kind: &str) -> bool {
        let Value::Object(object) = schema else {
            return schema.as_bool().unwrap_or(true);
        };
        if let Some(types) = object.get("type")
            && !type_allows(types, kind)
        {
            return false;
        }
        let branch = |b: &Value| self.admits(self.resolve(b), kind);
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = object.get(key)
                && !branches.iter().any(branch)
            {
                return false;
            }
        }
        match object.get("allOf") {
            Some(Value::Array(parts)) => parts.iter().all(branch),
            _ => true,
        }
    }

    /// The schema (or one of its branches) asks for an integer.
    fn wants_integer(&self, schema: &Value) -> bool {
        if schema
            .get("type")
            .is_some_and(|t| type_allows(t, "integer") && !type_allows(t, "number"))
        {
            return true;
        }
        self.branches(schema)
            .any(|b| self.wants_integer(self.resolve(b)))
    }

    /// What describes member `key` of an object: `properties`, else `additionalProperties`,
    /// of the schema and of its branches.
    fn member_schemas(&self, schema: &'s Value, key: &str, out: &mut Vec<&'s Value>) {
        if let Some(member) = schema.get("properties").and_then(|p| p.get(key)) {
            out.push(member);
        } else if let Some(extra) = schema.get("additionalProperties").filter(|e| e.is_object()) {
            out.push(extra);
        }
        for branch in self.branches(schema) {
            self.member_schemas(self.resolve(branch), key, out);
        }
    }

    /// What describes item `i` of an array: `items` (one schema, or one per position).
    fn item_schemas(&self, schema: &'s Value, i: usize, out: &mut Vec<&'s Value>) {
        match schema.get("items") {
            Some(Value::Array(positional)) => out.extend(positional.get(i)),
            Some(items) => out.push(items),
            None => {}
        }
        for branch in self.branches(schema) {
            self.item_schemas(self.resolve(branch), i, out);
        }
    }

    fn branches(&self, schema: &'s Value) -> impl Iterator<Item = &'s Value> {
        ["anyOf", "oneOf", "allOf"]
            .into_iter()
            .filter_map(move |key| schema.get(key).and_then(Value::as_array))
            .flatten()
    }

    /// The JSON types the schemas allow, for the error message, e.g. `an object or null`.
    fn expected(&self, schemas: &[&'s Value]) -> String {
        let mut kinds: Vec<&str> = Vec::new();
        for schema in schemas {
            self.allowed_kinds(self.resolve(schema), &mut kinds);
        }
        match kinds.split_last() {
            None => "another type".to_owned(),
            Some((last, [])) => article(last).to_owned(),
            Some((last, rest)) => format!(
                "{} or {}",
                rest.iter()
                    .map(|k| article(k))
                    .collect::<Vec<_>>()
                    .join(", "),
                article(last)
            ),
        }
    }

    fn allowed_kinds(&self, schema: &'s Value, out: &mut Vec<&'s str>) {
        match schema.get("type") {
            Some(Value::String(t)) => push_unique(out, t),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .for_each(|t| push_unique(out, t)),
            _ => {
                for branch in self.branches(schema) {
                    self.allowed_kinds(self.resolve(branch), out);
                }
            }
        }
    }
}

fn push_unique<'a>(out: &mut Vec<&'a str>, kind: &'a str) {
    if !out.contains(&kind) {
        out.push(kind);
    }
}

/// The JSON Schema type of a value; a whole float is an integer, as JSON Schema counts it.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().and_then(as_integer).is_some() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_allows(types: &Value, kind: &str) -> bool {
    let allows = |t: &str| t == kind || (t == "number" && kind == "integer");
    match types {
        Value::String(t) => allows(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(allows),
        _ => true,
    }
}

/// A whole, finite float within the range of `i64` or `u64` as that integer.
fn as_integer(f: f64) -> Option<Number> {
    // 2^63 and 2^64 are exact as floats; anything at or beyond them does not fit.
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    if !f.is_finite() || f.fract() != 0.0 {
        return None;
    }
    if (-I64_END..I64_END).contains(&f) {
        // In range and whole, so the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Some(Number::from(f as i64));
    }
    if (0.0..U64_END).contains(&f) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Some(Number::from(f as u64));
    }
    None
}

fn article(kind: &str) -> &'static str {
    match kind {
        "null" => "null",
        "boolean" => "a boolean",
        "integer" => "an integer",
        "number" => "a number",
        "string" => "a string",
        "array" => "an array",
        "object" => "an object",
        _ => "a value of another type",
    }
}

fn field(path: &str) -> String {
    if path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde_json::{Value, json};

    use super::conform;
    use crate::extract::schema::root_schema;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Days {
        min: Option<f64>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Step {
        Wait { seconds: u32 },
        Note { text: String },
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Body {
        attempt: u32,
        days: Option<Days>,
        params: Value,
        steps: Vec<Step>,
    }

    fn checked(mut value: Value) -> Result<Value, String> {
        let schema = root_schema::<Body>();
        conform(&mut value, schema.as_value())
            .map(|()| value)
            .map_err(|e| format!("{}: {}", e.field, e.message))
    }

    #[test]
    fn arrays_where_objects_are_due_are_refused_at_their_path() {
        assert_eq!(
            checked(json!([1, null, {}, []])),
            Err("body: expected an object, found an array".into())
        );
        assert_eq!(
            checked(json!({"attempt": 1, "days": [1, 2, 3], "params": null, "steps": []})),
            Err("days: expected an object or null, found an array".into())
        );
        assert_eq!(
            checked(
                json!({"attempt": 1, "params": null, "steps": [{"kind": "wait", "seconds": 1}, ["note"]]})
            ),
            Err("steps[1]: expected an object, found an array".into())
        );
    }

    #[test]
    fn whole_floats_become_integers_only_where_integers_are_due() {
        let body = checked(json!({"attempt": 2.0, "days": {"min": 3.0}, "params": {"n": 6.0},
                                  "steps": [{"kind": "wait", "seconds": 30.0}, {"kind": "note", "text": "x"}]}))
            .expect("conforms");
        assert!(
            body["attempt"].is_u64() && body["steps"][0]["seconds"].is_u64(),
            "{body}"
        );
        assert!(
            body["days"]["min"].is_f64() && body["params"]["n"].is_f64(),
            "{body}"
        );
        assert_eq!(
            checked(json!({"attempt": 1.5, "params": null, "steps": []})),
            Err("attempt: expected an integer, found a number".into())
        );
        let huge =
            checked(json!({"attempt": 9_007_199_254_740_993_u64, "params": null, "steps": []}))
                .expect("left to serde");
        assert_eq!(
            huge["attempt"], 9_007_199_254_740_993_u64,
            "integers are never rewritten"
        );
    }
}
