//! Difficulty: how many leading zero bits a digest needs.
#![forbid(unsafe_code)]

use core::fmt;

/// The largest difficulty that can be met at all (a zero digest).
pub const MAX_DIFFICULTY: u16 = 256;

/// A difficulty in `0..=256`, the leading zero bits a valid digest needs.
///
/// Servers send any integer; [`Difficulty::new`] applies the protocol's
/// rules: `≤ 0` accepts any nonce, `> 256` can never be met.
///
/// ```
/// use lime_pow::Difficulty;
/// assert_eq!(Difficulty::new(-3).unwrap().bits(), 0);
/// assert_eq!(Difficulty::new(15).unwrap().bits(), 15);
/// assert!(Difficulty::new(257).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Difficulty(u16);

impl Difficulty {
    /// Difficulty 0: every nonce is valid.
    pub const ZERO: Difficulty = Difficulty(0);

    /// Validates a difficulty as a server sends it.
    ///
    /// # Errors
    /// [`Unsolvable`] when `difficulty > 256`: no digest has more than 256 zero bits.
    pub const fn new(difficulty: i64) -> Result<Self, Unsolvable> {
        if difficulty <= 0 {
            Ok(Difficulty(0))
        } else if difficulty > MAX_DIFFICULTY as i64 {
            Err(Unsolvable { difficulty })
        } else {
            Ok(Difficulty(difficulty as u16))
        }
    }

    /// The number of leading zero bits required, `0..=256`.
    pub const fn bits(self) -> u32 {
        self.0 as u32
    }

    /// The expected number of hashes to find a valid nonce: `2^bits`.
    ///
    /// ```
    /// # use lime_pow::Difficulty;
    /// assert_eq!(Difficulty::new(15).unwrap().expected_hashes(), 32768.0);
    /// ```
    pub const fn expected_hashes(self) -> f64 {
        let mut x = 1.0f64;
        let mut i = 0;
        while i < self.0 {
            x *= 2.0;
            i += 1;
        }
        x
    }

    /// Whether a SHA-256 state (the digest as eight big-endian words) meets
    /// this difficulty.
    #[inline(always)]
    pub(crate) fn is_met_by(self, state: &[u32; 8]) -> bool {
        let bits = self.0 as usize;
        let full = bits / 32;
        let rest = bits % 32;
        // Word 0 decides all but one in 2^32 cases: check it first.
        if full == 0 {
            return rest == 0 || state[0] >> (32 - rest) == 0;
        }
        if state[..full].iter().any(|&w| w != 0) {
            return false;
        }
        rest == 0 || state[full] >> (32 - rest) == 0
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A difficulty above 256 bits: no SHA-256 digest can meet it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsolvable {
    /// The difficulty that was asked for.
    pub difficulty: i64,
}

impl fmt::Display for Unsolvable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "proof-of-work difficulty {} can never be met (the maximum is {MAX_DIFFICULTY})",
            self.difficulty
        )
    }
}

impl core::error::Error for Unsolvable {}
