//! Reading the mint's answer: a bare (not enveloped) token object on
//! success, an RFC 6749 or LIME error otherwise.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::McpAccessToken;
use crate::error::{CODE_ACCESS_DENIED, CODE_INVALID_TOKEN_RESPONSE};
use crate::retry::retry_after;
use crate::{Error, HttpResponse};

/// The token the mint's `response` carries for `domain`, or the error it
/// means: 200 with `Cache-Control: no-store`, a three-part JWT in
/// `access_token`, `token_type` `Bearer` (any case) and a positive integer
/// `expires_in`; other keys are ignored. Errors: RFC 6749
/// (`{"error": …}`): 429 rate-limited, 401 or `invalid_client`
/// authentication, 403 `access_denied` the missing grant, the rest an API
/// error coded by `error`; anything else as the LIME envelope says.
///
/// ```
/// use std::time::Instant;
/// let response = http::Response::builder()
///     .status(200)
///     .header("cache-control", "no-store")
///     .body(br#"{"access_token":"aGVhZA.Y2xhaW1z.c2ln","token_type":"Bearer","expires_in":600}"#.to_vec())
///     .unwrap();
/// # #[allow(clippy::disallowed_methods)]
/// let token = lime_core::mcp::parse_token_response(&response, "mcp.example.com", Instant::now(), 1 << 20)?;
/// assert_eq!(token.expires_in().as_secs(), 600);
/// # Ok::<(), lime_core::Error>(())
/// ```
///
/// # Errors
/// As above; a malformed success is [`Error::InvalidResponse`] with the
/// code [`CODE_INVALID_TOKEN_RESPONSE`](crate::codes::CODE_INVALID_TOKEN_RESPONSE).
pub fn parse_token_response(
    response: &HttpResponse,
    domain: &str,
    now: Instant,
    max_body_bytes: usize,
) -> Result<McpAccessToken, Error> {
    let status = response.status().as_u16();
    if response.body().len() > max_body_bytes {
        return Err(Error::invalid_response(
            Some(status),
            format!("body over the {max_body_bytes}-byte limit"),
        ));
    }
    let object = match serde_json::from_slice::<Value>(response.body()) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    if status != 200 {
        return Err(error_of(response, object));
    }
    let invalid = |why: &str| Error::InvalidResponse {
        http_status: Some(status),
        reason: why.to_owned(),
        code: Some(CODE_INVALID_TOKEN_RESPONSE),
    };
    let no_store = response
        .headers()
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-store"));
    if !no_store {
        return Err(invalid("the answer lacks Cache-Control: no-store"));
    }
    let object = object.ok_or_else(|| invalid("the body is not a JSON object"))?;
    let jwt = match object.get("access_token") {
        Some(Value::String(jwt)) if is_jwt(jwt) => jwt.clone(),
        Some(Value::String(_)) => return Err(invalid("`access_token` is not a JWT")),
        _ => return Err(invalid("`access_token` is missing or not a string")),
    };
    let token_type = match object.get("token_type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => t.clone(),
        _ => return Err(invalid("`token_type` is not Bearer")),
    };
    let expires_in = match object.get("expires_in").and_then(Value::as_u64) {
        Some(seconds) if seconds > 0 => Duration::from_secs(seconds),
        _ => return Err(invalid("`expires_in` is not a positive integer")),
    };
    Ok(McpAccessToken::new(
        jwt,
        token_type,
        expires_in,
        domain.to_owned(),
        now,
    ))
}

/// Three non-empty base64url parts joined by `.`.
fn is_jwt(token: &str) -> bool {
    let mut parts = 0;
    for part in token.split('.') {
        parts += 1;
        let base64url = part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if part.is_empty() || !base64url {
            return false;
        }
    }
    parts == 3
}

/// A failed mint: the RFC 6749 shape when the body has a string `error`,
/// else the LIME envelope's classification.
fn error_of(response: &HttpResponse, object: Option<Map<String, Value>>) -> Error {
    let status = response.status().as_u16();
    let rfc6749 = object.as_ref().and_then(|o| {
        let code = o.get("error")?.as_str()?;
        let description = o.get("error_description").and_then(Value::as_str);
        Some((code, description))
    });
    let Some((code, description)) = rfc6749 else {
        // Not RFC 6749: the LIME envelope, from the body parsed once.
        return match crate::envelope::classify_parsed(response, object) {
            Err(error) => error,
            Ok(_) => Error::invalid_response(Some(status), "an error status with `ok: true`"),
        };
    };
    let message = description.unwrap_or(code).to_owned();
    if status == 429 {
        return Error::RateLimited {
            message,
            retry_after: retry_after(response),
            http_status: Some(status),
        };
    }
    if status == 401 || code == "invalid_client" {
        return Error::Authentication {
            code: Some(code.to_owned()),
            message,
            http_status: Some(status),
        };
    }
    if status == 403 && code == CODE_ACCESS_DENIED {
        return Error::OAuthCapability {
            message,
            http_status: Some(status),
        };
    }
    Error::Api {
        code: code.to_owned(),
        message,
        http_status: Some(status),
        detail: None,
    }
}
