//! The x86-64 search kernels and the choice between them.
//!
//! Three kernels, each in its own module with its own `unsafe`:
//! [`shani`] (six candidates through the SHA extensions, in three
//! encodings), [`avx512`] (16 lanes in zmm registers) and [`avx2`] (8 lanes
//! in ymm registers); the last two share their search, [`lanes`], which is
//! safe code. Which one runs is measured, not assumed: at first use every
//! kernel the CPU has is checked against the portable path, then timed on a
//! short scan, and the fastest wins for the rest of the process. AVX-512
//! beats the SHA extensions on some CPUs and not on others, and on some
//! virtual machines the SHA extensions' VEX encodings run hundreds of times
//! slower than their legacy one.
//!
//! This module's only `unsafe` reads the time-stamp counter.
#![allow(unsafe_code)]

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod lanes;
pub(crate) mod shani;

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::{KernelId, ScanOutcome, Scheme, Search};

/// A kernel this CPU runs: holding one is the proof.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kernel {
    /// Six candidates through the SHA extensions.
    ShaNi(shani::Kernel),
    /// 16 lanes on AVX-512F.
    Avx512(avx512::Avx512),
    /// 8 lanes on AVX2.
    Avx2(avx2::Avx2),
}

/// Every kernel this crate has, in the order they are measured.
const CANDIDATES: usize = 5;
/// The index in [`Measured`] that holds the portable path.
const PORTABLE: usize = CANDIDATES;

/// Each candidate's cost in time-stamp ticks per hash (the portable path
/// last): 0 where the CPU lacks it, `u64::MAX` where its self-check failed.
pub(crate) type Measured = [u64; CANDIDATES + 1];

/// 0: not chosen yet; 1 + the candidate's index; `NONE`: the portable path.
static CHOSEN: AtomicU8 = AtomicU8::new(0);
const NONE: u8 = 0xff;
static MEASURED: [AtomicU64; CANDIDATES + 1] = [const { AtomicU64::new(0) }; CANDIDATES + 1];

/// A kernel this crate has: its name, and the kernel where this CPU runs it.
struct Candidate {
    name: &'static str,
    detect: fn() -> Option<Kernel>,
}

const AVX512_NAME: &str = "avx512/16-lane";
const AVX2_NAME: &str = "avx2/8-lane";

/// Every kernel this crate has, in the order they are measured: the one
/// table their indices (in [`Measured`], `CHOSEN` and [`KernelId`]) point into.
const TABLE: [Candidate; CANDIDATES] = {
    use shani::Encoding;
    [
        Candidate {
            name: Encoding::Sse.name(),
            detect: || shani::Kernel::new(Encoding::Sse).map(Kernel::ShaNi),
        },
        Candidate {
            name: Encoding::Avx2.name(),
            detect: || shani::Kernel::new(Encoding::Avx2).map(Kernel::ShaNi),
        },
        Candidate {
            name: Encoding::Avx512.name(),
            detect: || shani::Kernel::new(Encoding::Avx512).map(Kernel::ShaNi),
        },
        Candidate {
            name: AVX512_NAME,
            detect: || avx512::Avx512::detect().map(Kernel::Avx512),
        },
        Candidate {
            name: AVX2_NAME,
            detect: || avx2::Avx2::detect().map(Kernel::Avx2),
        },
    ]
};

impl Kernel {
    /// Candidate `index` of [`TABLE`], where this CPU runs it.
    pub(crate) fn candidate(index: usize) -> Option<Kernel> {
        TABLE.get(index).and_then(|candidate| (candidate.detect)())
    }

