//! `POST /modules/oauth/token`: MCP access tokens, as LIME mints them. Not
//! enveloped; errors in RFC 6749's shape; never cached by anyone.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::auth::agent_of;
use crate::body::ResponseBody;
use crate::reply::{json_response, read_body};
use crate::shared::{Shared, random_hex};

/// The `aud` of every MCP access token the emulator mints.
pub const MCP_AUDIENCE: &str = "mcp";

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
    // The same policy the SDK applies, and the domain in its normal form.
    match lime_core::mcp::McpTarget::parse(&domain, false) {
        Ok(target) if target.domain() == domain => {}
        Ok(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the domain must be a bare, lower-case host name",
            );
        }
        Err(refused) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &refused.to_string(),
            );
        }
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
    let token = shared.key.sign(&json!({
        "iss": shared.origin,
        "aud": MCP_AUDIENCE,
        "sub": agent.agent_id,
        "domain": domain,
        "scope": "mcp",
        "iat": now,
        "exp": now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
        "jti": random_hex(16),
    }));
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
