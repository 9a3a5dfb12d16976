//! The agent's endpoints: the public request read, the approve, the profile.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::auth::agent_of;
use crate::body::ResponseBody;
use crate::builder::OwnerKey;
use crate::reply::{envelope_error, envelope_ok, read_body};
use crate::shared::Shared;
use crate::state::ApproveError;

/// `GET /auth/requests/{id}`: public, never needs a token (one that comes
/// anyway is counted, for the tests that check it never does).
pub(crate) fn read_request(
    shared: &Arc<Shared>,
    id: &str,
    request: &Request<Incoming>,
) -> Response<ResponseBody> {
    let settings = &shared.settings;
    if request.headers().contains_key("x-agent-token") {
        shared.store().counters.token_on_public_read += 1;
    }
    match shared
        .store()
        .read(id, settings.scheme, settings.hide_scheme, shared.now())
    {
        Some(data) => envelope_ok(StatusCode::OK, data),
        None => envelope_error(
            StatusCode::NOT_FOUND,
            "LOGIN_REQUEST_NOT_FOUND",
            "no such login request",
        ),
    }
}

/// `GET /core/agents/me/profile`.
pub(crate) fn profile(shared: &Arc<Shared>, request: &Request<Incoming>) -> Response<ResponseBody> {
    let settings = &shared.settings;
    match agent_of(shared, request) {
        Err(refused) => refused.response(),
        Ok(agent) => {
            let owner = match settings.owner_key {
                OwnerKey::UserId => "user_id",
                OwnerKey::OwnerId => "owner_id",
            };
            let mut data = json!({
                "agent_id": agent.agent_id,
                "display_name": agent.display_name,
                "avatar_url": agent.avatar_url,
                "description": agent.description,
                "owner_kyc_level": agent.owner_kyc_level,
                "agent_reputation": agent.agent_reputation,
            });
            data[owner] = agent.owner_id.clone().into();
            envelope_ok(StatusCode::OK, data)
        }
    }
}

/// `POST /modules/agent-login/requests/{id}/approve`: errors in the
/// protocol's order, then the proof of work, then the passport.
pub(crate) async fn approve(
    shared: &Arc<Shared>,
    id: &str,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let agent = match agent_of(shared, &request) {
        Err(refused) => return refused.response(),
        Ok(agent) => agent.clone(),
    };
    let body = read_body(request, shared.settings.client_timeout).await;
    // Under the lock only to read the request's state: checking the proof
    // of work and signing happen outside it, so approves run in parallel.
    let pending = shared
        .store()
        .approvable(id, shared.now())
        .map(|(r, ())| (r.challenge.clone(), r.difficulty));
    let challenge = match pending {
        Err(refused) => return not_approvable(refused),
        Ok(challenge) => challenge,
    };
    let Some(body) = body else {
        return envelope_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body too large",
        );
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "the body is not JSON",
        );
    };
    let Some(nonce) = body.get("pow_nonce").and_then(Value::as_str) else {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "pow_nonce must be a string",
        );
    };
    let (challenge, difficulty) = challenge;
    if !lime_pow::verify(shared.settings.scheme, &challenge, nonce, difficulty) {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            "INVALID_POW",
            "the proof of work is not valid",
        );
    }
    let now = shared.now().unix_timestamp();
    // Signed only for a request that was pending with a valid proof of
    // work; committed only if it still is (another agent may have won).
    let passport = shared.keys.current().sign(&json!({
        "aud": crate::passport::AUDIENCE,
        "iss": shared.origin,
        "sub": agent.agent_id,
        "request_id": id,
        "iat": now,
        "nbf": now,
        "exp": now + crate::passport::MAX_LIFETIME_SECS,
    }));
    let mut store = shared.store();
    if let Err(refused) = store.approvable(id, shared.now()) {
        return not_approvable(refused);
    }
    let data = store.approve(id, &agent.agent_id, nonce, passport);
    envelope_ok(StatusCode::OK, data)
}

/// The answer for a request that cannot be approved, in the protocol's terms.
fn not_approvable(refused: ApproveError) -> Response<ResponseBody> {
    match refused {
        ApproveError::NotFound => envelope_error(
            StatusCode::NOT_FOUND,
            "LOGIN_REQUEST_NOT_FOUND",
            "no such login request",
        ),
        ApproveError::Expired => envelope_error(
            StatusCode::GONE,
            "LOGIN_REQUEST_EXPIRED",
            "the login request has expired",
        ),
        ApproveError::Conflict => envelope_error(
            StatusCode::CONFLICT,
            "SITE_LOGIN_CONFLICT",
            "the login request is not pending",
        ),
    }
}