    /// The name of candidate `index`, whether or not this CPU runs it
    /// (`portable` past the table).
    fn candidate_name(index: usize) -> &'static str {
        TABLE
            .get(index)
            .map_or("portable", |candidate| candidate.name)
    }

    /// Every kernel this CPU runs.
    #[cfg(test)]
    pub(crate) fn each() -> impl Iterator<Item = Kernel> {
        (0..CANDIDATES).filter_map(Kernel::candidate)
    }

    /// The kernel's name in logs and benchmark tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kernel::ShaNi(kernel) => kernel.encoding().name(),
            Kernel::Avx512(_) => AVX512_NAME,
            Kernel::Avx2(_) => AVX2_NAME,
        }
    }

    /// The fastest kernel this CPU runs whose self-check passed, if one is
    /// faster than the portable path here (chosen once per process).
    pub(crate) fn detect() -> Option<Kernel> {
        let chosen = match CHOSEN.load(Ordering::Relaxed) {
            0 => {
                let (chosen, measured) = choose(self_check, ticks_per_hash);
                for (cell, ticks) in MEASURED.iter().zip(measured) {
                    cell.store(ticks, Ordering::Relaxed);
                }
                CHOSEN.store(chosen, Ordering::Relaxed);
                chosen
            }
            known => known,
        };
        Kernel::candidate(usize::from(chosen).wrapping_sub(1))
    }
}

/// What [`Kernel::detect`] measured: each path's id, name, ticks per hash
/// (0: not on this CPU, `u64::MAX`: failed its self-check) and whether it
/// was chosen.
pub(crate) fn measurements() -> impl Iterator<Item = (KernelId, &'static str, u64, bool)> {
    let chosen = Kernel::detect().map(Kernel::name).unwrap_or("portable");
    (0..=CANDIDATES).map(move |index| {
        let name = Kernel::candidate_name(index);
        let id = if index == PORTABLE {
            KernelId::PORTABLE
        } else {
            KernelId(index as u8)
        };
        (
            id,
            name,
            MEASURED[index].load(Ordering::Relaxed),
            name == chosen,
        )
    })
}

/// The kernel this CPU runs that passes `check` and hashes fastest by
/// `cost` (ticks per hash; `None` is the portable path), as `CHOSEN` holds
/// it (`NONE`: the portable path is as fast or faster), with every cost
/// measured, saying each at DEBUG.
fn choose(check: impl Fn(Kernel) -> bool, cost: impl Fn(Option<Kernel>) -> u64) -> (u8, Measured) {
    let mut measured = [0; CANDIDATES + 1];
    let portable = cost(None);
    measured[PORTABLE] = portable;
    let mut best = (NONE, portable);
    for (index, ticks) in measured.iter_mut().enumerate().take(CANDIDATES) {
        let Some(kernel) = Kernel::candidate(index) else {
            continue;
        };
        if !check(kernel) {
            *ticks = u64::MAX;
            #[cfg(feature = "tracing")]
            tracing::debug!(
                kernel = kernel.name(),
                "the kernel failed its self-check against the portable path; not using it"
            );
            continue;
        }
        *ticks = cost(Some(kernel));
        #[cfg(feature = "tracing")]
        tracing::debug!(
            kernel = kernel.name(),
            ticks_per_hash = *ticks,
            portable_ticks_per_hash = portable,
            "measured the proof-of-work kernel"
        );
        if *ticks < best.1 {
            best = (index as u8 + 1, *ticks);
        }
    }
    #[cfg(feature = "tracing")]
    tracing::debug!(
        kernel = Kernel::candidate_name(usize::from(best.0).wrapping_sub(1)),
        "proof-of-work search kernel chosen"
    );
    (best.0, measured)
}

/// Candidates per timed scan: enough to amortize a run's set-up.
const TIMED: u64 = 1_024;
/// Candidates of the first, probing scan: a kernel at 20,000 ticks per hash
/// (as the SHA extensions' VEX forms run on some VMs) is found out in about
/// a millisecond.
const PROBE: u64 = 64;

/// Time-stamp ticks per hash of `kernel` (or of the portable path), the
/// best of a probe and three scans that never find a nonce; a kernel far
/// slower than any sane one stops after the probe.
fn ticks_per_hash(kernel: Option<Kernel>) -> u64 {
    let Ok(search) = Search::new(Scheme::V1, b"lime-pow kernel timing", 256) else {
        return u64::MAX;
    };
    let mut from = search.fast_start_for(kernel);
    let mut best = u64::MAX;
    for count in [PROBE, TIMED, TIMED, TIMED] {
        // SAFETY: `_rdtsc` reads the time-stamp counter, present on every
        // x86-64 CPU; it touches no memory.
        let before = unsafe { core::arch::x86_64::_rdtsc() };
        let outcome = search.scan_with(from, count, kernel);
        // SAFETY: as above.
        let after = unsafe { core::arch::x86_64::_rdtsc() };
        let _ = core::hint::black_box(outcome);
        best = best.min(after.saturating_sub(before) / count);
        from += count;
        if best > 2_000 {
            break;
        }
    }
    best.max(1)
}

