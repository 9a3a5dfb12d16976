//! The 8-lane search on AVX2, for CPUs with neither the SHA extensions nor
//! AVX-512 (Intel client parts before Ice Lake, many older servers):
//! [`Lanes`] in ymm registers. AVX2 has no rotate and no ternary logic, so a
//! rotate is two shifts and an or, and the round functions take two or
//! three instructions each. The search itself is [`lanes::search`].
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::lanes::{self, LaneRun, Lanes};

cpufeatures::new!(avx2, "avx2");

/// Proof that this CPU (and its OS) runs AVX2: only [`Avx2::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// The kernel, where the CPU has AVX2.
    pub(crate) fn detect() -> Option<Avx2> {
        avx2::get().then_some(Avx2(()))
    }

    /// [`lanes::search`] in the instance compiled for AVX2 and `run`'s shape.
    pub(crate) fn search(self, run: &LaneRun, first: u32, batches: u32) -> Option<(u32, u32)> {
        // SAFETY: an `Avx2` exists only where `avx2` was detected.
        unsafe { lanes::by_shape!(search, run, self, run, first, batches) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn search<const J: usize, const SPLIT: bool>(
    l: Avx2,
    run: &LaneRun,
    first: u32,
    batches: u32,
) -> Option<(u32, u32)> {
    lanes::search::<Avx2, J, SPLIT>(l, run, lanes::digits(l, first), batches)
}

lanes::first_word!(Avx2, "avx2");

/// A shift count in the low quadword, as the `psrld`/`pslld` forms take it.
/// A constant count folds into the immediate form.
#[inline(always)]
fn count(n: u32) -> __m128i {
    // SAFETY: SSE2, part of x86-64.
    unsafe { _mm_cvtsi32_si128(n as i32) }
}

// SAFETY (every method): `self` proves the CPU runs AVX2, the only feature
// these intrinsics need; none of them touches memory but `each_lane`'s
// unaligned load of a local array of exactly 32 bytes.
impl Lanes for Avx2 {
    type V = __m256i;
    const N: usize = 8;

    #[inline(always)]
    fn splat(self, x: u32) -> __m256i {
        // SAFETY: see the impl.
        unsafe { _mm256_set1_epi32(x as i32) }
    }
    #[inline(always)]
    fn each_lane(self, f: impl Fn(usize) -> u32) -> __m256i {
        let words: [u32; 8] = core::array::from_fn(f);
        // SAFETY: see the impl; `words` is 32 bytes.
        unsafe { _mm256_loadu_si256(words.as_ptr().cast()) }
    }
    #[inline(always)]
    fn add(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: see the impl.
        unsafe { _mm256_add_epi32(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: see the impl.
        unsafe { _mm256_sub_epi32(a, b) }
    }
    #[inline(always)]
    fn and(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: see the impl.
        unsafe { _mm256_and_si256(a, b) }
    }
    #[inline(always)]
    fn xor3(self, a: __m256i, b: __m256i, c: __m256i) -> __m256i {
        // SAFETY: see the impl.
        unsafe { _mm256_xor_si256(_mm256_xor_si256(a, b), c) }
    }
    #[inline(always)]
    fn ch(self, e: __m256i, f: __m256i, g: __m256i) -> __m256i {
        // g ^ (e & (f ^ g))
        // SAFETY: see the impl.
        unsafe { _mm256_xor_si256(g, _mm256_and_si256(e, _mm256_xor_si256(f, g))) }
    }
    #[inline(always)]
    fn maj(self, a: __m256i, b: __m256i, c: __m256i) -> __m256i {
        // (a & b) | (c & (a | b))
        // SAFETY: see the impl.
        unsafe {
            _mm256_or_si256(
                _mm256_and_si256(a, b),
                _mm256_and_si256(c, _mm256_or_si256(a, b)),
            )
        }
    }
    #[inline(always)]
    fn rotr<const R: i32, const L: i32>(self, a: __m256i) -> __m256i {
        const { assert!(R + L == 32) };
        // SAFETY: see the impl.
        unsafe { _mm256_or_si256(_mm256_srli_epi32::<R>(a), _mm256_slli_epi32::<L>(a)) }
    }
    #[inline(always)]
    fn shr<const S: u32>(self, a: __m256i) -> __m256i {
        self.shr_by(a, S)
    }
    #[inline(always)]
    fn shl<const S: u32>(self, a: __m256i) -> __m256i {
        self.shl_by(a, S)
    }
    #[inline(always)]
    fn shr_by(self, a: __m256i, n: u32) -> __m256i {
        // SAFETY: see the impl.
        unsafe { _mm256_srl_epi32(a, count(n)) }
    }
    #[inline(always)]
    fn shl_by(self, a: __m256i, n: u32) -> __m256i {
        // SAFETY: see the impl.
        unsafe { _mm256_sll_epi32(a, count(n)) }
    }
    #[inline(always)]
    fn zero_lanes(self, a: __m256i, mask: u32) -> u32 {
        // SAFETY: see the impl.
        unsafe {
            let masked = _mm256_and_si256(a, _mm256_set1_epi32(mask as i32));
            let zero = _mm256_cmpeq_epi32(masked, _mm256_setzero_si256());
            _mm256_movemask_ps(_mm256_castsi256_ps(zero)) as u32
        }
    }
    #[inline(always)]
    fn first_word<const J: usize, const SPLIT: bool>(
        self,
        run: &LaneRun,
        digits: __m256i,
    ) -> __m256i {
        // SAFETY: see the impl; `first_word` is compiled for `avx2` alone.
        unsafe { first_word::<J, SPLIT>(self, run, digits) }
    }
}
