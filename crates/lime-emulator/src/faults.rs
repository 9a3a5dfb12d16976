//! Scripted faults: what the next calls of a route get instead of a normal answer.

use std::collections::HashMap;
use std::time::Duration;

use time::OffsetDateTime;

pub use crate::route::Route;

/// A body for [`Fault::Raw`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawBody {
    /// Exactly these bytes.
    Bytes(Vec<u8>),
    /// `len` copies of `byte`, streamed in 64 KiB chunks (a huge body).
    Repeat {
        /// The byte repeated.
        byte: u8,
        /// How many bytes in all.
        len: u64,
    },
    /// A body that never ends (a chunk every 10 ms until the client leaves).
    Endless,
}

/// What a call gets instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An error envelope with this status (and `Retry-After` seconds when given).
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
    },
    /// Close the connection without answering (nothing is processed).
    Drop,
    /// Wait this long before the response headers, then answer normally.
    DelayHeaders(Duration),
    /// Answer normally but send the body `chunk` bytes at a time, `interval` apart.
    TrickleBody {
        /// Bytes per chunk.
        chunk: usize,
        /// Pause between chunks.
        interval: Duration,
    },
    /// Approve only: process the approval, then close the connection without
    /// answering (the client cannot know it went through).
    ProcessThenDrop,
    /// Answer `status` (3xx) with a `Location` on another origin, which
    /// records whether the agent token arrived there.
    Redirect {
        /// The 3xx status.
        status: u16,
    },
    /// The handler panics: a server's bug, to check that one crashing
    /// handler closes only its own connection.
    Panic,
    /// A raw scripted response.
    Raw {
        /// The HTTP status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: RawBody,
    },
}

#[derive(Debug)]
struct Rule {
    route: Route,
    fault: Fault,
    /// Calls left; `None`: every call.
    remaining: Option<u32>,
    /// Applies to one call in `every` (1: all), for mixed-fault load tests.
    every: u32,
    seen: u32,
}

/// The faults scheduled on an emulator.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    rules: Vec<Rule>,
    rate_limits: HashMap<Route, RateWindow>,
}

#[derive(Debug)]
struct RateWindow {
    per_second: u32,
    /// Where the current one-second window began (at the first call).
    window_start: Option<OffsetDateTime>,
    count: u32,
}

impl FaultPlan {
    pub(crate) fn add(&mut self, route: Route, fault: Fault, times: Option<u32>, every: u32) {
        self.rules.push(Rule {
            route,
            fault,
            remaining: times,
            every: every.max(1),
            seen: 0,
        });
    }

    pub(crate) fn rate_limit(&mut self, route: Route, per_second: u32) {
        self.rate_limits.insert(
            route,
            RateWindow {
                per_second,
                window_start: None,
                count: 0,
            },
        );
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
        self.rate_limits.clear();
    }

    /// The fault for this call of `route`, if any (consuming one use).
    pub(crate) fn take(&mut self, route: Route, now: OffsetDateTime) -> Option<Fault> {
        if let Some(window) = self.rate_limits.get_mut(&route) {
            let elapsed = window.window_start.map(|start| now - start);
            if elapsed.is_none_or(|e| e >= time::Duration::SECOND || e.is_negative()) {
                window.window_start = Some(now);
                window.count = 0;
            }
            window.count += 1;
            if window.count > window.per_second {
                return Some(Fault::Status {
                    status: 429,
                    retry_after: Some(1),
                });
            }
        }
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.route == route && r.remaining != Some(0))?;
        rule.seen += 1;
        if rule.seen % rule.every != 0 {
            return None;
        }
        if let Some(n) = &mut rule.remaining {
            *n -= 1;
        }
        Some(rule.fault.clone())
    }
}
