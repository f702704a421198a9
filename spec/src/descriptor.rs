//! The layer descriptor: the job the host writes into the `DESC` registers before `CTRL.START`.
//! Owned by the hardware (its encoding follows the engine); the driver and the RTL both use this
//! file's packing, never their own. `spec::job` fills it from plain layer data.
//!
//! A job computes `out_c` output channels of one convolution on a *grid*: the input map of
//! every channel is stored (channel-major, `plane_in` bytes apart) on a padded grid of width
//! `grid_w`, and output grid position `q` of a KxK tap window reads input address
//! `src_base + c * plane_in + q + kh * grid_w + kw`. The engine walks, per output channel,
//! `ntiles` tiles of `pixel_lanes` consecutive grid positions starting at `q_start`; the mask
//! memory (bit per position, loaded by a `MASK` packet) says which positions are real outputs
//! (others produce 0).

use crate::packet::PacketType;

/// Number of 32-bit descriptor words (the `DESC` register array has exactly this many).
pub const DESC_WORDS: usize = 16;

/// Largest tap window side on the grid (7x7/2 becomes 4x4 by space-to-depth).
pub const MAX_K: u32 = 4;

/// One bit field of a descriptor word: word index, lsb, width. Read by the RTL generator, so the
/// hardware slices exactly what [`Descriptor::pack`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescField {
    pub name: &'static str,
    pub word: usize,
    pub lsb: u32,
    pub width: u32,
}

impl DescField {
    /// Bit offset inside the 512-bit concatenation of all words (word 0 at bit 0).
    pub const fn bit(&self) -> u32 {
        self.word as u32 * 32 + self.lsb
    }
    const fn mask(&self) -> u32 {
        if self.width >= 32 {
            u32::MAX
        } else {
            (1u32 << self.width) - 1
        }
    }
    fn put(&self, words: &mut [u32; DESC_WORDS], v: u32) {
        words[self.word] |= (v & self.mask()) << self.lsb;
    }
    fn get(&self, words: &[u32; DESC_WORDS]) -> u32 {
        (words[self.word] >> self.lsb) & self.mask()
    }
}

macro_rules! df {
    ($id:ident, $name:literal, $w:expr, $lsb:expr, $width:expr) => {
        pub const $id: DescField = DescField {
            name: $name,
            word: $w,
            lsb: $lsb,
            width: $width,
        };
    };
}

df!(D_K, "k", 0, 0, 3);
df!(D_SRC_MID, "src_mid", 0, 4, 1);
df!(D_DST_MID, "dst_mid", 0, 5, 1);
df!(D_IN_SIGNED, "in_signed", 0, 6, 1);
df!(D_POOL, "pool", 0, 7, 1);
df!(D_LUT_SLOT, "lut_slot", 0, 8, 6);
df!(D_OUT_C, "out_c", 1, 0, 16);
df!(D_GRID_W, "grid_w", 2, 0, 16);
df!(D_PLANE_IN, "plane_in", 3, 0, 16);
df!(D_Q_START, "q_start", 4, 0, 24);
df!(D_NTILES, "ntiles", 5, 0, 16);
df!(D_SRC_BASE, "src_base", 6, 0, 24);
df!(D_WEIGHT_BASE, "weight_base", 7, 0, 23);
df!(D_WEIGHT_BEATS, "weight_beats", 1, 16, 16);
df!(D_BIAS_BASE, "bias_base", 8, 0, 16);
df!(D_M, "m", 9, 0, 16);
df!(D_SHIFT, "shift", 9, 16, 6);
df!(D_DST_BASE, "dst_base", 10, 0, 24);
df!(D_PLANE_OUT, "plane_out", 11, 0, 16);
df!(D_OUT_CH_OFFSET, "out_ch_offset", 12, 0, 16);
df!(D_MASK_BASE, "mask_base", 13, 0, 16);
df!(D_WR_COUNT, "wr_count", 14, 0, 24);
df!(D_POOL_OH, "pool_oh", 15, 0, 12);
df!(D_POOL_CHUNKS, "pool_chunks", 15, 12, 8);
df!(D_POOL_COL0, "pool_col0", 15, 20, 4);

