//! The resumable, clock-free nonce search.
//!
//! Candidates are the nonce values `0, 1, 2, …` as canonical decimals. The
//! search compresses the fixed prefix (`scheme framing ‖ challenge`) once; for
//! each run of 10^k values sharing their high digits it extends that midstate
//! with the high digits, then edits the low `k` digits in place inside a
//! prepared final block, so each try costs one SHA-256 compression whenever
//! the message length leaves room for the padding in that block.
#![forbid(unsafe_code)]

use crate::midstate::Midstate;
use crate::nonce::{decimal_len, pow10};
use crate::{Difficulty, Nonce, Scheme, Unsolvable};

/// How many low digits vary inside one prepared block (10^4 tries per setup).
const MAX_LOW_DIGITS: usize = 4;
/// The longest run: values that share all but their low digits, one
/// prepared block each. Runs never straddle a multiple of it.
pub(crate) const MAX_RUN: u64 = pow10(MAX_LOW_DIGITS);
/// The widest nonce that always fits in an `i64` (`i64::MAX` has 19 digits).
const MAX_I64_DIGITS: usize = 19;
/// The widest a starting width is chosen for speed alone: 16-digit nonces
/// stay below 2^53, exact even where a server reads `pow_nonce` as a
/// JSON number in a double. Wider starts only when the work needs it.
const MAX_CHOSEN_WIDTH: usize = 16;
/// How many times the expected work a starting width leaves room for.
const ROOM_FACTOR: f64 = 16.0;
/// The narrowest nonce the solver starts at: room for the low digits it varies.
const MIN_WIDTH: usize = MAX_LOW_DIGITS + 1;

/// A prepared search for one challenge: the prefix is hashed once here.
///
/// `Search` never reads a clock and never spawns a thread: call
/// [`Search::scan`] with a budget of candidates and resume from where it
/// stopped, so deadlines and cancellation work on any platform (WASM,
/// embedded, an async executor) with the caller in charge.
///
/// ```
/// use lime_pow::{Search, Scheme, ScanOutcome};
/// let search = Search::new(Scheme::Legacy, b"", 15).unwrap();
/// let mut from = 0;
/// let nonce = loop {
///     match search.scan(from, 10_000) {
///         ScanOutcome::Found { nonce, .. } => break nonce,
///         ScanOutcome::NotFound { next } => from = next, // check a deadline here
///         ScanOutcome::Exhausted => unreachable!(),
///     }
/// };
/// assert_eq!(nonce.as_str(), "88484"); // the smallest valid nonce
/// ```
#[derive(Clone)]
pub struct Search {
    prefix: Midstate,
    difficulty: Difficulty,
}

/// What one [`Search::scan`] call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum ScanOutcome {
    /// `nonce` is valid; `tried` candidates were hashed by this call.
    Found {
        /// The smallest valid nonce in the scanned range.
        nonce: Nonce,
        /// Candidates hashed by this call, the valid one included.
        tried: u64,
    },
    /// No candidate in the range was valid; resume from `next`.
    NotFound {
        /// The first candidate not yet tried.
        next: u64,
    },
    /// Every candidate below `u64::MAX` has been tried.
    Exhausted,
}

impl core::fmt::Debug for Search {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The challenge is a secret of one login: show only its size.
        f.debug_struct("Search")
            .field("prefix_len", &self.prefix.total_len)
            .field("difficulty", &self.difficulty)
            .finish_non_exhaustive()
    }
}

impl Search {
    /// Prepares a search: hashes the scheme framing and the challenge once.
    ///
    /// # Errors
    /// [`Unsolvable`] when `difficulty > 256`.
    pub fn new(scheme: Scheme, challenge: &[u8], difficulty: i64) -> Result<Self, Unsolvable> {
        let difficulty = Difficulty::new(difficulty)?;
        let (before, after) = scheme.framing();
        let mut prefix = Midstate::new();
        prefix.absorb(before);
        prefix.absorb(challenge);
        prefix.absorb(after);
        Ok(Search { prefix, difficulty })
    }

