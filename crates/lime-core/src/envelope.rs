//! Classifying a final response, in the order `docs/protocol.md` gives.

use serde_json::{Map, Value};

use crate::error::{CODE_EXPIRED, CODE_RATE_LIMITED};
use crate::retry::retry_after;
use crate::{Error, HttpResponse};

/// Codes that mean the token is missing or refused.
const AUTH_CODES: [&str; 4] = [
    "MISSING_AGENT_TOKEN",
    "INVALID_AGENT_TOKEN",
    "AGENT_INACTIVE",
    "AGENT_USER_SUSPENDED",
];

/// Turns a response into its `data` object or the error it means:
/// 1. 429 or `RATE_LIMIT_EXCEEDED` → [`Error::RateLimited`], whatever the body;
/// 2. 401 or an authentication code → [`Error::Authentication`];
/// 3. 3xx → [`Error::InvalidResponse`] (redirects are never followed);
/// 4. a body that is not a JSON object → [`Error::InvalidResponse`];
/// 5. `ok: true` with an object `data` → success;
/// 6. otherwise the envelope's error: [`Error::Api`] (or
///    [`Error::Expired`] for `LOGIN_REQUEST_EXPIRED`).
///
/// ```
/// use lime_core::{Error, drive::classify};
/// let ok = http::Response::builder().status(200).body(br#"{"ok":true,"data":{"a":1}}"#.to_vec()).unwrap();
/// assert_eq!(classify(&ok, 1 << 20).unwrap()["a"], 1);
/// let limited = http::Response::builder().status(429).header("retry-after", "2").body(b"<html>".to_vec()).unwrap();
/// assert!(matches!(classify(&limited, 1 << 20), Err(Error::RateLimited { .. })));
/// ```
///
/// # Errors
/// The error the response means, as above.
pub fn classify(
    response: &HttpResponse,
    max_body_bytes: usize,
) -> Result<Map<String, Value>, Error> {
    let status = response.status().as_u16();
    let body = response.body();
    if body.len() > max_body_bytes {
        return Err(Error::invalid_response(
            Some(status),
            format!(
                "body of {} bytes is over the {max_body_bytes}-byte limit",
                body.len()
            ),
        ));
    }
    let parsed: Option<Map<String, Value>> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    classify_parsed(response, parsed)
}

/// [`classify`] of a body already parsed (`None`: not a JSON object), for
/// a reader that looked at it first; `data` is moved out, never copied.
pub(crate) fn classify_parsed(
    response: &HttpResponse,
    parsed: Option<Map<String, Value>>,
) -> Result<Map<String, Value>, Error> {
    let status = response.status().as_u16();
    let error_object = parsed
        .as_ref()
        .filter(|m| m.get("ok") != Some(&Value::Bool(true)))
        .and_then(|m| m.get("error"))
        .and_then(Value::as_object);
    let code = error_object
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str);
    let message = error_object
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned);

    if status == 429 || code == Some(CODE_RATE_LIMITED) {
        return Err(Error::RateLimited {
            message: message.unwrap_or_else(|| "too many requests".to_owned()),
            retry_after: retry_after(response),
            http_status: Some(status),
        });
    }
    if status == 401 || code.is_some_and(|c| AUTH_CODES.contains(&c)) {
        return Err(Error::Authentication {
            code: code.map(str::to_owned),
            message: message.unwrap_or_else(|| "the agent token was refused".to_owned()),
            http_status: Some(status),
        });
    }
    if (300..400).contains(&status) {
        return Err(Error::invalid_response(
            Some(status),
            "the server answered with a redirect, which is never followed",
        ));
    }
    let Some(mut envelope) = parsed else {
        return Err(Error::invalid_response(
            Some(status),
            if status == 404 {
                "not found, and not a LIME answer: check the base URL, which must \
                 end in /api/v1 (as https://lime.pics/api/v1)"
            } else {
                "the body is not a JSON object"
            },
        ));
    };
    if envelope.get("ok") == Some(&Value::Bool(true)) {
        return match envelope.remove("data") {
            Some(Value::Object(data)) => Ok(data),
            _ => Err(Error::invalid_response(
                Some(status),
                "`ok` is true but `data` is not an object",
            )),
        };
    }
    let Some(Value::Object(mut error)) = envelope.remove("error") else {
        return Err(Error::invalid_response(
            Some(status),
            "`error` is not an object",
        ));
    };
    let code = match error.remove("code") {
        Some(Value::String(code)) => code,
        _ => "UNKNOWN_ERROR".to_owned(),
    };
    let message = message.unwrap_or_else(|| "Unknown error".to_owned());
    if code == CODE_EXPIRED {
        return Err(Error::Expired {
            message,
            http_status: Some(status),
        });
    }
    let detail = match error.remove("detail") {
        Some(Value::Object(detail)) => Some(detail),
        _ => None,
    };
    Err(Error::Api {
        code,
        message,
        http_status: Some(status),
        detail,
    })
}
