//! The part every flow shares: one step's attempts, backoff waits, the
//! deadline, and handing outputs to the driver exactly once.

use std::time::{Duration, Instant};

use crate::io::{Output, Transmit};
use crate::pow::PowTask;
use crate::retry::{Jitter, backoff};
use crate::{Error, HttpRequest, TransportError, TransportErrorKind};

/// Where a flow stands with its driver.
#[derive(Debug)]
enum Phase<T> {
    /// The next poll sends the current step's request.
    Ready,
    /// A request is out; waiting for `handle_response` / `handle_transport_error`.
    AwaitingResponse,
    /// The next poll hands out this solve.
    Solve(Box<PowTask>),
    /// A solve is out; waiting for `handle_solution`.
    AwaitingSolution,
    /// Backing off until then.
    Waiting(Instant),
    /// Finished; every later poll repeats this.
    Done(Result<T, Error>),
}

/// Attempts, waits and the deadline for the flow's current step.
#[derive(Debug)]
pub(crate) struct Stepper<T> {
    phase: Phase<T>,
    /// Attempts made in the current step.
    attempts: u32,
    /// Which budget the current step spends.
    spending: Budget,
    /// The approve's attempts while another step runs (the approve
    /// resumes its count: this is its one owner).
    approve_spent: u32,
    max_retries: u32,
    timeout: Duration,
    deadline: Option<Instant>,
    jitter: Jitter,
    /// The error that caused the last wait, returned if the deadline ends the flow.
    last_error: Option<Error>,
    /// The last request sent, named (redacted) only when an error or a
    /// trace needs it: formatting it per attempt cost every login.
    last_request: Option<(http::Method, http::Uri)>,
    /// When the last request was handed out, for TRACE timings.
    sent_at: Option<Instant>,
}

impl<T: Clone> Stepper<T> {
    pub(crate) fn new(
        max_retries: u32,
        timeout: Duration,
        deadline: Option<Instant>,
        seed: u64,
    ) -> Self {
        Stepper {
            phase: Phase::Ready,
            attempts: 0,
            spending: Budget::Fresh,
            approve_spent: 0,
            max_retries,
            timeout,
            deadline,
            jitter: Jitter::new(seed),
            last_error: None,
            last_request: None,
            sent_at: None,
        }
    }

    pub(crate) fn reseed(&mut self, seed: u64) {
        self.jitter = Jitter::new(seed);
    }

    /// Whether the current step may make another attempt.
    pub(crate) fn budget_left(&self) -> bool {
        self.attempts <= self.max_retries
    }

    /// Starts a step spending `budget`; the next poll sends.
    pub(crate) fn begin(&mut self, budget: Budget) {
        self.park_approve();
        self.attempts = match budget {
            Budget::Fresh => 0,
            Budget::Approve => self.approve_spent,
        };
        self.spending = budget;
        self.phase = Phase::Ready;
    }

    /// Approve attempts spent so far, whichever step runs.
    pub(crate) fn approve_attempts(&self) -> u32 {
        match self.spending {
            Budget::Approve => self.attempts,
            Budget::Fresh => self.approve_spent,
        }
    }

    /// A new puzzle after the server refused a scheme: its approve starts
    /// a budget of its own.
    pub(crate) fn fresh_approve_budget(&mut self) {
        self.approve_spent = 0;
        if self.spending == Budget::Approve {
            self.attempts = 0;
        }
    }

    /// Leaving the approve: keep its count for when it resumes.
    fn park_approve(&mut self) {
        if self.spending == Budget::Approve {
            self.approve_spent = self.attempts;
        }
    }

    /// The next poll hands out this solve.
    pub(crate) fn hand_out(&mut self, task: PowTask) {
        self.phase = Phase::Solve(Box::new(task));
    }

