//! The x86-64 SHA-extensions kernel: six candidates compressed at once,
//! interleaved so the SHA unit's throughput, not its latency, bounds the
//! rate. This is the only module with `unsafe` in the workspace: every block
//! calls intrinsics that need CPU features the caller has checked.
//!
//! The round sequence follows the SHA extensions' documented use
//! (`sha256rnds2` on ABEF/CDGH halves, `sha256msg1`/`sha256msg2` for the
//! message schedule). The same body is compiled three times: with legacy SSE
//! encoding (16 registers), with VEX encoding (AVX2: three-operand forms,
//! fewer copies) and with AVX-512VL (32 registers, so six lanes' state stays
//! out of memory). On a Zen 4 core the three run at 47, 54 and 58 M
//! compressions/s. Tests compare each with the portable compression on random
//! inputs, and a self-check runs once before first use.
//!
//! Where the cycles go (Zen 4 at about 3.65 GHz, the kernel called in a loop
//! from a scratch harness): `sha256rnds2` has latency 4 and issues one per
//! cycle, `sha256msg2` one per two cycles, so a try's 32 `rnds2`, 12 `msg1`
//! and 12 `msg2` cost about 63 cycles; the rounds alone take 41, the
//! schedule alone 50, and they share the unit. Removing the other vector
//! work (shuffles, the final reordering) changed nothing. Two alternatives
//! measured slower and were dropped: the schedule computed across 16
//! candidates in AVX-512 registers (77 cycles: its rotates compete with the
//! rounds) and reusing `msg1` of the groups before the digits (register
//! pressure cost more than the saved instruction).
#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

cpufeatures::new!(sha_extensions, "sha", "sse2", "ssse3", "sse4.1");
cpufeatures::new!(avx2_extensions, "avx", "avx2");
cpufeatures::new!(avx512_extensions, "avx512f", "avx512vl");

/// The candidates compressed per call: six keep both the SHA unit's round
/// instructions (latency 4, one per cycle) and its schedule instructions busy;
/// four left it waiting on latency, eight gained nothing more (measured).
pub(crate) const LANES: usize = 6;

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// 0: not checked yet; 1 + the encoding's index when usable; `NONE`: not used.
static STATE: AtomicU8 = AtomicU8::new(0);
const NONE: u8 = 0xff;

/// How the kernel's vector instructions are encoded: the same rounds, compiled
/// for wider register files where the CPU has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Legacy SSE encoding: every CPU with the SHA extensions.
    Sse,
    /// VEX encoding (AVX2).
    Avx2,
    /// EVEX registers (AVX-512VL): 32 vector registers.
    Avx512,
}

impl Encoding {
    const ALL: [Encoding; 3] = [Encoding::Sse, Encoding::Avx2, Encoding::Avx512];

    /// Whether this CPU (and its OS) runs the encoding.
    fn supported(self) -> bool {
        sha_extensions::get()
            && match self {
                Encoding::Sse => true,
                Encoding::Avx2 => avx2_extensions::get(),
                Encoding::Avx512 => avx2_extensions::get() && avx512_extensions::get(),
            }
    }

    /// The kernel's name in logs and benchmark tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Sse => "sha-ni/sse4.1",
            Encoding::Avx2 => "sha-ni/avx2",
            Encoding::Avx512 => "sha-ni/avx512vl",
        }
    }
}

/// Proof that the kernel may run on this CPU: only [`Kernel::detect`] (and,
/// in tests, [`Kernel::each`]) makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kernel(Encoding);

impl Kernel {
    /// The fastest encoding this CPU runs whose self-check passed, if any
    /// is faster than the portable path here (measured once per process).
    pub(crate) fn detect() -> Option<Kernel> {
        let state = match STATE.load(Ordering::Relaxed) {
            0 => {
                let chosen = choose(self_check, cycles_per_hash);
                STATE.store(chosen, Ordering::Relaxed);
                chosen
            }
            known => known,
        };
        Encoding::ALL
            .get(usize::from(state).wrapping_sub(1))
            .map(|&e| Kernel(e))
    }

