//! The site's endpoints: creating a request and its event stream.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::Value;

use crate::auth::site_of;
use crate::body::ResponseBody;
use crate::ids::random_hex;
use crate::reply::{envelope_error, envelope_ok, read_body};
use crate::shared::Shared;

/// `POST /modules/agent-login/requests`.
pub(crate) async fn create_request(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let settings = &shared.settings;
    let site_id = match site_of(shared, &request) {
        Err(refused) => return refused.response(),
        Ok(site) => site.site_id.clone(),
    };
    let Some(body) = read_body(request, settings.client_timeout).await else {
        return envelope_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body too large",
        );
    };
    if !body.is_empty() && serde_json::from_slice::<Value>(&body).is_err() {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "the body is not JSON",
        );
    }
    let now = shared.now();
    let mut store = shared.store();
    if !store.has_room(&site_id, now) {
        return envelope_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_PENDING_REQUESTS",
            "this site has too many pending login requests",
        );
    }
    let id = format!("lr_{}", random_hex(8));
    let data = store.create(
        &site_id,
        random_hex(16),
        settings.difficulty,
        settings.ttl,
        id,
        now,
    );
    envelope_ok(StatusCode::CREATED, data)
}

/// `GET /modules/agent-login/events`: Server-Sent Events, replaying what
/// `Last-Event-ID` asks for to this stream only.
pub(crate) fn events(shared: &Arc<Shared>, request: &Request<Incoming>) -> Response<ResponseBody> {
    let site_id = match site_of(shared, request) {
        Err(refused) => return refused.response(),
        Ok(site) => site.site_id.clone(),
    };
    let last_event_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (tx, body) = ResponseBody::bounded(crate::state::STREAM_QUEUE);
    // Headers first: a stream with nothing to replay still opens at once.
    let _ = tx.try_send(Bytes::from_static(b": lime emulator event stream\n\n"));
    // The store holds the stream's only strong sender: when it drops a
    // stream that fell behind, the body ends.
    let keepalive_tx = tx.downgrade();
    if shared
        .store()
        .subscribe(&site_id, last_event_id, tx, shared.now())
        .is_err()
    {
        return envelope_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_STREAMS",
            "this site has too many open event streams",
        );
    }
    let keepalive = shared.settings.keepalive;
    tokio::spawn(async move {
        let frame = Bytes::from(crate::sse::encode(None, r#"{"type":"keepalive"}"#));
        loop {
            tokio::time::sleep(keepalive).await;
            let Some(tx) = keepalive_tx.upgrade() else {
                return;
            };
            if tx.try_send(frame.clone()).is_err() {
                return;
            }
        }
    });
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
