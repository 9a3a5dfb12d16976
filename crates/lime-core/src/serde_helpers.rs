//! How the `serde` feature writes the types serde cannot derive alone.

use std::time::Duration;

use lime_pow::Scheme;

/// A duration as whole milliseconds (`elapsed_ms`).
pub(crate) fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A scheme by its wire name, or `null`.
pub(crate) fn scheme<S: serde::Serializer>(
    scheme: &Option<Scheme>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match scheme {
        Some(scheme) => s.serialize_str(scheme.as_str()),
        None => s.serialize_none(),
    }
}
