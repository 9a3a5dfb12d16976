//! What the API returns, typed.

use std::fmt;

use time::OffsetDateTime;

use crate::Error;
use crate::fields::Fields;

/// A login request's state.
///
/// ```
/// use lime_core::RequestStatus;
/// assert_eq!(RequestStatus::from_wire("APPROVED"), RequestStatus::Approved);
/// assert_eq!(RequestStatus::from_wire("ARCHIVED"), RequestStatus::Other("ARCHIVED".into()));
/// assert_eq!(RequestStatus::Delivered.as_str(), "DELIVERED");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestStatus {
    /// Waiting for an agent.
    Pending,
    /// An agent sent a valid nonce.
    Approved,
    /// The approved event reached the site.
    Delivered,
    /// Nobody approved it in time.
    Expired,
    /// A status this version does not know, kept as sent.
    Other(String),
}

impl RequestStatus {
    /// Reads the wire spelling; unknown values are kept in [`RequestStatus::Other`].
    pub fn from_wire(s: &str) -> Self {
        match s {
            "PENDING" => RequestStatus::Pending,
            "APPROVED" => RequestStatus::Approved,
            "DELIVERED" => RequestStatus::Delivered,
            "EXPIRED" => RequestStatus::Expired,
            other => RequestStatus::Other(other.to_owned()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            RequestStatus::Pending => "PENDING",
            RequestStatus::Approved => "APPROVED",
            RequestStatus::Delivered => "DELIVERED",
            RequestStatus::Expired => "EXPIRED",
            RequestStatus::Other(s) => s,
        }
    }

    /// Approved or delivered: an agent's nonce was accepted.
    pub fn is_approved(&self) -> bool {
        matches!(self, RequestStatus::Approved | RequestStatus::Delivered)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for RequestStatus {
    /// As its wire spelling (`"APPROVED"`).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A confirmed login: what the approve call returns.
///
/// With the `serde` feature it serializes with `expires_at` in RFC 3339 to
/// the millisecond.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ApprovalResult {
    /// The login request's id.
    pub request_id: String,
    /// The site that asked for the login.
    pub site_id: String,
    /// `APPROVED`, or `DELIVERED` when the site already received the event.
    pub status: RequestStatus,
    /// When the request expires, with the offset the server sent.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_helpers::rfc3339_ms")
    )]
    pub expires_at: OffsetDateTime,
    /// The agent that approved it.
    pub approved_agent_id: Option<String>,
}

impl ApprovalResult {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, Error> {
        Ok(ApprovalResult {
            request_id: f.string("request_id")?,
            site_id: f.string("site_id")?,
            status: RequestStatus::from_wire(&f.string("status")?),
            expires_at: f.time("expires_at")?,
            approved_agent_id: f.opt_string("approved_agent_id")?,
        })
    }
}

/// The agent's profile (`GET /core/agents/me/profile`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct AgentProfile {
    /// The agent's id.
    pub agent_id: String,
    /// The owning user's id (sent as `owner_id` or `user_id`).
    pub owner_id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The owner's KYC level.
    pub owner_kyc_level: Option<i64>,
    /// The agent's reputation score.
    pub agent_reputation: Option<i64>,
}

impl AgentProfile {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, Error> {
        let owner_id = match f.opt_string("owner_id")? {
            Some(id) => id,
            None => f.opt_string("user_id")?.ok_or_else(|| {
                Error::invalid_response(Some(f.status), "missing field `owner_id` (or `user_id`)")
            })?,
        };
        Ok(AgentProfile {
            agent_id: f.string("agent_id")?,
            owner_id,
            display_name: f.opt_string("display_name")?,
            avatar_url: f.opt_string("avatar_url")?,
            description: f.opt_string("description")?,
            owner_kyc_level: f.opt_integer("owner_kyc_level")?,
            agent_reputation: f.opt_integer("agent_reputation")?,
        })
    }
}
