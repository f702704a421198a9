//! The job planner: turns plain layer data (shapes, dense integer weights or codes + LUT, int32 bias,
//! m/shift, uint8/int8 input bytes) into what the engine needs — the H2C packets (weights in the
//! engine's own tap order, codebook, bias+counts, output masks, the input activations on the
//! padded grid), the descriptor words of each job — and parses the C2H bytes back into CHW.
//! The tests, the Verilator harness and the driver all use it, so the layout lives here once.
//!
//! Geometry (docs/ARCHITECTURE.md has the picture): every map is stored channel-major on a
//! grid of width `grid_w`; output grid position `q` of a KxK window reads
//! `c * plane + q + kh * grid_w + kw`. A stride-2 layer is rewritten as a stride-1 layer over the
//! four polyphase images (channel `4c + 2py + px`), with a `ceil(K/2)` tap window.
//! A Fire module is three jobs: squeeze (activation buffer -> its mid window, written on a grid
//! with a one-pixel zero border), expand1x1 and expand3x3 (mid window -> C2H); the squeeze output
//! never leaves the chip.

use crate::cycles::JobModel;
use crate::descriptor::Descriptor;
use crate::packet::{Packet, PacketError, PacketType};

mod build;
mod fire;
mod layer;
mod tile;

use build::grid_bytes;
pub use build::{plan_conv, plan_conv_for};
pub use fire::{plan_fire, plan_fire_for};
pub use layer::layer_entries;
#[cfg(test)]
use layer::{dense_codes, encode_channel};
use layer::{engine_layer, EngineLayer};
pub use tile::{plan_conv_tiles, plan_fire_tiles, Tile};

/// Engine timing the cycle models rely on. A tile's last entry issues at least this many cycles
/// after the previous tile's last: each shared requantizer serves four lanes, one per cycle.
pub const MIN_TILE_CYCLES: u32 = 4;
/// Cycles per output channel in which the walker fetches the channel's bias and entry count
/// (no entry issues then): the engine's ST_CHAN, ST_CHANW, ST_CHANR.
pub const CHANNEL_FETCH_CYCLES: u32 = 3;

/// Weights of one layer, (O, I, K, K) row-major.
#[derive(Clone, Debug)]
pub enum LayerWeights {
    /// Dense integer weights of at most `spec::numerics::LUT_BITS` bits and at most 255 distinct
    /// nonzero values (the planner builds the codebook: the sorted distinct values from code 1).
    Dense(Vec<i16>),
    /// One code per dense position plus the layer's codebook (256 `LUT_BITS`-bit entries, LUT[0]
    /// must be 0).
    Coded { codes: Vec<u8>, lut: Vec<i16> },
}

/// One convolution layer with fused requant + ReLU (and optional 3x3/2 max-pool).
#[derive(Clone, Debug)]
pub struct ConvLayer {
    pub in_c: u32,
    pub out_c: u32,
    pub k: u32,
    pub stride: u32,
    pub pad: u32,
    pub pool: bool,
    pub weights: LayerWeights,
    pub bias: Vec<i32>,
    pub m: u16,
    pub shift: u8,
}

/// The shape of an activation tensor: all the input-independent part of a plan depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub signed: bool,
}

