//! The in-memory service: login requests, their state machine, agents,
//! sites and their event logs, and the counters tests read.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bytes::Bytes;
use lime_pow::Scheme;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc::Sender;

use crate::clock::later;
use crate::route::Route;
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
    /// Whether it holds the `oauth:mcp` grant (MCP access tokens).
    pub mcp_grant: bool,
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
    /// MCP access tokens minted, per domain.
    pub mints: HashMap<String, u64>,
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
    /// MCP access tokens minted for `domain`.
    pub fn mints(&self, domain: &str) -> u64 {
        self.mints.get(domain).copied().unwrap_or(0)
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
    events: std::collections::VecDeque<StoredEvent>,
    subscribers: Vec<Sender<Bytes>>,
    /// Requests of this site still `PENDING`.
    pending: usize,
}

/// The bounds that keep the store's memory and work finite whatever the
/// clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreLimits {
    /// How long a request is kept after it expires (or would have), for
    /// late reads, before it and its events are forgotten.
    pub(crate) grace: Duration,
    /// Pending requests one site may have at once (429 beyond).
    pub(crate) max_pending_per_site: usize,
    /// Event streams one site may hold open at once (429 beyond).
    pub(crate) max_streams_per_site: usize,
    /// Events kept per site for `Last-Event-ID` replay (oldest dropped).
    pub(crate) max_events_per_site: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            grace: Duration::from_secs(60),
            max_pending_per_site: 10_000,
            max_streams_per_site: 64,
            max_events_per_site: 1_024,
        }
    }
}

/// Frames queued per event stream: a stream this far behind is dropped.
pub(crate) const STREAM_QUEUE: usize = 1_024 + 16;

/// Everything behind the emulator's lock.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) requests: HashMap<String, LoginRequest>,
    /// Pending requests by expiry: the next to expire first.
    expiring: BTreeSet<(OffsetDateTime, String)>,
    /// Every request by the time it is forgotten.
    forgetting: BTreeSet<(OffsetDateTime, String)>,
    sites: HashMap<String, SiteLog>,
    next_event_id: u64,
    pub(crate) limits: StoreLimits,
    pub(crate) counters: Counters,
}

/// Why a stream was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The site has `max_streams_per_site` open streams.
    TooManyStreams,
}

/// The outcome of an approve, in the precedence order of `docs/protocol.md`.
#[derive(Debug)]
pub(crate) enum ApproveError {
    NotFound,
    Expired,
    Conflict,
}

impl Store {
    pub(crate) fn new(limits: StoreLimits) -> Self {
        Store {
            limits,
            ..Store::default()
        }
    }

    /// Whether `site_id` may create another request over the API: fewer
    /// than `max_pending_per_site` pending at `now`.
    pub(crate) fn has_room(&mut self, site_id: &str, now: OffsetDateTime) -> bool {
        self.expire_due(now);
        self.sites
            .get(site_id)
            .is_none_or(|site| site.pending < self.limits.max_pending_per_site)
    }

