//! The x86-64 SHA-extensions kernel: six candidates compressed at once,
//! interleaved so the SHA unit's throughput, not its latency, bounds the
//! rate. Every `unsafe` block calls intrinsics that need CPU features the
//! caller has checked.
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

use crate::midstate::K;

cpufeatures::new!(sha_extensions, "sha", "sse2", "ssse3", "sse4.1");
cpufeatures::new!(avx2_extensions, "avx", "avx2");
cpufeatures::new!(avx512_extensions, "avx512f", "avx512vl");

/// The candidates compressed per call: six keep both the SHA unit's round
/// instructions (latency 4, one per cycle) and its schedule instructions busy;
/// four left it waiting on latency, eight gained nothing more (measured).
pub(crate) const LANES: usize = 6;

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
    #[cfg(test)]
    pub(crate) const ALL: [Encoding; 3] = [Encoding::Sse, Encoding::Avx2, Encoding::Avx512];

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
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Encoding::Sse => "sha-ni/sse4.1",
            Encoding::Avx2 => "sha-ni/avx2",
            Encoding::Avx512 => "sha-ni/avx512vl",
        }
    }
}

/// Proof that the kernel may run on this CPU: only [`Kernel::new`] makes one,
/// after checking the CPU's features.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kernel(Encoding);

impl Kernel {
    /// The kernel in `encoding`, where this CPU runs it.
    pub(crate) fn new(encoding: Encoding) -> Option<Kernel> {
        encoding.supported().then_some(Kernel(encoding))
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
    #[cfg(test)]
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
        let kernels = Encoding::ALL.map(Kernel::new);
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

    #[test]
    fn the_digit_counter_counts_in_decimal() {
        for n in 0..10_000u32 {
            for step in 0..=9 {
                let expected = DigitCounter::new(n + step);
                assert_eq!(DigitCounter::new(n).add(step), expected, "{n} + {step}");
            }
        }
    }
}
