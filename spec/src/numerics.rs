//! The engine's arithmetic contract: how wide the decoded weights are and what the input image is.
//! `weights::quant` derives every integer the engine is given from these, the int8 reference
//! model (`reference::int8`) computes with them, and the RTL sizes its codebook memory,
//! weight bus and multipliers from them.
//!
//! - Weights are stored as 8-bit Deep Compression codes; each layer's 256-entry codebook is
//!   decoded through a LUT of [`LUT_BITS`]-bit signed entries (symmetric, `|lut| <=
//!   `[`WEIGHT_QMAX`]). Wide entries cost LUT bits and multiplier width, not weight memory.
//! - Activations are unsigned 8-bit with zero point 0. conv1 reads the raw 8-bit BGR pixels
//!   ([`INPUT_SIGNED`] is false): conv1 has no padding, so the float model's mean subtraction
//!   is folded exactly into conv1's bias and the image needs no quantization.
//! - Accumulators are 32-bit two's complement (wrapping); a product of a [`LUT_BITS`]-bit weight
//!   and a (sign- or zero-extended) 8-bit activation fits [`PRODUCT_BITS`] bits.

/// Width in bits of one decoded weight (a codebook LUT entry), two's complement.
pub const LUT_BITS: u32 = 16;
/// Largest magnitude of a LUT entry (symmetric: the most negative code is never used).
pub const WEIGHT_QMAX: i32 = (1 << (LUT_BITS - 1)) - 1;
/// Entries of one codebook (8-bit codes).
pub const CODEBOOK_ENTRIES: usize = 256;
/// Bytes of one codebook LUT as it is stored and streamed (entries little-endian).
pub const CODEBOOK_BYTES: usize = CODEBOOK_ENTRIES * (LUT_BITS as usize / 8);
/// Bits of an exact weight x activation product: a `LUT_BITS`-bit signed weight times a 9-bit
/// signed (extended 8-bit) activation.
pub const PRODUCT_BITS: u32 = LUT_BITS + 9;
/// Whether conv1's input (the image) is signed. The image is raw 8-bit pixels: unsigned.
pub const INPUT_SIGNED: bool = false;

const _: () = assert!(LUT_BITS % 8 == 0 && LUT_BITS >= 8 && LUT_BITS <= 16);