/// Every field, for docs and for the RTL generator.
pub const FIELDS: &[DescField] = &[
    D_K,
    D_SRC_MID,
    D_DST_MID,
    D_IN_SIGNED,
    D_POOL,
    D_LUT_SLOT,
    D_OUT_C,
    D_GRID_W,
    D_PLANE_IN,
    D_Q_START,
    D_NTILES,
    D_SRC_BASE,
    D_WEIGHT_BASE,
    D_WEIGHT_BEATS,
    D_BIAS_BASE,
    D_M,
    D_SHIFT,
    D_DST_BASE,
    D_PLANE_OUT,
    D_OUT_CH_OFFSET,
    D_MASK_BASE,
    D_WR_COUNT,
    D_POOL_OH,
    D_POOL_CHUNKS,
    D_POOL_COL0,
];

/// A layer job, unpacked. See the module doc for the addressing it describes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// Tap window side on the grid: 1, 3 or 4 (4 = a 7x7/2 conv after space-to-depth).
    pub k: u32,
    /// The input is a Fire squeeze output (the mid window of the activation buffer, at
    /// `src_base`). The hardware reads the one activation buffer either way; the bit says what
    /// the job is (traces, the emulator's checks).
    pub src_mid: bool,
    /// Write the output into the activation buffer (the mid window at `dst_base`) instead of
    /// sending it on C2H.
    pub dst_mid: bool,
    /// Input bytes are int8 (sign-extended); otherwise uint8.
    pub in_signed: bool,
    /// Fused 3x3/2 max-pool on the output (C2H only).
    pub pool: bool,
    /// Codebook LUT slot of this layer.
    pub lut_slot: u32,
    /// Output channels computed by the job.
    pub out_c: u32,
    /// Grid width (row pitch) shared by the input and output grids.
    pub grid_w: u32,
    /// Bytes between input channel planes.
    pub plane_in: u32,
    /// First output grid position computed.
    pub q_start: u32,
    /// Tiles of `pixel_lanes` positions per output channel.
    pub ntiles: u32,
    /// Byte address of input channel 0 in the source buffer.
    pub src_base: u32,
    /// Weight-memory entry of output channel 0's first entry (channels follow contiguously).
    pub weight_base: u32,
    /// Weight-memory beats (4 entries each) the job's entries span from `weight_base`; only the
    /// loader's gate reads it (packets into that range wait for the job).
    pub weight_beats: u32,
    /// Bias/count-memory index of output channel 0.
    pub bias_base: u32,
    /// Requantization multiplier (1..=32767) and shift (1..=46).
    pub m: u32,
    pub shift: u32,
    /// Activation-buffer byte address of output position `q_start` of channel 0 (dst_mid only;
    /// a multiple of `pixel_lanes`, like `plane_out`: the engine writes whole lane-aligned tiles).
    pub dst_base: u32,
    /// Bytes between output channel planes in the mid window (dst_mid only).
    pub plane_out: u32,
    /// Output channel offset: output channel `o` is written as channel `out_ch_offset + o` (Fire concat).
    pub out_ch_offset: u32,
    /// Mask-memory tile index of tile 0 (mask bits of tile t are bits `(mask_base+t)*S ..`).
    pub mask_base: u32,
    /// dst_mid only: positions `q_start .. q_start + wr_count` of each channel are written.
    pub wr_count: u32,
    /// Pool only: pooled rows, chunks of `pixel_lanes/2 - 1` pooled columns per row, and the
    /// grid column of conv output column 0.
    pub pool_oh: u32,
    pub pool_chunks: u32,
    pub pool_col0: u32,
}

/// Why a descriptor cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("descriptor field `{field}` = {value} does not fit in {width} bits")]
pub struct DescError {
    pub field: &'static str,
    pub value: u32,
    pub width: u32,
}

impl Descriptor {
    fn values(&self) -> [(DescField, u32); 25] {
        [
            (D_K, self.k),
            (D_SRC_MID, self.src_mid as u32),
            (D_DST_MID, self.dst_mid as u32),
            (D_IN_SIGNED, self.in_signed as u32),
            (D_POOL, self.pool as u32),
            (D_LUT_SLOT, self.lut_slot),
            (D_OUT_C, self.out_c),
            (D_GRID_W, self.grid_w),
            (D_PLANE_IN, self.plane_in),
            (D_Q_START, self.q_start),
            (D_NTILES, self.ntiles),
            (D_SRC_BASE, self.src_base),
            (D_WEIGHT_BASE, self.weight_base),
            (D_WEIGHT_BEATS, self.weight_beats),
            (D_BIAS_BASE, self.bias_base),
            (D_M, self.m),
            (D_SHIFT, self.shift),
            (D_DST_BASE, self.dst_base),
            (D_PLANE_OUT, self.plane_out),
            (D_OUT_CH_OFFSET, self.out_ch_offset),
            (D_MASK_BASE, self.mask_base),
            (D_WR_COUNT, self.wr_count),
            (D_POOL_OH, self.pool_oh),
            (D_POOL_CHUNKS, self.pool_chunks),
            (D_POOL_COL0, self.pool_col0),
        ]
    }

