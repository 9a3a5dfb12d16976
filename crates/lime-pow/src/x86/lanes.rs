//! The wide search, written once for any vector width: each lane hashes a
//! different nonce of a run, and everything the lanes share is done once.
//!
//! A run is 10,000 consecutive nonces that differ only in their last four
//! digits; those digits end the message, so they sit in one 32-bit word `J`
//! of the final block (or straddle words `J` and `J + 1`). Per run, in
//! scalar code ([`LaneRun::new`]):
//!
//! - rounds `0..=J` run once: the lanes only start to differ in round `J`,
//!   and there only by adding their digits to `a` and `e`;
//! - every message-schedule word that depends on no digit is computed once,
//!   and the words that do depend on one get the sum of their constant terms.
//!
//! Per batch of lanes ([`search`]), in vector code: the remaining rounds and
//! the schedule words that vary, then the first digest word only (the others
//! are never needed unless a lane passes), tested for every lane at once.
//! The shapes (`J`, and whether word `J + 1` varies too) are const
//! parameters, so each instance is fully unrolled and its dead work gone;
//! each instruction set instantiates the rounds with [`first_word!`].
//!
//! This module is safe code: a [`Lanes`] value is the proof that its vector
//! instructions run on this CPU, and only the module that implements it
//! (with `unsafe`) can make one.
#![forbid(unsafe_code)]

use crate::midstate::K;

/// Vector operations on `N` lanes of 32-bit words.
///
/// Holding a value of a type implementing this is the proof the CPU runs
/// its instructions: the implementing modules make one only after detection.
pub(crate) trait Lanes: Copy {
    /// `N` words, one per lane.
    type V: Copy;
    /// How many lanes.
    const N: usize;
    /// Every lane `x`.
    fn splat(self, x: u32) -> Self::V;
    /// Lane `i` is `f(i)`.
    fn each_lane(self, f: impl Fn(usize) -> u32) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn and(self, a: Self::V, b: Self::V) -> Self::V;
    fn xor3(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `e ? f : g`, bit by bit.
    fn ch(self, e: Self::V, f: Self::V, g: Self::V) -> Self::V;
    /// The majority of `a`, `b`, `c`, bit by bit.
    fn maj(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Rotates right by `R`; `L` is `32 - R`, for instruction sets that
    /// rotate with two shifts (a const parameter cannot be computed from
    /// another on stable Rust).
    fn rotr<const R: i32, const L: i32>(self, a: Self::V) -> Self::V;
    fn shr<const S: u32>(self, a: Self::V) -> Self::V;
    fn shl<const S: u32>(self, a: Self::V) -> Self::V;
    /// Shifts by a count known only at run time, `n <= 32` (32 shifts
    /// every bit out, as the vector shift instructions do).
    fn shr_by(self, a: Self::V, n: u32) -> Self::V;
    fn shl_by(self, a: Self::V, n: u32) -> Self::V;
    /// Bit `i` set when lane `i` of `a & mask` is zero.
    fn zero_lanes(self, a: Self::V, mask: u32) -> u32;
    /// The first digest word of each lane's try: the function
    /// [`first_word!`] defines in the implementing module, with its
    /// instruction set enabled.
    fn first_word<const J: usize, const SPLIT: bool>(
        self,
        run: &LaneRun,
        digits: Self::V,
    ) -> Self::V;
}

/// What a run's lanes share, computed once per run.
#[derive(Clone, Debug)]
pub(crate) struct LaneRun {
    /// The word the first digit sits in.
    pub(crate) j: usize,
    /// Whether word `j + 1` varies too (see [`shape`]).
    pub(crate) split: bool,
    /// Bits word `j` lies before the first digit (`8 ×` its byte offset).
    pub(super) shift: u32,
    /// The midstate's first word, for the one digest word computed.
    pub(super) mid0: u32,
    /// The state after round `j` for digits `0000`.
    pub(super) state: [u32; 8],
    /// Schedule words with digits `0000`: the whole word where it depends
    /// on no digit, else the sum of its terms that do not.
    pub(super) w: [u32; 64],
    /// Digest bits that must be zero in the first word.
    zero_mask: u32,
}

/// Which schedule words depend on the digits, as a bit set, for digits in
/// word `J` (and `J + 1` when `SPLIT`).
pub(super) struct Shape<const J: usize, const SPLIT: bool>;

impl<const J: usize, const SPLIT: bool> Shape<J, SPLIT> {
    const VARYING: u64 = varying(J, SPLIT);

    /// Whether schedule word `t` depends on the digits.
    pub(super) const fn varies(t: usize) -> bool {
        Self::VARYING >> t & 1 != 0
    }

    /// Whether every term of schedule word `t` (`t >= 16`) depends on them.
    pub(super) const fn all_vary(t: usize) -> bool {
        Self::varies(back(t, 2))
            && Self::varies(back(t, 7))
            && Self::varies(back(t, 15))
            && Self::varies(back(t, 16))
    }
}

/// The shape that runs digits starting at byte `offset` of the final block:
/// the word `J` they start in, and whether the search treats word `J + 1`
/// as varying too. It does where they straddle the two, and also where
/// `J + 1` varying would vary no more schedule words (`J` from 1 to 7):
/// there the straddling instance does the same work, and one instance
/// fewer is compiled.
const fn shape(offset: usize) -> (usize, bool) {
    let j = offset / 4;
    (
        j,
        !offset.is_multiple_of(4) || varying(j, true) >> 16 == varying(j, false) >> 16,
    )
}

const fn varying(j: usize, split: bool) -> u64 {
    let mut set = 1u64 << j;
    if split {
        set |= 1 << (j + 1);
    }
    let mut t = 16;
    while t < 64 {
        let from = (1 << (t - 2)) | (1 << (t - 7)) | (1 << (t - 15)) | (1 << (t - 16));
        if set & from != 0 {
            set |= 1 << t;
        }
        t += 1;
    }
    set
}

fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}
fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}
fn big_sigma0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}
fn big_sigma1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}