    /// The difficulty this search meets.
    pub fn difficulty(&self) -> Difficulty {
        self.difficulty
    }

    /// Hashes up to `count` candidates from `from` upwards, in order, and
    /// returns the first valid one or where to resume.
    pub fn scan(&self, from: u64, count: u64) -> ScanOutcome {
        self.scan_with(from, count, fast_kernel())
    }

    /// [`scan`](Self::scan) on the portable path only, to check the fast path against.
    #[doc(hidden)]
    pub fn scan_portable(&self, from: u64, count: u64) -> ScanOutcome {
        self.scan_with(from, count, None)
    }

    /// [`scan`](Self::scan) on the path `kernel` (an id
    /// [`search_kernels`] lists), or `None` where this CPU does not run it:
    /// for benchmarks that compare the kernels.
    #[doc(hidden)]
    pub fn scan_on(&self, kernel: KernelId, from: u64, count: u64) -> Option<ScanOutcome> {
        self.kernel(kernel)
            .map(|fast| self.scan_with(from, count, fast))
    }

    /// [`fast_start`](Self::fast_start) for the path `kernel`, as
    /// [`scan_on`](Self::scan_on) takes it (the portable path's where this
    /// CPU does not run it).
    #[doc(hidden)]
    pub fn fast_start_on(&self, kernel: KernelId) -> u64 {
        self.fast_start_for(self.kernel(kernel).flatten())
    }

