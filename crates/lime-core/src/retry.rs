//! When to try again, and how long to wait first.

use std::time::{Duration, SystemTime};

/// The longest wait a `Retry-After` can ask for; longer values are capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The first backoff step: attempt `n` waits `BASE × 2^(n−1)` plus jitter.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// The longest backoff before its jitter: `--max-retries 12` waits at most
/// this long between attempts, not eight minutes.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The largest random jitter added to a backoff.
pub const MAX_JITTER: Duration = Duration::from_millis(100);

/// HTTP statuses worth another attempt: 408, 429, 500, 502, 503, 504.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Answers to a request that is not idempotent (an approve, a create)
/// that say it was not processed: send it again.
pub(crate) fn not_processed(status: u16) -> bool {
    matches!(status, 408 | 429 | 503)
}

/// The server's `Retry-After`, capped at [`MAX_RETRY_AFTER`]: delta seconds,
/// or an HTTP date measured against the response's own `Date` header (the
/// core reads no clock; without `Date`, a date is ignored).
pub(crate) fn retry_after<B>(response: &http::Response<B>) -> Option<Duration> {
    let value = response
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at: SystemTime = httpdate::parse_http_date(value).ok()?;
        let date = response.headers().get(http::header::DATE)?.to_str().ok()?;
        let now: SystemTime = httpdate::parse_http_date(date).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Exponential backoff with jitter for the attempt that just failed
/// (`attempt` counts from 1): `0.25 s × 2^(attempt−1) + U(0, 0.1 s)`.
pub(crate) fn backoff(attempt: u32, jitter: &mut Jitter) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    exp.min(MAX_BACKOFF) + jitter.up_to(MAX_JITTER)
}

/// SplitMix64's step: the state advances by this each draw.
pub(crate) const SPLITMIX_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function for an (already advanced) state.
pub(crate) fn splitmix64(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small deterministic random source (SplitMix64) seeded by the caller, so
/// the core needs no OS randomness and tests replay exactly.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Jitter(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(SPLITMIX_GAMMA);
        splitmix64(self.0)
    }

    /// A uniform duration in `[0, max)`.
    pub(crate) fn up_to(&mut self, max: Duration) -> Duration {
        let nanos = max.as_nanos() as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next() % nanos)
    }
}

/// A default jitter seed from a flow's start instant: flows started at
/// different moments jitter differently, with no clock read or OS randomness.
pub(crate) fn now_seed(now: std::time::Instant) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    now.hash(&mut h);
    h.finish()
}
