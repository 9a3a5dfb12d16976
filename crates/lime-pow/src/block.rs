//! The block function the search loop calls: one seam where a faster SHA-256
//! compression (an interleaved SHA-NI path) can be dropped in.

/// A SHA-256 compression function over whole 64-byte blocks.
pub(crate) trait BlockFn {
    /// Compresses `blocks` into `state`, in order.
    fn compress(state: &mut [u32; 8], blocks: &[[u8; 64]]);
}

/// `sha2`'s compression: SHA-NI, AVX2 or portable code, picked at run time.
pub(crate) struct Portable;

impl BlockFn for Portable {
    #[inline(always)]
    fn compress(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
        sha2::block_api::compress256(state, blocks);
    }
}
