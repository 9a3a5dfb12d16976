//! Agent binding as the emulator serves it: a site creates a binding
//! request, the user picks an agent on the hosted connect page (here:
//! [`Emulator::complete_binding`](crate::Emulator::complete_binding)), the
//! site exchanges the one-time code for a binding passport. The requests
//! and codes are kept by `binding_store`.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::auth::site_of;
use crate::body::ResponseBody;
use crate::reply::{envelope_error, envelope_ok, read_body};
use crate::shared::Shared;

/// The audience of a binding passport.
pub(crate) const BINDING_AUDIENCE: &str = "lime-binding";
/// A binding passport's lifetime (`exp − iat`), the contract's maximum.
pub(crate) const BINDING_PASSPORT_SECS: i64 = 60;
/// The calling site and its JSON body, or the refusal to answer.
async fn site_and_body(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
) -> Result<(String, Value), Response<ResponseBody>> {
    let site_id = site_of(shared, &request)
        .map_err(|refused| refused.response())?
        .site_id
        .clone();
    let Some(body) = read_body(request, shared.settings.client_timeout).await else {
        return Err(envelope_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body too large",
        ));
    };
    let body = serde_json::from_slice(&body).map_err(|_| {
        envelope_error(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "the body is not JSON",
        )
    })?;
    Ok((site_id, body))
}

/// `POST /modules/bindings/requests`, `{"redirect_uri": "https://…"}`.
pub(crate) async fn create(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let (site_id, body) = match site_and_body(shared, request).await {
        Ok(both) => both,
        Err(refusal) => return refusal,
    };
    let redirect = body["redirect_uri"].as_str().unwrap_or_default();
    if !(redirect.starts_with("https://") || redirect.starts_with("http://")) {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "redirect_uri must be an absolute URL",
        );
    }
    let opened = shared.bindings().open(site_id, shared.now());
    let Some((binding_id, expires_at)) = opened else {
        return envelope_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_BINDINGS",
            "too many pending binding requests",
        );
    };
    let expires = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    envelope_ok(
        StatusCode::CREATED,
        json!({
            "binding_id": binding_id,
            "connect_url": format!("{}/connect/{binding_id}", shared.origin),
            "status": "PENDING",
            "expires_at": expires,
        }),
    )
}

/// `POST /modules/bindings/exchange`, `{"binding_code": "…"}`: the binding
/// passport, once per code, to the site that created the binding.
pub(crate) async fn exchange(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let (site_id, body) = match site_and_body(shared, request).await {
        Ok(both) => both,
        Err(refusal) => return refusal,
    };
    let code = body["binding_code"].as_str().unwrap_or_default();
    let now = shared.now();
    let redeemed = shared.bindings().redeem(code, &site_id, now);
    let Some((binding_id, agent_id)) = redeemed else {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "BINDING_CODE_INVALID",
            "the binding code is unknown, spent or expired",
        );
    };
    let iat = now.unix_timestamp();
    let passport = shared.keys.current().sign(&json!({
        "aud": BINDING_AUDIENCE,
        "iss": shared.origin,
        "sub": agent_id,
        "binding_id": binding_id,
        "iat": iat,
        "nbf": iat,
        "exp": iat + BINDING_PASSPORT_SECS,
    }));
    envelope_ok(
        StatusCode::OK,
        json!({ "passport": passport, "binding_id": binding_id }),
    )
}
