//! Agent binding as the emulator serves it: a site creates a binding
//! request, the user picks an agent on the hosted connect page (here:
//! [`Emulator::complete_binding`](crate::Emulator::complete_binding)), the
//! site exchanges the one-time code for a binding passport. Bounded: at
//! most [`MAX_BINDINGS`] kept, each forgotten at its expiry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::auth::site_of;
use crate::body::ResponseBody;
use crate::ids::random_hex;
use crate::reply::{envelope_error, envelope_ok, read_body};
use crate::shared::Shared;

/// The audience of a binding passport.
pub(crate) const BINDING_AUDIENCE: &str = "lime-binding";
/// A binding passport's lifetime (`exp − iat`), the contract's maximum.
pub(crate) const BINDING_PASSPORT_SECS: i64 = 60;
/// How long a binding request waits for the user.
pub const BINDING_TTL: Duration = Duration::from_secs(600);
/// How long a binding code may wait for its exchange.
pub const BINDING_CODE_TTL: Duration = Duration::from_secs(60);
/// Binding requests kept at once (429 beyond).
pub const MAX_BINDINGS: usize = 10_000;

/// One binding request.
#[derive(Debug)]
struct Binding {
    site_id: String,
    expires_at: OffsetDateTime,
    /// The agent the user chose, once they did.
    agent_id: Option<String>,
}

/// Every binding request and its unspent code.
#[derive(Debug, Default)]
pub(crate) struct Bindings {
    requests: HashMap<String, Binding>,
    /// Code → (binding id, expiry); spent codes are removed.
    codes: HashMap<String, (String, OffsetDateTime)>,
}

impl Bindings {
    fn forget_expired(&mut self, now: OffsetDateTime) {
        self.requests.retain(|_, b| b.expires_at > now);
        self.codes.retain(|_, (_, expires)| *expires > now);
    }

    /// The user chose `agent_id` for `binding_id`: its one-time code.
    pub(crate) fn complete(
        &mut self,
        binding_id: &str,
        agent_id: &str,
        now: OffsetDateTime,
    ) -> Option<String> {
        self.forget_expired(now);
        let binding = self.requests.get_mut(binding_id)?;
        if binding.agent_id.is_some() {
            return None;
        }
        binding.agent_id = Some(agent_id.to_owned());
        let code = format!("bc_{}", random_hex(16));
        self.codes.insert(
            code.clone(),
            (binding_id.to_owned(), later(now, BINDING_CODE_TTL)),
        );
        Some(code)
    }
}

fn later(now: OffsetDateTime, by: Duration) -> OffsetDateTime {
    now + time::Duration::try_from(by).unwrap_or(time::Duration::MAX)
}

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
    let now = shared.now();
    let mut bindings = shared.bindings();
    bindings.forget_expired(now);
    if bindings.requests.len() >= MAX_BINDINGS {
        return envelope_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_BINDINGS",
            "too many pending binding requests",
        );
    }
    let binding_id = format!("bd_{}", random_hex(8));
    let expires_at = later(now, BINDING_TTL);
    bindings.requests.insert(
        binding_id.clone(),
        Binding {
            site_id,
            expires_at,
            agent_id: None,
        },
    );
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
    let mut bindings = shared.bindings();
    bindings.forget_expired(now);
    let invalid = || {
        envelope_error(
            StatusCode::BAD_REQUEST,
            "BINDING_CODE_INVALID",
            "the binding code is unknown, spent or expired",
        )
    };
    let Some((binding_id, _)) = bindings.codes.get(code).cloned() else {
        return invalid();
    };
    let Some(binding) = bindings.requests.get(&binding_id) else {
        return invalid();
    };
    if binding.site_id != site_id {
        return invalid();
    }
    let agent_id = binding.agent_id.clone().unwrap_or_default();
    bindings.codes.remove(code);
    bindings.requests.remove(&binding_id);
    drop(bindings);
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
