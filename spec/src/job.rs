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

use crate::descriptor::{Descriptor, MAX_K};
use crate::numerics::{CODEBOOK_ENTRIES, LUT_BITS, WEIGHT_QMAX};
use crate::packet::{Packet, PacketError};
use crate::AccelConfig;

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

/// A CHW activation tensor (bytes are i8 when `signed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub signed: bool,
    pub data: Vec<u8>,
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
    pub desc: [u32; crate::descriptor::DESC_WORDS],
    pub out_bytes: u64,
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

    /// One output channel's C2H bytes (`chan_bytes` of them) as an `oh x ow` map.
    pub fn parse_channel(&self, ch: &[u8]) -> Option<Vec<u8>> {
        let m = self.out.as_ref()?;
        (ch.len() as u64 == m.chan_bytes).then(|| m.channel(ch))
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
    /// One channel's C2H bytes as an `oh x ow` map.
    fn channel(&self, ch: &[u8]) -> Vec<u8> {
        let (oh, ow) = (self.oh as usize, self.ow as usize);
        let mut dst = vec![0u8; oh * ow];
        for y in 0..oh {
            for x in 0..ow {
                dst[y * ow + x] = if self.pool {
                    let per = self.half as usize - 1;
                    ch[(y * self.chunks as usize + x / per) * self.half as usize + x % per]
                } else {
                    ch[y * self.grid_w as usize + x + self.col0 as usize]
                };
            }
        }
        dst
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
    /// Channel `map` (`h x w` bytes) as its plane on the grid.
    pub fn plane_of(&self, map: &[u8]) -> Vec<u8> {
        let (h, w, p) = (self.h as usize, self.w as usize, self.pad as usize);
        let wp = w + 2 * p;
        let mut v = vec![0u8; self.plane()];
        for y in 0..h {
            v[(y + p) * wp + p..][..w].copy_from_slice(&map[y * w..][..w]);
        }
        v
    }
}

/// Everything to run one layer (or Fire module) on the engine.
#[derive(Clone, Debug)]
pub struct Plan {
    /// H2C beats to stream before the first job (weights, codebooks, bias, masks, input).
    pub load: Vec<u64>,
    pub jobs: Vec<JobStep>,
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
        let mut out = vec![0u8; self.out_c as usize * oh * ow];
        let mut at = 0usize;
        for j in &self.jobs {
            let bytes = &c2h[at..at + j.out_bytes as usize];
            at += j.out_bytes as usize;
            let Some(m) = &j.out else { continue };
            for o in 0..m.out_c as usize {
                let ch = &bytes[o * m.chan_bytes as usize..][..m.chan_bytes as usize];
                out[(m.ch_offset as usize + o) * oh * ow..][..oh * ow]
                    .copy_from_slice(&m.channel(ch));
            }
        }
        Ok(out)
    }
}

/// Entries of one output channel in the engine's order: (code, relative index) with 15-gap fillers.
fn encode_channel(positions_codes: impl Iterator<Item = (u32, u8)>) -> Vec<(u8, u8)> {
    let mut v = Vec::new();
    let mut prev: i64 = -1;
    for (p, code) in positions_codes {
        let mut gap = p as i64 - prev - 1;
        while gap > 15 {
            v.push((0u8, 15u8));
            gap -= 16;
        }
        v.push((code, gap as u8));
        prev = p as i64;
    }
    if v.is_empty() {
        // The engine needs >= 1 entry per channel; code 0 is the zero weight.
        v.push((0, 0));
    }
    v
}

/// Weight-memory entries (fillers included) the engine stores for a layer.
pub fn layer_entries(l: &ConvLayer) -> Result<u64, JobError> {
    Ok(engine_layer(l)?.chans.iter().map(|c| c.len() as u64).sum())
}

/// A layer rewritten for the engine: stride 1 on a grid, tap window `k` (<= 4), weights as
/// per-output-channel entry lists.
struct EngineLayer {
    k: u32,
    lut: Vec<i16>,
    chans: Vec<Vec<(u8, u8)>>,
    bias: Vec<i32>,
    m: u16,
    shift: u8,
    pool: bool,
}

impl EngineLayer {
    /// Weight-memory beats its entries occupy (the descriptor's `weight_beats`).
    fn weight_beats(&self) -> u32 {
        let n: usize = self.chans.iter().map(|c| c.len()).sum();
        (n as u32).div_ceil(crate::packet::WEIGHTS_PER_BEAT as u32)
    }
}

