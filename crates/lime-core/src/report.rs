//! What `login_with_stats` returns: the outcome and what its proof of work
//! cost, as a `Result` so `?` works and a dropped error warns.

use std::fmt;

use crate::{ApprovalResult, Error, PowStats};

/// A confirmed login and what its proof of work cost.
///
/// ```
/// # fn use_it(report: lime_core::LoginReport) {
/// println!("approved for {} after {} hashes", report.approval.site_id, report.pow.hashes);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[must_use]
#[non_exhaustive]
pub struct LoginReport {
    /// What the approve returned.
    pub approval: ApprovalResult,
    /// What the proofs of work cost.
    pub pow: PowStats,
}

/// A failed login and what its proof of work cost before it failed. `?`
/// converts it into [`Error`]; its `Display` and `source` are the error's.
///
/// ```
/// fn caller(failure: lime_core::LoginFailure) -> Result<(), lime_core::Error> {
///     Err(failure)?
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoginFailure {
    /// Why the login failed (boxed, so a `Result` of it stays small).
    pub error: Box<Error>,
    /// What the proofs of work cost before it failed.
    pub pow: PowStats,
}

impl LoginReport {
    /// Pairs a login's result with its PoW cost.
    pub(crate) fn of(
        result: Result<ApprovalResult, Error>,
        pow: PowStats,
    ) -> Result<LoginReport, LoginFailure> {
        match result {
            Ok(approval) => Ok(LoginReport { approval, pow }),
            Err(error) => Err(LoginFailure {
                error: Box::new(error),
                pow,
            }),
        }
    }
}

impl LoginFailure {
    /// A login that failed before any proof of work (a malformed request id).
    pub fn before_pow(error: Error) -> Self {
        LoginFailure {
            error: Box::new(error),
            pow: PowStats::default(),
        }
    }
}

impl fmt::Display for LoginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for LoginFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

impl From<LoginFailure> for Error {
    fn from(failure: LoginFailure) -> Self {
        *failure.error
    }
}
