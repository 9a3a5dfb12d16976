//! Login request ids: one URL path segment, never encoded.

use crate::Error;

/// The longest id accepted.
pub const MAX_REQUEST_ID_LEN: usize = 256;

/// Trims `id` and checks it is 1–256 RFC 3986 unreserved characters
/// (`A–Z a–z 0–9 - . _ ~`) and not `.` or `..`, so it can only ever name one
/// path segment. Returns the trimmed id.
///
/// ```
/// use lime_core::settings::validate_request_id;
/// assert_eq!(validate_request_id(" lr_abc123 ").unwrap(), "lr_abc123");
/// assert!(validate_request_id("../core/agents").is_err());
/// assert!(validate_request_id("a%2Fb").is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] with the reason (never echoing the id).
pub fn validate_request_id(id: &str) -> Result<&str, Error> {
    let refuse = |reason: &str| Error::InvalidInput {
        hint: None,
        argument: "request_id",
        reason: reason.to_owned(),
    };
    let id = id.trim();
    if id.is_empty() {
        return Err(refuse("it is empty"));
    }
    if id.len() > MAX_REQUEST_ID_LEN {
        return Err(refuse(&format!(
            "it is longer than {MAX_REQUEST_ID_LEN} characters"
        )));
    }
    if id == "." || id == ".." {
        return Err(refuse("`.` and `..` are not ids"));
    }
    if let Some(position) = id
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')))
    {
        return Err(refuse(&format!(
            "byte {} is not allowed (only A-Z a-z 0-9 - . _ ~)",
            position + 1
        )));
    }
    Ok(id)
}