    /// A new pending request (the API checks [`has_room`](Self::has_room)
    /// first; tests creating directly may pass the cap).
    pub(crate) fn create(
        &mut self,
        site_id: &str,
        challenge: String,
        difficulty: i64,
        ttl: Duration,
        id: String,
        now: OffsetDateTime,
    ) -> Value {
        self.expire_due(now);
        self.sites.entry(site_id.to_owned()).or_default().pending += 1;
        let expires_at = later(now, ttl);
        let forget_at = later(expires_at, self.limits.grace);
        self.expiring.insert((expires_at, id.clone()));
        self.forgetting.insert((forget_at, id.clone()));
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
    pub(crate) fn read(
        &mut self,
        id: &str,
        scheme: Scheme,
        hide_scheme: bool,
        now: OffsetDateTime,
    ) -> Option<Value> {
        self.expire_due(now);
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
    pub(crate) fn approvable(
        &mut self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<(&LoginRequest, ()), ApproveError> {
        self.expire_due(now);
        let r = self.requests.get(id).ok_or(ApproveError::NotFound)?;
        match r.status {
            Status::Expired => Err(ApproveError::Expired),
            Status::Pending if r.expires_at <= now => Err(ApproveError::Expired),
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
                if r.status == Status::Pending {
                    self.expiring.remove(&(r.expires_at, r.id.clone()));
                    if let Some(site) = self.sites.get_mut(&r.site_id) {
                        site.pending = site.pending.saturating_sub(1);
                    }
                }
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

    /// Expires every pending request past its time, with an expired event
    /// each, and forgets requests (and their events) past the grace period:
    /// both taken from ordered sets, never a scan of every request.
    pub(crate) fn expire_due(&mut self, now: OffsetDateTime) {
        while let Some((at, _)) = self.expiring.first() {
            if *at > now {
                break;
            }
            let Some((_, id)) = self.expiring.pop_first() else {
                break;
            };
            let Some(r) = self.requests.get_mut(&id) else {
                continue;
            };
            r.status = Status::Expired;
            let site = r.site_id.clone();
            if let Some(log) = self.sites.get_mut(&site) {
                log.pending = log.pending.saturating_sub(1);
            }
            let data = json!({ "type": "expired", "login_request_id": id }).to_string();
            self.push_event(&site, &id, data, false);
        }
        while let Some((at, _)) = self.forgetting.first() {
            if *at > now {
                break;
            }
            let Some((_, id)) = self.forgetting.pop_first() else {
                break;
            };
            if let Some(r) = self.requests.remove(&id)
                && let Some(log) = self.sites.get_mut(&r.site_id)
            {
                log.events.retain(|e| e.request_id != id);
            }
            self.counters.approvals.remove(&id);
        }
    }

    fn push_event(&mut self, site_id: &str, request_id: &str, data: String, approved: bool) {
        self.next_event_id += 1;
        let mut event = StoredEvent {
            id: self.next_event_id,
            data,
            request_id: request_id.to_owned(),
            approved,
            delivered: false,
        };
        let log = self.sites.entry(site_id.to_owned()).or_default();
        // Written once to every open stream of the site; a stream too far
        // behind to take it is dropped (its body ends).
        let frame = Bytes::from(sse::encode(Some(&event.id.to_string()), &event.data));
        log.subscribers
            .retain(|s| s.try_send(frame.clone()).is_ok());
        if !log.subscribers.is_empty() {
            event.delivered = true;
        }
        let delivered = event.delivered && event.approved;
        log.events.push_back(event);
        while log.events.len() > self.limits.max_events_per_site {
            log.events.pop_front();
        }
        if delivered {
            self.mark_delivered(request_id);
        }
    }

    /// An approved event reached a stream: its request is `DELIVERED`.
    fn mark_delivered(&mut self, request_id: &str) {
        if let Some(r) = self.requests.get_mut(request_id) {
            r.status = Status::Delivered;
        }
    }

    /// Drops every open stream's sender, which ends its body.
    pub(crate) fn cut_streams(&mut self) -> usize {
        self.sites
            .values_mut()
            .map(|log| std::mem::take(&mut log.subscribers).len())
            .sum()
    }

    /// Connects a stream: replays, to this stream only, the events after
    /// `last_event_id` (or those never delivered when there is none), then
    /// keeps it for new ones.
    pub(crate) fn subscribe(
        &mut self,
        site_id: &str,
        last_event_id: Option<u64>,
        tx: Sender<Bytes>,
        now: OffsetDateTime,
    ) -> Result<(), Refused> {
        self.expire_due(now);
        let max_streams = self.limits.max_streams_per_site;
        let log = self.sites.entry(site_id.to_owned()).or_default();
        log.subscribers.retain(|s| !s.is_closed());
        if log.subscribers.len() >= max_streams {
            return Err(Refused::TooManyStreams);
        }
        let mut delivered = Vec::new();
        for event in log.events.iter_mut().filter(|e| match last_event_id {
            Some(last) => e.id > last,
            None => !e.delivered,
        }) {
            let frame = Bytes::from(sse::encode(Some(&event.id.to_string()), &event.data));
            if tx.try_send(frame).is_err() {
                // Cannot take its own replay: not kept.
                return Ok(());
            }
            event.delivered = true;
            if event.approved {
                delivered.push(event.request_id.clone());
            }
        }
        log.subscribers.push(tx);
        for id in delivered {
            self.mark_delivered(&id);
        }
        Ok(())
    }

    pub(crate) fn count(&mut self, route: Route) {
        *self.counters.calls.entry(route).or_default() += 1;
    }

    pub(crate) fn status_of(&mut self, id: &str, now: OffsetDateTime) -> Option<&'static str> {
        self.expire_due(now);
        self.requests.get(id).map(|r| r.status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_that_falls_behind_is_dropped_and_its_body_ends() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut store = Store::new(StoreLimits::default());
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        store.subscribe("site", None, tx, now).unwrap();
        for i in 0..3 {
            store.create(
                "site",
                format!("c{i}"),
                1,
                Duration::ZERO,
                format!("lr_{i}"),
                now,
            );
        }
        store.expire_due(now); // three expired events; the queue holds two
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_ok());
        assert!(
            matches!(
                rx.try_recv(),
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected)
            ),
            "the slow stream was kept"
        );
        assert!(store.sites["site"].subscribers.is_empty());
    }
}
