//! The in-memory service: login requests, their state machine, agents,
//! sites and their event logs, and the counters tests read.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use lime_pow::Scheme;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc::UnboundedSender;

use crate::faults::Route;
use crate::sse;

/// An agent the emulator knows.
#[derive(Clone)]
pub struct AgentAccount {
    /// Its token (`X-Agent-Token`).
    pub token: String,
    /// Its id.
    pub agent_id: String,
    /// The owning user's id.
    pub owner_id: String,
    /// Profile: display name.
    pub display_name: Option<String>,
    /// Profile: avatar URL.
    pub avatar_url: Option<String>,
    /// Profile: description.
    pub description: Option<String>,
    /// Profile: owner KYC level.
    pub owner_kyc_level: Option<i64>,
    /// Profile: reputation.
    pub agent_reputation: Option<i64>,
}

impl std::fmt::Debug for AgentAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentAccount")
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

/// A site the emulator knows.
#[derive(Clone)]
pub struct SiteAccount {
    /// Its token (`X-Site-Token`).
    pub token: String,
    /// Its id.
    pub site_id: String,
}

impl std::fmt::Debug for SiteAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteAccount")
            .field("site_id", &self.site_id)
            .finish_non_exhaustive()
    }
}

/// What the counters say at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Calls per route (every call, faulted or not).
    pub calls: HashMap<Route, u64>,
    /// Successful approvals per request id (the protocol allows exactly one).
    pub approvals: HashMap<String, u64>,
    /// Requests the redirect target received.
    pub redirect_hits: u64,
    /// Of those, how many carried an agent token (must stay 0).
    pub redirect_token_seen: u64,
    /// Login requests created.
    pub requests_created: u64,
    /// Public challenge reads that carried an agent token (must stay 0).
    pub token_on_public_read: u64,
}

impl Counters {
    /// Calls of `route`.
    pub fn calls(&self, route: Route) -> u64 {
        self.calls.get(&route).copied().unwrap_or(0)
    }
    /// Successful approvals of `request_id`.
    pub fn approvals(&self, request_id: &str) -> u64 {
        self.approvals.get(request_id).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Approved,
    Delivered,
    Expired,
}

impl Status {
    fn as_str(&self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Approved => "APPROVED",
            Status::Delivered => "DELIVERED",
            Status::Expired => "EXPIRED",
        }
    }
}

#[derive(Debug)]
pub(crate) struct LoginRequest {
    pub(crate) id: String,
    pub(crate) site_id: String,
    pub(crate) challenge: String,
    pub(crate) difficulty: i64,
    pub(crate) status: Status,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) approved_agent_id: Option<String>,
    /// The nonce that approved it (for tests that look for it in logs).
    pub(crate) accepted_nonce: Option<String>,
}

impl LoginRequest {
    fn expires_at(&self) -> String {
        self.expires_at.format(&Rfc3339).unwrap_or_default()
    }
}

#[derive(Debug)]
struct StoredEvent {
    id: u64,
    data: String,
    request_id: String,
    approved: bool,
    delivered: bool,
}

#[derive(Debug, Default)]
struct SiteLog {
    events: Vec<StoredEvent>,
    subscribers: Vec<UnboundedSender<Bytes>>,
}

/// Everything behind the emulator's lock.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) requests: HashMap<String, LoginRequest>,
    sites: HashMap<String, SiteLog>,
    next_event_id: u64,
    pub(crate) counters: Counters,
}

/// The outcome of an approve, in PROTOCOL.md's precedence order.
#[derive(Debug)]
pub(crate) enum ApproveError {
    NotFound,
    Expired,
    Conflict,
}