    /// The whole flow's deadline, if any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub(crate) fn finish(&mut self, result: Result<T, Error>) {
        self.phase = Phase::Done(result);
    }

    /// The output for the current phase; `request` builds the step's request.
    pub(crate) fn poll(
        &mut self,
        now: Instant,
        request: impl FnOnce() -> HttpRequest,
    ) -> Output<T> {
        match std::mem::replace(&mut self.phase, Phase::AwaitingResponse) {
            Phase::Ready => {
                if self.deadline.is_some_and(|d| now >= d) {
                    let error = self.last_error.take().unwrap_or_else(|| {
                        TransportError::new(
                            TransportErrorKind::Timeout,
                            "the login deadline passed",
                        )
                        .into()
                    });
                    self.finish(Err(error));
                    return self.poll(now, request);
                }
                self.attempts += 1;
                let mut deadline = later(now, self.timeout);
                if let Some(d) = self.deadline {
                    deadline = deadline.min(d);
                }
                let request = request();
                self.last_request = Some((request.method().clone(), request.uri().clone()));
                tracing::debug!(target: "lime", method = %request.method(), path = request.uri().path(), attempt = self.attempts, "sending");
                tracing::trace!(target: "lime", headers = %crate::io::describe_headers(request.headers()), body_bytes = request.body().len(), "request");
                self.sent_at = Some(now);
                Output::Send(Transmit { request, deadline })
            }
            Phase::Solve(task) => {
                self.phase = Phase::AwaitingSolution;
                Output::Solve(*task)
            }
            Phase::Waiting(until) => {
                self.phase = Phase::Waiting(until);
                Output::Wait(until)
            }
            Phase::Done(result) => {
                self.phase = Phase::Done(result.clone());
                Output::Done(result)
            }
            awaiting @ (Phase::AwaitingResponse | Phase::AwaitingSolution) => {
                self.phase = awaiting;
                Output::Done(Err(Error::internal(
                    "the driver polled again before answering the previous output",
                )))
            }
        }
    }

    /// Takes the `AwaitingResponse` phase; false (and no change) otherwise.
    /// `status` is the answer's (`None`: a transport failure), traced with
    /// the time since the request was handed out.
    pub(crate) fn take_response_slot(&mut self, now: Instant, status: Option<u16>) -> bool {
        if let Some(sent) = self.sent_at.take() {
            let elapsed_ms = now.saturating_duration_since(sent).as_secs_f64() * 1000.0;
            tracing::trace!(target: "lime", request = %self.last_request(), ?status, "answered in {elapsed_ms:.1} ms");
        }
        self.take_slot(|p| matches!(p, Phase::AwaitingResponse), "a response")
    }

    /// Takes the `AwaitingSolution` phase; false (and no change) otherwise.
    pub(crate) fn take_solution_slot(&mut self) -> bool {
        self.take_slot(|p| matches!(p, Phase::AwaitingSolution), "a solution")
    }

    /// Moves an awaiting phase to `Ready` when the answer is the one awaited;
    /// an unexpected answer is ignored (logged), never a panic.
    fn take_slot(&mut self, awaited: fn(&Phase<T>) -> bool, what: &str) -> bool {
        if awaited(&self.phase) {
            self.phase = Phase::Ready;
            true
        } else {
            tracing::warn!(target: "lime", "{what} arrived that nothing was waiting for; ignored");
            false
        }
    }

    /// Ends a backoff wait once `now` reaches it.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Waiting(until) = self.phase
            && now >= until
        {
            self.phase = Phase::Ready;
        }
    }

    /// Waits, then repeats the step, if its budget and the deadline allow;
    /// otherwise finishes with `give_up`. `retry_after` replaces the backoff.
    pub(crate) fn retry_or(
        &mut self,
        error: Error,
        retry_after: Option<Duration>,
        now: Instant,
        step: &'static str,
        give_up: Error,
    ) {
        if !self.budget_left() {
            self.finish(Err(give_up));
            return;
        }
        let wait = retry_after.unwrap_or_else(|| backoff(self.attempts, &mut self.jitter));
        self.wait_then(error, wait, now, step, give_up);
    }

    /// Ends a one-request step retried like a read (the profile, a mint):
    /// a retryable error waits (`retry_after` when the server named one)
    /// and repeats while the budget lasts; anything else finishes.
    pub(crate) fn finish_or_retry(
        &mut self,
        result: Result<T, Error>,
        retry_after: Option<Duration>,
        now: Instant,
        step: &'static str,
    ) {
        match result {
            Err(e) if e.is_retryable() => self.retry_or(e.clone(), retry_after, now, step, e),
            other => self.finish(other),
        }
    }

    /// A transport failure of such a step's request, settled as above.
    pub(crate) fn finish_or_retry_transport_error(
        &mut self,
        error: TransportError,
        now: Instant,
        step: &'static str,
    ) {
        if self.take_response_slot(now, None) {
            let error = self.transport_error(error);
            self.finish_or_retry(Err(error), None, now, step);
        }
    }

    /// Backs off after `error` (unless the wait would pass the deadline),
    /// then the next step starts with a fresh budget: whether it waits (else
    /// the flow finished with `error`).
    pub(crate) fn back_off_then_next_step(
        &mut self,
        error: Error,
        now: Instant,
        step: &'static str,
    ) -> bool {
        let wait = self.backoff();
        let waiting = self.wait_then(error.clone(), wait, now, step, error);
        if waiting {
            self.park_approve();
            self.spending = Budget::Fresh;
            self.attempts = 0;
        }
        waiting
    }

    /// Waits `wait` (unless it would pass the deadline) with the phase then
    /// Ready; whether it waits.
    fn wait_then(
        &mut self,
        error: Error,
        wait: Duration,
        now: Instant,
        step: &'static str,
        give_up: Error,
    ) -> bool {
        let until = later(now, wait);
        if self.deadline.is_some_and(|d| until > d) {
            tracing::warn!(target: "lime", step, "not retrying: the wait would pass the deadline");
            self.finish(Err(give_up));
            return false;
        }
        // One line a CLI can show as it is: `retrying (2/4) in 0.5 s: HTTP 503`.
        tracing::warn!(
            target: "lime::retry",
            step,
            delay_ms = wait.as_millis() as u64,
            "retrying ({}/{}) in {:.1} s: {}",
            self.attempts + 1,
            self.max_retries.saturating_add(1).max(self.attempts + 1),
            wait.as_secs_f64(),
            reason(&error)
        );
        self.last_error = Some(error);
        self.phase = Phase::Waiting(until);
        true
    }

    /// The backoff after the current attempt.
    pub(crate) fn backoff(&mut self) -> Duration {
        backoff(self.attempts.max(1), &mut self.jitter)
    }
}

