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