    /// The kernel `id` names: `Some(None)` for the portable path, `None`
    /// where this CPU does not run it.
    fn kernel(&self, id: KernelId) -> Option<Option<FastKernel>> {
        if id == KernelId::PORTABLE {
            return Some(None);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(fast) = crate::x86::Kernel::candidate(usize::from(id.0)) {
            return Some(Some(fast));
        }
        None
    }

    /// A start value where every try costs exactly one compression.
    ///
    /// Nonces of width `w` are one-block tries when the message length
    /// `prefix + w` leaves the digits and the 9 padding bytes in one block.
    /// The multi-threaded solver starts here instead of at 0, at the width
    /// (among those the expected work allows: room for 16 times it, at most
    /// 19 digits) where the kernel this CPU runs shares the most work
    /// between tries.
    pub fn fast_start(&self) -> u64 {
        self.fast_start_for(fast_kernel())
    }

    /// [`fast_start`](Self::fast_start) for `kernel` (`None`: the portable path).
    pub(crate) fn fast_start_for(&self, kernel: Option<FastKernel>) -> u64 {
        let good = |w: usize| self.low_digits(w) == (MAX_LOW_DIGITS, 1);
        // Where the varying digits start in the final block.
        let digits_at =
            |w: usize| ((self.prefix.total_len + (w - MAX_LOW_DIGITS) as u64) % 64) as usize;
        // Lower is better: the work left per try once the shared work is done.
        let cost = |w: usize| -> u32 {
            match kernel {
                // The SHA-extensions kernel runs the rounds of the 16-byte
                // word groups before the digits once per run, not per try.
                #[cfg(target_arch = "x86_64")]
                Some(FastKernel::ShaNi(_)) => 4 - (digits_at(w) / 16) as u32,
                #[cfg(target_arch = "x86_64")]
                Some(FastKernel::Avx512(_) | FastKernel::Avx2(_)) => {
                    crate::x86::lanes::cost(digits_at(w))
                }
                _ => 0,
            }
        };
        let (narrowest, widest) = self.widths();
        // No one-block width in range: two compressions per try, with the
        // most room the range gives (short nonces matter more than speed).
        let width = (narrowest..=widest)
            .filter(|&w| good(w))
            .min_by_key(|&w| (cost(w), w))
            .unwrap_or(widest);
        pow10(width - 1)
    }

    /// The nonce widths worth starting at: from the narrowest with room for
    /// 16 times the expected work (so the width almost never grows) to 16
    /// digits ([`MAX_CHOSEN_WIDTH`]), or one more than the narrowest when
    /// that is wider. Never past 19 digits: every nonce fits in a signed
    /// 64-bit integer, for servers that read `pow_nonce` as one. Work beyond
    /// any 19-digit range (a difficulty no one can solve) may start at any
    /// width from 16 to 19.
    fn widths(&self) -> (usize, usize) {
        let needed = self.difficulty.expected_hashes() * ROOM_FACTOR;
        match (MIN_WIDTH..=MAX_I64_DIGITS).find(|&w| 9.0 * pow10(w - 1) as f64 >= needed) {
            Some(narrowest) => (
                narrowest,
                (narrowest + 1).clamp(MAX_CHOSEN_WIDTH, MAX_I64_DIGITS),
            ),
            None => (MAX_CHOSEN_WIDTH, MAX_I64_DIGITS),
        }
    }

    /// For nonces of `width` digits: how many low digits vary per prepared
    /// block, and how many blocks each try compresses (1 or 2).
    fn low_digits(&self, width: usize) -> (usize, usize) {
        let k = width.min(MAX_LOW_DIGITS);
        // Bytes of the message's last block that the message itself uses.
        let last = ((self.prefix.total_len + width as u64) % 64) as usize;
        if (1..=55).contains(&last) {
            // The varying digits end the message; keep them in its last block.
            (k.min(last), 1)
        } else {
            (k, 2)
        }
    }

    /// [`scan`](Self::scan) on `fast` (`None`: the portable path).
    pub(crate) fn scan_with(&self, from: u64, count: u64, fast: Option<FastKernel>) -> ScanOutcome {
        if from == u64::MAX {
            return ScanOutcome::Exhausted;
        }
        let end = from.saturating_add(count);
        let mut value = from;
        while value < end {
            let width = decimal_len(value);
            let (k, blocks) = self.low_digits(width);
            let run = pow10(k);
            let run_end = (value - value % run).saturating_add(run).min(end);
            let found = if blocks == 1 {
                match fast {
                    #[cfg(target_arch = "x86_64")]
                    Some(FastKernel::ShaNi(kernel)) => {
                        self.scan_run_sha_ni(kernel, value, run_end, width, k)
                    }
                    // The wide kernels take whole runs of four digits.
                    #[cfg(target_arch = "x86_64")]
                    Some(FastKernel::Avx512(lanes)) if k == MAX_LOW_DIGITS => {
                        self.scan_run_wide(value, run_end, width, 16, |run, first, batches| {
                            lanes.search(run, first, batches)
                        })
                    }
                    #[cfg(target_arch = "x86_64")]
                    Some(FastKernel::Avx2(lanes)) if k == MAX_LOW_DIGITS => {
                        self.scan_run_wide(value, run_end, width, 8, |run, first, batches| {
                            lanes.search(run, first, batches)
                        })
                    }
                    _ => self.scan_run::<1>(value, run_end, width, k),
                }
            } else {
                self.scan_run::<2>(value, run_end, width, k)
            };
            if let Some(nonce) = found {
                return ScanOutcome::Found {
                    nonce: Nonce::from_value(nonce),
                    tried: nonce - from + 1,
                };
            }
            value = run_end;
        }
        if end == u64::MAX {
            ScanOutcome::Exhausted
        } else {
            ScanOutcome::NotFound { next: end }
        }
    }

    /// For the run of values from `start` (of `width` digits, the low `k`
    /// varying): the midstate after the prefix and the high digits, the
    /// offset `t` of the low digits, and the `NB` final blocks
    /// (tail ‖ low digits ‖ 0x80 ‖ zeros ‖ length) holding `start`'s digits.
    #[inline(always)]
    fn final_blocks<const NB: usize>(
        &self,
        start: u64,
        width: usize,
        k: usize,
    ) -> ([u32; 8], usize, [u8; 128]) {
        let digits = Nonce::from_value(start);
        let (high, low) = digits.as_bytes().split_at(width - k);
        let mut fixed = self.prefix.clone();
        fixed.absorb(high);
        let t = fixed.tail_len;
        let message_bits = (fixed.total_len + k as u64) * 8;
        let mut buf = [0u8; 128];
        buf[..t].copy_from_slice(&fixed.tail[..t]);
        buf[t..t + k].copy_from_slice(low);
        buf[t + k] = 0x80;
        buf[NB * 64 - 8..NB * 64].copy_from_slice(&message_bits.to_be_bytes());
        debug_assert!(t + k + 9 <= NB * 64);
        (fixed.state, t, buf)
    }

    /// Tries `start..end`, values of `width` digits that differ only in their
    /// low `k` digits, with `NB` compressions per try.
    #[inline(always)]
    fn scan_run<const NB: usize>(
        &self,
        start: u64,
        end: u64,
        width: usize,
        k: usize,
    ) -> Option<u64> {
        let (mid, t, buf) = self.final_blocks::<NB>(start, width, k);
        let difficulty = self.difficulty;
        let first_low = (start % pow10(k)) as u32;
        let tries = (end - start) as u32; // at most 10^k
        // Two copies of the block, used in turn: the digits for try `i + 2`
        // are written into the copy try `i` just used, so those byte stores
        // have long reached the cache when the compression loads the block
        // again (a load right after narrower stores stalls on x86).
        let mut bufs = [buf, buf];
        if tries > 1 {
            write_decimal(&mut bufs[1][t..t + k], first_low + 1);
        }
        for i in 0..tries {
            let buf = &mut bufs[(i & 1) as usize];
            let mut state = mid;
            let (blocks, _) = buf[..NB * 64].as_chunks::<64>();
            sha2::block_api::compress256(&mut state, blocks);
            if difficulty.is_met_by(&state) {
                return Some(start + u64::from(i));
            }
            write_decimal(&mut buf[t..t + k], first_low.wrapping_add(i + 2));
        }
        None
    }
}

/// The fast kernel's handle where there is one (x86-64).
#[cfg(target_arch = "x86_64")]
pub(crate) type FastKernel = crate::x86::Kernel;
/// No fast kernel on this architecture.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) type FastKernel = core::convert::Infallible;

/// The search path [`Search::scan`] runs on this CPU: `"portable"`, or the
/// name of the fastest kernel this CPU runs (`"avx512/16-lane"`,
/// `"avx2/8-lane"`, `"sha-ni/sse4.1"`, `"sha-ni/avx2"` or
/// `"sha-ni/avx512vl"`), chosen at first use by a self-check against the
/// portable path and a short timing of each (a few milliseconds, once per
/// process).
///
/// ```
/// let kernel = lime_pow::search_kernel();
/// assert!(["portable", "avx512/16-lane", "avx2/8-lane"].contains(&kernel) || kernel.starts_with("sha-ni/"));
/// ```
pub fn search_kernel() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if let Some(kernel) = fast_kernel() {
        return kernel.name();
    }
    "portable"
}