/// One scalar round on `s = [a, b, c, d, e, f, g, h]`.
fn scalar_round(s: &mut [u32; 8], kw: u32) {
    let [a, b, c, d, e, f, g, h] = *s;
    let t1 = h
        .wrapping_add(big_sigma1(e))
        .wrapping_add((e & f) ^ (!e & g))
        .wrapping_add(kw);
    let t2 = big_sigma0(a).wrapping_add((a & b) ^ (a & c) ^ (b & c));
    *s = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
}

impl LaneRun {
    /// Prepares the run whose final `block` holds `'0'` at the four digits
    /// from `offset` (`offset + 4 <= 55`), compressed into `mid`, for
    /// `difficulty` leading zero bits.
    pub(crate) fn new(mid: &[u32; 8], block: &[u8; 64], offset: usize, difficulty: u32) -> LaneRun {
        debug_assert!(offset + 4 <= 55);
        let (j, split) = shape(offset);
        let mut full = [0u32; 64];
        for (word, bytes) in full.iter_mut().zip(block.as_chunks::<4>().0) {
            *word = u32::from_be_bytes(*bytes);
        }
        for t in 16..64 {
            full[t] = small_sigma1(full[t - 2])
                .wrapping_add(full[t - 7])
                .wrapping_add(small_sigma0(full[t - 15]))
                .wrapping_add(full[t - 16]);
        }
        let set = varying(j, split);
        let varies = |t: usize| set >> t & 1 != 0;
        let mut w = full;
        for t in 16..64 {
            if varies(t) {
                let term = |from: usize, value: u32| if varies(from) { 0 } else { value };
                w[t] = term(t - 2, small_sigma1(full[t - 2]))
                    .wrapping_add(term(t - 7, full[t - 7]))
                    .wrapping_add(term(t - 15, small_sigma0(full[t - 15])))
                    .wrapping_add(term(t - 16, full[t - 16]));
            }
        }
        let mut state = *mid;
        for t in 0..=j {
            scalar_round(&mut state, K[t].wrapping_add(full[t]));
        }
        // Difficulty 0 passes every lane; above 32 the first word must be 0.
        let bits = difficulty.min(32);
        LaneRun {
            j,
            split,
            shift: 8 * (offset % 4) as u32,
            mid0: mid[0],
            state,
            w,
            zero_mask: u32::MAX.checked_shl(32 - bits).unwrap_or(0),
        }
    }
}