    /// Every encoding this CPU runs, for tests that check each one.
    #[cfg(test)]
    pub(crate) fn each() -> impl Iterator<Item = Kernel> {
        Encoding::ALL
            .into_iter()
            .filter(|e| e.supported())
            .map(Kernel)
    }

    /// The encoding this kernel runs.
    pub(crate) fn encoding(self) -> Encoding {
        self.0
    }

    /// Prepares a run of tries that differ only in `count` (1 to 4) digits
    /// at `offset` of the final `block`: the rounds of the word groups
    /// before the digits run once here, not per try.
    ///
    /// `block` holds the message tail, padding and length, with `'0'` at
    /// each digit position.
    pub(crate) fn prepare(
        self,
        mid: &[u32; 8],
        block: &[u8; 64],
        offset: usize,
        count: usize,
    ) -> Run {
        debug_assert!((1..=4).contains(&count) && offset + count <= 56);
        // SAFETY: a `Kernel` exists only where the SHA extensions and SSE4.1 do.
        unsafe { prepare(mid, block, offset, count) }
    }

    /// Compresses, for each lane, `run`'s block with the lane's digits into
    /// its own copy of `mid`.
    ///
    /// `digits[lane]` holds the lane's digits.
    #[inline(always)]
    pub(crate) fn compress(
        self,
        mid: &[u32; 8],
        run: &Run,
        digits: &[DigitCounter; LANES],
        out: &mut [[u32; 8]; LANES],
    ) {
        macro_rules! shared_groups {
            ($compress:ident) => {
                // The shared group count is a constant of each instance, so
                // the round loop unrolls fully.
                match run.group {
                    0 => $compress::<0>(mid, run, digits, out),
                    1 => $compress::<1>(mid, run, digits, out),
                    2 => $compress::<2>(mid, run, digits, out),
                    _ => $compress::<3>(mid, run, digits, out),
                }
            };
        }
        // SAFETY: a `Kernel` holds an encoding only where `supported` found
        // the CPU features its instance is compiled for.
        unsafe {
            match self.0 {
                Encoding::Sse => shared_groups!(compress_sse),
                Encoding::Avx2 => shared_groups!(compress_avx2),
                Encoding::Avx512 => shared_groups!(compress_avx512),
            }
        }
    }
}

/// The varying digits of a run, one decimal digit per byte, last digit in
/// the low byte: the form [`Kernel::compress`] inserts into its blocks,
/// stepped without division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DigitCounter(u32);

impl DigitCounter {
    /// The low 4 digits of `n`.
    pub(crate) fn new(mut n: u32) -> DigitCounter {
        let mut digits = 0;
        for i in 0..4 {
            digits |= (n % 10) << (8 * i);
            n /= 10;
        }
        DigitCounter(digits)
    }

    /// Writes the low `out.len()` digits as ASCII, the last digit last: the
    /// bytes the kernel puts into its block.
    fn write_ascii(self, out: &mut [u8]) {
        debug_assert!(out.len() <= 4);
        for (i, byte) in out.iter_mut().rev().enumerate() {
            *byte = b'0' + (self.0 >> (8 * i)) as u8;
        }
    }

    /// Adds `step` (at most 9) in decimal, byte by byte: biasing each byte
    /// by 0xF6 makes a byte carry into the next exactly when its digit
    /// passes 9; the bias is then taken back from the bytes that did not.
    #[inline(always)]
    pub(crate) fn add(self, step: u32) -> DigitCounter {
        debug_assert!(step <= 9);
        let biased = self.0.wrapping_add(0xF6F6_F6F6).wrapping_add(step);
        let kept = (biased >> 7) & 0x0101_0101;
        DigitCounter(biased - kept * 0xF6)
    }
}