    /// The `DESC` register words; an error if a value does not fit its field.
    pub fn pack(&self) -> Result<[u32; DESC_WORDS], DescError> {
        let mut w = [0u32; DESC_WORDS];
        for (f, v) in self.values() {
            if f.width < 32 && v >> f.width != 0 {
                return Err(DescError {
                    field: f.name,
                    value: v,
                    width: f.width,
                });
            }
            f.put(&mut w, v);
        }
        Ok(w)
    }

    /// Decode `DESC` words (the inverse of [`pack`](Self::pack)).
    pub fn unpack(w: &[u32; DESC_WORDS]) -> Descriptor {
        Descriptor {
            k: D_K.get(w),
            src_mid: D_SRC_MID.get(w) != 0,
            dst_mid: D_DST_MID.get(w) != 0,
            in_signed: D_IN_SIGNED.get(w) != 0,
            pool: D_POOL.get(w) != 0,
            lut_slot: D_LUT_SLOT.get(w),
            out_c: D_OUT_C.get(w),
            grid_w: D_GRID_W.get(w),
            plane_in: D_PLANE_IN.get(w),
            q_start: D_Q_START.get(w),
            ntiles: D_NTILES.get(w),
            src_base: D_SRC_BASE.get(w),
            weight_base: D_WEIGHT_BASE.get(w),
            weight_beats: D_WEIGHT_BEATS.get(w),
            bias_base: D_BIAS_BASE.get(w),
            m: D_M.get(w),
            shift: D_SHIFT.get(w),
            dst_base: D_DST_BASE.get(w),
            plane_out: D_PLANE_OUT.get(w),
            out_ch_offset: D_OUT_CH_OFFSET.get(w),
            mask_base: D_MASK_BASE.get(w),
            wr_count: D_WR_COUNT.get(w),
            pool_oh: D_POOL_OH.get(w),
            pool_chunks: D_POOL_CHUNKS.get(w),
            pool_col0: D_POOL_COL0.get(w),
        }
    }

    /// Bytes the job sends on C2H (0 for a job that writes the mid buffer), for `lanes` pixel lanes.
    pub fn output_bytes(&self, lanes: u32) -> u64 {
        if self.dst_mid {
            0
        } else if self.pool {
            self.out_c as u64 * self.pool_oh as u64 * self.pool_chunks as u64 * (lanes as u64 / 2)
        } else {
            self.out_c as u64 * self.ntiles as u64 * lanes as u64
        }
    }

