//! The 16-lane search on AVX-512 (`avx512f`): [`Lanes`] in zmm registers,
//! with native rotates (`vprord`) and ternary logic (`vpternlogd`) for the
//! round functions. The search itself is [`lanes::search`], shared with
//! the AVX2 kernel; this module only supplies the instructions.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::lanes::{self, LaneRun, Lanes};

cpufeatures::new!(avx512f, "avx512f");

/// Proof that this CPU (and its OS) runs AVX-512F: only [`Avx512::detect`]
/// makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// The kernel, where the CPU has AVX-512F.
    pub(crate) fn detect() -> Option<Avx512> {
        avx512f::get().then_some(Avx512(()))
    }

    /// [`lanes::search`] in the instance compiled for AVX-512 and `run`'s shape.
    pub(crate) fn search(self, run: &LaneRun, first: u32, batches: u32) -> Option<(u32, u32)> {
        // SAFETY: an `Avx512` exists only where `avx512f` was detected.
        unsafe { lanes::by_shape!(search, run, self, run, first, batches) }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn search<const J: usize, const SPLIT: bool>(
    l: Avx512,
    run: &LaneRun,
    first: u32,
    batches: u32,
) -> Option<(u32, u32)> {
    lanes::search::<Avx512, J, SPLIT>(l, run, lanes::digits(l, first), batches)
}

lanes::first_word!(Avx512, "avx512f");

// SAFETY (every method): `self` proves the CPU runs AVX-512F, the only
// feature these intrinsics need; none of them touches memory but `each_lane`'s
// unaligned load of a local array of exactly 64 bytes.
impl Lanes for Avx512 {
    type V = __m512i;
    const N: usize = 16;

    #[inline(always)]
    fn splat(self, x: u32) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_set1_epi32(x as i32) }
    }
    #[inline(always)]
    fn each_lane(self, f: impl Fn(usize) -> u32) -> __m512i {
        let words: [u32; 16] = core::array::from_fn(f);
        // SAFETY: see the impl; `words` is 64 bytes.
        unsafe { _mm512_loadu_si512(words.as_ptr().cast()) }
    }
    #[inline(always)]
    fn add(self, a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_add_epi32(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_sub_epi32(a, b) }
    }
    #[inline(always)]
    fn and(self, a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_and_si512(a, b) }
    }
    #[inline(always)]
    fn xor3(self, a: __m512i, b: __m512i, c: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_ternarylogic_epi32::<0x96>(a, b, c) }
    }
    #[inline(always)]
    fn ch(self, e: __m512i, f: __m512i, g: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_ternarylogic_epi32::<0xCA>(e, f, g) }
    }
    #[inline(always)]
    fn maj(self, a: __m512i, b: __m512i, c: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_ternarylogic_epi32::<0xE8>(a, b, c) }
    }
    #[inline(always)]
    fn rotr<const R: i32, const L: i32>(self, a: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_ror_epi32::<R>(a) }
    }
    #[inline(always)]
    fn shr<const S: u32>(self, a: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_srli_epi32::<S>(a) }
    }
    #[inline(always)]
    fn shl<const S: u32>(self, a: __m512i) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_slli_epi32::<S>(a) }
    }
    #[inline(always)]
    fn shr_by(self, a: __m512i, n: u32) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_srl_epi32(a, _mm_cvtsi32_si128(n as i32)) }
    }
    #[inline(always)]
    fn shl_by(self, a: __m512i, n: u32) -> __m512i {
        // SAFETY: see the impl.
        unsafe { _mm512_sll_epi32(a, _mm_cvtsi32_si128(n as i32)) }
    }
    #[inline(always)]
    fn zero_lanes(self, a: __m512i, mask: u32) -> u32 {
        // SAFETY: see the impl.
        unsafe { u32::from(_mm512_testn_epi32_mask(a, _mm512_set1_epi32(mask as i32))) }
    }
    #[inline(always)]
    fn first_word<const J: usize, const SPLIT: bool>(
        self,
        run: &LaneRun,
        digits: __m512i,
    ) -> __m512i {
        // SAFETY: see the impl; `first_word` is compiled for `avx512f` alone.
        unsafe { first_word::<J, SPLIT>(self, run, digits) }
    }
}