/// One search path: a kernel of this crate (an index into its table of
/// kernels) or the portable path. Listed by [`search_kernels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelId(pub(crate) u8);

impl KernelId {
    /// The portable path, on every CPU.
    pub const PORTABLE: KernelId = KernelId(u8::MAX);
}

/// What the first-use timing found for one search path (see [`search_kernels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KernelTiming {
    /// The path, for [`Search::scan_on`] in benchmarks.
    pub id: KernelId,
    /// The path's name, as [`search_kernel`] gives it.
    pub name: &'static str,
    /// Time-stamp-counter ticks per hash on one thread (divide the TSC
    /// frequency by it for hashes per second); `None` where this CPU lacks
    /// the kernel or it failed its self-check.
    pub ticks_per_hash: Option<u64>,
    /// Whether [`Search::scan`] runs this path.
    pub chosen: bool,
}

/// Every search path this crate has, with what the first-use timing found
/// on this CPU: what `lime pow bench` prints. Runs the timing if nothing
/// has yet.
///
/// ```
/// let paths: Vec<_> = lime_pow::search_kernels().collect();
/// assert_eq!(paths.iter().filter(|p| p.chosen).count(), 1);
/// assert!(paths.iter().any(|p| p.name == "portable" && p.ticks_per_hash.is_some()));
/// ```
pub fn search_kernels() -> impl Iterator<Item = KernelTiming> {
    #[cfg(target_arch = "x86_64")]
    let paths = crate::x86::measurements().map(|(id, name, ticks, chosen)| KernelTiming {
        id,
        name,
        ticks_per_hash: (ticks != 0 && ticks != u64::MAX).then_some(ticks),
        chosen,
    });
    #[cfg(not(target_arch = "x86_64"))]
    let paths = core::iter::once(KernelTiming {
        id: KernelId::PORTABLE,
        name: "portable",
        ticks_per_hash: None,
        chosen: true,
    });
    paths
}