/// Codes and codebook of dense weights: the distinct nonzero values, sorted, from code 1.
fn dense_codes(w: &[i16]) -> Result<(Vec<u8>, Vec<i16>), JobError> {
    let mut values: Vec<i16> = w.iter().copied().filter(|&v| v != 0).collect();
    values.sort_unstable();
    values.dedup();
    if values.len() > CODEBOOK_ENTRIES - 1 {
        return Err(JobError::Shape(format!(
            "{} distinct nonzero weights; a codebook holds {}",
            values.len(),
            CODEBOOK_ENTRIES - 1
        )));
    }
    let mut lut = vec![0i16; CODEBOOK_ENTRIES];
    lut[1..=values.len()].copy_from_slice(&values);
    let codes = w
        .iter()
        .map(|v| match values.binary_search(v) {
            Ok(i) => (i + 1) as u8,
            Err(_) => 0,
        })
        .collect();
    Ok((codes, lut))
}

fn layer_codes(l: &ConvLayer) -> Result<(Vec<u8>, Vec<i16>), JobError> {
    let n = (l.out_c * l.in_c * l.k * l.k) as usize;
    let (codes, lut) = match &l.weights {
        LayerWeights::Dense(w) => dense_codes(w)?,
        LayerWeights::Coded { codes, lut } => (codes.clone(), lut.clone()),
    };
    if codes.len() != n {
        return Err(JobError::Shape(format!(
            "{} weights, expected {n} (O,I,K,K)",
            codes.len()
        )));
    }
    if lut.len() != CODEBOOK_ENTRIES || lut[0] != 0 {
        return Err(JobError::Shape(format!(
            "the LUT needs {CODEBOOK_ENTRIES} entries with LUT[0] = 0"
        )));
    }
    if lut
        .iter()
        .any(|&v| v as i32 > WEIGHT_QMAX || (v as i32) < -WEIGHT_QMAX)
    {
        return Err(JobError::Shape(format!(
            "a LUT entry is outside ±{WEIGHT_QMAX} ({LUT_BITS}-bit symmetric)"
        )));
    }
    if l.bias.len() != l.out_c as usize {
        return Err(JobError::Shape(format!(
            "{} biases for {} outputs",
            l.bias.len(),
            l.out_c
        )));
    }
    if l.m == 0 || l.m > 32767 || !(1..=46).contains(&l.shift) {
        return Err(JobError::Shape(format!(
            "m = {} / shift = {} out of range",
            l.m, l.shift
        )));
    }
    Ok((codes, lut))
}

/// Rewrite a layer (stride 1 or 2) into engine form. Stride 2 uses the polyphase channel order.
fn engine_layer(l: &ConvLayer) -> Result<EngineLayer, JobError> {
    let (codes, lut) = layer_codes(l)?;
    let (k, ic) = (l.k as usize, l.in_c as usize);
    let chans = match l.stride {
        1 => {
            if l.k > MAX_K && l.k != 1 {
                return Err(JobError::Shape(format!(
                    "K = {} with stride 1 is not supported (K <= {MAX_K})",
                    l.k
                )));
            }
            (0..l.out_c as usize)
                .map(|o| {
                    let base = o * ic * k * k;
                    encode_channel(
                        (0..ic * k * k)
                            .filter(|&p| lut[codes[base + p] as usize] != 0)
                            .map(|p| (p as u32, codes[base + p])),
                    )
                })
                .collect()
        }
        2 => {
            let k2 = k.div_ceil(2);
            if k2 as u32 > MAX_K {
                return Err(JobError::Shape(format!(
                    "K = {} with stride 2 is not supported",
                    l.k
                )));
            }
            (0..l.out_c as usize)
                .map(|o| {
                    let mut ents = Vec::new();
                    // Engine order: channel 4c + 2py + px, then (a, b) taps of the k2 x k2 window.
                    for c in 0..ic {
                        for ph in 0..4 {
                            let (py, px) = (ph / 2, ph % 2);
                            for a in 0..k2 {
                                for b in 0..k2 {
                                    let (kh, kw) = (2 * a + py, 2 * b + px);
                                    if kh >= k || kw >= k {
                                        continue;
                                    }
                                    let code = codes[((o * ic + c) * k + kh) * k + kw];
                                    if lut[code as usize] != 0 {
                                        let p = ((c * 4 + ph) * k2 + a) * k2 + b;
                                        ents.push((p as u32, code));
                                    }
                                }
                            }
                        }
                    }
                    encode_channel(ents.into_iter())
                })
                .collect()
        }
        s => return Err(JobError::Shape(format!("stride {s} is not supported"))),
    };
    Ok(EngineLayer {
        k: if l.stride == 2 { l.k.div_ceil(2) } else { l.k },
        lut,
        chans,
        bias: l.bias.clone(),
        m: l.m,
        shift: l.shift,
        pool: l.pool,
    })
}

