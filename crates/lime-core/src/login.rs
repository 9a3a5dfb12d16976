//! The login flow: read the challenge, solve it, approve, and reconcile when
//! an approve's outcome is unknown.

use std::time::Instant;

use http::Method;
use lime_pow::{CancelToken, Nonce, Progress, Scheme, SolveError};
use zeroize::Zeroizing;

use crate::envelope::classify;
use crate::error::CODE_INVALID_POW;
use crate::fields::Fields;
use crate::io::{Output, build_request};
use crate::known::KnownAgentId;
use crate::one_request::PROFILE_PATH;
use crate::pow::{PowOutcome, PowStats, PowTask};
use crate::retry::now_seed;
use crate::retry::{not_processed, retry_after};
use crate::step::Budget;
use crate::step::{Stepper, later};
use crate::{
    AgentProfile, ApprovalResult, Config, Error, HttpResponse, PowSchemeChoice, RequestStatus,
    TransportError, validate_request_id,
};

/// Where a login stands in the protocol. `Login` owns the one value of it,
/// and only this module's transitions change it; each variant carries the
/// data that stage needs and nothing else.
enum State {
    /// Reading the request for its challenge.
    Reading,
    /// Solving `puzzle` (handed to the driver, or running).
    Solving {
        puzzle: Puzzle,
        /// An earlier approve of this login that may have gone through.
        ambiguous: Option<Error>,
    },
    /// Sending the approve.
    Approving(Solved),
    /// The first read found the request approved: learning this agent's id
    /// (once) to tell a login it already confirmed (success, so running it
    /// again is safe) from another agent's (a conflict).
    IdentifyingApprover {
        /// The approval as the read shows it (its approver named).
        result: ApprovalResult,
    },
    /// An approve may have gone through: learning this agent's id (once),
    /// to tell its own approval from another agent's.
    LearningAgentId(Unsettled),
    /// An approve may have gone through: reading the request to settle it.
    Reconciling(Unsettled),
    /// Over: the result is the stepper's.
    Done,
}

impl State {
    /// The name logs and `Debug` use.
    fn name(&self) -> &'static str {
        match self {
            State::Reading => "read request",
            State::IdentifyingApprover { .. } => "read agent id",
            State::Solving { .. } => "solve",
            State::Approving { .. } => "approve",
            State::LearningAgentId(_) => "read agent id",
            State::Reconciling(_) => "reconcile",
            State::Done => "done",
        }
    }
}

/// A solved puzzle: what an approve sends. (The approve's attempts are
/// the stepper's, across the reads that interrupt it.)
struct Solved {
    puzzle: Puzzle,
    nonce: Zeroizing<String>,
    /// An earlier approve of this login that may have gone through.
    ambiguous: Option<Error>,
}

/// An approve whose outcome is unknown, and what sending it again needs.
struct Unsettled {
    puzzle: Puzzle,
    nonce: Zeroizing<String>,
    /// The approve's error, returned if the outcome stays unknown.
    ambiguous: Error,
}

impl Unsettled {
    fn new(solved: Solved, ambiguous: Error) -> Self {
        Unsettled {
            puzzle: solved.puzzle,
            nonce: solved.nonce,
            ambiguous,
        }
    }
}

/// A pending request's proof of work, as read and validated.
struct Puzzle {
    challenge: Zeroizing<String>,
    difficulty: i64,
    scheme: Scheme,
    /// `auto` without `pow_scheme`: one `legacy` retry on `INVALID_POW`.
    fallback: bool,
}

