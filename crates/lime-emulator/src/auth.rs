//! Who is calling: the agent or site whose token a request carries,
//! compared in constant time.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::reply::envelope_error;
use crate::shared::Shared;
use crate::state::{AgentAccount, SiteAccount};

/// A refused token: the 401 envelope's code and message.
pub(crate) struct Unauthorized(&'static str, &'static str);

impl Unauthorized {
    pub(crate) fn response(&self) -> Response<ResponseBody> {
        envelope_error(StatusCode::UNAUTHORIZED, self.0, self.1)
    }
}

pub(crate) fn agent_of<'a>(
    shared: &'a Shared,
    request: &Request<Incoming>,
) -> Result<&'a AgentAccount, Unauthorized> {
    let Some(token) = request.headers().get("x-agent-token") else {
        return Err(Unauthorized(
            "MISSING_AGENT_TOKEN",
            "X-Agent-Token is required",
        ));
    };
    find_by_token(&shared.settings.agents, token.as_bytes(), |a| &a.token)
        .ok_or(Unauthorized("INVALID_AGENT_TOKEN", "unknown agent token"))
}

pub(crate) fn site_of<'a>(
    shared: &'a Shared,
    request: &Request<Incoming>,
) -> Result<&'a SiteAccount, Unauthorized> {
    let Some(token) = request.headers().get("x-site-token") else {
        return Err(Unauthorized(
            "SITE_TOKEN_MISSING",
            "X-Site-Token is required",
        ));
    };
    find_by_token(&shared.settings.sites, token.as_bytes(), |s| &s.token)
        .ok_or(Unauthorized("SITE_TOKEN_INVALID", "unknown site token"))
}

/// The account whose token is `presented`, compared in constant time with
/// every account's token (no early exit on the first differing byte or the
/// first match). Empty tokens never exist: `start` refuses them.
fn find_by_token<'a, T>(
    accounts: &'a [T],
    presented: &[u8],
    token: impl Fn(&T) -> &String,
) -> Option<&'a T> {
    use subtle::ConstantTimeEq;
    let mut found = None;
    for account in accounts {
        let matches: bool = token(account).as_bytes().ct_eq(presented).into();
        if matches && found.is_none() {
            found = Some(account);
        }
    }
    found
}