fn fast_kernel() -> Option<FastKernel> {
    #[cfg(target_arch = "x86_64")]
    return crate::x86::Kernel::detect();
    #[cfg(not(target_arch = "x86_64"))]
    None
}

impl Search {
    /// [`Search::scan_run`] for one-block tries on the SHA-extensions kernel:
    /// [`LANES`](crate::x86::shani::LANES) candidates per call, each lane's
    /// digits kept as a decimal counter the kernel puts into its block.
    #[cfg(target_arch = "x86_64")]
    fn scan_run_sha_ni(
        &self,
        kernel: crate::x86::shani::Kernel,
        start: u64,
        end: u64,
        width: usize,
        k: usize,
    ) -> Option<u64> {
        use crate::x86::shani::{DigitCounter, LANES};
        let (mid, t, buf) = self.final_blocks::<1>(start, width, k);
        let mut block: [u8; 64] = buf[..64].try_into().unwrap_or([0; 64]);
        block[t..t + k].fill(b'0');
        let run = kernel.prepare(&mid, &block, t, k);
        let first_low = (start % pow10(k)) as u32;
        let tries = (end - start) as u32;
        let mut digits: [DigitCounter; LANES] =
            core::array::from_fn(|lane| DigitCounter::new(first_low + lane as u32));
        let mut states = [[0u32; 8]; LANES];
        let mut tried = 0u32;
        while tried < tries {
            kernel.compress(&mid, &run, &digits, &mut states);
            let live = (tries - tried).min(LANES as u32) as usize;
            if let Some(lane) = states[..live]
                .iter()
                .position(|s| self.difficulty.is_met_by(s))
            {
                return Some(start + u64::from(tried) + lane as u64);
            }
            for d in &mut digits {
                *d = d.add(LANES as u32);
            }
            tried += LANES as u32;
        }
        None
    }
}

impl Search {
    /// [`Search::scan_run`] for one-block tries of a whole four-digit run on
    /// a wide kernel of `lanes` lanes: `search` finds the first batch with
    /// lanes whose first digest word passes, and each is checked exactly
    /// here (and against `start..end`, which batches may overhang).
    #[cfg(target_arch = "x86_64")]
    fn scan_run_wide(
        &self,
        start: u64,
        end: u64,
        width: usize,
        lanes: u32,
        search: impl Fn(&crate::x86::lanes::LaneRun, u32, u32) -> Option<(u32, u32)>,
    ) -> Option<u64> {
        let k = MAX_LOW_DIGITS;
        let (mid, t, buf) = self.final_blocks::<1>(start, width, k);
        let mut block: [u8; 64] = buf[..64].try_into().unwrap_or([0; 64]);
        block[t..t + k].fill(b'0');
        let run = crate::x86::lanes::LaneRun::new(&mid, &block, t, self.difficulty.bits());
        let run_start = start - start % pow10(k);
        let (low_start, low_end) = ((start - run_start) as u32, (end - run_start) as u32);
        // Batches start on multiples of `lanes`, which divide 10,000.
        let mut first = low_start - low_start % lanes;
        while first < low_end {
            let (batch, mut hits) = search(&run, first, (low_end - first).div_ceil(lanes))?;
            let batch_first = first + batch * lanes;
            while hits != 0 {
                let low = batch_first + hits.trailing_zeros();
                hits &= hits - 1;
                if !(low_start..low_end).contains(&low) {
                    continue;
                }
                let mut exact = block;
                write_decimal(&mut exact[t..t + k], low);
                let mut state = mid;
                sha2::block_api::compress256(&mut state, core::slice::from_ref(&exact));
                if self.difficulty.is_met_by(&state) {
                    return Some(run_start + u64::from(low));
                }
            }
            first = batch_first + lanes;
        }
        None
    }
}