impl Shape {
    /// Bytes of a CHW tensor of this shape.
    pub fn len(&self) -> usize {
        (self.c * self.h * self.w) as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A CHW activation tensor (bytes are i8 when `signed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub signed: bool,
    pub data: Vec<u8>,
}

impl Tensor {
    pub fn shape(&self) -> Shape {
        Shape {
            c: self.c,
            h: self.h,
            w: self.w,
            signed: self.signed,
        }
    }
}

/// Why a layer cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("layer shape problem: {0}")]
    Shape(String),
    #[error("does not fit the engine: {0}")]
    Capacity(String),
    #[error(transparent)]
    Packet(#[from] PacketError),
    #[error(transparent)]
    Desc(#[from] crate::descriptor::DescError),
    #[error("C2H output has {got} bytes, the plan expects {want}")]
    OutputLength { got: usize, want: usize },
}

/// One job: its descriptor and the number of C2H bytes it sends.
#[derive(Clone, Debug)]
pub struct JobStep {
    pub descriptor: Descriptor,
    pub out_bytes: u64,
    /// Weight entries of each output channel (fillers included), as its bias packet counts them.
    pub chan_entries: Vec<u16>,
    /// Where this job's output lands in the final tensor (C2H jobs only).
    out: Option<OutMap>,
}

impl JobStep {
    /// C2H output: (first output channel of the plan's tensor, channels, bytes per channel).
    /// Channels arrive in order, each as `chan_bytes` consecutive bytes.
    pub fn out_channels(&self) -> Option<(u32, u32, u64)> {
        self.out
            .as_ref()
            .map(|m| (m.ch_offset, m.out_c, m.chan_bytes))
    }

    /// One output channel's C2H bytes (`chan_bytes` of them) as an `oh x ow` map written into
    /// `out`, row `y` at `out[y * stride..]`. False (nothing written) when the job sends no
    /// output, `ch` is not one channel's bytes, or `out` is too short.
    pub fn parse_channel_into(&self, ch: &[u8], out: &mut [u8], stride: usize) -> bool {
        let Some(m) = self.out.as_ref() else {
            return false;
        };
        let (oh, ow) = (m.oh as usize, m.ow as usize);
        if ch.len() as u64 != m.chan_bytes
            || stride < ow
            || (oh > 0 && out.len() < (oh - 1) * stride + ow)
        {
            return false;
        }
        m.channel_into(ch, out, stride);
        true
    }

    /// The descriptor words (the planner checked that the descriptor encodes).
    pub fn words(&self) -> Result<[u32; crate::descriptor::DESC_WORDS], JobError> {
        Ok(self.descriptor.pack()?)
    }
}

/// How a job's C2H bytes map to CHW output.
#[derive(Clone, Debug)]
struct OutMap {
    ch_offset: u32,
    out_c: u32,
    oh: u32,
    ow: u32,
    /// Pooled: (chunks, lanes/2); plain: (grid_w, col0, bytes per channel).
    pool: bool,
    grid_w: u32,
    col0: u32,
    chan_bytes: u64,
    chunks: u32,
    half: u32,
}

impl OutMap {
    /// One channel's C2H bytes as an `oh x ow` map, appended to `out`.
    fn channel_extend(&self, ch: &[u8], out: &mut Vec<u8>) {
        out.reserve((self.oh * self.ow) as usize);
        self.pieces(ch, |_, _, piece| out.extend_from_slice(piece));
    }

    /// Channel `ch`'s map into `out`, row `y` at `out[y * stride..][..ow]`.
    fn channel_into(&self, ch: &[u8], out: &mut [u8], stride: usize) {
        self.pieces(ch, |y, x, piece| {
            out[y * stride + x..][..piece.len()].copy_from_slice(piece)
        });
    }

    /// The map's bytes in C2H order as runs `f(row, column, bytes)`, row by row.
    fn pieces(&self, ch: &[u8], mut f: impl FnMut(usize, usize, &[u8])) {
        let (oh, ow) = (self.oh as usize, self.ow as usize);
        if self.pool {
            // A pooled row is `chunks` chunks of `half` bytes, `half - 1` of them outputs.
            let (per, half) = (self.half as usize - 1, self.half as usize);
            for y in 0..oh {
                let chunks = ch[y * self.chunks as usize * half..].chunks(half);
                for (x, chunk) in (0..ow).step_by(per).zip(chunks) {
                    f(y, x, &chunk[..per.min(ow - x)]);
                }
            }
        } else {
            let rows = ch[self.col0 as usize..].chunks(self.grid_w as usize);
            for (y, row) in rows.take(oh).enumerate() {
                f(y, 0, &row[..ow]);
            }
        }
    }
}

/// How a stride-1 step stores its input in the activation buffer: channel `c` of the `c x h x w`
/// map is a zero-bordered plane of `(h + 2 pad) x (w + 2 pad)` bytes at `base + c * plane`. The
/// host can build it channel by channel (to stream a layer's output back in as the next
/// layer's input while the engine still computes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActLayout {
    pub base: u32,
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub pad: u32,
}

impl ActLayout {
    pub fn plane(&self) -> usize {
        ((self.h + 2 * self.pad) * (self.w + 2 * self.pad)) as usize
    }
    /// Bytes of the whole input (the ACT_IN payload before its padding to whole beats).
    pub fn len(&self) -> usize {
        self.c as usize * self.plane()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Where channel `k`'s map starts in the input's bytes (inside its zero border), and the
    /// distance between its rows.
    pub fn map_at(&self, k: u32) -> (usize, usize) {
        let (p, wp) = (self.pad as usize, (self.w + 2 * self.pad) as usize);
        (k as usize * self.plane() + p * wp + p, wp)
    }
}

/// Where the memories a plan fills end (its packets start at 0): weight entries, bias words,
/// codebook slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub weight: u32,
    pub bias: u32,
    pub slot: u32,
}

/// How a plan puts its input tensor on the engine's grid.
#[derive(Clone, Copy, Debug)]
struct InputGrid {
    shape: Shape,
    /// Zero columns left and right.
    pad: u32,
    /// Zero rows above and below (a band of a Fire module's rows brings its own: 0).
    pad_v: u32,
    stride: u32,
}

impl InputGrid {
    fn dims(&self) -> (u32, u32, u32) {
        build::grid_dims_v(self.shape, self.pad, self.pad_v, self.stride)
    }
}

/// The input-independent part of running one layer (or Fire module) on the engine, planned from
/// the input's shape: the packets that do not depend on the input, the jobs and their cycle
/// models. [`Plan::act_packet`] adds an input.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Each layer's weight, codebook and bias packets, in job order (addresses from 0).
    pub weights: Vec<Packet>,
    /// The output masks of all jobs (one MASK packet, sent after the weights).
    pub mask: Packet,
    pub jobs: Vec<JobStep>,
    /// The cycle model of each job.
    pub models: Vec<JobModel>,
    /// Shape of the final output.
    pub out_c: u32,
    pub out_h: u32,
    pub out_w: u32,
    /// Weight entries the plan stores (fillers included).
    pub weight_entries: u64,
    /// Dense-equivalent MACs of the layer(s) (for efficiency figures).
    pub dense_macs: u64,
    /// How the input is stored, for a stride-1 input (a stride-2 input is split into phases).
    pub input: Option<ActLayout>,
    /// Bytes from the input's base that the jobs reading the input may touch (junk positions
    /// included): the input can move anywhere that leaves this much room.
    pub input_span: u32,
    grid: InputGrid,
}

/// A plan with its input: the ACT_IN packet of one tensor, at address 0.
#[derive(Clone, Debug)]
pub struct Planned {
    pub plan: Plan,
    pub act: Packet,
}

impl std::ops::Deref for Planned {
    type Target = Plan;
    fn deref(&self) -> &Plan {
        &self.plan
    }
}

impl Planned {
    /// The H2C beats to stream before the first job: weights, codebooks, biases, masks, input.
    pub fn load(&self) -> Vec<u64> {
        self.plan
            .weights
            .iter()
            .chain([&self.plan.mask, &self.act])
            .flat_map(|p| p.to_beats())
            .collect()
    }
}

/// One past the highest activation-buffer address job `d` reads (junk grid positions
/// included), for an input of `in_c` channels on the grid.
fn read_end(d: &Descriptor, in_c: u32, lanes: u32) -> u64 {
    d.src_base as u64
        + (in_c as u64 - 1) * d.plane_in as u64
        + d.q_start as u64
        + d.ntiles as u64 * lanes as u64
        + (d.k as u64 - 1) * (d.grid_w as u64 + 1)
}

impl Plan {
    /// The shape of input the plan was made for.
    pub fn input_shape(&self) -> Shape {
        self.grid.shape
    }

    /// The input's ACT_IN packet (at address 0): the payload of [`Plan::input_grid`].
    pub fn act_packet(&self, data: &[u8]) -> Result<Packet, JobError> {
        Ok(Packet::act(false, 0, &self.input_grid(data)?)?)
    }

    /// `data` (CHW bytes of the planned shape) on the grid, split into its four polyphase
    /// images for a stride-2 layer, zero-padded to whole stream beats: the ACT_IN payload.
    pub fn input_grid(&self, data: &[u8]) -> Result<Vec<u8>, JobError> {
        let g = self.grid;
        if data.len() != g.shape.len() {
            return Err(JobError::Shape(format!(
                "input of {} bytes for a {}x{}x{} plan",
                data.len(),
                g.shape.c,
                g.shape.h,
                g.shape.w
            )));
        }
        let mut v = grid_bytes(data, g.shape, g.pad, g.pad_v, g.stride);
        let beat = crate::STREAM_BYTES as usize;
        v.resize(v.len().div_ceil(beat) * beat, 0);
        Ok(v)
    }

    /// Bytes of [`Plan::input_grid`].
    pub fn input_grid_len(&self) -> usize {
        let g = self.grid;
        let (gw, gh, gc) = g.dims();
        let beat = crate::STREAM_BYTES as usize;
        (gc as usize * (gw * gh) as usize).div_ceil(beat) * beat
    }

    /// Bytes `sent.len()..` of [`Plan::input_grid`], if its bytes `..sent.len()` are `sent`
    /// (else `None`), built a plane at a time: the part already on the card is compared in
    /// place.
    pub fn input_grid_after(&self, data: &[u8], sent: &[u8]) -> Result<Option<Vec<u8>>, JobError> {
        let g = self.grid;
        let from = sent.len();
        if g.stride != 1 {
            let full = self.input_grid(data)?;
            return Ok((full.get(..from) == Some(sent)).then(|| full[from..].to_vec()));
        }
        if data.len() != g.shape.len() {
            return self.input_grid(data).map(|_| None);
        }
        let total = self.input_grid_len();
        if from > total {
            return Ok(None);
        }
        let (h, w, p) = (g.shape.h as usize, g.shape.w as usize, g.pad as usize);
        let pv = g.pad_v as usize;
        let (gw, gh, _) = g.dims();
        let (gw, plane) = (gw as usize, (gw * gh) as usize);
        let mut out = Vec::with_capacity(total - from);
        // One plane, its border zero (only the interior is written, channel after channel).
        let mut buf = vec![0u8; plane];
        for c in 0..g.shape.c as usize {
            let start = c * plane;
            for y in 0..h {
                buf[(y + pv) * gw + p..][..w].copy_from_slice(&data[(c * h + y) * w..][..w]);
            }
            let split = from.clamp(start, start + plane) - start;
            if split > 0 && buf[..split] != sent[start..start + split] {
                return Ok(None);
            }
            out.extend_from_slice(&buf[split..]);
        }
        // The padding to whole beats.
        let end = g.shape.c as usize * plane;
        let split = from.max(end);
        if sent[end.min(from)..].iter().any(|&b| b != 0) {
            return Ok(None);
        }
        out.resize(out.len() + (total - split), 0);
        Ok(Some(out))
    }

    /// Where the memories the plan's packets fill end.
    pub fn footprint(&self) -> Footprint {
        let mut f = Footprint::default();
        for k in &self.weights {
            let n = k.payload.len() as u32;
            match k.ty {
                PacketType::Weights => {
                    f.weight = f
                        .weight
                        .max(k.addr + n * crate::packet::WEIGHTS_PER_BEAT as u32)
                }
                PacketType::Bias => f.bias = f.bias.max(k.addr + n),
                PacketType::Codebook => f.slot = f.slot.max(k.addr + 1),
                _ => {}
            }
        }
        f
    }

    /// Total C2H bytes over all jobs.
    pub fn out_bytes(&self) -> u64 {
        self.jobs.iter().map(|j| j.out_bytes).sum()
    }

    /// Parse the concatenated C2H bytes of all jobs into CHW bytes.
    pub fn parse_output(&self, c2h: &[u8]) -> Result<Vec<u8>, JobError> {
        let want = self.out_bytes() as usize;
        if c2h.len() != want {
            return Err(JobError::OutputLength {
                got: c2h.len(),
                want,
            });
        }
        let (oh, ow) = (self.out_h as usize, self.out_w as usize);
        let n = self.out_c as usize * oh * ow;
        // The jobs' outputs follow each other in channel order: each channel is appended.
        let mut out = Vec::with_capacity(n);
        let mut at = 0usize;
        for j in &self.jobs {
            let bytes = &c2h[at..at + j.out_bytes as usize];
            at += j.out_bytes as usize;
            let Some(m) = &j.out else { continue };
            if m.ch_offset as usize * oh * ow != out.len() {
                return Err(JobError::Shape(format!(
                    "job output from channel {} does not follow channel {}",
                    m.ch_offset,
                    out.len() / (oh * ow).max(1)
                )));
            }
            for ch in bytes
                .chunks_exact(m.chan_bytes as usize)
                .take(m.out_c as usize)
            {
                m.channel_extend(ch, &mut out);
            }
        }
        if out.len() != n {
            return Err(JobError::Shape(format!(
                "the jobs' outputs hold {} bytes, the plan's output {n}",
                out.len()
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