/// The vector work left per try for digits starting at byte `offset` of the
/// final block, in instructions of the AVX-512 kernel (rounds after word
/// `J` at about 16 each, varying schedule words at about 11): the solver
/// starts at the nonce width that makes it least.
pub(crate) fn cost(offset: usize) -> u32 {
    let (j, split) = shape(offset);
    let schedule = (varying(j, split) >> 16).count_ones();
    (63 - j as u32) * 16 + schedule * 11
}

/// Decimal digits one per byte, the last digit in the low byte, for each
/// lane: lane `i` holds `first + i` (mod 10,000).
pub(crate) fn digits<L: Lanes>(lanes: L, first: u32) -> L::V {
    lanes.each_lane(|i| {
        let mut n = first + i as u32;
        let mut digits = 0;
        for place in 0..4 {
            digits |= (n % 10) << (8 * place);
            n /= 10;
        }
        digits
    })
}

/// Adds `L::N` (8 or 16) to every lane's decimal digits, without division:
/// biasing each byte by 0xF6 makes it carry exactly when its digit passes
/// 9; the bias is taken back from the bytes that did not carry.
#[inline(always)]
fn step<L: Lanes>(l: L, digits: L::V) -> L::V {
    let step = ((L::N as u32 / 10) << 8) | (L::N as u32 % 10);
    let biased = l.add(digits, l.splat(0xF6F6_F6F6 + step));
    let kept = l.and(l.shr::<7>(biased), l.splat(0x0101_0101));
    // kept * 0xF6 = kept * 256 - kept * 8 - kept * 2
    let bias = l.sub(l.shl::<8>(kept), l.add(l.shl::<3>(kept), l.shl::<1>(kept)));
    l.sub(biased, bias)
}

/// Searches `batches` batches of `L::N` lanes from the lanes' `digits`,
/// and returns the first batch with a lane whose first digest word has the
/// run's zero bits, with the set of those lanes. The caller checks them
/// exactly (and against the range it asked for).
#[inline(always)]
pub(crate) fn search<L: Lanes, const J: usize, const SPLIT: bool>(
    l: L,
    run: &LaneRun,
    mut digits: L::V,
    batches: u32,
) -> Option<(u32, u32)> {
    for batch in 0..batches {
        let hits = l.zero_lanes(l.first_word::<J, SPLIT>(run, digits), run.zero_mask);
        if hits != 0 {
            return Some((batch, hits));
        }
        digits = step(l, digits);
    }
    None
}