/// A prepared run: the state after the rounds shared by every try (in the
/// ABEF/CDGH layout of `sha256rnds2`), the block's words and where the
/// digits go in them.
#[derive(Clone, Copy)]
pub(crate) struct Run {
    abef: __m128i,
    cdgh: __m128i,
    /// The block's four word groups, byte-swapped to big-endian words.
    words: [__m128i; 4],
    /// `pshufb` masks moving a `DigitCounter`'s bytes to their places in
    /// the group holding the first digit and in the group after it.
    place: [__m128i; 2],
    /// The group holding the first digit; the groups before it are shared.
    group: usize,
}

/// `mid` as the ABEF and CDGH halves `sha256rnds2` works on.
#[target_feature(enable = "sse2,ssse3,sse4.1")]
unsafe fn halves(mid: &[u32; 8]) -> (__m128i, __m128i) {
    // SAFETY: unaligned loads of the two 16-byte halves of `mid`.
    unsafe {
        let abcd = _mm_shuffle_epi32(_mm_loadu_si128(mid.as_ptr().cast()), 0xB1);
        let efgh = _mm_shuffle_epi32(_mm_loadu_si128(mid.as_ptr().add(4).cast()), 0x1B);
        (
            _mm_alignr_epi8(abcd, efgh, 8),
            _mm_blend_epi16(efgh, abcd, 0xF0),
        )
    }
}

#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn prepare(mid: &[u32; 8], block: &[u8; 64], offset: usize, count: usize) -> Run {
    let group = offset / 16;
    // Byte `q` of a byte-swapped group is byte `4 * (q / 4) + 3 - q % 4` of
    // the block's group; digit `i` (0 = last) sits at `offset + count - 1 - i`.
    let mut place = [[0x80u8; 16]; 2];
    for i in 0..count {
        let byte = offset + count - 1 - i;
        let (g, b) = (byte / 16 - group, byte % 16);
        place[g][4 * (b / 4) + 3 - b % 4] = i as u8;
    }
    // SAFETY: unaligned loads of the four 16-byte groups of `block`, of
    // `place` and of `K`; the intrinsics need the enabled features.
    unsafe {
        let swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        let words: [__m128i; 4] = core::array::from_fn(|g| {
            _mm_shuffle_epi8(_mm_loadu_si128(block.as_ptr().add(16 * g).cast()), swap)
        });
        let (mut abef, mut cdgh) = halves(mid);
        for (g, &w) in words.iter().enumerate().take(group) {
            let msg = _mm_add_epi32(w, _mm_loadu_si128(K.as_ptr().add(4 * g).cast()));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(msg, 0x0E));
        }
        Run {
            abef,
            cdgh,
            words,
            place: place.map(|p| _mm_loadu_si128(p.as_ptr().cast())),
            group,
        }
    }
}

/// The encoding this CPU runs that passes `check` and hashes fastest by
/// `cost` (cycles per hash; `None` is the portable path), as `STATE` holds
/// it (`NONE`: the portable path is as fast or faster), saying which at DEBUG.
///
/// Measured, not assumed: on some CPUs the VEX-encoded instances run a
/// couple of hundred times slower than the legacy SSE one (seen on an Intel
/// Xeon in a VM, where mixing them with the SSE-only SHA instructions
/// costs a state transition each time), and the six-lane kernel can trail
/// the portable path's single stream.
fn choose(check: impl Fn(Kernel) -> bool, cost: impl Fn(Option<Kernel>) -> u64) -> u8 {
    let portable = cost(None);
    let mut best = (NONE, portable);
    for (index, &encoding) in Encoding::ALL.iter().enumerate() {
        if !encoding.supported() {
            continue;
        }
        if !check(Kernel(encoding)) {
            #[cfg(feature = "tracing")]
            tracing::debug!(
                kernel = encoding.name(),
                "the SHA-extensions kernel failed its self-check against the portable path; not using it"
            );
            continue;
        }
        let cycles = cost(Some(Kernel(encoding)));
        #[cfg(feature = "tracing")]
        tracing::debug!(
            kernel = encoding.name(),
            cycles_per_hash = cycles,
            portable_cycles_per_hash = portable,
            "measured the SHA-extensions kernel"
        );
        if cycles < best.1 {
            best = (index as u8 + 1, cycles);
        }
    }
    match Encoding::ALL.get(usize::from(best.0).wrapping_sub(1)) {
        Some(_encoding) => {
            #[cfg(feature = "tracing")]
            tracing::debug!(
                kernel = _encoding.name(),
                "proof-of-work search on the SHA-extensions kernel"
            );
        }
        None => {
            #[cfg(feature = "tracing")]
            tracing::debug!("proof-of-work search on the portable path");
        }
    }
    best.0
}