/// Writes the low `digits.len()` decimal digits of `n` into `digits`.
#[inline(always)]
fn write_decimal(digits: &mut [u8], mut n: u32) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_decimal_keeps_the_low_digits() {
        let mut d = *b"xxxx";
        write_decimal(&mut d, 201);
        assert_eq!(&d, b"0201");
        let mut d = *b"xx";
        write_decimal(&mut d, 1234);
        assert_eq!(&d, b"34");
    }

    /// Each kernel the CPU runs finds what the portable path finds, at
    /// every prefix length 0–200 (so every digit position, word and shared
    /// group count), from starts that cut runs and batches short, from the
    /// start each kernel prefers, and at the top of the range.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_kernel_finds_what_the_portable_path_finds() {
        let kernels: std::vec::Vec<FastKernel> = crate::x86::Kernel::each().collect();
        assert_eq!(
            kernels.len(),
            5,
            "a kernel is missing on this CPU: {kernels:?}"
        );
        let challenge = [b'k'; 201];
        let mut compared = 0;
        for len in 0..challenge.len() {
            for scheme in Scheme::ALL {
                let search = Search::new(scheme, &challenge[..len], 6).unwrap();
                let mut starts = std::vec![0, 7, search.fast_start() + 9_995, u64::MAX - 40];
                starts.extend(kernels.iter().map(|&k| search.fast_start_for(Some(k)) + 3));
                for from in starts {
                    let portable = search.scan_with(from, 700, None);
                    for &kernel in &kernels {
                        let fast = search.scan_with(from, 700, Some(kernel));
                        assert_eq!(fast, portable, "{kernel:?} {scheme} {len} from {from}");
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 201 * 2 * 9 * 5, "a kernel was not checked");
    }

    /// Every one of each kernel's lanes wins sometimes, and agrees when it
    /// does (whichever kernel `detect` measured fastest on this CPU).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn each_kernel_lane_can_be_the_winner() {
        use crate::x86::Kernel;
        for kernel in Kernel::each() {
            let lanes = match kernel {
                Kernel::ShaNi(_) => crate::x86::shani::LANES,
                Kernel::Avx512(_) => 16,
                Kernel::Avx2(_) => 8,
            };
            let mut lanes_won = [0u32; 16];
            for start in 0..800u64 {
                let challenge = std::format!("lane-{start}");
                let search = Search::new(Scheme::V1, challenge.as_bytes(), 3).unwrap();
                let from = 1_000_000_000 + start * 1_000;
                let fast = search.scan_with(from, 200, Some(kernel));
                assert_eq!(fast, search.scan_with(from, 200, None), "{kernel:?}");
                if let ScanOutcome::Found { tried, .. } = fast {
                    // Both kinds of kernel start their lanes at `from`,
                    // a multiple of every lane count here.
                    lanes_won[((tried - 1) % lanes as u64) as usize] += 1;
                }
            }
            assert!(
                lanes_won[..lanes].iter().all(|&n| n > 10),
                "{kernel:?}: {lanes_won:?}"
            );
        }
    }

    /// Where the varying digits of a `width`-digit nonce sit in the block.
    fn digit_group(search: &Search, width: usize) -> usize {
        let message = search.prefix.total_len as usize + width;
        (message - MAX_LOW_DIGITS) % 64 / 16
    }

    /// Among the one-block widths the expected work allows, each path
    /// starts where it shares the most: the SHA-extensions kernel with the
    /// digits in the latest 16-byte group, the wide kernels where their
    /// vector work per try is least, the portable path at the narrowest.
    #[test]
    fn fast_start_picks_the_width_where_each_kernel_shares_the_most_work() {
        let mut paths: std::vec::Vec<Option<FastKernel>> = std::vec![None];
        #[cfg(target_arch = "x86_64")]
        paths.extend(crate::x86::Kernel::each().map(Some));
        for path in paths {
            for scheme in Scheme::ALL {
                for len in [0, 16, 32, 45, 64, 100] {
                    for difficulty in [1, 15, 24, 96] {
                        let search = Search::new(scheme, &[b'c'; 128][..len], difficulty).unwrap();
                        let chosen = decimal_len(search.fast_start_for(path));
                        let (narrowest, widest) = search.widths();
                        let good: std::vec::Vec<usize> = (narrowest..=widest)
                            .filter(|&w| search.low_digits(w) == (MAX_LOW_DIGITS, 1))
                            .collect();
                        let Some(&first) = good.first() else {
                            continue; // no one-block width: another test
                        };
                        let at =
                            |w: usize| (search.prefix.total_len as usize + w - MAX_LOW_DIGITS) % 64;
                        let case = std::format!("{path:?} {scheme} {len} d={difficulty}");
                        match path {
                            None => assert_eq!(chosen, first, "{case}"),
                            #[cfg(target_arch = "x86_64")]
                            Some(FastKernel::ShaNi(_)) => {
                                let best = good.iter().map(|&w| digit_group(&search, w)).max();
                                assert_eq!(Some(digit_group(&search, chosen)), best, "{case}");
                            }
                            #[cfg(target_arch = "x86_64")]
                            Some(_) => {
                                let cost = |w: usize| crate::x86::lanes::cost(at(w));
                                let best = good.iter().map(|&w| cost(w)).min();
                                assert_eq!(Some(cost(chosen)), best, "{case}");
                            }
                            #[cfg(not(target_arch = "x86_64"))]
                            Some(never) => match never {},
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_start_fits_an_i64_and_its_width_follows_the_expected_work() {
        for scheme in Scheme::ALL {
            for len in 0..200 {
                let challenge = [b'c'; 200];
                for difficulty in [0, 1, 8, 15, 20, 24, 30, 40, 64, 128, 256] {
                    let search = Search::new(scheme, &challenge[..len], difficulty).unwrap();
                    let start = search.fast_start();
                    let width = decimal_len(start);
                    assert!(
                        i64::try_from(start).is_ok() && width <= MAX_I64_DIGITS,
                        "{width}"
                    );
                    // 9 * 10^(width-1) - 1 more candidates still fit in an i64.
                    assert!(i64::try_from(pow10(width) - 1).is_ok() || width == MAX_I64_DIGITS);
                    let room = 9.0 * pow10(width - 1) as f64;
                    let needed = search.difficulty.expected_hashes() * ROOM_FACTOR;
                    if difficulty <= 40 {
                        // Below 2^53 through all the room: exact in a double.
                        assert!(
                            width <= MAX_CHOSEN_WIDTH,
                            "{scheme} {len}: {width} digits at difficulty {difficulty}"
                        );
                        let last = start as f64 + needed;
                        assert!(last < 2f64.powi(53), "{scheme} {len} d={difficulty}");
                    }
                    let coverable = 9.0 * pow10(MAX_I64_DIGITS - 1) as f64 >= needed;
                    assert!(
                        room >= needed || !coverable,
                        "{scheme} {len} d={difficulty}: {width}"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_start_is_one_block_whenever_an_allowed_width_gives_one() {
        for difficulty in [1, 15, 24] {
            for len in 0..200 {
                let challenge = [b'c'; 200];
                let search = Search::new(Scheme::Legacy, &challenge[..len], difficulty).unwrap();
                let width = decimal_len(search.fast_start());
                let (narrowest, widest) = search.widths();
                let one_block = |w: usize| search.low_digits(w) == (MAX_LOW_DIGITS, 1);
                if (narrowest..=widest).any(one_block) {
                    assert!(
                        one_block(width),
                        "prefix {len} d={difficulty} width {width}"
                    );
                }
                assert!(
                    (narrowest..=widest).contains(&width),
                    "prefix {len} d={difficulty}: width {width} outside {narrowest}..={widest}"
                );
            }
        }
    }
}
