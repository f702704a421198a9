//! Planning a step from its layers and the shape of its input: the packets that do not depend
//! on the input (weights, codebooks, biases, masks), the descriptors, where the output lands,
//! and each job's cycle model.

use super::{
    engine_layer, read_end, ActLayout, ConvLayer, EngineLayer, InputGrid, JobError, JobStep,
    OutMap, Plan, Planned, Shape, Tensor,
};
use crate::cycles::JobModel;
use crate::descriptor::Descriptor;
use crate::packet::Packet;
use crate::AccelConfig;

/// Builder of the packets, descriptors and cycle models of one plan.
pub(super) struct Builder<'a> {
    cfg: &'a AccelConfig,
    packets: Vec<Packet>,
    weight_next: u32,
    bias_next: u32,
    slot_next: u32,
    mask: Vec<bool>,
    entries: u64,
}

/// Where a layer's weights went: (weight_base, bias_base, codebook slot).
pub(super) type LayerAt = (u32, u32, u32);

impl<'a> Builder<'a> {
    pub(super) fn new(cfg: &'a AccelConfig) -> Self {
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

    /// Load a layer's weights/codebook/bias.
    pub(super) fn load_layer(&mut self, l: &EngineLayer) -> Result<LayerAt, JobError> {
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
        self.weight_next = wb + weight_block(flat.len() as u64) as u32;
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

    /// Append the mask of one job (bit per position from `q_start`); returns mask_base in tiles
    /// and the positions kept (bits set).
    pub(super) fn add_mask(
        &mut self,
        ntiles: u32,
        valid: impl Fn(u32) -> bool,
    ) -> Result<(u32, u64), JobError> {
        let s = self.cfg.pixel_lanes;
        let base = self.mask.len() as u32 / s;
        let mut kept = 0;
        for r in 0..ntiles * s {
            let v = valid(r);
            kept += v as u64;
            self.mask.push(v);
        }
        if self.mask.len() as u64 > self.cfg.mask_bits as u64 {
            return Err(JobError::Capacity(format!(
                "{} mask bits exceed mask_bits = {}",
                self.mask.len(),
                self.cfg.mask_bits
            )));
        }
        Ok((base, kept))
    }

    /// The weight, codebook and bias packets, the mask packet, and the entries stored.
    pub(super) fn finish(self) -> Result<(Vec<Packet>, Packet, u64), JobError> {
        let mask = Packet::mask(0, &self.mask)?;
        Ok((self.packets, mask, self.entries))
    }
}

/// The cycle model of a job of `l` over `ntiles` tiles keeping `positions` outputs.
pub(super) fn job_model(l: &EngineLayer, lanes: u32, ntiles: u32, positions: u64) -> JobModel {
    let chans: Vec<(u64, u64)> = l
        .chans
        .iter()
        .map(|c| {
            let zero = c
                .iter()
                .filter(|(code, _)| l.lut[*code as usize] == 0)
                .count();
            (c.len() as u64, zero as u64)
        })
        .collect();
    JobModel::from_channels(lanes, ntiles, positions, &chans)
}

/// Entries per output channel (each fits 16 bits: `load_layer` checked).
pub(super) fn chan_entries(l: &EngineLayer) -> Vec<u16> {
    l.chans.iter().map(|c| c.len() as u16).collect()
}

/// Grid of an input of `shape` with `pad` (split into four phases for stride 2): (width, rows,
/// channels on the grid).
pub(super) fn grid_dims(shape: Shape, pad: u32, stride: u32) -> (u32, u32, u32) {
    grid_dims_v(shape, pad, pad, stride)
}

/// [`grid_dims`] with `pad_v` zero rows above and below (columns still get `pad`).
pub(super) fn grid_dims_v(shape: Shape, pad: u32, pad_v: u32, stride: u32) -> (u32, u32, u32) {
    let (hp, wp) = (shape.h + 2 * pad_v, shape.w + 2 * pad);
    if stride == 1 {
        (wp, hp, shape.c)
    } else {
        (wp.div_ceil(2), hp.div_ceil(2), 4 * shape.c)
    }
}

/// Put the CHW bytes `data` of `shape` on the grid of [`grid_dims`], the map at (pad, pad) of
/// a zero border; stride 2 splits each channel into its 4 polyphase images first (channel
/// `4c + 2py + px`).
pub(super) fn grid_bytes(data: &[u8], shape: Shape, pad: u32, pad_v: u32, stride: u32) -> Vec<u8> {
    let (h, w, p) = (shape.h as usize, shape.w as usize, pad as usize);
    let pv = pad_v as usize;
    let (gw, gh, gc) = grid_dims_v(shape, pad, pad_v, stride);
    let (gw, gh) = (gw as usize, gh as usize);
    let plane = gw * gh;
    let mut v = vec![0u8; gc as usize * plane];
    for c in 0..shape.c as usize {
        for y in 0..h {
            let src = &data[(c * h + y) * w..][..w];
            let py = y + pv;
            if stride == 1 {
                v[c * plane + py * gw + p..][..w].copy_from_slice(src);
                continue;
            }
            // Padded column px goes to phase (py % 2, px % 2), column px / 2 of row py / 2.
            for par in 0..2 {
                let x0 = (par + 2 - p % 2) % 2;
                let ph = (py % 2) * 2 + par;
                let at = (c * 4 + ph) * plane + (py / 2) * gw + (x0 + p) / 2;
                let src = &src[x0.min(w)..];
                let dst = &mut v[at..at + src.len().div_ceil(2)];
                // Every other byte: pairs, then an odd last one.
                for (d, pair) in dst.iter_mut().zip(src.chunks_exact(2)) {
                    *d = pair[0];
                }
                if src.len() % 2 == 1 {
                    dst[src.len() / 2] = src[src.len() - 1];
                }
            }
        }
    }
    v
}

/// Weight entries a layer's block takes: 4-aligned, so packets never overwrite a neighbour's
/// entries.
pub(super) fn weight_block(entries: u64) -> u64 {
    entries.div_ceil(4) * 4
}

/// Rows (or columns) of a 3x3/2 max-pool's output over `n` rows.
pub(super) fn pooled(n: u32) -> u32 {
    (n - 3) / 2 + 1
}

/// Where a C2H job reads and writes.
pub(super) struct C2hJob {
    pub(super) src_mid: bool,
    pub(super) src_base: u32,
    pub(super) in_signed: bool,
    pub(super) gw: u32,
    pub(super) plane_in: u32,
    pub(super) oh: u32,
    pub(super) ow: u32,
    pub(super) row0: u32,
    pub(super) col0: u32,
    pub(super) ch_offset: u32,
}

/// Common descriptor fields of a C2H job, its output map and cycle model.
pub(super) fn c2h_job(
    b: &mut Builder,
    l: &EngineLayer,
    (wb, bb, slot): LayerAt,
    j: C2hJob,
) -> Result<(JobStep, JobModel), JobError> {
    let s = b.cfg.pixel_lanes;
    let C2hJob {
        gw, oh, ow, col0, ..
    } = j;
    let q_start = j.row0 * gw;
    let ntiles = (oh * gw).div_ceil(s);
    let (mask_base, kept) = b.add_mask(ntiles, |r| {
        r / gw < oh && r % gw >= col0 && r % gw < col0 + ow
    })?;
    let mut d = Descriptor {
        k: l.k,
        src_mid: j.src_mid,
        dst_mid: false,
        in_signed: j.in_signed,
        pool: l.pool,
        lut_slot: slot,
        out_c: l.chans.len() as u32,
        grid_w: gw,
        plane_in: j.plane_in,
        q_start,
        ntiles,
        src_base: j.src_base,
        weight_base: wb,
        weight_beats: l.weight_beats(),
        bias_base: bb,
        m: l.m as u32,
        shift: l.shift as u32,
        out_ch_offset: j.ch_offset,
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
            ch_offset: j.ch_offset,
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
            ch_offset: j.ch_offset,
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
    d.pack()?;
    let out_bytes = d.output_bytes(s);
    Ok((
        JobStep {
            descriptor: d,
            out_bytes,
            chan_entries: chan_entries(l),
            out: Some(out),
        },
        job_model(l, s, ntiles, kept),
    ))
}

pub(super) fn check_shape(cfg: &AccelConfig, x: Shape, in_c: u32) -> Result<(), JobError> {
    cfg.validate().map_err(|e| JobError::Shape(e.to_string()))?;
    if x.c != in_c {
        return Err(JobError::Shape(format!(
            "input {}x{}x{} for a layer with {in_c} inputs",
            x.c, x.h, x.w
        )));
    }
    Ok(())
}

/// Check that an input of `bytes` bytes fits an ACT_IN packet.
pub(super) fn check_act(cfg: &AccelConfig, bytes: u64) -> Result<(), JobError> {
    // ACT_MID addresses the same buffer as ACT_IN (the mid window shares it).
    let cap = cfg.act_in_bytes;
    if bytes > cap as u64 {
        return Err(JobError::Capacity(format!(
            "{bytes} activation bytes exceed the {cap} byte buffer"
        )));
    }
    if bytes > 1 << 24 {
        return Err(JobError::Capacity("activation image over 16 MiB".into()));
    }
    Ok(())
}

/// Plan one convolution layer (any stride 1 or 2 layer, output on C2H) for inputs of shape `x`.
pub fn plan_conv_for(cfg: &AccelConfig, l: &ConvLayer, x: Shape) -> Result<Plan, JobError> {
    check_shape(cfg, x, l.in_c)?;
    let el = engine_layer(l)?;
    let (hp, wp) = (x.h + 2 * l.pad, x.w + 2 * l.pad);
    if hp < l.k || wp < l.k {
        return Err(JobError::Shape(
            "kernel larger than the padded input".into(),
        ));
    }
    let (oh, ow) = ((hp - l.k) / l.stride + 1, (wp - l.k) / l.stride + 1);
    let (gw, gh, gc) = grid_dims(x, l.pad, l.stride);
    if gw * gh > 0xFFFF {
        return Err(JobError::Capacity(format!(
            "input plane of {} bytes exceeds 65535",
            gw * gh
        )));
    }
    let input_bytes = gc as u64 * (gw * gh) as u64;
    let mut b = Builder::new(cfg);
    let at = b.load_layer(&el)?;
    let (job, model) = c2h_job(
        &mut b,
        &el,
        at,
        C2hJob {
            src_mid: false,
            src_base: 0,
            in_signed: x.signed,
            gw,
            plane_in: gw * gh,
            oh,
            ow,
            row0: 0,
            col0: 0,
            ch_offset: 0,
        },
    )?;
    check_act(cfg, input_bytes)?;
    let (weights, mask, entries) = b.finish()?;
    let (out_h, out_w) = if l.pool {
        (pooled(oh), pooled(ow))
    } else {
        (oh, ow)
    };
    let input_span = read_end(&job.descriptor, gc, cfg.pixel_lanes).max(input_bytes);
    if input_span > cfg.act_in_bytes as u64 {
        return Err(JobError::Capacity(format!(
            "the input and the junk positions read past it span {input_span} bytes, over act_in_bytes = {}",
            cfg.act_in_bytes
        )));
    }
    Ok(Plan {
        weights,
        mask,
        jobs: vec![job],
        models: vec![model],
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
        grid: InputGrid {
            shape: x,
            pad: l.pad,
            pad_v: l.pad,
            stride: l.stride,
        },
    })
}

/// Plan one convolution layer with its input `x` ([`plan_conv_for`] and the input's packet).
pub fn plan_conv(cfg: &AccelConfig, l: &ConvLayer, x: &Tensor) -> Result<Planned, JobError> {
    let plan = plan_conv_for(cfg, l, x.shape())?;
    let act = plan.act_packet(&x.data)?;
    Ok(Planned { plan, act })
}