/// Confirms one login request as a state machine that performs no I/O.
///
/// Drive it: call [`poll_output`](Self::poll_output), do what it says, feed
/// the outcome back with a `handle_*` method, repeat until
/// [`Output::Done`]. Time is always passed in.
///
/// # The calling contract
///
/// - **Set-up** (before the first poll): [`new`](Self::new), then any of
///   [`with_jitter_seed`](Self::with_jitter_seed),
///   [`with_progress`](Self::with_progress),
///   [`with_cancel_token`](Self::with_cancel_token),
///   [`with_agent_id`](Self::with_agent_id).
/// - **Output**: [`poll_output`](Self::poll_output) hands out one thing to
///   do. `Send` is answered by exactly one of
///   [`handle_response`](Self::handle_response) or
///   [`handle_transport_error`](Self::handle_transport_error); `Solve` by
///   [`handle_solution`](Self::handle_solution); `Wait(t)` by
///   [`handle_timeout`](Self::handle_timeout) at or after `t`. `Done` is
///   final and repeats on every later poll.
/// - **Misuse never panics**: polling again before answering returns
///   `Done` with an [`Error::InvalidInput`] naming the driver, and sends
///   nothing a second time; an answer nothing
///   waits for (a response while solving, a second response) is ignored and
///   logged; `handle_timeout` before the instant keeps waiting.
/// - **Time**: every `now` comes from one monotonic clock (`Instant`) and
///   never goes back; deadlines, backoff and `Retry-After` are measured
///   against it.
/// - **Queries** (any time): [`agent_id`](Self::agent_id),
///   [`pow_stats`](Self::pow_stats), [`request_id`](Self::request_id),
///   [`cancel_token`](Self::cancel_token).
///
/// The protocol state is one value (read → solve → approve, and
/// learn-agent-id → reconcile after an approve whose outcome is unknown),
/// changed only by this type's transitions; see `docs/protocol.md`.
///
/// ```
/// use std::time::Instant;
/// use lime_core::{Config, Login, drive::Output};
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
    /// The protocol state.
    state: State,
    /// The current step's attempts, waits and the deadline.
    stepper: Stepper<ApprovalResult>,
    now: Instant,
    /// This agent's id, known in advance or learned while reconciling;
    /// shared with the agent that started the login, so what it learns is
    /// kept however the driver ends it.
    known: KnownAgentId,
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

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the challenge, the nonce or the token.
        let puzzle = match &self.state {
            State::Solving { puzzle, .. } | State::Approving(Solved { puzzle, .. }) => Some(puzzle),
            State::LearningAgentId(u) | State::Reconciling(u) => Some(&u.puzzle),
            State::Reading | State::IdentifyingApprover { .. } | State::Done => None,
        };
        f.debug_struct("Login")
            .field("request_id", &self.request_id)
            .field("state", &self.state.name())
            .field("scheme", &puzzle.map(|p| p.scheme))
            .field("difficulty", &puzzle.map(|p| p.difficulty))
            .field("agent_id", &self.known.get())
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
            state: State::Reading,
            now,
            known: KnownAgentId::default(),
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
    pub fn with_agent_id(self, agent_id: impl Into<String>) -> Self {
        self.known.learn(&agent_id.into());
        self
    }

    /// Shares `known` with the agent that starts this login.
    pub(crate) fn sharing(mut self, known: KnownAgentId) -> Self {
        self.known = known;
        self
    }

    /// This agent's id, known in advance or learned during this login.
    pub fn agent_id(&self) -> Option<String> {
        self.known.get()
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
        tracing::trace!(target: "lime", state = self.state.name(), "login step");
        let (config, id) = (&self.config, &self.request_id);
        let state = &self.state;
        self.stepper.poll(self.now, || {
            let read = format!("/auth/requests/{id}");
            match state {
                State::LearningAgentId(_) | State::IdentifyingApprover { .. } => {
                    build_request(config, Method::GET, PROFILE_PATH, true, None)
                }
                State::Approving(Solved { nonce, .. }) => build_request(
                    config,
                    Method::POST,
                    &format!("/modules/agent-login/requests/{id}/approve"),
                    true,
                    Some(approve_body(nonce)),
                ),
                // Reading, Reconciling (and never asked in the others).
                _ => build_request(config, Method::GET, &read, false, None),
            }
        })
    }

    /// Feeds the response to the request last sent.
    pub fn handle_response(&mut self, response: HttpResponse, now: Instant) {
        self.now = now;
        let status = response.status().as_u16();
        if !self.stepper.take_response_slot(now, Some(status)) {
            return;
        }
        let outcome = classify(&response, self.config.max_body_bytes());
        let wait = retry_after(&response);
        match outcome {
            Ok(data) => {
                let f = Fields {
                    object: &data,
                    status,
                };
                match std::mem::replace(&mut self.state, State::Done) {
                    State::Reading => self.on_challenge(&f),
                    State::Approving(solved) => match ApprovalResult::from_fields(&f) {
                        Ok(result) => self.stepper.finish(Ok(result)),
                        // It went through but its answer is unreadable: read
                        // the request to learn the outcome, never re-send blindly.
                        Err(e) => self.unsettle(solved, e, now),
                    },
                    State::LearningAgentId(unsettled) => match AgentProfile::from_fields(&f) {
                        Ok(profile) => {
                            self.known.learn(&profile.agent_id);
                            self.state = State::Reconciling(unsettled);
                            self.stepper.begin(Budget::Fresh);
                        }
                        Err(_) => self.stepper.finish(Err(unsettled.ambiguous)),
                    },
                    State::Reconciling(unsettled) => self.on_reconcile_read(&f, unsettled),
                    State::IdentifyingApprover { result } => match AgentProfile::from_fields(&f) {
                        Ok(profile) => {
                            self.known.learn(&profile.agent_id);
                            self.stepper
                                .finish(whose_approval(result, &profile.agent_id));
                        }
                        Err(e) => self.stepper.finish(Err(e)),
                    },
                    other @ (State::Solving { .. } | State::Done) => self.state = other,
                }
            }
            Err(e) => match std::mem::replace(&mut self.state, State::Done) {
                State::Approving(solved) => self.on_approve_error(solved, e, status, wait, now),
                other => {
                    self.state = other;
                    self.on_read_error(e, wait, now);
                }
            },
        }
    }

    /// Feeds a nonce found by a solver of your own (a GPU, a remote worker,
    /// WASM without threads) for the [`PowTask`] last handed out, instead of
    /// [`handle_solution`](Self::handle_solution): read the task's
    /// [`challenge`](PowTask::challenge), [`difficulty`](PowTask::difficulty)
    /// and [`scheme`](PowTask::scheme), drop it, and hand back the nonce.
    ///
    /// The nonce must be a canonical decimal (digits, no leading zeros, at
    /// most `u64::MAX`) that meets the difficulty; the login checks it before
    /// sending and otherwise ends with [`Error::InvalidInput`] (`nonce`),
    /// having sent nothing.
    pub fn handle_nonce(&mut self, nonce: &str, now: Instant) {
        let outcome = match parse_nonce(nonce) {
            Some(nonce) => Ok(lime_pow::Solution {
                nonce,
                hashes: 0,
                elapsed: std::time::Duration::ZERO,
                threads: 0,
            }),
            None => {
                self.now = now;
                if self.stepper.take_solution_slot() {
                    self.state = State::Done;
                    self.stepper.finish(Err(Error::InvalidInput {
                        hint: None,
                        argument: "nonce",
                        reason: "a nonce is a canonical decimal: digits only, no leading \
                                 zeros, at most 20 digits (u64)"
                            .to_owned(),
                    }));
                }
                return;
            }
        };
        self.handle_solution(outcome, now);
    }

    /// This login's result with its PoW cost, as the adapters return it
    /// from `login_with_stats`: pass what [`Output::Done`] carried.
    ///
    /// # Errors
    /// [`LoginFailure`](crate::LoginFailure) carrying `result`'s error.
    pub fn report(
        &self,
        result: Result<ApprovalResult, Error>,
    ) -> Result<crate::LoginReport, crate::LoginFailure> {
        crate::report::LoginReport::of(result, self.pow_stats())
    }

    /// Feeds a transport failure of the request last sent.
    pub fn handle_transport_error(&mut self, error: TransportError, now: Instant) {
        self.now = now;
        if !self.stepper.take_response_slot(now, None) {
            return;
        }
        let maybe_processed = error.may_have_been_processed();
        let error = self.stepper.transport_error(error);
        match std::mem::replace(&mut self.state, State::Done) {
            // The approve may have gone through: find out before anything else.
            State::Approving(solved) if maybe_processed => self.unsettle(solved, error, now),
            State::Approving(solved) => {
                // Never sent: retried like any step, on the approve's budget.
                self.state = State::Approving(solved);
                if error.is_retryable() {
                    self.retry_or(error.clone(), None, now, error);
                } else {
                    self.stepper.finish(Err(error));
                }
            }
            other => {
                self.state = other;
                self.on_read_error(error, None, now);
            }
        }
    }

    /// Feeds the outcome of the last [`Output::Solve`].
    pub fn handle_solution(&mut self, outcome: PowOutcome, now: Instant) {
        self.now = now;
        if !self.stepper.take_solution_slot() {
            return;
        }
        let State::Solving { puzzle, ambiguous } = std::mem::replace(&mut self.state, State::Done)
        else {
            // A solution slot is only ever taken while solving.
            return self.stepper.finish(Err(Error::Internal {
                reason: "a solution arrived outside the solving state".to_owned(),
            }));
        };
        self.count_solve(&puzzle, &outcome);
        match outcome {
            // Whoever solved it (lime-pow, a GPU, a remote worker), the core
            // checks the nonce before it is sent: one hash.
            Ok(solution)
                if !lime_pow::verify(
                    puzzle.scheme,
                    &puzzle.challenge,
                    solution.nonce.as_str(),
                    puzzle.difficulty,
                ) =>
            {
                self.stepper.finish(Err(Error::InvalidInput {
                    hint: None,
                    argument: "nonce",
                    reason: format!(
                        "the nonce does not meet difficulty {} under the {} scheme; \
                         nothing was sent",
                        puzzle.difficulty, puzzle.scheme
                    ),
                }))
            }
            Ok(solution) => {
                tracing::debug!(target: "lime", hashes = solution.hashes, elapsed_ms = solution.elapsed.as_millis() as u64, "proof of work solved");
                self.stepper.begin(Budget::Approve);
                self.state = State::Approving(Solved {
                    puzzle,
                    nonce: Zeroizing::new(solution.nonce.as_str().to_owned()),
                    ambiguous,
                });
            }
            Err(SolveError::Timeout { hashes, .. }) => {
                self.stepper.finish(Err(Error::PowTimeout {
                    difficulty: puzzle.difficulty.clamp(0, 256) as u16,
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

    /// What the solve cost, whatever its outcome.
    fn count_solve(&mut self, puzzle: &Puzzle, outcome: &PowOutcome) {
        self.pow.solves += 1;
        self.pow.difficulty = puzzle.difficulty;
        self.pow.scheme = Some(puzzle.scheme);
        match outcome {
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
    }

    /// A read (the first, the agent id, a reconciliation) failed: retried
    /// when it may succeed, else the login ends. After an unsettled approve
    /// the error returned is the approve's own (its outcome stays unknown).
    fn on_read_error(&mut self, error: Error, wait: Option<std::time::Duration>, now: Instant) {
        let give_up = match &self.state {
            State::LearningAgentId(u) | State::Reconciling(u) => u.ambiguous.clone(),
            _ => error.clone(),
        };
        if error.is_retryable() {
            self.retry_or(error, wait, now, give_up);
        } else {
            self.stepper.finish(Err(give_up));
        }
    }

    /// The stepper's retry, named after the current state.
    fn retry_or(
        &mut self,
        error: Error,
        wait: Option<std::time::Duration>,
        now: Instant,
        give_up: Error,
    ) {
        let step = self.state.name();
        self.stepper.retry_or(error, wait, now, step, give_up);
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
            Some(s) if s.is_approved() => return self.on_already_approved(f),
            _ => {}
        }
        match self.read_challenge(f) {
            Ok(puzzle) => self.solve(puzzle, None),
            Err(e) => self.stepper.finish(Err(e)),
        }
    }

    /// The first read found the request approved: this agent's own approval
    /// is success from the read (running a login again is safe); another
    /// agent's is a conflict naming it. Without this agent's id yet, the
    /// profile is read first.
    fn on_already_approved(&mut self, f: &Fields<'_>) {
        let result = match ApprovalResult::from_fields(f) {
            Ok(result) => result,
            Err(e) => return self.stepper.finish(Err(e)),
        };
        match self.known.get() {
            Some(me) => {
                let verdict = whose_approval(result, &me);
                self.stepper.finish(verdict);
            }
            // Nobody named: a conflict whoever this agent is.
            None if result.approved_agent_id.is_none() => {
                self.stepper.finish(whose_approval(result, ""));
            }
            None => {
                self.state = State::IdentifyingApprover { result };
                self.stepper.begin(Budget::Fresh);
            }
        }
    }

    /// The proof-of-work fields of a pending request, validated the same way
    /// on the first read and on a reconciliation read: challenge, difficulty
    /// (an integer, at most 256), and the scheme to solve.
    fn read_challenge(&self, f: &Fields<'_>) -> Result<Puzzle, Error> {
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
        Ok(Puzzle {
            challenge: Zeroizing::new(challenge),
            difficulty,
            scheme,
            fallback,
        })
    }

    /// Hands out a solve of `puzzle`; its approve carries `ambiguous` on.
    fn solve(&mut self, puzzle: Puzzle, ambiguous: Option<Error>) {
        let mut deadline = later(self.now, self.config.pow_timeout());
        if let Some(d) = self.stepper.deadline() {
            deadline = deadline.min(d);
        }
        let task = PowTask {
            scheme: puzzle.scheme,
            challenge: puzzle.challenge.clone(),
            difficulty: puzzle.difficulty,
            deadline,
            threads: self.config.pow_threads(),
            cancel: self.cancel.clone(),
            progress: self.progress.clone(),
        };
        tracing::debug!(target: "lime", scheme = %puzzle.scheme, difficulty = puzzle.difficulty, "solving proof of work");
        self.stepper.hand_out(task);
        self.state = State::Solving { puzzle, ambiguous };
    }

    fn on_approve_error(
        &mut self,
        mut solved: Solved,
        error: Error,
        status: u16,
        wait: Option<std::time::Duration>,
        now: Instant,
    ) {
        if error.code() == Some(CODE_INVALID_POW) && solved.puzzle.fallback {
            tracing::warn!(target: "lime", "the server refused the v1 proof of work; solving the legacy scheme once");
            let mut puzzle = solved.puzzle;
            puzzle.fallback = false;
            puzzle.scheme = Scheme::Legacy;
            self.stepper.fresh_approve_budget();
            return self.solve(puzzle, None);
        }
        if status == 409
            && let Some(ambiguous) = solved.ambiguous.take()
        {
            // A re-sent approve meets an approval: maybe our own earlier one.
            self.state = self.settling(Unsettled::new(solved, ambiguous));
            return self.stepper.begin(Budget::Fresh);
        }
        if not_processed(status) {
            self.state = State::Approving(solved);
            return self.retry_or(error.clone(), wait, now, error);
        }
        if matches!(status, 200..=299 | 500 | 502 | 504) {
            // Maybe processed (a 2xx with an unreadable body: processed,
            // the answer lost).
            return self.unsettle(solved, error, now);
        }
        self.stepper.finish(Err(error));
    }

    /// The approve may have gone through: back off, then read the request
    /// before sending anything again.
    fn unsettle(&mut self, solved: Solved, error: Error, now: Instant) {
        let unsettled = Unsettled::new(solved, error.clone());
        if self.stepper.back_off_then_next_step(error, now, "approve") {
            self.state = self.settling(unsettled);
        }
    }

    /// Where settling starts: learning the agent id first if it is not known.
    fn settling(&self, unsettled: Unsettled) -> State {
        if self.known.get().is_some() {
            State::Reconciling(unsettled)
        } else {
            State::LearningAgentId(unsettled)
        }
    }

    /// The read after an unsettled approve decides: approve again (solving
    /// again when the puzzle changed), success, or conflict.
    fn on_reconcile_read(&mut self, f: &Fields<'_>, unsettled: Unsettled) {
        let Ok(Some(state)) = f
            .opt_string("status")
            .map(|s| s.map(|s| RequestStatus::from_wire(&s)))
        else {
            return self.stepper.finish(Err(unsettled.ambiguous));
        };
        match state {
            RequestStatus::Pending => {
                if self.stepper.approve_attempts() > self.config.max_retries() {
                    return self.stepper.finish(Err(unsettled.ambiguous));
                }
                let puzzle = match self.read_challenge(f) {
                    Ok(puzzle) => puzzle,
                    Err(e) => return self.stepper.finish(Err(e)),
                };
                let old = &unsettled.puzzle;
                let same = old.challenge.as_str() == puzzle.challenge.as_str()
                    && old.difficulty == puzzle.difficulty
                    // No scheme named: the scheme this login settled on
                    // (after a legacy fallback, legacy) still stands.
                    && (puzzle.fallback || old.scheme == puzzle.scheme);
                let ambiguous = Some(unsettled.ambiguous);
                if same {
                    // The nonce still fits: re-send the approve.
                    self.stepper.begin(Budget::Approve);
                    self.state = State::Approving(Solved {
                        puzzle: unsettled.puzzle,
                        nonce: unsettled.nonce,
                        ambiguous,
                    });
                } else {
                    // A new puzzle: the old nonce is worthless, the
                    // approve's budget carries on.
                    self.solve(puzzle, ambiguous);
                }
            }
            // Settling always knows this agent's id (`settling` reads it first).
            s if s.is_approved() => {
                let verdict = ApprovalResult::from_fields(f).and_then(|result| {
                    whose_approval(result, &self.known.get().unwrap_or_default())
                });
                self.stepper.finish(verdict);
            }
            RequestStatus::Expired => self.stepper.finish(Err(Error::Expired {
                message: "the login request has expired".to_owned(),
                http_status: None,
            })),
            _ => self.stepper.finish(Err(unsettled.ambiguous)),
        }
    }
}

/// Whose approval a read shows, the one rule of both reads that can find a
/// request approved (the first read and the read that settles an unknown
/// approve): `me`'s is success; another agent's, or one that names nobody,
/// is a conflict naming who approved.
fn whose_approval(result: ApprovalResult, me: &str) -> Result<ApprovalResult, Error> {
    match result.approved_agent_id.as_deref() {
        Some(approver) if !approver.is_empty() && approver == me => {
            tracing::debug!(target: "lime", "the request was already approved by this agent");
            Ok(result)
        }
        Some(approver) => Err(Error::conflict(
            &format!("the login request was already approved by another agent ({approver})"),
            None,
        )),
        None => Err(Error::conflict(
            "the login request was already approved, and the answer does not say by whom",
            None,
        )),
    }
}

/// A canonical decimal nonce: `0`, or digits without a leading zero that fit in a `u64`.
fn parse_nonce(text: &str) -> Option<Nonce> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return None;
    }
    text.parse::<u64>().ok().map(Nonce::from_value)
}