impl Store {
    pub(crate) fn create(
        &mut self,
        site_id: &str,
        challenge: String,
        difficulty: i64,
        ttl: Duration,
        id: String,
    ) -> Value {
        let expires_at = time::Duration::try_from(ttl)
            .ok()
            .and_then(|ttl| OffsetDateTime::now_utc().checked_add(ttl))
            .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc());
        let request = LoginRequest {
            id: id.clone(),
            site_id: site_id.to_owned(),
            challenge,
            difficulty,
            status: Status::Pending,
            expires_at,
            approved_agent_id: None,
            accepted_nonce: None,
        };
        let body = json!({ "login_request_id": id, "status": "PENDING", "expires_at": request.expires_at() });
        self.requests.insert(id, request);
        self.counters.requests_created += 1;
        body
    }

    /// The public read of a request.
    pub(crate) fn read(&mut self, id: &str, scheme: Scheme, hide_scheme: bool) -> Option<Value> {
        self.expire_due();
        let r = self.requests.get(id)?;
        let mut data = json!({
            "request_id": r.id,
            "site_id": r.site_id,
            "status": r.status.as_str(),
            "expires_at": r.expires_at(),
            "approved_agent_id": r.approved_agent_id,
            "pow_challenge": r.challenge,
            "pow_difficulty": r.difficulty,
        });
        if !hide_scheme {
            data["pow_scheme"] = scheme.as_str().into();
        }
        Some(data)
    }

    /// Checks an approve up to (not including) the body and the PoW.
    pub(crate) fn approvable(&mut self, id: &str) -> Result<(&LoginRequest, ()), ApproveError> {
        self.expire_due();
        let r = self.requests.get(id).ok_or(ApproveError::NotFound)?;
        match r.status {
            Status::Expired => Err(ApproveError::Expired),
            Status::Pending if r.expires_at <= OffsetDateTime::now_utc() => {
                Err(ApproveError::Expired)
            }
            Status::Pending => Ok((r, ())),
            _ => Err(ApproveError::Conflict),
        }
    }

    /// Marks the request approved by `agent_id` and queues the approved event.
    pub(crate) fn approve(
        &mut self,
        id: &str,
        agent_id: &str,
        nonce: &str,
        passport: String,
    ) -> Value {
        *self.counters.approvals.entry(id.to_owned()).or_default() += 1;
        let site_id = match self.requests.get_mut(id) {
            Some(r) => {
                r.status = Status::Approved;
                r.approved_agent_id = Some(agent_id.to_owned());
                r.accepted_nonce = Some(nonce.to_owned());
                r.site_id.clone()
            }
            None => return Value::Null,
        };
        let data =
            json!({ "type": "approved", "login_request_id": id, "agent_passport_jwt": passport })
                .to_string();
        self.push_event(&site_id, id, data, true);
        let r = &self.requests[id];
        json!({
            "request_id": r.id,
            "site_id": r.site_id,
            "status": r.status.as_str(),
            "expires_at": r.expires_at(),
            "approved_agent_id": r.approved_agent_id,
        })
    }

    /// Expires every pending request past its time, with an expired event each.
    pub(crate) fn expire_due(&mut self) {
        let now = OffsetDateTime::now_utc();
        let due: Vec<(String, String)> = self
            .requests
            .values()
            .filter(|r| r.status == Status::Pending && r.expires_at <= now)
            .map(|r| (r.id.clone(), r.site_id.clone()))
            .collect();
        for (id, site) in due {
            if let Some(r) = self.requests.get_mut(&id) {
                r.status = Status::Expired;
            }
            let data = json!({ "type": "expired", "login_request_id": id }).to_string();
            self.push_event(&site, &id, data, false);
        }
    }

    fn push_event(&mut self, site_id: &str, request_id: &str, data: String, approved: bool) {
        self.next_event_id += 1;
        let event = StoredEvent {
            id: self.next_event_id,
            data,
            request_id: request_id.to_owned(),
            approved,
            delivered: false,
        };
        let log = self.sites.entry(site_id.to_owned()).or_default();
        log.events.push(event);
        let index = log.events.len() - 1;
        self.deliver(site_id, index);
    }

    /// Writes the event to every connected stream of the site; an approved
    /// event written at least once makes its request `DELIVERED`.
    fn deliver(&mut self, site_id: &str, index: usize) {
        let Some(log) = self.sites.get_mut(site_id) else {
            return;
        };
        let event = &mut log.events[index];
        let frame = Bytes::from(sse::encode(Some(&event.id.to_string()), &event.data));
        log.subscribers.retain(|s| s.send(frame.clone()).is_ok());
        if !log.subscribers.is_empty() {
            event.delivered = true;
            if event.approved {
                let request_id = event.request_id.clone();
                if let Some(r) = self.requests.get_mut(&request_id) {
                    r.status = Status::Delivered;
                }
            }
        }
    }

    /// Connects a stream: replays events after `last_event_id`, or those never
    /// delivered when there is none, then keeps the stream for new ones.
    pub(crate) fn subscribe(
        &mut self,
        site_id: &str,
        last_event_id: Option<u64>,
        tx: UnboundedSender<Bytes>,
    ) {
        self.expire_due();
        let log = self.sites.entry(site_id.to_owned()).or_default();
        log.subscribers.push(tx);
        let replay: Vec<usize> = log
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| match last_event_id {
                Some(last) => e.id > last,
                None => !e.delivered,
            })
            .map(|(i, _)| i)
            .collect();
        for index in replay {
            self.deliver(site_id, index);
        }
    }

    pub(crate) fn count(&mut self, route: Route) {
        *self.counters.calls.entry(route).or_default() += 1;
    }

    pub(crate) fn status_of(&mut self, id: &str) -> Option<&'static str> {
        self.expire_due();
        self.requests.get(id).map(|r| r.status.as_str())
    }
}
