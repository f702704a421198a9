//! Planning a Fire module: squeeze (input -> mid window in the activation buffer), expand1x1
//! and expand3x3 (mid window -> C2H), whole or as a band of its rows or a group of its output
//! channels (the parts `super::tile` runs).

use super::build::{
    c2h_job, chan_entries, check_act, check_shape, grid_dims, job_model, pooled, Builder, C2hJob,
};
use super::{
    engine_layer, read_end, ActLayout, ConvLayer, EngineLayer, InputGrid, JobError, JobStep, Plan,
    Planned, Shape, Tensor,
};
use crate::descriptor::Descriptor;
use crate::AccelConfig;

/// Plan a Fire module for inputs of shape `x`: squeeze (1x1) -> mid buffer -> expand1x1 and
/// expand3x3 (pad 1), whose outputs are concatenated (expand1x1 first). `pool` on the expands
/// fuses a following max-pool.
pub fn plan_fire_for(
    cfg: &AccelConfig,
    sq: &ConvLayer,
    e1: &ConvLayer,
    e3: &ConvLayer,
    x: Shape,
) -> Result<Plan, JobError> {
    let layers = FireLayers::checked(cfg, sq, e1, e3, x)?;
    let part = FirePart::all(&layers);
    fire_plan(cfg, &layers, x, RowBand::WHOLE, &part)
}

/// Check that `sq`, `e1`, `e3` form a Fire module (1x1 squeeze, 1x1 + 3x3/pad 1 expands) for an
/// input of shape `x`.
pub(super) fn check_fire(
    cfg: &AccelConfig,
    sq: &ConvLayer,
    e1: &ConvLayer,
    e3: &ConvLayer,
    x: Shape,
) -> Result<(), JobError> {
    check_shape(cfg, x, sq.in_c)?;
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
    Ok(())
}

/// A Fire module's layers in engine form, with (input, squeeze, expand1x1, expand3x3) channels.
pub(super) struct FireLayers {
    pub(super) sq: EngineLayer,
    pub(super) e1: EngineLayer,
    pub(super) e3: EngineLayer,
    pub(super) dims: [u32; 4],
}

impl FireLayers {
    /// The module's layers for input `x`, its shapes checked ([`check_fire`]).
    pub(super) fn checked(
        cfg: &AccelConfig,
        sq: &ConvLayer,
        e1: &ConvLayer,
        e3: &ConvLayer,
        x: Shape,
    ) -> Result<FireLayers, JobError> {
        check_fire(cfg, sq, e1, e3, x)?;
        Ok(FireLayers {
            sq: engine_layer(sq)?,
            e1: engine_layer(e1)?,
            e3: engine_layer(e3)?,
            dims: [sq.in_c, sq.out_c, e1.out_c, e3.out_c],
        })
    }
}

/// Which rows of a taller map a Fire plan computes. A band of `h` output rows reads `h + 2`
/// input rows (one halo row above and below, given with the input); a halo row on the map's
/// edge is the zero border (the squeeze writes it as 0), any other is a real row of the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RowBand {
    /// The band starts at the map's top (its upper halo row is the border).
    pub(super) top: bool,
    /// The band ends at the map's bottom.
    pub(super) bottom: bool,
    /// The whole map: the input is given without halo rows (the plan adds the border).
    pub(super) whole: bool,
}

impl RowBand {
    pub(super) const WHOLE: RowBand = RowBand {
        top: true,
        bottom: true,
        whole: true,
    };
}

/// Which jobs of a Fire module a plan runs: the squeeze (it fills the mid window the expands
/// read) and a range (first, count) of each expand's output channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FirePart {
    pub(super) squeeze: bool,
    pub(super) e1: (u32, u32),
    pub(super) e3: (u32, u32),
}

impl FirePart {
    pub(super) fn all(layers: &FireLayers) -> FirePart {
        FirePart {
            squeeze: true,
            e1: (0, layers.dims[2]),
            e3: (0, layers.dims[3]),
        }
    }
}

