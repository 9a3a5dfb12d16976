//! How the `serde` feature writes the types serde cannot derive alone.

use std::time::Duration;

use lime_pow::Scheme;
use time::OffsetDateTime;

/// RFC 3339 to the millisecond, with the offset the server sent
/// (`2026-11-29T08:00:00.000+02:00`).
pub(crate) fn rfc3339_ms<S: serde::Serializer>(
    t: &OffsetDateTime,
    s: S,
) -> Result<S::Ok, S::Error> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    let text = t.format(FORMAT).map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

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