/// The kernel finds what the portable path finds, on shapes that put the
/// varying digits in one word and across two, from a run's start and from
/// inside one.
fn self_check(kernel: Kernel) -> bool {
    let challenge = [b'q'; 64];
    [(0, 3), (29, 1_000_000), (45, 0), (46, 0), (64, 0)]
        .iter()
        .all(|&(len, offset)| {
            let Ok(search) = Search::new(Scheme::V1, &challenge[..len], 5) else {
                return false;
            };
            let from = search.fast_start_for(Some(kernel)) + offset;
            let fast = search.scan_with(from, 700, Some(kernel));
            matches!(fast, ScanOutcome::Found { .. }) && fast == search.scan_with(from, 700, None)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captures what `choose` says at DEBUG.
    fn choose_logged(
        check: impl Fn(Kernel) -> bool,
        cost: impl Fn(Option<Kernel>) -> u64,
    ) -> (u8, Measured, std::string::String) {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<std::vec::Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let (chosen, measured) =
            tracing::subscriber::with_default(subscriber, || choose(check, cost));
        let log = captured.0.lock().unwrap().clone();
        (
            chosen,
            measured,
            std::string::String::from_utf8(log).unwrap(),
        )
    }

    /// This crate's CI machine has every kernel; a machine without them
    /// cannot check them and must say so, not pass quietly.
    fn every_kernel() -> std::vec::Vec<Kernel> {
        let kernels: std::vec::Vec<Kernel> = Kernel::each().collect();
        assert_eq!(
            kernels.len(),
            CANDIDATES,
            "this machine lacks the SHA extensions, AVX2 or AVX-512: {kernels:?}"
        );
        kernels
    }

    /// A made-up cost per kernel name; the portable path costs `portable`.
    fn costs(portable: u64, of: &'static [(&'static str, u64)]) -> impl Fn(Option<Kernel>) -> u64 {
        move |kernel| match kernel {
            None => portable,
            Some(kernel) => of
                .iter()
                .find(|(n, _)| *n == kernel.name())
                .map_or(1_000, |c| c.1),
        }
    }

    #[test]
    fn the_fastest_measured_kernel_wins_and_every_cost_is_kept() {
        every_kernel();
        let (chosen, measured, log) = choose_logged(
            |_| true,
            costs(
                300,
                &[
                    ("sha-ni/sse4.1", 40),
                    ("avx512/16-lane", 25),
                    ("avx2/8-lane", 90),
                ],
            ),
        );
        assert_eq!(
            Kernel::candidate_name(usize::from(chosen) - 1),
            "avx512/16-lane"
        );
        assert_eq!(measured, [40, 1_000, 1_000, 25, 90, 300]);
        assert!(log.contains("kernel=\"avx512/16-lane\""), "{log}");
        assert!(log.contains("ticks_per_hash=90"), "{log}");
        // The SHA extensions faster here: they win.
        let (chosen, _, _) = choose_logged(
            |_| true,
            costs(300, &[("sha-ni/sse4.1", 20), ("avx512/16-lane", 25)]),
        );
        assert_eq!(
            Kernel::candidate_name(usize::from(chosen) - 1),
            "sha-ni/sse4.1"
        );
        // The portable path faster than every kernel: no kernel at all.
        let (chosen, _, log) = choose_logged(|_| true, costs(10, &[]));
        assert_eq!(chosen, NONE, "{log}");
        assert!(log.contains("kernel=\"portable\""), "{log}");
    }

    #[test]
    fn a_failed_self_check_falls_back_and_says_so_at_debug() {
        every_kernel();
        let cost = costs(300, &[("avx512/16-lane", 10), ("avx2/8-lane", 20)]);
        let (chosen, measured, log) = choose_logged(|k| !matches!(k, Kernel::Avx512(_)), cost);
        assert_eq!(
            Kernel::candidate_name(usize::from(chosen) - 1),
            "avx2/8-lane"
        );
        assert_eq!(measured[3], u64::MAX);
        assert!(
            log.contains("failed its self-check") && log.contains("avx512/16-lane"),
            "{log}"
        );
        let (chosen, measured, log) = choose_logged(|_| false, costs(300, &[]));
        assert_eq!(chosen, NONE);
        assert_eq!(measured[..CANDIDATES], [u64::MAX; CANDIDATES]);
        assert_eq!(
            log.matches("failed its self-check").count(),
            CANDIDATES,
            "{log}"
        );
    }

    /// On random midstates, blocks, digit places (in one word and across
    /// two), first values and low difficulties, each wide kernel flags
    /// exactly the lanes whose portable compression passes.
    #[test]
    fn the_wide_kernels_flag_exactly_the_lanes_that_pass_on_random_states() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut checked = 0;
        for kernel in every_kernel() {
            let lanes: u32 = match kernel {
                Kernel::Avx512(_) => 16,
                Kernel::Avx2(_) => 8,
                Kernel::ShaNi(_) => continue,
            };
            let search = |run: &lanes::LaneRun, first: u32, batches: u32| match kernel {
                Kernel::Avx512(l) => l.search(run, first, batches),
                Kernel::Avx2(l) => l.search(run, first, batches),
                Kernel::ShaNi(_) => unreachable!(),
            };
            let mut offsets_seen = [false; 52];
            for _ in 0..3_000 {
                let mid: [u32; 8] = core::array::from_fn(|_| next() as u32);
                let mut block: [u8; 64] = core::array::from_fn(|_| next() as u8);
                let offset = (next() % 52) as usize;
                offsets_seen[offset] = true;
                block[offset..offset + 4].fill(b'0');
                let difficulty = (next() % 5) as u32;
                let first = (next() % 10_000) as u32 / lanes * lanes;
                let run = lanes::LaneRun::new(&mid, &block, offset, difficulty);
                let expected = (0..lanes).fold(0u32, |mask, lane| {
                    let mut exact = block;
                    let digits = std::format!("{:04}", (first + lane) % 10_000);
                    exact[offset..offset + 4].copy_from_slice(digits.as_bytes());
                    let mut state = mid;
                    sha2::block_api::compress256(&mut state, core::slice::from_ref(&exact));
                    let passes = difficulty == 0 || state[0] >> (32 - difficulty) == 0;
                    mask | u32::from(passes) << lane
                });
                let flagged = match search(&run, first, 1) {
                    Some((0, hits)) => hits,
                    None => 0,
                    Some(other) => panic!("{kernel:?}: batch {other:?} of one"),
                };
                assert_eq!(
                    flagged, expected,
                    "{kernel:?} at {offset}, first {first}, d={difficulty}"
                );
                checked += 1;
            }
            assert!(
                offsets_seen.iter().all(|&seen| seen),
                "{kernel:?}: an offset never drawn"
            );
        }
        assert_eq!(checked, 6_000);
    }

    #[test]
    fn detect_picks_a_kernel_that_passes_its_self_check_and_measures_each() {
        for kernel in every_kernel() {
            assert!(self_check(kernel), "{kernel:?}");
            assert!(ticks_per_hash(Some(kernel)) > 0);
        }
        if let Some(kernel) = Kernel::detect() {
            assert!(self_check(kernel));
        }
        let measured: std::vec::Vec<_> = measurements().collect();
        assert_eq!(measured.len(), CANDIDATES + 1);
        assert_eq!(measured.iter().filter(|m| m.3).count(), 1, "{measured:?}");
        assert!(measured.iter().all(|m| m.2 > 0), "{measured:?}");
        // Every id reaches its own path: the table is the one owner.
        for (id, name, ticks, _) in &measured {
            let search = Search::new(Scheme::V1, b"ids", 8).unwrap();
            let runs = search.scan_on(*id, 0, 64).is_some();
            assert_eq!(
                runs,
                *id == crate::KernelId::PORTABLE || *ticks != 0,
                "{name}"
            );
        }
    }
}