/// Builder of the packets and descriptors of one plan.
struct Builder<'a> {
    cfg: &'a AccelConfig,
    packets: Vec<Packet>,
    weight_next: u32,
    bias_next: u32,
    slot_next: u32,
    mask: Vec<bool>,
    entries: u64,
}

impl<'a> Builder<'a> {
    fn new(cfg: &'a AccelConfig) -> Self {
        Builder {
            cfg,
            packets: Vec::new(),
            weight_next: 0,
            bias_next: 0,
            slot_next: 0,
            mask: Vec::new(),
            entries: 0,
        }
    }

    /// Load a layer's weights/codebook/bias; returns (weight_base, bias_base, slot).
    fn load_layer(&mut self, l: &EngineLayer) -> Result<(u32, u32, u32), JobError> {
        let flat: Vec<(u8, u8)> = l.chans.iter().flatten().copied().collect();
        let wb = self.weight_next;
        if wb as u64 + flat.len() as u64 > self.cfg.weight_entries as u64 {
            return Err(JobError::Capacity(format!(
                "{} weight entries from entry {wb} exceed weight_entries = {}",
                flat.len(),
                self.cfg.weight_entries
            )));
        }
        // Keep each layer's block 4-aligned so packets never overwrite a neighbour's entries.
        self.weight_next = wb + (flat.len() as u32).div_ceil(4) * 4;
        self.entries += flat.len() as u64;
        let bb = self.bias_next;
        if bb + l.bias.len() as u32 > self.cfg.bias_words {
            return Err(JobError::Capacity(format!(
                "bias words exceed bias_words = {}",
                self.cfg.bias_words
            )));
        }
        self.bias_next += l.bias.len() as u32;
        let slot = self.slot_next;
        if slot >= self.cfg.codebook_slots {
            return Err(JobError::Capacity(
                "more codebooks than codebook_slots".into(),
            ));
        }
        self.slot_next += 1;
        let counts: Vec<(i32, u16)> = l
            .chans
            .iter()
            .zip(&l.bias)
            .map(|(c, &b)| {
                u16::try_from(c.len()).map(|n| (b, n)).map_err(|_| {
                    JobError::Capacity(format!("{} entries in one channel (max 65535)", c.len()))
                })
            })
            .collect::<Result<_, _>>()?;
        self.packets.push(Packet::weights(wb, &flat)?);
        self.packets.push(Packet::codebook(slot, &l.lut)?);
        self.packets.push(Packet::bias(bb, &counts)?);
        Ok((wb, bb, slot))
    }

    /// Append the mask of one job (bit per position from `q_start`); returns mask_base in tiles.
    fn add_mask(&mut self, ntiles: u32, valid: impl Fn(u32) -> bool) -> Result<u32, JobError> {
        let s = self.cfg.pixel_lanes;
        let base = self.mask.len() as u32 / s;
        for r in 0..ntiles * s {
            self.mask.push(valid(r));
        }
        if self.mask.len() as u64 > self.cfg.mask_bits as u64 {
            return Err(JobError::Capacity(format!(
                "{} mask bits exceed mask_bits = {}",
                self.mask.len(),
                self.cfg.mask_bits
            )));
        }
        Ok(base)
    }

    fn finish(mut self, act: Packet) -> Result<(Vec<u64>, u64), JobError> {
        self.packets.push(Packet::mask(0, &self.mask)?);
        self.packets.push(act);
        Ok((
            self.packets.iter().flat_map(|p| p.to_beats()).collect(),
            self.entries,
        ))
    }
}

