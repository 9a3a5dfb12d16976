#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
mod cores;
mod difficulty;
#[cfg(feature = "std")]
mod handles;
mod midstate;
mod nonce;
mod scheme;
mod search;
#[cfg(feature = "std")]
mod solve;
mod verify;
// The x86-64 kernels, the only modules allowed `unsafe`; every other
// module of this crate, and every other crate root, forbids it.
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(feature = "std")]
pub use cores::CoreLease;
pub use difficulty::{Difficulty, MAX_DIFFICULTY, Unsolvable};
#[cfg(feature = "std")]
pub use handles::{CancelOnDrop, CancelToken, Progress};
pub use nonce::Nonce;
pub use scheme::{Scheme, UnknownScheme};
pub use search::{KernelId, KernelTiming, ScanOutcome, Search, search_kernel, search_kernels};
#[cfg(feature = "std")]
pub use solve::{HEAD_START_MAX_DIFFICULTY, Solution, SolveError, Solver, solve};
pub use verify::{digest, leading_zero_bits, verify, verify_bytes};

/// Whether this crate was compiled without optimizations (`opt-level = 0`,
/// the default of a `cargo run` build for dependencies), where the search
/// runs about 150 times slower. The fix, in the application's `Cargo.toml`:
///
/// ```toml
/// [profile.dev.package.lime-pow]
/// opt-level = 3
/// [profile.dev.package.sha2]
/// opt-level = 3
/// ```
pub const BUILT_UNOPTIMIZED: bool = cfg!(lime_pow_unoptimized);

/// The fix for [`BUILT_UNOPTIMIZED`], in one line for messages.
pub const UNOPTIMIZED_FIX: &str = "lime-pow was built without optimizations (about 150 times \
    slower); add `[profile.dev.package.lime-pow] opt-level = 3` (and the same for `sha2`) to \
    your Cargo.toml";
