//! Reading PlanExe's JSON as `serde_json::Value` with the path of every value in hand.
//!
//! PlanExe files come from language models and change between versions, so we read them
//! loosely (unknown keys ignored, `null` and missing optional fields tolerated) but report a
//! wrong shape with the file and the exact JSON path (`$[2].subtasks[0].id`) of the culprit.

use serde_json::Value;

use crate::error::ImportError;

static NULL: Value = Value::Null;

/// Parses a whole file; a syntax error names the file, line and column.
pub(crate) fn parse(file: &str, bytes: &[u8]) -> Result<Value, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| ImportError::InvalidJson {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

/// serde_json appends "at line L column C", which our message already says.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A value with the file and JSON path it was found at.
#[derive(Debug, Clone)]
pub(crate) struct At<'a> {
    pub file: &'a str,
    pub path: String,
    pub value: &'a Value,
}

impl<'a> At<'a> {
    pub fn root(file: &'a str, value: &'a Value) -> Self {
        Self {
            file,
            path: "$".to_owned(),
            value,
        }
    }

    /// A member of an object; missing members (and members of non-objects) read as `null`.
    pub fn get(&self, key: &str) -> At<'a> {
        At {
            file: self.file,
            path: format!("{}.{key}", self.path),
            value: self.value.get(key).unwrap_or(&NULL),
        }
    }

    pub fn is_null(&self) -> bool {
        self.value.is_null()
    }

    pub fn wrong(&self, expected: &str) -> ImportError {
        ImportError::WrongShape {
            file: self.file.to_owned(),
            path: self.path.clone(),
            expected: expected.to_owned(),
            found: describe(self.value),
        }
    }

    pub fn expect_object(&self) -> Result<(), ImportError> {
        if self.value.is_object() {
            Ok(())
        } else {
            Err(self.wrong("an object"))
        }
    }

    /// The items of a required array.
    pub fn items(&self, expected: &str) -> Result<Vec<At<'a>>, ImportError> {
        match self.value {
            Value::Array(items) => Ok(self.children(items)),
            _ => Err(self.wrong(expected)),
        }
    }

    /// The items of an optional array: `null` or missing is empty.
    pub fn items_or_empty(&self, expected: &str) -> Result<Vec<At<'a>>, ImportError> {
        if self.is_null() {
            Ok(Vec::new())
        } else {
            self.items(expected)
        }
    }

    fn children(&self, items: &'a [Value]) -> Vec<At<'a>> {
        items
            .iter()
            .enumerate()
            .map(|(i, value)| At {
                file: self.file,
                path: format!("{}[{i}]", self.path),
                value,
            })
            .collect()
    }

    /// Optional text; numbers and booleans are taken as their text, so ids such as `7` work.
    pub fn text(&self) -> Result<Option<String>, ImportError> {
        match self.value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.trim().to_owned())),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            _ => Err(self.wrong("text")),
        }
    }

    /// A required, non-empty id.
    pub fn id(&self) -> Result<String, ImportError> {
        match self.text() {
            Ok(Some(id)) if !id.is_empty() => Ok(id),
            _ => Err(self.wrong("an id (a non-empty string, a UUID in PlanExe runs)")),
        }
    }

    /// A list of text; a single string counts as a list of one, `null` items are skipped.
    pub fn texts(&self) -> Result<Vec<String>, ImportError> {
        if let Value::String(s) = self.value {
            return Ok(vec![s.trim().to_owned()]);
        }
        let mut out = Vec::new();
        for item in self.items_or_empty("a list of text")? {
            if let Some(s) = item.text()?.filter(|s| !s.is_empty()) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// A number of days; PlanExe writes `-1` (any negative) for "not given".
    pub fn days(&self) -> Result<Option<f64>, ImportError> {
        let n = match self.value {
            Value::Null => return Ok(None),
            Value::Number(n) => n.as_f64(),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n.is_finite() => Ok((n >= 0.0).then_some(n)),
            _ => Err(self.wrong("a number of days (or -1 for not given)")),
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null or missing".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("the text {:?}…", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("the text {s:?}"),
        Value::Array(items) => format!("a list of {} items", items.len()),
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(6).collect();
            format!("an object with keys {}", keys.join(", "))
        }
    }
}