/// Put `t` on a grid of width `gw`, `gh` rows, with the map at (border_y, border_x); `phase`
/// = Some(()) splits each channel into its 4 polyphase images first (stride 2).
fn grid_bytes(t: &Tensor, pad: u32, stride: u32) -> (Vec<u8>, u32, u32, u32) {
    let (h, w) = (t.h as usize, t.w as usize);
    let (hp, wp) = (h + 2 * pad as usize, w + 2 * pad as usize);
    let padded = |c: usize, y: usize, x: usize| -> u8 {
        if y < pad as usize || x < pad as usize || y >= h + pad as usize || x >= w + pad as usize {
            0
        } else {
            t.data[(c * h + y - pad as usize) * w + x - pad as usize]
        }
    };
    if stride == 1 {
        let plane = hp * wp;
        let mut v = vec![0u8; t.c as usize * plane];
        for c in 0..t.c as usize {
            for y in 0..hp {
                for x in 0..wp {
                    v[c * plane + y * wp + x] = padded(c, y, x);
                }
            }
        }
        (v, wp as u32, hp as u32, t.c)
    } else {
        let (hh, wh) = (hp.div_ceil(2), wp.div_ceil(2));
        let plane = hh * wh;
        let mut v = vec![0u8; 4 * t.c as usize * plane];
        for c in 0..t.c as usize {
            for ph in 0..4 {
                let (py, px) = (ph / 2, ph % 2);
                for y in 0..hh {
                    for x in 0..wh {
                        let (sy, sx) = (2 * y + py, 2 * x + px);
                        if sy < hp && sx < wp {
                            v[(c * 4 + ph) * plane + y * wh + x] = padded(c, sy, sx);
                        }
                    }
                }
            }
        }
        (v, wh as u32, hh as u32, 4 * t.c)
    }
}

fn pooled(n: u32) -> u32 {
    (n - 3) / 2 + 1
}

/// Common descriptor fields of a C2H job, and its output map.
#[allow(clippy::too_many_arguments)]
fn c2h_job(
    b: &mut Builder,
    l: &EngineLayer,
    wb: u32,
    bb: u32,
    slot: u32,
    src_mid: bool,
    src_base: u32,
    in_signed: bool,
    gw: u32,
    plane_in: u32,
    oh: u32,
    ow: u32,
    row0: u32,
    col0: u32,
    ch_offset: u32,
) -> Result<JobStep, JobError> {
    let s = b.cfg.pixel_lanes;
    let q_start = row0 * gw;
    let ntiles = (oh * gw).div_ceil(s);
    let mask_base = b.add_mask(ntiles, |r| {
        r / gw < oh && r % gw >= col0 && r % gw < col0 + ow
    })?;
    let mut d = Descriptor {
        k: l.k,
        src_mid,
        dst_mid: false,
        in_signed,
        pool: l.pool,
        lut_slot: slot,
        out_c: l.chans.len() as u32,
        grid_w: gw,
        plane_in,
        q_start,
        ntiles,
        src_base,
        weight_base: wb,
        weight_beats: l.weight_beats(),
        bias_base: bb,
        m: l.m as u32,
        shift: l.shift as u32,
        out_ch_offset: ch_offset,
        mask_base,
        ..Default::default()
    };
    let out = if l.pool {
        if oh < 3 || ow < 3 {
            return Err(JobError::Shape(format!("cannot pool a {oh}x{ow} map")));
        }
        if (ntiles * s) as u64 > b.cfg.pool_bytes as u64 {
            return Err(JobError::Capacity(format!(
                "a {} byte output plane exceeds pool_bytes = {}",
                ntiles * s,
                b.cfg.pool_bytes
            )));
        }
        let (poh, pow) = (pooled(oh), pooled(ow));
        let per = s / 2 - 1;
        d.pool_oh = poh;
        d.pool_chunks = pow.div_ceil(per);
        d.pool_col0 = col0;
        OutMap {
            ch_offset,
            out_c: d.out_c,
            oh: poh,
            ow: pow,
            pool: true,
            grid_w: gw,
            col0,
            chan_bytes: (poh * d.pool_chunks * s / 2) as u64,
            chunks: d.pool_chunks,
            half: s / 2,
        }
    } else {
        OutMap {
            ch_offset,
            out_c: d.out_c,
            oh,
            ow,
            pool: false,
            grid_w: gw,
            col0,
            chan_bytes: (ntiles * s) as u64,
            chunks: 0,
            half: 0,
        }
    };
    let desc = d.pack()?;
    let out_bytes = d.output_bytes(s);
    Ok(JobStep {
        descriptor: d,
        desc,
        out_bytes,
        out: Some(out),
    })
}

