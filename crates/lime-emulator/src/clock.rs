//! Where the emulator reads the time: the system clock, or a clock a test
//! moves by hand, so expiry, grace periods, passports and rate-limit
//! windows can be tested without sleeping.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

/// A clock that stands still until [`advance`](Self::advance) moves it.
/// Clones share one time.
///
/// ```
/// use std::time::Duration;
/// let clock = lime_emulator::ManualClock::starting_now();
/// let before = clock.now();
/// clock.advance(Duration::from_secs(301));
/// assert_eq!((clock.now() - before).whole_seconds(), 301);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// A clock at the system's current time (so passports it signs verify
    /// against real time until it is moved).
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    /// The clock's time.
    pub fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock forward by `by` (saturating at the latest time).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = later(*now, by);
    }
}

/// The emulator's time source.
#[derive(Debug, Clone, Default)]
pub(crate) enum Clock {
    /// The system's wall clock.
    #[default]
    System,
    /// A test's clock.
    Manual(ManualClock),
}

impl Clock {
    pub(crate) fn now(&self) -> OffsetDateTime {
        match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Manual(clock) => clock.now(),
        }
    }
}

/// `at + duration`, or the latest representable time when that is past it.
pub(crate) fn later(at: OffsetDateTime, duration: Duration) -> OffsetDateTime {
    time::Duration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_add(d))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
}
