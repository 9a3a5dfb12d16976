//! `POST /modules/oauth/token`: MCP access tokens, as LIME mints them. Not
//! enveloped; errors in RFC 6749's shape; never cached by anyone.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::auth::agent_of;
use crate::body::ResponseBody;
use crate::reply::{json_response, read_body};
use crate::shared::Shared;

pub(crate) async fn mint(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let agent = match agent_of(shared, &request) {
        Ok(agent) => agent.clone(),
        Err(_) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the agent token is missing or unknown",
            );
        }
    };
    let body = read_body(request, shared.settings.client_timeout).await;
    let domain = body
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("domain").and_then(Value::as_str).map(str::to_owned));
    let Some(domain) = domain else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be {\"domain\": \"…\"}",
        );
    };
    if let Err(reason) = crate::mcp_token::check_domain(&domain) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", reason);
    }
    if !agent.mcp_grant {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "the agent lacks the oauth:mcp grant",
        );
    }
    let ttl = shared.settings.mcp_token_ttl.as_secs().max(1);
    let now = shared.now().unix_timestamp();
    let token = crate::mcp_token::sign(
        &shared.keys.current(),
        &shared.origin,
        &agent.agent_id,
        &domain,
        now,
        ttl,
    );
    *shared.store().counters.mints.entry(domain).or_default() += 1;
    no_store(json_response(
        StatusCode::OK,
        &json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl }),
    ))
}

/// An RFC 6749 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<ResponseBody> {
    no_store(json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    ))
}

/// Token answers are never stored by caches.
fn no_store(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
