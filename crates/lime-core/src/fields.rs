//! Strict typed reads of `data` fields, with errors naming the field.

use serde_json::{Map, Value};

use crate::Error;

/// A JSON object from a successful envelope, with the response's status
/// kept for errors.
pub(crate) struct Fields<'a> {
    pub(crate) object: &'a Map<String, Value>,
    pub(crate) status: u16,
}

impl<'a> Fields<'a> {
    /// The `data` of a success `response` (see [`classify`](crate::drive::classify)).
    pub(crate) fn of(object: &'a Map<String, Value>, response: &crate::HttpResponse) -> Self {
        Fields {
            object,
            status: response.status().as_u16(),
        }
    }

    fn wrong(&self, name: &str, expected: &str, got: &Value) -> Error {
        Error::invalid_response(
            Some(self.status),
            format!("field `{name}`: expected {expected}, got {}", kind(got)),
        )
    }

    fn missing(&self, name: &str) -> Error {
        Error::invalid_response(Some(self.status), format!("missing field `{name}`"))
    }

    /// A string that must be present.
    pub(crate) fn string(&self, name: &str) -> Result<String, Error> {
        self.opt_string(name)?.ok_or_else(|| self.missing(name))
    }

    /// A string, `null` or absent.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>, Error> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(name, "a string", other)),
        }
    }

    /// An integer that must be present.
    pub(crate) fn integer(&self, name: &str) -> Result<i64, Error> {
        self.opt_integer(name)?.ok_or_else(|| self.missing(name))
    }

    /// An integer, `null` or absent. Floats (`15.0` included) are refused.
    pub(crate) fn opt_integer(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None if n.is_u64() => Err(Error::invalid_response(
                    Some(self.status),
                    format!("field `{name}`: integer out of range"),
                )),
                None => Err(self.wrong(name, "an integer", &Value::Number(n.clone()))),
            },
            Some(other) => Err(self.wrong(name, "an integer", other)),
        }
    }

    /// An RFC 3339 time that must be present, keeping its UTC offset.
    pub(crate) fn time(&self, name: &str) -> Result<time::OffsetDateTime, Error> {
        let raw = self.string(name)?;
        time::OffsetDateTime::parse(&raw, &time::format_description::well_known::Rfc3339).map_err(
            |_| {
                Error::invalid_response(
                    Some(self.status),
                    format!("field `{name}`: not an RFC 3339 time"),
                )
            },
        )
    }
}

/// A JSON value's kind, for messages that must not quote the value.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
