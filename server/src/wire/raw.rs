//! [`RawJson`]: a record's JSON kept as the text it arrived as.
//!
//! Why: on an initial sync every record crossed the wire layer three times as a tree — the
//! central parsed the stored text into a `serde_json::Value` only to serialise it again, and
//! the site parsed the page into `Value`s only to serialise each one again for `sync_buffer`.
//! Nothing in between looks inside a pulled record (integration parses it, from the buffer),
//! so the pull pages carry it as raw text: it is still checked to be valid JSON when read,
//! but never built into a tree on that path.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// Valid JSON text, serialised as itself (not as a string).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// Check `text` is one JSON value and keep it as it is.
    pub fn from_string(text: String) -> serde_json::Result<Self> {
        RawValue::from_string(text).map(RawJson)
    }

    pub fn from_value(value: &Value) -> Self {
        RawJson(serde_json::value::to_raw_value(value).expect("a Value always serialises"))
    }

    pub fn get(&self) -> &str {
        self.0.get()
    }

    pub fn into_string(self) -> String {
        let text: Box<str> = self.0.into();
        text.into_string()
    }

    /// The parsed tree, for the few places that look inside a record.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.get()).expect("RawJson holds valid JSON")
    }
}

/// Equal when the texts are: what the wire carried, byte for byte.
impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_text_and_serialises_as_json_not_as_a_string() {
        let raw = RawJson::from_string(r#"{"b":1,"a":"x"}"#.into()).unwrap();
        assert_eq!(serde_json::to_string(&vec![&raw]).unwrap(), r#"[{"b":1,"a":"x"}]"#);
        assert_eq!(raw.to_value(), serde_json::json!({"a": "x", "b": 1}));
        assert!(RawJson::from_string("{not json".into()).is_err());
        let back: Option<RawJson> = serde_json::from_str("null").unwrap();
        assert!(back.is_none(), "null is an absent record, as with Value");
    }
}