/// Defines `first_word::<J, SPLIT>`, the first digest word of each lane's
/// try, for the lanes `$lanes`: compiled with `$feature` and inlined into
/// the shape's [`search`] loop, which has the same feature. (As a call per
/// batch it measured 2.4-3.8% slower on AVX-512 and AVX2, on an AMD EPYC:
/// the run's constants were loaded again on every call.)
///
/// A macro rather than a function generic over the lanes, so that every
/// operation is a call rustc resolves, and inlines, before LLVM sees it.
/// Generic, each of a shape's thousands of operations passed its vectors
/// through memory, and undoing that took LLVM most of a second per shape:
/// lime-pow took 50 s to build in release, 14 s now.
macro_rules! first_word {
    ($lanes:ty, $feature:literal) => {
        #[target_feature(enable = $feature)]
        #[inline]
        fn first_word<const J: usize, const SPLIT: bool>(
            l: $lanes,
            run: &$crate::x86::lanes::LaneRun,
            digits: <$lanes as $crate::x86::lanes::Lanes>::V,
        ) -> <$lanes as $crate::x86::lanes::Lanes>::V {
            rounds::<J, SPLIT>(l, run, digits)
        }

        // Without the target feature, or rustc would not inline the
        // operations into it.
        #[inline(always)]
        #[allow(unused_comparisons)] // `0 > J` in round 0
        fn rounds<const J: usize, const SPLIT: bool>(
            l: $lanes,
            run: &$crate::x86::lanes::LaneRun,
            digits: <$lanes as $crate::x86::lanes::Lanes>::V,
        ) -> <$lanes as $crate::x86::lanes::Lanes>::V {
            use $crate::x86::lanes::{Lanes as _, round};
            // The lanes' parts of words J and J + 1 (the run's words hold
            // '0' there, and '0' + d is the digit d). Digits that do not
            // straddle have `shift` 0: the shift by 32 gives 0 lanes.
            let (in_j, in_next) = if const { SPLIT } {
                (
                    l.shr_by(digits, run.shift),
                    l.shl_by(digits, 32 - run.shift),
                )
            } else {
                (digits, l.splat(0))
            };
            // After round J only a and e differ between lanes, by word J's
            // digits.
            let r = &run.state;
            let mut s = [
                l.add(l.splat(r[0]), in_j),
                l.splat(r[1]),
                l.splat(r[2]),
                l.splat(r[3]),
                l.add(l.splat(r[4]), in_j),
                l.splat(r[5]),
                l.splat(r[6]),
                l.splat(r[7]),
            ];
            // The schedule words that vary; the others are read from `run.w`.
            let mut w = [l.splat(0); 64];
            if const { J < 16 } {
                w[J] = l.add(l.splat(run.w[J]), in_j);
            }
            if const { SPLIT } {
                w[J + 1] = l.add(l.splat(run.w[J + 1]), in_next);
            }
            round!(J, SPLIT, l, run, w, s, 0);
            round!(J, SPLIT, l, run, w, s, 1);
            round!(J, SPLIT, l, run, w, s, 2);
            round!(J, SPLIT, l, run, w, s, 3);
            round!(J, SPLIT, l, run, w, s, 4);
            round!(J, SPLIT, l, run, w, s, 5);
            round!(J, SPLIT, l, run, w, s, 6);
            round!(J, SPLIT, l, run, w, s, 7);
            round!(J, SPLIT, l, run, w, s, 8);
            round!(J, SPLIT, l, run, w, s, 9);
            round!(J, SPLIT, l, run, w, s, 10);
            round!(J, SPLIT, l, run, w, s, 11);
            round!(J, SPLIT, l, run, w, s, 12);
            round!(J, SPLIT, l, run, w, s, 13);
            round!(J, SPLIT, l, run, w, s, 14);
            round!(J, SPLIT, l, run, w, s, 15);
            round!(J, SPLIT, l, run, w, s, 16);
            round!(J, SPLIT, l, run, w, s, 17);
            round!(J, SPLIT, l, run, w, s, 18);
            round!(J, SPLIT, l, run, w, s, 19);
            round!(J, SPLIT, l, run, w, s, 20);
            round!(J, SPLIT, l, run, w, s, 21);
            round!(J, SPLIT, l, run, w, s, 22);
            round!(J, SPLIT, l, run, w, s, 23);
            round!(J, SPLIT, l, run, w, s, 24);
            round!(J, SPLIT, l, run, w, s, 25);
            round!(J, SPLIT, l, run, w, s, 26);
            round!(J, SPLIT, l, run, w, s, 27);
            round!(J, SPLIT, l, run, w, s, 28);
            round!(J, SPLIT, l, run, w, s, 29);
            round!(J, SPLIT, l, run, w, s, 30);
            round!(J, SPLIT, l, run, w, s, 31);
            round!(J, SPLIT, l, run, w, s, 32);
            round!(J, SPLIT, l, run, w, s, 33);
            round!(J, SPLIT, l, run, w, s, 34);
            round!(J, SPLIT, l, run, w, s, 35);
            round!(J, SPLIT, l, run, w, s, 36);
            round!(J, SPLIT, l, run, w, s, 37);
            round!(J, SPLIT, l, run, w, s, 38);
            round!(J, SPLIT, l, run, w, s, 39);
            round!(J, SPLIT, l, run, w, s, 40);
            round!(J, SPLIT, l, run, w, s, 41);
            round!(J, SPLIT, l, run, w, s, 42);
            round!(J, SPLIT, l, run, w, s, 43);
            round!(J, SPLIT, l, run, w, s, 44);
            round!(J, SPLIT, l, run, w, s, 45);
            round!(J, SPLIT, l, run, w, s, 46);
            round!(J, SPLIT, l, run, w, s, 47);
            round!(J, SPLIT, l, run, w, s, 48);
            round!(J, SPLIT, l, run, w, s, 49);
            round!(J, SPLIT, l, run, w, s, 50);
            round!(J, SPLIT, l, run, w, s, 51);
            round!(J, SPLIT, l, run, w, s, 52);
            round!(J, SPLIT, l, run, w, s, 53);
            round!(J, SPLIT, l, run, w, s, 54);
            round!(J, SPLIT, l, run, w, s, 55);
            round!(J, SPLIT, l, run, w, s, 56);
            round!(J, SPLIT, l, run, w, s, 57);
            round!(J, SPLIT, l, run, w, s, 58);
            round!(J, SPLIT, l, run, w, s, 59);
            round!(J, SPLIT, l, run, w, s, 60);
            round!(J, SPLIT, l, run, w, s, 61);
            round!(J, SPLIT, l, run, w, s, 62);
            round!(J, SPLIT, l, run, w, s, 63);
            l.add(s[0], l.splat(run.mid0))
        }
    };
}
pub(crate) use first_word;

