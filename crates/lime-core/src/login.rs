//! The login flow: read the challenge, solve it, approve, and reconcile when
//! an approve's outcome is unknown.

use std::time::Instant;

use http::Method;
use lime_pow::{CancelToken, Progress, Scheme, SolveError};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::envelope::classify;
use crate::error::CODE_INVALID_POW;
use crate::fields::Fields;
use crate::io::{Output, build_request};
use crate::pow::{PowOutcome, PowTask};
use crate::profile::{PROFILE_PATH, now_seed};
use crate::retry::{approve_not_processed, retry_after};
use crate::step::{Phase, Stepper, later, transport_to_error};
use crate::{
    AgentProfile, ApprovalResult, Config, Error, HttpResponse, PowSchemeChoice, RequestStatus,
    TransportError, validate_request_id,
};

/// The step a login is in; each has its own attempt budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `GET /auth/requests/{id}` for the challenge.
    Read,
    /// `POST …/approve` with the nonce.
    Approve,
    /// `GET /core/agents/me/profile`, to learn this agent's id for reconciling.
    AgentId,
    /// `GET /auth/requests/{id}` after an ambiguous approve.
    Reconcile,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Read => "read request",
            Step::Approve => "approve",
            Step::AgentId => "read agent id",
            Step::Reconcile => "reconcile",
        }
    }
}

/// Confirms one login request as a state machine that performs no I/O.
///
/// Drive it: call [`poll_output`](Self::poll_output), do what it says, feed
/// the outcome back with a `handle_*` method, repeat until
/// [`Output::Done`]. Time is always passed in.
///
/// ```
/// use std::time::Instant;
/// use lime_core::{Config, Login, Output};
/// let config = Config::builder().token("at_example").base_url("http://127.0.0.1:1/api/v1").build()?;
/// # #[allow(clippy::disallowed_methods)]
/// let mut login = Login::new(&config, "lr_abc123", Instant::now())?;
/// let Output::Send(transmit) = login.poll_output() else { unreachable!() };
/// assert_eq!(transmit.request.uri(), "http://127.0.0.1:1/api/v1/auth/requests/lr_abc123");
/// assert!(transmit.request.headers().get("x-agent-token").is_none()); // public read
/// # Ok::<(), lime_core::Error>(())
/// ```
pub struct Login {
    config: Config,
    request_id: String,
    stepper: Stepper<ApprovalResult>,
    step: Step,
    now: Instant,
    /// Approve attempts for the current scheme, kept across reconciliations.
    approve_attempts: u32,
    challenge: Option<Zeroizing<String>>,
    difficulty: i64,
    scheme: Scheme,
    /// `auto` without `pow_scheme`: one `legacy` retry on `INVALID_POW`.
    fallback_available: bool,
    nonce: Option<Zeroizing<String>>,
    agent_id: Option<String>,
    /// The error of an approve that may have been processed.
    ambiguous: Option<Error>,
    cancel: CancelToken,
    /// What the solves of this login cost.
    pow: PowStats,
    /// Counts hashes as solves run, for progress displays.
    progress: Progress,
}

/// `{"pow_nonce":"…"}` written straight into the one buffer the driver
/// sends: no intermediate JSON value or string keeps a copy of the nonce.
/// The nonce is a `lime_pow::Nonce`, a canonical decimal: nothing in it
/// needs JSON escaping.
fn approve_body(nonce: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(nonce.len() + 16);
    body.extend_from_slice(b"{\"pow_nonce\":\"");
    body.extend_from_slice(nonce.as_bytes());
    body.extend_from_slice(b"\"}");
    body
}

/// A pending request's proof of work, as read and validated.
struct Challenge {
    challenge: Zeroizing<String>,
    difficulty: i64,
    scheme: Scheme,
    /// `auto` without `pow_scheme`: one `legacy` retry on `INVALID_POW`.
    fallback: bool,
}