fn check_input(cfg: &AccelConfig, x: &Tensor, in_c: u32) -> Result<(), JobError> {
    cfg.validate().map_err(|e| JobError::Shape(e.to_string()))?;
    if x.c != in_c || x.data.len() != (x.c * x.h * x.w) as usize {
        return Err(JobError::Shape(format!(
            "input {}x{}x{} ({} bytes) for a layer with {in_c} inputs",
            x.c,
            x.h,
            x.w,
            x.data.len()
        )));
    }
    Ok(())
}

fn act_packet(cfg: &AccelConfig, mid: bool, bytes: &[u8]) -> Result<Packet, JobError> {
    // ACT_MID addresses the same buffer as ACT_IN (the mid window shares it).
    let cap = cfg.act_in_bytes;
    if bytes.len() as u64 > cap as u64 {
        return Err(JobError::Capacity(format!(
            "{} activation bytes exceed the {} byte buffer",
            bytes.len(),
            cap
        )));
    }
    if bytes.len() > 1 << 24 {
        return Err(JobError::Capacity("activation image over 16 MiB".into()));
    }
    Ok(Packet::act(mid, 0, bytes)?)
}

/// Plan one convolution layer (any stride 1 or 2 layer, output on C2H).
pub fn plan_conv(cfg: &AccelConfig, l: &ConvLayer, x: &Tensor) -> Result<Plan, JobError> {
    check_input(cfg, x, l.in_c)?;
    let el = engine_layer(l)?;
    let (hp, wp) = (x.h + 2 * l.pad, x.w + 2 * l.pad);
    if hp < l.k || wp < l.k {
        return Err(JobError::Shape(
            "kernel larger than the padded input".into(),
        ));
    }
    let (oh, ow) = ((hp - l.k) / l.stride + 1, (wp - l.k) / l.stride + 1);
    let (bytes, gw, gh, gc) = grid_bytes(x, l.pad, l.stride);
    if gw * gh > 0xFFFF {
        return Err(JobError::Capacity(format!(
            "input plane of {} bytes exceeds 65535",
            gw * gh
        )));
    }
    let mut b = Builder::new(cfg);
    let (wb, bb, slot) = b.load_layer(&el)?;
    let job = c2h_job(
        &mut b,
        &el,
        wb,
        bb,
        slot,
        false,
        0,
        x.signed,
        gw,
        gw * gh,
        oh,
        ow,
        0,
        0,
        0,
    )?;
    let act = act_packet(cfg, false, &bytes)?;
    let (load, entries) = b.finish(act)?;
    let (out_h, out_w) = if l.pool {
        (pooled(oh), pooled(ow))
    } else {
        (oh, ow)
    };
    let input_span = read_end(&job.descriptor, gc, cfg.pixel_lanes).max(bytes.len() as u64);
    if input_span > cfg.act_in_bytes as u64 {
        return Err(JobError::Capacity(format!(
            "the input and the junk positions read past it span {input_span} bytes, over act_in_bytes = {}",
            cfg.act_in_bytes
        )));
    }
    Ok(Plan {
        load,
        jobs: vec![job],
        out_c: l.out_c,
        out_h,
        out_w,
        weight_entries: entries,
        dense_macs: (l.out_c * l.in_c * l.k * l.k) as u64 * (oh * ow) as u64,
        input: (l.stride == 1).then_some(ActLayout {
            base: 0,
            c: x.c,
            h: x.h,
            w: x.w,
            pad: l.pad,
        }),
        input_span: input_span as u32,
    })
}