/// Plan a Fire module (or a band of its rows, or a part of its jobs) for inputs of shape `x`
/// (for a band: `x.h` output rows; the input holds `x.h + 2` rows). The mid window's place
/// depends only on the shape, so parts of one band share it.
pub(super) fn fire_plan(
    cfg: &AccelConfig,
    layers: &FireLayers,
    x: Shape,
    band: RowBand,
    part: &FirePart,
) -> Result<Plan, JobError> {
    let FireLayers {
        sq: esq,
        e1: ee1,
        e3: ee3,
        dims: [_, sq_c, _, _],
    } = layers;
    let sq_c = *sq_c;
    let s = cfg.pixel_lanes;
    let (h, w) = (x.h, x.w);
    // Input and mid grids: one-pixel zero border, width w + 2.
    let (gw, gh, gc) = grid_dims(x, 1, 1);
    let plane = gw * gh;
    if plane > 0xFFFF {
        return Err(JobError::Capacity(format!(
            "plane of {plane} bytes exceeds 65535"
        )));
    }
    let input_bytes = gc as u64 * plane as u64;
    // The mid window shares the activation buffer: at its top end (so the next layer's input
    // can stream into the bottom while the expands read the window), with its base and channel
    // pitch on lane boundaries (the engine writes whole tiles without a rotator). It leaves room
    // above for the expands' junk reads: expand3x3 reads up to ntiles*S + 2*(gw+1) bytes past
    // its last plane's base, expand1x1 (from q_start = gw) less.
    let mid_plane = plane.div_ceil(s) * s;
    let mid_span = (sq_c as u64 - 1) * mid_plane as u64
        + (h * gw).div_ceil(s) as u64 * s as u64
        + 2 * (gw as u64 + 1);
    let input_end = input_bytes.div_ceil(s as u64) * s as u64;
    let mid_base =
        ((cfg.act_in_bytes as u64).saturating_sub(mid_span) / s as u64 * s as u64) as u32;
    if sq_c as u64 * mid_plane as u64 > cfg.act_mid_bytes as u64 {
        return Err(JobError::Capacity(format!(
            "squeeze output {}x{mid_plane} exceeds act_mid_bytes = {}",
            sq_c, cfg.act_mid_bytes
        )));
    }
    if mid_span > cfg.act_in_bytes as u64 || input_end > mid_base as u64 {
        return Err(JobError::Capacity(format!(
            "Fire input ({input_bytes} bytes) and squeeze output ({}x{mid_plane} bytes) exceed act_in_bytes = {}",
            sq_c,
            cfg.act_in_bytes
        )));
    }
    let (n1, n3) = (part.e1.1, part.e3.1);
    let (ee1, ee3) = (ee1.channels(part.e1), ee3.channels(part.e3));
    let mut b = Builder::new(cfg);
    let atsq = part.squeeze.then(|| b.load_layer(esq)).transpose()?;
    let at1 = (n1 > 0).then(|| b.load_layer(&ee1)).transpose()?;
    let at3 = (n3 > 0).then(|| b.load_layer(&ee3)).transpose()?;
    let (mut jobs, mut models) = (Vec::new(), Vec::new());
    let mut sq_span = 0;
    if let Some((wbs, bbs, ss)) = atsq {
        // Squeeze: every grid position of the plane, border positions written as 0.
        let ntiles = plane.div_ceil(s);
        let (mask_base, kept) = b.add_mask(ntiles, |r| {
            let (y, xx) = (r / gw, r % gw);
            // A halo row inside the map is a real row; on the map's edge it is the border.
            let rows_ok = (y >= 1 || !band.top) && (y <= h || !band.bottom);
            r < plane && rows_ok && xx >= 1 && xx <= w
        })?;
        let dsq = Descriptor {
            k: 1,
            src_mid: false,
            dst_mid: true,
            in_signed: x.signed,
            pool: false,
            lut_slot: ss,
            out_c: sq_c,
            grid_w: gw,
            plane_in: plane,
            q_start: 0,
            ntiles,
            src_base: 0,
            weight_base: wbs,
            weight_beats: esq.weight_beats(),
            bias_base: bbs,
            m: esq.m as u32,
            shift: esq.shift as u32,
            dst_base: mid_base,
            plane_out: mid_plane,
            out_ch_offset: 0,
            mask_base,
            wr_count: plane,
            ..Default::default()
        };
        dsq.pack()?;
        models.push(job_model(esq, s, ntiles, kept));
        sq_span = read_end(&dsq, x.c, s);
        jobs.push(JobStep {
            out_bytes: 0,
            descriptor: dsq,
            chan_entries: chan_entries(esq),
            out: None,
        });
    }
    let expand = |row0, col0, ch_offset| C2hJob {
        src_mid: true,
        src_base: mid_base,
        in_signed: false,
        gw,
        plane_in: mid_plane,
        oh: h,
        ow: w,
        row0,
        col0,
        ch_offset,
    };
    if let Some(at1) = at1 {
        // expand1x1: output (y, x) sits at grid (y + 1, x + 1) of the mid grid.
        let (j1, m1) = c2h_job(&mut b, &ee1, at1, expand(1, 1, 0))?;
        jobs.push(j1);
        models.push(m1);
    }
    if let Some(at3) = at3 {
        // expand3x3 (pad 1): output (y, x) sits at grid (y, x).
        let (j3, m3) = c2h_job(&mut b, &ee3, at3, expand(0, 0, n1))?;
        jobs.push(j3);
        models.push(m3);
    }
    check_act(cfg, input_bytes)?;
    let (weights, mask, entries) = b.finish()?;
    let (out_h, out_w) = if ee1.pool {
        (pooled(h), pooled(w))
    } else {
        (h, w)
    };
    Ok(Plan {
        weights,
        mask,
        jobs,
        models,
        out_c: n1 + n3,
        out_h,
        out_w,
        weight_entries: entries,
        dense_macs: (h * w) as u64
            * (part.squeeze as u32 * sq_c * x.c + n1 * sq_c + n3 * sq_c * 9) as u64,
        // A band's input (with its halo rows) has no stored layout a step before could fill;
        // a part without the squeeze reads no input.
        input: (band.whole && part.squeeze).then_some(ActLayout {
            base: 0,
            c: x.c,
            h,
            w,
            pad: 1,
        }),
        input_span: sq_span as u32,
        grid: if band.whole {
            InputGrid {
                shape: x,
                pad: 1,
                pad_v: 1,
                stride: 1,
            }
        } else {
            InputGrid {
                shape: Shape { h: h + 2, ..x },
                pad: 1,
                pad_v: 0,
                stride: 1,
            }
        },
    })
}

/// Plan a Fire module with its input `x` ([`plan_fire_for`] and the input's packet).
pub fn plan_fire(
    cfg: &AccelConfig,
    sq: &ConvLayer,
    e1: &ConvLayer,
    e3: &ConvLayer,
    x: &Tensor,
) -> Result<Planned, JobError> {
    let plan = plan_fire_for(cfg, sq, e1, e3, x.shape())?;
    let act = plan.act_packet(&x.data)?;
    Ok(Planned { plan, act })
}
