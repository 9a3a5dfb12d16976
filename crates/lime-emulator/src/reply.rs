//! Building answers and reading request bodies, within their limits.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::body::ResponseBody;
use crate::builder::MAX_REQUEST_BODY;

/// A connection the emulator closes without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose")]
pub(crate) struct Dropped;

pub(crate) type Reply = Result<Response<ResponseBody>, Dropped>;

pub(crate) fn envelope_ok(status: StatusCode, data: Value) -> Response<ResponseBody> {
    json_response(status, &json!({ "ok": true, "data": data }))
}

pub(crate) fn envelope_error(
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response<ResponseBody> {
    json_response(
        status,
        &json!({ "ok": false, "error": { "code": code, "message": message } }),
    )
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
/// Reads a request body up to [`MAX_REQUEST_BODY`] within `timeout`;
/// `None` when over the limit, too slow, or broken.
pub(crate) async fn read_body(request: Request<Incoming>, timeout: Duration) -> Option<Bytes> {
    let read = Limited::new(request.into_body(), MAX_REQUEST_BODY).collect();
    tokio::time::timeout(timeout, read)
        .await
        .ok()?
        .ok()
        .map(|c| c.to_bytes())
}

/// A `Content-Length` over [`MAX_REQUEST_BODY`]: refused before reading.
pub(crate) fn declared_too_large(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > MAX_REQUEST_BODY as u64)
}
