//! Which endpoint a request names: the routes, their names for `lime
//! serve`'s fault flags, and the parser from method and path.

use std::fmt;
use std::str::FromStr;

use http::Method;

/// The path prefix every endpoint lives under.
pub const API_PREFIX: &str = "/api/v1";

/// The emulator's routes, as fault targets and counter keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /auth/requests/{id}` (`read`).
    ReadRequest,
    /// `POST /modules/agent-login/requests/{id}/approve` (`approve`).
    Approve,
    /// `GET /core/agents/me/profile` (`profile`).
    Profile,
    /// `POST /modules/agent-login/requests` (`create`).
    CreateRequest,
    /// `GET /modules/agent-login/events` (`events`).
    Events,
    /// `GET /core/.well-known/jwks.json` (`jwks`).
    Jwks,
    /// `POST /modules/oauth/token` (`oauth`): MCP access tokens.
    OAuthToken,
    /// `POST /modules/bindings/requests` (`bind`).
    CreateBinding,
    /// `POST /modules/bindings/exchange` (`bind-exchange`).
    ExchangeBinding,
    /// Anything else (`other`).
    Other,
    /// Every request to the MCP server (`mcp`), checked before its token.
    /// It takes a status (401 answers as an MCP server refuses a token),
    /// a drop or a delay.
    Mcp,
    /// A `tools/call` the MCP server received (`mcp-call`), checked once
    /// its body was read: a drop means the call arrived but the tool never
    /// ran.
    McpToolCall,
}

impl Route {
    /// Every route, in a stable order.
    pub const ALL: [Route; 12] = [
        Route::ReadRequest,
        Route::Approve,
        Route::Profile,
        Route::CreateRequest,
        Route::Events,
        Route::Jwks,
        Route::OAuthToken,
        Route::CreateBinding,
        Route::ExchangeBinding,
        Route::Other,
        Route::Mcp,
        Route::McpToolCall,
    ];

    /// The route a request's method and path address, with the request id
    /// for the two per-request routes. Any input is accepted (unknown → `Other`).
    ///
    /// ```
    /// use lime_emulator::Route;
    /// let (route, id) = Route::of(&http::Method::GET, "/api/v1/auth/requests/lr_1");
    /// assert_eq!((route, id.as_deref()), (Route::ReadRequest, Some("lr_1")));
    /// ```
    pub fn of(method: &http::Method, path: &str) -> (Route, Option<String>) {
        route_of(method, path)
    }

    /// The short name used by `lime serve` flags.
    pub fn name(self) -> &'static str {
        match self {
            Route::ReadRequest => "read",
            Route::Approve => "approve",
            Route::Profile => "profile",
            Route::CreateRequest => "create",
            Route::Events => "events",
            Route::Jwks => "jwks",
            Route::OAuthToken => "oauth",
            Route::CreateBinding => "bind",
            Route::ExchangeBinding => "bind-exchange",
            Route::Other => "other",
            Route::Mcp => "mcp",
            Route::McpToolCall => "mcp-call",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Route {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Route::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Route::ALL.iter().map(|r| r.name()).collect();
                format!("unknown route {s:?} ({})", names.join(", "))
            })
    }
}

/// Which route a method and path name, and the request id in it.
pub(crate) fn route_of(method: &Method, path: &str) -> (Route, Option<String>) {
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return (Route::Other, None);
    };
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["auth", "requests", id]) => (Route::ReadRequest, Some((*id).to_owned())),
        ("POST", ["modules", "agent-login", "requests", id, "approve"]) => {
            (Route::Approve, Some((*id).to_owned()))
        }
        ("GET", ["core", "agents", "me", "profile"]) => (Route::Profile, None),
        ("POST", ["modules", "agent-login", "requests"]) => (Route::CreateRequest, None),
        ("GET", ["modules", "agent-login", "events"]) => (Route::Events, None),
        ("GET", ["core", ".well-known", "jwks.json"]) => (Route::Jwks, None),
        ("POST", ["modules", "oauth", "token"]) => (Route::OAuthToken, None),
        ("POST", ["modules", "bindings", "requests"]) => (Route::CreateBinding, None),
        ("POST", ["modules", "bindings", "exchange"]) => (Route::ExchangeBinding, None),
        _ => (Route::Other, None),
    }
}
