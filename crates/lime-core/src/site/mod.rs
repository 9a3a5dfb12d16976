//! The other side of a login, sans-IO: what a site does (create a login
//! request, read one, follow its event stream, verify the passports it
//! carries) and what an MCP server checks of an agent's access token, given
//! a key set, `now` and an RS256 check (`lime_tls::ProviderRs256`). No I/O,
//! no clock, no crypto here; `lime-tokio` and `lime-blocking` drive it as
//! `LimeSite`.

mod events;
mod jws;
mod mcp_token;
mod passport;
mod requests;
mod sse;
mod wait;

pub use events::{DEFAULT_READ_TIMEOUT, EventStream, Passport, SiteEvent, StreamOutput};
pub use jws::{KEY_REFETCH_INTERVAL, KeyCache, KeySet, MAX_TOKEN_BYTES, SignatureCheck, key_id};
pub use mcp_token::{MCP_TOKEN_AUDIENCE, McpTokenRefused, VerifiedMcpToken, verify_mcp_token};
pub use passport::{
    BINDING_AUDIENCE, Expected, MAX_BINDING_LIFETIME_SECS, MAX_PASSPORT_LIFETIME_SECS,
    PASSPORT_AUDIENCE, PassportRefused, VerifiedBinding, VerifiedPassport, verify_binding_passport,
    verify_passport,
};
pub use requests::{
    BindingCreate, BindingExchange, BindingRequest, Create, CreateBinding, CreateRequest,
    ExchangeBinding, FetchKeys, JWKS_PATH, KeysRead, LoginRequest, ReadRequest, RequestState,
    StatusRead,
};
pub use sse::{MAX_SSE_EVENT, MAX_SSE_ID, MAX_SSE_LINE};
pub use wait::{Decided, Outcome, REPLAY_ALL, REPLAY_GRACE, Wait};