/// Plan a Fire module: squeeze (1x1) -> mid buffer -> expand1x1 and expand3x3 (pad 1), whose
/// outputs are concatenated (expand1x1 first). `pool` on the expands fuses a following max-pool.
pub fn plan_fire(
    cfg: &AccelConfig,
    sq: &ConvLayer,
    e1: &ConvLayer,
    e3: &ConvLayer,
    x: &Tensor,
) -> Result<Plan, JobError> {
    check_input(cfg, x, sq.in_c)?;
    let shapes_ok = sq.k == 1
        && sq.stride == 1
        && sq.pad == 0
        && !sq.pool
        && e1.k == 1
        && e1.stride == 1
        && e1.pad == 0
        && e3.k == 3
        && e3.stride == 1
        && e3.pad == 1
        && e1.in_c == sq.out_c
        && e3.in_c == sq.out_c
        && e1.pool == e3.pool;
    if !shapes_ok {
        return Err(JobError::Shape(
            "not a Fire module (1x1 squeeze, 1x1 + 3x3/pad 1 expands)".into(),
        ));
    }
    let (esq, ee1, ee3) = (engine_layer(sq)?, engine_layer(e1)?, engine_layer(e3)?);
    let s = cfg.pixel_lanes;
    let (h, w) = (x.h, x.w);
    // Input and mid grids: one-pixel zero border, width w + 2.
    let (bytes, gw, gh, _) = grid_bytes(x, 1, 1);
    let plane = gw * gh;
    if plane > 0xFFFF {
        return Err(JobError::Capacity(format!(
            "plane of {plane} bytes exceeds 65535"
        )));
    }
    // The mid window shares the activation buffer: at its top end (so the next layer's input
    // can stream into the bottom while the expands read the window), with its base and channel
    // pitch on lane boundaries (the engine writes whole tiles without a rotator). It leaves room
    // above for the expands' junk reads: expand3x3 reads up to ntiles*S + 2*(gw+1) bytes past
    // its last plane's base, expand1x1 (from q_start = gw) less.
    let mid_plane = plane.div_ceil(s) * s;
    let mid_span = (sq.out_c as u64 - 1) * mid_plane as u64
        + (h * gw).div_ceil(s) as u64 * s as u64
        + 2 * (gw as u64 + 1);
    let input_end = (bytes.len() as u64).div_ceil(s as u64) * s as u64;
    let mid_base =
        ((cfg.act_in_bytes as u64).saturating_sub(mid_span) / s as u64 * s as u64) as u32;
    if sq.out_c as u64 * mid_plane as u64 > cfg.act_mid_bytes as u64 {
        return Err(JobError::Capacity(format!(
            "squeeze output {}x{mid_plane} exceeds act_mid_bytes = {}",
            sq.out_c, cfg.act_mid_bytes
        )));
    }
    if mid_span > cfg.act_in_bytes as u64 || input_end > mid_base as u64 {
        return Err(JobError::Capacity(format!(
            "Fire input ({} bytes) and squeeze output ({}x{mid_plane} bytes) exceed act_in_bytes = {}",
            bytes.len(),
            sq.out_c,
            cfg.act_in_bytes
        )));
    }
    let mut b = Builder::new(cfg);
    let (wbs, bbs, ss) = b.load_layer(&esq)?;
    let (wb1, bb1, s1) = b.load_layer(&ee1)?;
    let (wb3, bb3, s3) = b.load_layer(&ee3)?;
    // Squeeze: every grid position of the plane, border positions written as 0.
    let ntiles = plane.div_ceil(s);
    let mask_base = b.add_mask(ntiles, |r| {
        let (y, xx) = (r / gw, r % gw);
        r < plane && y >= 1 && y <= h && xx >= 1 && xx <= w
    })?;
    let dsq = Descriptor {
        k: 1,
        src_mid: false,
        dst_mid: true,
        in_signed: x.signed,
        pool: false,
        lut_slot: ss,
        out_c: sq.out_c,
        grid_w: gw,
        plane_in: plane,
        q_start: 0,
        ntiles,
        src_base: 0,
        weight_base: wbs,
        weight_beats: esq.weight_beats(),
        bias_base: bbs,
        m: sq.m as u32,
        shift: sq.shift as u32,
        dst_base: mid_base,
        plane_out: mid_plane,
        out_ch_offset: 0,
        mask_base,
        wr_count: plane,
        ..Default::default()
    };
    let jsq = JobStep {
        desc: dsq.pack()?,
        out_bytes: 0,
        descriptor: dsq,
        out: None,
    };
    let sq_span = read_end(&jsq.descriptor, x.c, s);
    // expand1x1: output (y, x) sits at grid (y + 1, x + 1) of the mid grid.
    let j1 = c2h_job(
        &mut b, &ee1, wb1, bb1, s1, true, mid_base, false, gw, mid_plane, h, w, 1, 1, 0,
    )?;
    // expand3x3 (pad 1): output (y, x) sits at grid (y, x).
    let j3 = c2h_job(
        &mut b, &ee3, wb3, bb3, s3, true, mid_base, false, gw, mid_plane, h, w, 0, 0, e1.out_c,
    )?;
    let act = act_packet(cfg, false, &bytes)?;
    let (load, entries) = b.finish(act)?;
    let (out_h, out_w) = if e1.pool {
        (pooled(h), pooled(w))
    } else {
        (h, w)
    };
    Ok(Plan {
        load,
        jobs: vec![jsq, j1, j3],
        out_c: e1.out_c + e3.out_c,
        out_h,
        out_w,
        weight_entries: entries,
        dense_macs: (h * w) as u64
            * (sq.out_c * sq.in_c + e1.out_c * e1.in_c + e3.out_c * e3.in_c * 9) as u64,
        input: Some(ActLayout {
            base: 0,
            c: x.c,
            h,
            w,
            pad: 1,
        }),
        input_span: sq_span as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::PacketType;

    fn layer(
        in_c: u32,
        out_c: u32,
        k: u32,
        stride: u32,
        pad: u32,
        pool: bool,
        seed: u32,
    ) -> ConvLayer {
        let n = (in_c * out_c * k * k) as usize;
        let w = (0..n)
            .map(|i| {
                let h = (i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 7;
                if h % 3 == 0 {
                    // Some 16-bit magnitudes, at most 255 distinct values.
                    (((h >> 8) % 255) as i32 - 127) as i16 * 181
                } else {
                    0
                }
            })
            .collect();
        ConvLayer {
            in_c,
            out_c,
            k,
            stride,
            pad,
            pool,
            weights: LayerWeights::Dense(w),
            bias: vec![5; out_c as usize],
            m: 20000,
            shift: 20,
        }
    }

    fn tensor(c: u32, h: u32, w: u32) -> Tensor {
        Tensor {
            c,
            h,
            w,
            signed: false,
            data: (0..c * h * w).map(|i| (i * 7 % 251) as u8).collect(),
        }
    }

    /// Decode entries back into dense positions: the engine's walk.
    fn walk(entries: &[(u8, u8)]) -> Vec<(u32, u8)> {
        let mut p: i64 = -1;
        let mut v = Vec::new();
        for &(c, r) in entries {
            p += r as i64 + 1;
            if c != 0 {
                v.push((p as u32, c));
            }
        }
        v
    }

    #[test]
    fn channel_encoding_round_trips_with_fillers() {
        let pos = vec![(0u32, 3u8), (1, 4), (40, 9), (41, 1), (200, 7)];
        let e = encode_channel(pos.clone().into_iter());
        assert!(e.iter().all(|&(_, r)| r <= 15));
        assert!(
            e.iter().any(|&(c, r)| c == 0 && r == 15),
            "a gap of 38 needs fillers"
        );
        assert_eq!(walk(&e), pos);
        assert_eq!(encode_channel(std::iter::empty()), vec![(0, 0)]);
    }

    #[test]
    fn dense_weights_get_a_sorted_codebook_and_too_many_values_are_refused() {
        let w = [0i16, 300, -32767, 300, 0, 7, 32767];
        let (codes, lut) = dense_codes(&w).unwrap();
        assert_eq!(lut.len(), CODEBOOK_ENTRIES);
        assert_eq!(&lut[..5], &[0, -32767, 7, 300, 32767]);
        assert_eq!(codes, vec![0, 3, 1, 3, 0, 2, 4]);
        let many: Vec<i16> = (1..=256).collect();
        assert!(dense_codes(&many).is_err());
        let ok: Vec<i16> = (1..=255).collect();
        assert!(dense_codes(&ok).is_ok());
        // An entry past the symmetric range (-32768) is refused by the planner.
        let mut l = layer(1, 1, 1, 1, 0, false, 3);
        l.weights = LayerWeights::Dense(vec![i16::MIN]);
        assert!(engine_layer(&l).is_err());
    }

    #[test]
    fn stride2_weights_follow_polyphase_order() {
        let l = layer(3, 4, 7, 2, 0, false, 1);
        let el = engine_layer(&l).unwrap();
        assert_eq!(el.k, 4);
        let LayerWeights::Dense(w) = &l.weights else {
            unreachable!()
        };
        for (o, ch) in el.chans.iter().enumerate() {
            for (p, code) in walk(ch) {
                let (c4, a, b) = (p / 16, (p / 4) % 4, p % 4);
                let (c, ph) = (c4 / 4, c4 % 4);
                let (kh, kw) = (2 * a + ph / 2, 2 * b + ph % 2);
                assert_eq!(
                    w[(((o as u32 * 3 + c) * 7 + kh) * 7 + kw) as usize],
                    el.lut[code as usize]
                );
            }
            let nz = (0..3 * 49).filter(|&i| w[o * 147 + i] != 0).count();
            assert_eq!(walk(ch).len(), nz);
        }
    }

    #[test]
    fn conv_plan_packets_and_output_parse() {
        let cfg = AccelConfig::tiny();
        let l = layer(5, 3, 3, 1, 1, false, 2);
        let x = tensor(5, 9, 7);
        let p = plan_conv(&cfg, &l, &x).unwrap();
        let pk = Packet::parse_stream(&p.load).unwrap();
        let types: Vec<PacketType> = pk.iter().map(|p| p.ty).collect();
        assert_eq!(
            types,
            [
                PacketType::Weights,
                PacketType::Codebook,
                PacketType::Bias,
                PacketType::Mask,
                PacketType::ActIn
            ]
        );
        let d = &p.jobs[0].descriptor;
        assert_eq!((d.grid_w, d.k, d.out_c), (9, 3, 3));
        assert_eq!(Descriptor::unpack(&p.jobs[0].desc), *d);
        // Input grid: border of zeros, data inside.
        let act = crate::packet::beats_to_bytes(&pk[4].payload);
        assert_eq!(act[0], 0);
        assert_eq!(act[9 + 1], x.data[0]);
        // Parse: fabricate C2H bytes whose value encodes (channel, grid position).
        let mut c2h = vec![0u8; p.out_bytes() as usize];
        let per = (d.ntiles * cfg.pixel_lanes) as usize;
        for o in 0..3 {
            for q in 0..per {
                c2h[o * per + q] = (o * 50 + q) as u8;
            }
        }
        let out = p.parse_output(&c2h).unwrap();
        assert_eq!((p.out_h, p.out_w), (9, 7));
        assert_eq!(out[(2 * 9 + 3) * 7 + 4], (2 * 50 + 3 * 9 + 4) as u8);
        assert!(p.parse_output(&c2h[1..]).is_err());
    }

    #[test]
    fn fire_plan_has_three_jobs_and_concat_offsets() {
        let cfg = AccelConfig::tiny();
        let (sq, e1, e3) = (
            layer(8, 4, 1, 1, 0, false, 3),
            layer(4, 6, 1, 1, 0, true, 4),
            layer(4, 5, 3, 1, 1, true, 5),
        );
        let p = plan_fire(&cfg, &sq, &e1, &e3, &tensor(8, 11, 11)).unwrap();
        assert_eq!(p.jobs.len(), 3);
        assert!(p.jobs[0].descriptor.dst_mid && p.jobs[0].out_bytes == 0);
        assert!(p.jobs[1].descriptor.src_mid && p.jobs[2].descriptor.src_mid);
        assert_eq!(p.jobs[2].descriptor.out_ch_offset, 6);
        assert_eq!((p.out_c, p.out_h, p.out_w), (11, 5, 5));
        let per = (cfg.pixel_lanes / 2 - 1) as usize;
        assert_eq!(
            p.jobs[1].descriptor.pool_chunks as usize,
            5usize.div_ceil(per)
        );
        // Mask of the squeeze marks exactly the interior of the 13x13 grid.
        let pk = Packet::parse_stream(&p.load).unwrap();
        let mask = pk.iter().find(|p| p.ty == PacketType::Mask).unwrap();
        let ones: u32 = mask.payload.iter().map(|b| b.count_ones()).sum();
        assert_eq!(ones, 121 + 2 * 121);
    }

    #[test]
    fn capacity_and_shape_errors() {
        let cfg = AccelConfig::tiny();
        let l = layer(4, 2, 3, 1, 1, false, 6);
        assert!(matches!(
            plan_conv(&cfg, &l, &tensor(3, 5, 5)),
            Err(JobError::Shape(_))
        ));
        let big = tensor(4, 400, 400);
        assert!(matches!(
            plan_conv(&cfg, &l, &big),
            Err(JobError::Capacity(_))
        ));
        let bad = ConvLayer { m: 0, ..l.clone() };
        assert!(plan_conv(&cfg, &bad, &tensor(4, 5, 5)).is_err());
    }
}