/// Cycles (time-stamp counter ticks) per hash of `kernel`, or of the
/// portable compression for `None`: the best of a few short rounds, about
/// a millisecond in all on a CPU where the kernel runs as it should.
fn cycles_per_hash(kernel: Option<Kernel>) -> u64 {
    const CALLS: u64 = 48;
    let mid = crate::midstate::IV;
    let mut block: [u8; 64] = core::array::from_fn(|i| (i * 11 + 5) as u8);
    block[29..33].fill(b'0');
    let run = kernel.map(|k| k.prepare(&mid, &block, 29, 4));
    let digits: [DigitCounter; LANES] =
        core::array::from_fn(|lane| DigitCounter::new(lane as u32 * 7));
    let mut out = [[0u32; 8]; LANES];
    let mut best = u64::MAX;
    for _ in 0..4 {
        // SAFETY: `_rdtsc` reads the time-stamp counter, present on every
        // x86-64 CPU; it touches no memory.
        let start = unsafe { _rdtsc() };
        for _ in 0..CALLS {
            match (kernel, &run) {
                (Some(kernel), Some(run)) => kernel.compress(&mid, run, &digits, &mut out),
                _ => {
                    for lane in &mut out {
                        *lane = mid;
                        sha2::block_api::compress256(lane, core::slice::from_ref(&block));
                    }
                }
            }
            core::hint::black_box(&mut out);
        }
        // SAFETY: as above.
        let took = unsafe { _rdtsc() }.saturating_sub(start);
        best = best.min(took / (CALLS * LANES as u64));
    }
    best
}

/// A run's compressions by the kernel and by the portable path must agree.
fn self_check(kernel: Kernel) -> bool {
    let mid = crate::midstate::IV;
    let block: [u8; 64] = core::array::from_fn(|i| (i * 7 + 13) as u8);
    let (offset, count) = (29, 4); // digits across two words and two groups
    let mut template = block;
    template[offset..offset + count].fill(b'0');
    let run = kernel.prepare(&mid, &template, offset, count);
    let digits: [DigitCounter; LANES] =
        core::array::from_fn(|lane| DigitCounter::new(lane as u32 * 1_111 + 98));
    let mut fast = [[0u32; 8]; LANES];
    kernel.compress(&mid, &run, &digits, &mut fast);
    digits.iter().zip(&fast).all(|(digits, fast)| {
        let mut block = template;
        digits.write_ascii(&mut block[offset..offset + count]);
        let mut portable = mid;
        sha2::block_api::compress256(&mut portable, core::slice::from_ref(&block));
        portable == *fast
    })
}