    /// Whether the loader takes an H2C packet (type `ty`, destination `addr`, `beats` payload
    /// beats) while this job runs, instead of holding it until the job is done: only packets
    /// that cannot touch what the job uses. `ACT_IN` bytes must end at or below `src_base` (the
    /// job reads nothing below it) and the job must not write the activation buffer itself (a
    /// squeeze job owns its write port); weight entries must lie outside the job's
    /// `weight_beats` beats from `weight_base`; bias words outside its `out_c` words from
    /// `bias_base`; a codebook in another slot than `lut_slot`. So the next layer's input and
    /// weights stream in under compute. Masks and `ACT_MID` always wait. Zero-length packets
    /// are consumed at any time.
    pub fn loads_while_running(&self, ty: PacketType, addr: u32, beats: u32) -> bool {
        let (a, n) = (addr as u64, beats as u64);
        let outside = |end: u64, lo: u64, hi: u64| end <= lo || a >= hi;
        beats == 0
            || match ty {
                PacketType::ActIn => {
                    !self.dst_mid && a + n * crate::STREAM_BYTES as u64 <= self.src_base as u64
                }
                PacketType::Weights => {
                    let wpb = crate::packet::WEIGHTS_PER_BEAT as u64;
                    let lo = self.weight_base as u64;
                    outside(a + n * wpb, lo, lo + self.weight_beats as u64 * wpb)
                }
                PacketType::Bias => {
                    let lo = self.bias_base as u64;
                    outside(a + n, lo, lo + self.out_c as u64)
                }
                PacketType::Codebook => addr != self.lut_slot,
                PacketType::Mask | PacketType::ActMid => false,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Descriptor {
        Descriptor {
            k: 3,
            src_mid: true,
            dst_mid: false,
            in_signed: true,
            pool: true,
            lut_slot: 5,
            out_c: 1000,
            grid_w: 57,
            plane_in: 57 * 57,
            q_start: 57,
            ntiles: 200,
            src_base: 0x12345,
            weight_base: 400_000,
            weight_beats: 9000,
            bias_base: 999,
            m: 32767,
            shift: 46,
            dst_base: 77,
            plane_out: 3249,
            out_ch_offset: 64,
            mask_base: 300,
            wr_count: 3249,
            pool_oh: 55,
            pool_chunks: 3,
            pool_col0: 1,
        }
    }

    #[test]
    fn pack_unpack_round_trip() {
        let d = sample();
        let w = d.pack().unwrap();
        assert_eq!(Descriptor::unpack(&w), d);
        assert_eq!(w[1], 1000 | (9000 << 16));
        assert_eq!(w[9], 32767 | (46 << 16));
    }

    #[test]
    fn fields_do_not_overlap() {
        let mut used = [0u32; DESC_WORDS];
        for f in FIELDS {
            let m = f.mask() << f.lsb;
            assert!(f.lsb + f.width <= 32, "{}", f.name);
            assert_eq!(used[f.word] & m, 0, "{} overlaps", f.name);
            used[f.word] |= m;
        }
    }

    #[test]
    fn oversized_values_are_errors() {
        let d = Descriptor { k: 9, ..sample() };
        let e = d.pack().unwrap_err();
        assert_eq!(e.field, "k");
        let d = Descriptor {
            plane_out: 70_000,
            ..sample()
        };
        assert_eq!(d.pack().unwrap_err().field, "plane_out");
    }

    #[test]
    fn output_bytes_follow_mode() {
        let d = sample();
        assert_eq!(d.output_bytes(16), 1000 * 55 * 3 * 8);
        let d = Descriptor {
            pool: false,
            ..sample()
        };
        assert_eq!(d.output_bytes(16), 1000 * 200 * 16);
        let d = Descriptor {
            dst_mid: true,
            ..sample()
        };
        assert_eq!(d.output_bytes(16), 0);
    }

    #[test]
    fn loads_while_running_only_below_what_the_job_reads() {
        let d = Descriptor {
            src_base: 4096,
            dst_mid: false,
            ..sample()
        };
        // 512 beats = 4096 bytes end exactly at src_base.
        assert!(d.loads_while_running(PacketType::ActIn, 0, 512));
        assert!(!d.loads_while_running(PacketType::ActIn, 8, 512));
        assert!(!d.loads_while_running(PacketType::ActMid, 0, 1));
        assert!(!d.loads_while_running(PacketType::Mask, 0, 1));
        // Weights, biases, codebooks: anywhere but the job's own.
        let wd = Descriptor {
            weight_base: 1000,
            weight_beats: 10,
            bias_base: 50,
            out_c: 16,
            lut_slot: 2,
            ..d.clone()
        };
        assert!(wd.loads_while_running(PacketType::Weights, 0, 250));
        assert!(!wd.loads_while_running(PacketType::Weights, 0, 251));
        assert!(!wd.loads_while_running(PacketType::Weights, 1036, 1));
        assert!(wd.loads_while_running(PacketType::Weights, 1040, 100));
        assert!(wd.loads_while_running(PacketType::Bias, 0, 50));
        assert!(!wd.loads_while_running(PacketType::Bias, 65, 1));
        assert!(wd.loads_while_running(PacketType::Bias, 66, 1));
        assert!(!wd.loads_while_running(PacketType::Codebook, 2, 32));
        assert!(wd.loads_while_running(PacketType::Codebook, 3, 32));
        assert!(d.loads_while_running(PacketType::Bias, 0, 0));
        // A job that writes the buffer takes nothing.
        let sq = Descriptor { dst_mid: true, ..d };
        assert!(!sq.loads_while_running(PacketType::ActIn, 0, 1));
        // No wrap-around: a huge length is refused.
        assert!(!d.loads_while_running(PacketType::ActIn, 0, u32::MAX));
    }
}
