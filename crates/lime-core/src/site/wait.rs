//! Waiting for one login request, as rules both adapters' `wait` follow:
//! read its status first, then watch the stream for its event, replayed
//! from the start so an approval that came first is not missed.

use std::time::Duration;

use super::events::{Passport, SiteEvent};
use super::passport::{PassportRefused, VerifiedPassport};
use super::requests::RequestState;
use crate::{Error, RequestStatus};

/// How long a wait listens for the replay of a request approved before it
/// began: the service sends the events it holds as the stream opens.
pub const REPLAY_GRACE: Duration = Duration::from_secs(2);

/// The stream cursor a wait starts from: every event the service holds.
pub const REPLAY_ALL: &str = "0";

/// How a wait for one login request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// An agent approved and its passport verified.
    Approved(VerifiedPassport),
    /// The request expired unapproved (or had already).
    Expired,
    /// The request was approved before the wait began and the service no
    /// longer holds its passport (or holds only an expired one): the agent
    /// is named by the public read, without proof.
    ApprovedWithoutPassport {
        /// The agent the public read names.
        agent_id: Option<String>,
    },
    /// Nothing decided the request within the wait.
    TimedOut,
}

/// What an event means to a [`Wait`].
#[derive(Debug)]
pub enum Decided {
    /// The request's approval: verify this passport, then
    /// [`Wait::verified`].
    Passport(Passport),
    /// The request expired.
    Expired,
}

/// A wait for one request, after its status was read.
///
/// ```
/// use std::time::Duration;
/// use lime_core::{RequestStatus, site::{Outcome, RequestState, Wait}};
/// let pending = RequestState::new("lr_1", RequestStatus::Pending);
/// let wait = Wait::new(pending, Duration::from_secs(60)).unwrap();
/// assert_eq!(wait.listen_for(), Duration::from_secs(60));
/// assert_eq!(wait.timed_out(), Outcome::TimedOut);
/// let expired = RequestState::new("lr_1", RequestStatus::Expired);
/// assert_eq!(Wait::new(expired, Duration::from_secs(60)).unwrap_err(), Outcome::Expired);
/// ```
#[derive(Debug)]
pub struct Wait {
    state: RequestState,
    /// Approved before the wait: only a replay can bring its passport.
    replayed: bool,
    listen: Duration,
}

impl Wait {
    /// A wait of at most `timeout` for the request read as `state`.
    ///
    /// # Errors
    /// The outcome at once, for a request already expired.
    pub fn new(state: RequestState, timeout: Duration) -> Result<Self, Outcome> {
        if state.status == RequestStatus::Expired {
            return Err(Outcome::Expired);
        }
        let replayed = state.status.is_approved();
        let listen = if replayed {
            timeout.min(REPLAY_GRACE)
        } else {
            timeout
        };
        Ok(Wait {
            state,
            replayed,
            listen,
        })
    }

    /// How long to read the stream (from [`REPLAY_ALL`]) before
    /// [`timed_out`](Self::timed_out).
    pub fn listen_for(&self) -> Duration {
        self.listen
    }

    /// The request waited for.
    pub fn request_id(&self) -> &str {
        &self.state.request_id
    }

    /// Whether `event` decides the request; others are skipped.
    pub fn on_event(&self, event: SiteEvent) -> Option<Decided> {
        match event {
            SiteEvent::Approved {
                request_id,
                passport,
                ..
            } if request_id == self.state.request_id => Some(Decided::Passport(passport)),
            SiteEvent::Expired { request_id, .. } if request_id == self.state.request_id => {
                Some(Decided::Expired)
            }
            _ => None,
        }
    }

    /// No event decided it in time.
    pub fn timed_out(self) -> Outcome {
        if self.replayed {
            Outcome::ApprovedWithoutPassport {
                agent_id: self.state.approved_agent_id,
            }
        } else {
            Outcome::TimedOut
        }
    }

    /// The outcome once the passport was checked: a replayed approval whose
    /// passport has since expired is still an approval, without proof.
    ///
    /// # Errors
    /// The check's error.
    pub fn verified(self, checked: Result<VerifiedPassport, Error>) -> Result<Outcome, Error> {
        match checked {
            Ok(verified) => Ok(Outcome::Approved(verified)),
            Err(Error::PassportRefused(PassportRefused::Expired)) if self.replayed => {
                Ok(self.timed_out())
            }
            Err(error) => Err(error),
        }
    }
}