/// Which attempt budget a step spends: a read's is fresh each time it
/// starts; the approve's is one across the reads that interrupt it (a
/// settling read, a new solve), so a login never sends more approves than
/// its budget allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Budget {
    Fresh,
    Approve,
}

/// `now + duration`, for any duration: one past what `Instant` can hold (a
/// "no limit" such as `Duration::MAX`) is read as a century, never a panic.
pub(crate) fn later(now: Instant, duration: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(duration)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// A log-safe reason: the error's kind, status and code, never a server
/// message (`HTTP 503 AUTH_UNAVAILABLE`, `connection failed`).
pub(crate) fn reason(error: &Error) -> String {
    match (error, error.http_status(), error.code()) {
        (Error::Transport(e), _, _) => e.kind().to_string(),
        (_, Some(status), Some(code)) => format!("HTTP {status} {code}"),
        (_, Some(status), None) => format!("HTTP {status}"),
        (_, None, Some(code)) => code.to_owned(),
        (_, None, None) => "invalid response".to_owned(),
    }
}

impl<T: Clone> Stepper<T> {
    /// `METHOD url` of the last request sent, its secrets redacted.
    fn last_request(&self) -> String {
        self.last_request
            .as_ref()
            .map_or_else(String::new, |(method, uri)| {
                format!("{method} {}", crate::base_url::redact_url(&uri.to_string()))
            })
    }

    /// A transport error as the flow's error, naming the request and the
    /// attempts so far; an oversized body is an invalid response.
    pub(crate) fn transport_error(&self, error: TransportError) -> Error {
        if error.kind() == TransportErrorKind::BodyTooLarge {
            Error::invalid_response(None, "the response body is over the configured limit")
        } else {
            Error::Transport(error.with_request(self.last_request(), self.attempts))
        }
    }
}
