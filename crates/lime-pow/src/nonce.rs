//! A found nonce, held without an allocator.
#![forbid(unsafe_code)]

use core::fmt;

/// The most digits a nonce from this crate has (`u64::MAX` has 20).
pub(crate) const MAX_DIGITS: usize = 20;

/// A solution nonce: a canonical decimal (no sign, no leading zeros).
///
/// Its `Debug` output is redacted, because a nonce is a credential for one
/// login; read it with [`Nonce::as_str`] or [`Nonce::value`] where it must
/// be sent or printed.
///
/// ```
/// use lime_pow::Nonce;
/// let nonce = Nonce::from_value(88484);
/// assert_eq!(nonce.as_str(), "88484");
/// assert_eq!(format!("{nonce:?}"), "Nonce(<redacted>)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce {
    value: u64,
    digits: [u8; MAX_DIGITS],
    len: u8,
}

impl Nonce {
    /// The nonce whose decimal form is `value`'s.
    pub const fn from_value(value: u64) -> Self {
        let mut digits = [0u8; MAX_DIGITS];
        let len = decimal_len(value);
        let mut v = value;
        let mut i = len;
        while i > 0 {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        Nonce {
            value,
            digits,
            len: len as u8,
        }
    }

    /// The nonce as a number.
    pub const fn value(&self) -> u64 {
        self.value
    }

    /// The nonce as the decimal string sent to the server.
    pub fn as_str(&self) -> &str {
        match core::str::from_utf8(self.as_bytes()) {
            Ok(s) => s,
            // Only ASCII digits are ever written.
            Err(_) => unreachable!("nonce digits are ASCII"),
        }
    }

    /// The nonce's ASCII digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..self.len as usize]
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nonce(<redacted>)")
    }
}

/// The number of decimal digits of `value` (1 for 0).
pub(crate) const fn decimal_len(value: u64) -> usize {
    let mut len = 1;
    let mut v = value;
    while v >= 10 {
        v /= 10;
        len += 1;
    }
    len
}

/// `10^exp`, for `exp <= 19`.
pub(crate) const fn pow10(exp: usize) -> u64 {
    let mut x = 1u64;
    let mut i = 0;
    while i < exp {
        x *= 10;
        i += 1;
    }
    x
}