/// What the proofs of work of one login cost, for reports and progress UIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PowStats {
    /// Solves run (more than one after a scheme fallback or a new challenge).
    pub solves: u32,
    /// The last difficulty solved.
    pub difficulty: i64,
    /// The last scheme solved.
    pub scheme: Option<Scheme>,
    /// Hashes tried over every solve.
    pub hashes: u64,
    /// Time spent solving, over every solve.
    pub elapsed: std::time::Duration,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the challenge, the nonce or the token.
        f.debug_struct("Login")
            .field("request_id", &self.request_id)
            .field("step", &self.step)
            .field("scheme", &self.scheme)
            .field("difficulty", &self.difficulty)
            .field("approve_attempts", &self.approve_attempts)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// A login for `request_id`, starting at `now`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the id is not 1–256 unreserved
    /// characters: no request is ever sent for it.
    pub fn new(config: &Config, request_id: &str, now: Instant) -> Result<Self, Error> {
        let request_id = validate_request_id(request_id)?.to_owned();
        // A deadline past what `Instant` can hold is no deadline at all.
        let deadline = config.deadline().and_then(|d| now.checked_add(d));
        Ok(Login {
            stepper: Stepper::new(
                config.max_retries(),
                config.timeout(),
                deadline,
                now_seed(now),
            ),
            config: config.clone(),
            request_id,
            step: Step::Read,
            now,
            approve_attempts: 0,
            challenge: None,
            difficulty: 0,
            scheme: Scheme::V1,
            fallback_available: false,
            nonce: None,
            agent_id: None,
            ambiguous: None,
            cancel: CancelToken::new(),
            pow: PowStats::default(),
            progress: Progress::new(),
        })
    }

    /// Seeds the backoff jitter (pass randomness to spread clients apart).
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.stepper.reseed(seed);
        self
    }

    /// Counts this login's hashes into `progress` as its solves run (a
    /// spinner or an ETA can read it from another thread or task).
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Stops this login's solves when `cancel` is tripped (from another
    /// thread or task); the login then ends with [`Error::Cancelled`].
    pub fn with_cancel_token(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// This agent's id when already known (from an earlier profile read), so
    /// reconciling an ambiguous approve needs no extra request.
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// The agent id learned during this login, to keep for the next ones.
    pub fn agent_id(&self) -> Option<&str> {
        self.agent_id.as_deref()
    }

    /// What this login's proofs of work cost so far.
    pub fn pow_stats(&self) -> PowStats {
        self.pow
    }

    /// The validated request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// A token that cancels this login's solves (tripped by drivers when the
    /// caller gives up, e.g. a dropped future).
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// What to do next.
    pub fn poll_output(&mut self) -> Output<ApprovalResult> {
        let (config, id, step, nonce) = (
            &self.config,
            &self.request_id,
            self.step,
            self.nonce.as_deref(),
        );
        self.stepper.poll(self.now, || {
            let read = format!("/auth/requests/{id}");
            match step {
                Step::Read | Step::Reconcile => {
                    build_request(config, Method::GET, &read, false, None)
                }
                Step::AgentId => build_request(config, Method::GET, PROFILE_PATH, true, None),
                Step::Approve => build_request(
                    config,
                    Method::POST,
                    &format!("/modules/agent-login/requests/{id}/approve"),
                    true,
                    Some(approve_body(nonce.map(String::as_str).unwrap_or_default())),
                ),
            }
        })
    }

    /// Feeds the response to the request last sent.
    pub fn handle_response(&mut self, response: HttpResponse, now: Instant) {
        self.now = now;
        if !self.stepper.take_response_slot() {
            return;
        }
        let status = response.status().as_u16();
        let outcome = classify(&response, self.config.max_body_bytes());
        let wait = retry_after(&response);
        match (self.step, outcome) {
            (Step::Read, Ok(data)) => self.on_challenge(&Fields {
                object: &data,
                status,
            }),
            (Step::Reconcile, Ok(data)) => self.on_reconcile_read(&data, status),
            (Step::AgentId, Ok(data)) => match AgentProfile::from_fields(&Fields {
                object: &data,
                status,
            }) {
                Ok(profile) => {
                    self.agent_id = Some(profile.agent_id);
                    self.enter(Step::Reconcile);
                }
                Err(_) => self.give_up_ambiguous(),
            },
            (Step::Approve, Ok(data)) => {
                match ApprovalResult::from_fields(&Fields {
                    object: &data,
                    status,
                }) {
                    Ok(result) => self.stepper.finish(Ok(result)),
                    // The approve went through but its answer is unreadable:
                    // read the request to learn the outcome, never re-send blindly.
                    Err(e) => self.on_ambiguous(e, now),
                }
            }
            (Step::Approve, Err(e)) => self.on_approve_error(e, status, wait, now),
            (step @ (Step::Read | Step::AgentId | Step::Reconcile), Err(e)) => {
                let give_up = self.give_up_error(step, &e);
                if e.is_retryable() {
                    self.stepper.retry_or(e, wait, now, step.name(), give_up);
                } else {
                    self.stepper.finish(Err(give_up));
                }
            }
        }
    }

    /// Feeds a transport failure of the request last sent.
    pub fn handle_transport_error(&mut self, error: TransportError, now: Instant) {
        self.now = now;
        if !self.stepper.take_response_slot() {
            return;
        }
        let ambiguous = self.step == Step::Approve && error.may_have_been_processed();
        let error = transport_to_error(error);
        if ambiguous {
            // The approve may have gone through: find out before anything else.
            self.on_ambiguous(error, now);
        } else if !error.is_retryable() {
            let give_up = self.give_up_error(self.step, &error);
            self.stepper.finish(Err(give_up));
        } else {
            let give_up = self.give_up_error(self.step, &error);
            let step = self.step.name();
            self.stepper.retry_or(error, None, now, step, give_up);
        }
    }

    /// Feeds the outcome of the last [`Output::Solve`].
    pub fn handle_solution(&mut self, outcome: PowOutcome, now: Instant) {
        self.now = now;
        if !self.stepper.take_solution_slot() {
            return;
        }
        self.pow.solves += 1;
        self.pow.difficulty = self.difficulty;
        self.pow.scheme = Some(self.scheme);
        match &outcome {
            Ok(s) => {
                self.pow.hashes += s.hashes;
                self.pow.elapsed += s.elapsed;
            }
            Err(SolveError::Timeout { hashes, elapsed }) => {
                self.pow.hashes += hashes;
                self.pow.elapsed += *elapsed;
            }
            Err(SolveError::Cancelled { hashes } | SolveError::WorkerPanicked { hashes }) => {
                self.pow.hashes += hashes;
            }
            Err(_) => {}
        }
        match outcome {
            Ok(solution) => {
                tracing::debug!(target: "lime", hashes = solution.hashes, elapsed_ms = solution.elapsed.as_millis() as u64, "proof of work solved");
                self.nonce = Some(Zeroizing::new(solution.nonce.as_str().to_owned()));
                self.step = Step::Approve;
                self.stepper.phase = Phase::Ready;
                self.stepper.attempts = self.approve_attempts;
            }
            Err(SolveError::Timeout { hashes, .. }) => {
                self.stepper.finish(Err(Error::PowTimeout {
                    difficulty: self.difficulty.clamp(0, 256) as u16,
                    hashes,
                }))
            }
            Err(SolveError::Cancelled { .. }) => self.stepper.finish(Err(Error::Cancelled)),
            Err(e @ SolveError::WorkerPanicked { .. }) => {
                self.stepper.finish(Err(Error::Internal {
                    reason: e.to_string(),
                }))
            }
            Err(e) => self
                .stepper
                .finish(Err(Error::invalid_response(None, e.to_string()))),
        }
    }

    /// Ends a wait; call at or after the instant [`Output::Wait`] named.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.stepper.handle_timeout(now);
    }

    /// Moves to `step` with a fresh budget (approve keeps its own count).
    fn enter(&mut self, step: Step) {
        self.step = step;
        self.stepper.next_step();
        if step == Step::Approve {
            self.stepper.attempts = self.approve_attempts;
        }
    }

    /// What to return when a step fails for good: after an ambiguous approve,
    /// the approve's own error (its outcome stays unknown).
    fn give_up_error(&self, step: Step, error: &Error) -> Error {
        match (step, &self.ambiguous) {
            (Step::AgentId | Step::Reconcile, Some(ambiguous)) => ambiguous.clone(),
            _ => error.clone(),
        }
    }

    fn give_up_ambiguous(&mut self) {
        let error = self
            .ambiguous
            .clone()
            .unwrap_or_else(|| Error::invalid_response(None, "approve outcome unknown"));
        self.stepper.finish(Err(error));
    }

    /// The challenge read: check the request is pending, pick the scheme, solve.
    fn on_challenge(&mut self, f: &Fields<'_>) {
        let status = match f.opt_string("status") {
            Ok(status) => status.map(|s| RequestStatus::from_wire(&s)),
            Err(e) => return self.stepper.finish(Err(e)),
        };
        match status {
            Some(RequestStatus::Expired) => {
                return self.stepper.finish(Err(Error::Expired {
                    message: "the login request has expired".to_owned(),
                    http_status: None,
                }));
            }
            Some(s) if s.is_approved() => {
                return self.stepper.finish(Err(Error::conflict(
                    "the login request was already approved",
                    None,
                )));
            }
            _ => {}
        }
        match self.read_challenge(f) {
            Ok(challenge) => self.solve(challenge),
            Err(e) => self.stepper.finish(Err(e)),
        }
    }

    /// The proof-of-work fields of a pending request, validated the same way
    /// on the first read and on a reconciliation read: challenge, difficulty
    /// (an integer, at most 256), and the scheme to solve.
    fn read_challenge(&self, f: &Fields<'_>) -> Result<Challenge, Error> {
        let challenge = f.string("pow_challenge")?;
        let difficulty = f.integer("pow_difficulty")?;
        let server_scheme = f.opt_string("pow_scheme")?;
        if difficulty > i64::from(lime_pow::MAX_DIFFICULTY) {
            return Err(Error::invalid_response(
                Some(f.status),
                format!("field `pow_difficulty`: {difficulty} is over the maximum of 256"),
            ));
        }
        let (scheme, fallback) = match self.config.pow_scheme() {
            PowSchemeChoice::Legacy => (Scheme::Legacy, false),
            PowSchemeChoice::V1 => (Scheme::V1, false),
            PowSchemeChoice::Auto => match server_scheme.as_deref() {
                None => (Scheme::V1, true),
                Some(name) => match name.parse::<Scheme>() {
                    Ok(scheme) => (scheme, false),
                    Err(_) => {
                        return Err(Error::invalid_response(
                            Some(f.status),
                            "field `pow_scheme`: not a scheme this SDK knows (legacy, v1)",
                        ));
                    }
                },
            },
        };
        Ok(Challenge {
            challenge: Zeroizing::new(challenge),
            difficulty,
            scheme,
            fallback,
        })
    }

    /// Adopts a challenge and starts solving it.
    fn solve(&mut self, challenge: Challenge) {
        self.scheme = challenge.scheme;
        self.fallback_available = challenge.fallback;
        self.difficulty = challenge.difficulty;
        self.challenge = Some(challenge.challenge);
        self.start_solve();
    }

    fn start_solve(&mut self) {
        let mut deadline = later(self.now, self.config.pow_timeout());
        if let Some(d) = self.stepper.deadline {
            deadline = deadline.min(d);
        }
        let task = PowTask {
            scheme: self.scheme,
            challenge: self.challenge.clone().unwrap_or_default(),
            difficulty: self.difficulty,
            deadline,
            threads: self.config.pow_threads(),
            cancel: self.cancel.clone(),
            progress: self.progress.clone(),
        };
        tracing::debug!(target: "lime", scheme = %self.scheme, difficulty = self.difficulty, "solving proof of work");
        self.stepper.phase = Phase::Solve(Box::new(task));
    }

    fn on_approve_error(
        &mut self,
        error: Error,
        status: u16,
        wait: Option<std::time::Duration>,
        now: Instant,
    ) {
        self.approve_attempts = self.stepper.attempts;
        if error.code() == Some(CODE_INVALID_POW) && self.fallback_available {
            tracing::warn!(target: "lime", "the server refused the v1 proof of work; solving the legacy scheme once");
            self.fallback_available = false;
            self.scheme = Scheme::Legacy;
            self.approve_attempts = 0;
            self.ambiguous = None;
            return self.start_solve();
        }
        if status == 409 && self.ambiguous.is_some() {
            // A re-sent approve meets an approval: maybe our own earlier one.
            return self.reconcile();
        }
        if approve_not_processed(status) {
            return self
                .stepper
                .retry_or(error.clone(), wait, now, "approve", error);
        }
        if matches!(status, 200..=299 | 500 | 502 | 504) {
            // A 2xx whose body is not a valid envelope: processed, answer lost.
            return self.on_ambiguous(error, now);
        }
        self.stepper.finish(Err(error));
    }

    /// The approve may have gone through: back off, then read the request
    /// before sending anything again.
    fn on_ambiguous(&mut self, error: Error, now: Instant) {
        self.approve_attempts = self.stepper.attempts;
        self.ambiguous = Some(error.clone());
        let wait = self.stepper.backoff();
        self.stepper
            .wait_then(error.clone(), wait, now, "approve", error);
        if matches!(self.stepper.phase, Phase::Waiting(_)) {
            self.step = if self.agent_id.is_some() {
                Step::Reconcile
            } else {
                Step::AgentId
            };
            self.stepper.attempts = 0;
        }
    }

    fn reconcile(&mut self) {
        self.enter(if self.agent_id.is_some() {
            Step::Reconcile
        } else {
            Step::AgentId
        });
    }

    /// The read after an ambiguous approve decides: approve again, success,
    /// or conflict.
    fn on_reconcile_read(&mut self, data: &Map<String, Value>, status: u16) {
        let f = Fields {
            object: data,
            status,
        };
        let Ok(Some(state)) = f
            .opt_string("status")
            .map(|s| s.map(|s| RequestStatus::from_wire(&s)))
        else {
            return self.give_up_ambiguous();
        };
        match state {
            RequestStatus::Pending => {
                if self.approve_attempts > self.config.max_retries() {
                    return self.give_up_ambiguous();
                }
                let challenge = match self.read_challenge(&f) {
                    Ok(challenge) => challenge,
                    Err(e) => return self.stepper.finish(Err(e)),
                };
                let same = self.challenge.as_deref().map(String::as_str)
                    == Some(challenge.challenge.as_str())
                    && self.difficulty == challenge.difficulty
                    // No scheme named: the scheme this login settled on
                    // (after a legacy fallback, legacy) still stands.
                    && (challenge.fallback || self.scheme == challenge.scheme);
                if same {
                    // The nonce still fits: re-send the approve.
                    self.enter(Step::Approve);
                } else {
                    // A new challenge: the old nonce is worthless.
                    self.step = Step::Approve;
                    self.solve(challenge);
                }
            }
            s if s.is_approved() => {
                let approver = f.opt_string("approved_agent_id").ok().flatten();
                if approver.is_some() && approver == self.agent_id {
                    match ApprovalResult::from_fields(&f) {
                        Ok(result) => self.stepper.finish(Ok(result)),
                        Err(_) => self.give_up_ambiguous(),
                    }
                } else {
                    self.stepper.finish(Err(Error::conflict(
                        "another agent approved the login request",
                        None,
                    )));
                }
            }
            RequestStatus::Expired => self.stepper.finish(Err(Error::Expired {
                message: "the login request has expired".to_owned(),
                http_status: None,
            })),
            _ => self.give_up_ambiguous(),
        }
    }
}