/// Defines one compiled instance of the kernel: `$name::<SHARED>` compresses
/// each of `LANES` blocks into its own copy of `mid`, skipping the first
/// `SHARED` groups of rounds, which `hot` holds already.
///
/// Safety of the defined function: the CPU must support `$features`.
macro_rules! compress_instance {
    ($name:ident, $features:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name<const SHARED: usize>(
            mid: &[u32; 8],
            run: &Run,
            digits: &[DigitCounter; LANES],
            out: &mut [[u32; 8]; LANES],
        ) {
            // SAFETY (whole body): loads of `K` and stores to `out` touch
            // exactly the 16-byte ranges of those arrays; the intrinsics
            // need the features this function is compiled for.
            unsafe {
                // State halves in the layout sha256rnds2 wants (ABEF and
                // CDGH): the midstate for the final addition, the prepared
                // state to begin the rounds.
                let (abef0, cdgh0) = halves(mid);
                let mut abef = [run.abef; LANES];
                let mut cdgh = [run.cdgh; LANES];
                // Each lane's words: the run's, with its digits put in place
                // (the block holds '0' there, and '0' | d is the digit d).
                let mut w = [run.words; LANES];
                for (words, d) in w.iter_mut().zip(digits) {
                    let d = _mm_cvtsi32_si128(d.0 as i32);
                    words[SHARED] = _mm_or_si128(words[SHARED], _mm_shuffle_epi8(d, run.place[0]));
                    if let Some(next) = words.get_mut(SHARED + 1) {
                        *next = _mm_or_si128(*next, _mm_shuffle_epi8(d, run.place[1]));
                    }
                }
                for group in 0..16 {
                    let k = _mm_loadu_si128(K.as_ptr().add(4 * group).cast());
                    for lane in 0..LANES {
                        let slot = group % 4;
                        if group >= 4 {
                            // W[4g..4g+4] from the four groups before it.
                            let [w0, w1, w2, w3] = [
                                w[lane][slot],
                                w[lane][(slot + 1) % 4],
                                w[lane][(slot + 2) % 4],
                                w[lane][(slot + 3) % 4],
                            ];
                            let mixed = _mm_add_epi32(
                                _mm_sha256msg1_epu32(w0, w1),
                                _mm_alignr_epi8(w3, w2, 4),
                            );
                            w[lane][slot] = _mm_sha256msg2_epu32(mixed, w3);
                        }
                        if group < SHARED {
                            continue; // done once, in `prepare`
                        }
                        let msg = _mm_add_epi32(w[lane][slot], k);
                        cdgh[lane] = _mm_sha256rnds2_epu32(cdgh[lane], abef[lane], msg);
                        abef[lane] = _mm_sha256rnds2_epu32(
                            abef[lane],
                            cdgh[lane],
                            _mm_shuffle_epi32(msg, 0x0E),
                        );
                    }
                }
                for lane in 0..LANES {
                    let abef = _mm_add_epi32(abef[lane], abef0);
                    let cdgh = _mm_add_epi32(cdgh[lane], cdgh0);
                    let feba = _mm_shuffle_epi32(abef, 0x1B);
                    let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
                    let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
                    let hgfe = _mm_alignr_epi8(dchg, feba, 8);
                    _mm_storeu_si128(out[lane].as_mut_ptr().cast(), dcba);
                    _mm_storeu_si128(out[lane].as_mut_ptr().add(4).cast(), hgfe);
                }
            }
        }
    };
}

