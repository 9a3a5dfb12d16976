//! Streaming SHA-256 absorption that stops before finalisation, so a fixed
//! message prefix is compressed once and its state reused for every try.
#![forbid(unsafe_code)]

use sha2::block_api::compress256;

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
pub(crate) const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256's round constants (FIPS 180-4, 4.2.2).
#[rustfmt::skip]
pub(crate) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// A SHA-256 computation paused on a block boundary, with the bytes of the
/// unfinished block kept aside.
#[derive(Clone)]
pub(crate) struct Midstate {
    /// The state after every full block absorbed so far.
    pub(crate) state: [u32; 8],
    /// The bytes after the last full block.
    pub(crate) tail: [u8; 64],
    /// How many bytes of `tail` are used (`< 64`).
    pub(crate) tail_len: usize,
    /// Bytes absorbed in total, for the final length field.
    pub(crate) total_len: u64,
}

impl Midstate {
    pub(crate) const fn new() -> Self {
        Midstate {
            state: IV,
            tail: [0; 64],
            tail_len: 0,
            total_len: 0,
        }
    }

    /// Absorbs `data`, compressing every block it completes.
    pub(crate) fn absorb(&mut self, mut data: &[u8]) {
        self.total_len += data.len() as u64;
        if self.tail_len > 0 {
            let take = data.len().min(64 - self.tail_len);
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&data[..take]);
            self.tail_len += take;
            data = &data[take..];
            if self.tail_len < 64 {
                return;
            }
            compress256(&mut self.state, core::slice::from_ref(&self.tail));
            self.tail_len = 0;
        }
        let (blocks, rest) = data.as_chunks::<64>();
        compress256(&mut self.state, blocks);
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }
}
