//! One interface over the flows, so a driver is written once.

use std::time::Instant;

use crate::io::Output;
use crate::pow::PowOutcome;
use crate::{HttpResponse, Login, TransportError};

/// A flow a driver runs to completion: [`Login`], or a one-request flow
/// ([`Profile`](crate::Profile), [`MintToken`](crate::mcp::MintToken)).
///
/// The drive loop is the same for both: poll, do what the output says, feed
/// the outcome back, until [`Output::Done`].
pub trait Flow {
    /// What the flow produces when it succeeds (named apart from
    /// [`Output`], what it asks its driver to do).
    type Value;

    /// What to do next.
    fn poll_output(&mut self) -> Output<Self::Value>;
    /// The response to the request last sent.
    fn handle_response(&mut self, response: HttpResponse, now: Instant);
    /// The transport failure of the request last sent.
    fn handle_transport_error(&mut self, error: TransportError, now: Instant);
    /// The outcome of the last solve. Only a login asks for solves; other
    /// flows log the stray outcome and ignore it.
    fn handle_solution(&mut self, outcome: PowOutcome, now: Instant) {
        let _ = (outcome, now);
        tracing::warn!(target: "lime", "this flow never solves; solution ignored");
    }
    /// A wait ended.
    fn handle_timeout(&mut self, now: Instant);
}

impl Flow for Login {
    type Value = crate::ApprovalResult;
    fn poll_output(&mut self) -> Output<Self::Value> {
        Login::poll_output(self)
    }
    fn handle_response(&mut self, response: HttpResponse, now: Instant) {
        Login::handle_response(self, response, now);
    }
    fn handle_transport_error(&mut self, error: TransportError, now: Instant) {
        Login::handle_transport_error(self, error, now);
    }
    fn handle_solution(&mut self, outcome: PowOutcome, now: Instant) {
        Login::handle_solution(self, outcome, now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Login::handle_timeout(self, now);
    }
}