compress_instance!(compress_sse, "sha,sse2,ssse3,sse4.1");
compress_instance!(compress_avx2, "sha,sse2,ssse3,sse4.1,avx,avx2");
compress_instance!(
    compress_avx512,
    "sha,sse2,ssse3,sse4.1,avx,avx2,avx512f,avx512vl"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_equals_the_portable_compression_on_varied_inputs() {
        let kernels: [Option<Kernel>; 3] = {
            let mut each = Kernel::each();
            [each.next(), each.next(), each.next()]
        };
        // This crate's CI machine has all three; a machine without them
        // cannot check the kernel and must say so, not pass quietly.
        assert!(
            kernels.iter().all(Option::is_some),
            "this machine lacks the SHA extensions, AVX2 or AVX-512VL: {kernels:?}"
        );
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for kernel in kernels.into_iter().flatten() {
            for _ in 0..4_000 {
                let mut mid = [0u32; 8];
                mid.iter_mut().for_each(|m| *m = next() as u32);
                let mut template = [0u8; 64];
                template.iter_mut().for_each(|b| *b = next() as u8);
                // Every place and width digits take in a one-block try.
                let count = 1 + (next() % 4) as usize;
                let offset = (next() % (57 - count as u64)) as usize;
                template[offset..offset + count].fill(b'0');
                let run = kernel.prepare(&mid, &template, offset, count);
                let digits: [DigitCounter; LANES] =
                    core::array::from_fn(|_| DigitCounter::new(next() as u32 % 10_000));
                let mut fast = [[0u32; 8]; LANES];
                kernel.compress(&mid, &run, &digits, &mut fast);
                for lane in 0..LANES {
                    let mut block = template;
                    digits[lane].write_ascii(&mut block[offset..offset + count]);
                    let mut portable = mid;
                    sha2::block_api::compress256(&mut portable, core::slice::from_ref(&block));
                    assert_eq!(
                        portable, fast[lane],
                        "{kernel:?} lane {lane} at {offset}+{count}"
                    );
                }
            }
        }
    }

    /// Captures what `choose` says at DEBUG.
    fn choose_logged(
        check: impl Fn(Kernel) -> bool,
        cost: impl Fn(Option<Kernel>) -> u64,
    ) -> (u8, std::string::String) {
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
        let chosen = tracing::subscriber::with_default(subscriber, || choose(check, cost));
        let log = captured.0.lock().unwrap().clone();
        (chosen, std::string::String::from_utf8(log).unwrap())
    }

    /// A made-up cost: the wider the encoding, the cheaper; the portable
    /// path costs `portable`.
    fn widest_fastest(portable: u64) -> impl Fn(Option<Kernel>) -> u64 {
        move |kernel| match kernel.map(Kernel::encoding) {
            None => portable,
            Some(Encoding::Sse) => 30,
            Some(Encoding::Avx2) => 20,
            Some(Encoding::Avx512) => 10,
        }
    }

    #[test]
    fn a_failed_self_check_falls_back_and_says_so_at_debug() {
        if !Encoding::Avx512.supported() {
            return; // the fallback order needs all three encodings
        }
        let (chosen, log) = choose_logged(|k| k.encoding() != Encoding::Avx512, widest_fastest(99));
        assert_eq!(chosen, 2, "the AVX2 encoding comes next: {log}");
        assert!(log.contains("DEBUG"), "{log}");
        assert!(
            log.contains("failed its self-check") && log.contains("sha-ni/avx512vl"),
            "{log}"
        );
        assert!(log.contains("kernel=\"sha-ni/avx2\""), "{log}");

        let (chosen, log) = choose_logged(|_| false, widest_fastest(99));
        assert_eq!(chosen, NONE);
        assert_eq!(log.matches("failed its self-check").count(), 3, "{log}");
        assert!(log.contains("on the portable path"), "{log}");
    }

    #[test]
    fn the_fastest_measured_path_wins_not_the_widest() {
        // The VEX instances slow, as on the Intel VM where they ran 200x slower.
        let sse_fastest = |kernel: Option<Kernel>| match kernel.map(Kernel::encoding) {
            None => 40,
            Some(Encoding::Sse) => 20,
            Some(_) => 5_000,
        };
        let (chosen, log) = choose_logged(|_| true, sse_fastest);
        assert_eq!(chosen, 1, "{log}");
        assert!(log.contains("kernel=\"sha-ni/sse4.1\""), "{log}");
        // The portable path faster than every kernel: no kernel at all.
        let (chosen, log) = choose_logged(|_| true, widest_fastest(1));
        assert_eq!(chosen, NONE, "{log}");
        assert!(log.contains("on the portable path"), "{log}");
    }

    #[test]
    fn the_digit_counter_counts_in_decimal() {
        for n in 0..10_000u32 {
            for step in 0..=9 {
                let expected = DigitCounter::new(n + step);
                assert_eq!(DigitCounter::new(n).add(step), expected, "{n} + {step}");
            }
        }
    }

    #[test]
    fn detect_picks_an_encoding_that_passes_its_self_check_and_measures_each() {
        assert!(Kernel::each().all(self_check));
        if let Some(kernel) = Kernel::detect() {
            assert!(self_check(kernel));
        }
        for kernel in Kernel::each() {
            assert!(cycles_per_hash(Some(kernel)) > 0);
        }
        assert!(cycles_per_hash(None) > 0);
    }
}