/// Round `$t` of [`first_word!`] on the lanes' state `$s`, with the
/// varying schedule words in `$w`: nothing up to round `$j` (the run did
/// those once), else the round, after schedule word `$t` where it varies.
/// `$j` and `$split` are the shape's (the calling function's generics).
macro_rules! round {
    ($j:ident, $split:ident, $l:ident, $run:ident, $w:ident, $s:ident, $t:literal) => {
        if const { $t > $j } {
            use $crate::x86::lanes::{Shape, back};
            let kw = if const { Shape::<$j, $split>::varies($t) } {
                if const { $t >= 16 } {
                    // The constant terms' sum, where there is one.
                    let mut sum = if const { Shape::<$j, $split>::all_vary($t) } {
                        $l.splat(0) // folds away: `x + 0` is `x`
                    } else {
                        $l.splat($run.w[$t])
                    };
                    if const { Shape::<$j, $split>::varies(back($t, 2)) } {
                        let x = $w[const { back($t, 2) }];
                        let s1 =
                            $l.xor3($l.rotr::<17, 15>(x), $l.rotr::<19, 13>(x), $l.shr::<10>(x));
                        sum = $l.add(sum, s1);
                    }
                    if const { Shape::<$j, $split>::varies(back($t, 7)) } {
                        sum = $l.add(sum, $w[const { back($t, 7) }]);
                    }
                    if const { Shape::<$j, $split>::varies(back($t, 15)) } {
                        let x = $w[const { back($t, 15) }];
                        let s0 = $l.xor3($l.rotr::<7, 25>(x), $l.rotr::<18, 14>(x), $l.shr::<3>(x));
                        sum = $l.add(sum, s0);
                    }
                    if const { Shape::<$j, $split>::varies(back($t, 16)) } {
                        sum = $l.add(sum, $w[const { back($t, 16) }]);
                    }
                    $w[$t] = sum;
                }
                $l.add($w[$t], $l.splat($crate::midstate::K[$t]))
            } else {
                $l.splat($crate::midstate::K[$t].wrapping_add($run.w[$t]))
            };
            let [a, b, c, d, e, f, g, h] = $s;
            let s1 = $l.xor3(
                $l.rotr::<6, 26>(e),
                $l.rotr::<11, 21>(e),
                $l.rotr::<25, 7>(e),
            );
            let t1 = $l.add($l.add(h, s1), $l.add($l.ch(e, f, g), kw));
            let s0 = $l.xor3(
                $l.rotr::<2, 30>(a),
                $l.rotr::<13, 19>(a),
                $l.rotr::<22, 10>(a),
            );
            let t2 = $l.add(s0, $l.maj(a, b, c));
            $s = [$l.add(t1, t2), a, b, c, $l.add(d, t1), e, f, g];
        }
    };
}
pub(crate) use round;

/// `t - n`, or 0 where that would be negative: the unrolled rounds name
/// the earlier schedule words of every round, also of rounds never run.
pub(super) const fn back(t: usize, n: usize) -> usize {
    t.saturating_sub(n)
}

/// Calls `$search::<J, SPLIT>(args…)` for `run`'s shape, so each shape is
/// its own fully unrolled instance: 19 of them, as [`shape`] never gives
/// words 1 to 7 unsplit.
macro_rules! by_shape {
    ($search:ident, $run:expr, $($arg:expr),*) => {
        match ($run.j, $run.split) {
            (0, false) => $search::<0, false>($($arg),*),
            (8, false) => $search::<8, false>($($arg),*),
            (9, false) => $search::<9, false>($($arg),*),
            (10, false) => $search::<10, false>($($arg),*),
            (11, false) => $search::<11, false>($($arg),*),
            (12, false) => $search::<12, false>($($arg),*),
            (0, true) => $search::<0, true>($($arg),*),
            (1, true) => $search::<1, true>($($arg),*),
            (2, true) => $search::<2, true>($($arg),*),
            (3, true) => $search::<3, true>($($arg),*),
            (4, true) => $search::<4, true>($($arg),*),
            (5, true) => $search::<5, true>($($arg),*),
            (6, true) => $search::<6, true>($($arg),*),
            (7, true) => $search::<7, true>($($arg),*),
            (8, true) => $search::<8, true>($($arg),*),
            (9, true) => $search::<9, true>($($arg),*),
            (10, true) => $search::<10, true>($($arg),*),
            (11, true) => $search::<11, true>($($arg),*),
            (12, true) => $search::<12, true>($($arg),*),
            // `shape` gives no other pair (its test covers every offset):
            // never a wrong instance, whatever shape a change might add.
            (j, split) => unreachable!("no search instance for shape ({j}, {split})"),
        }
    };
}
pub(crate) use by_shape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_words_that_vary_follow_the_digits() {
        // Digits in word 12 only: W16..W18 and W20, W22, W24 use none.
        let set = varying(12, false);
        for t in [16, 17, 18, 20, 22, 24] {
            assert_eq!(set >> t & 1, 0, "W{t}");
        }
        for t in [12, 19, 21, 23, 25, 63] {
            assert_eq!(set >> t & 1, 1, "W{t}");
        }
        assert_eq!(varying(0, false) & ((1 << 16) - 1), 1);
        assert_eq!(varying(3, true) & ((1 << 16) - 1), 0b11000);
    }

    #[test]
    fn every_digit_place_has_a_compiled_shape_doing_no_extra_work() {
        for offset in 0..=51 {
            let (j, split) = shape(offset);
            assert_eq!(j, offset / 4);
            // `by_shape!` compiles unsplit shapes only for words 0 and 8-12.
            assert!(split || j == 0 || (8..=12).contains(&j), "offset {offset}");
            // Treating word J + 1 as varying adds no schedule word to compute.
            let own = varying(j, !offset.is_multiple_of(4));
            assert_eq!(varying(j, split) >> 16, own >> 16, "offset {offset}");
        }
    }
}
