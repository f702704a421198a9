//! Tiling: a step too large for the engine's memories at once runs as several plans.
//!
//! - A **Fire module** whose input and squeeze output do not fit the activation buffer runs in
//!   bands of output rows. A band of `r` rows reads `r + 2` input rows (one halo row above and
//!   below: the 3x3 expand reads one squeeze row past each edge, the squeeze is 1x1); the
//!   squeeze writes a halo row as 0 only on the map's edge, so every band computes exactly the
//!   rows of the whole map. With a fused max-pool a band covers whole pooling windows: `p`
//!   pooled rows are `2p + 1` conv rows, and consecutive bands share one conv row.
//!   The weights are those of the whole module (sent with the first band only).
//! - A **convolution** whose weights do not fit the weight memory runs in groups of output
//!   channels, each group its own weights over the same input (sent with the first group only).
//!
//! Each [`Tile`] is an ordinary [`Plan`]; the tile says which input rows it reads and where its
//! output goes in the step's output.

use super::build::{pooled, weight_block};
use super::fire::{fire_plan, FireLayers, FirePart, RowBand};
use super::{engine_layer, ConvLayer, JobError, LayerWeights, Plan, Shape};
use crate::AccelConfig;

/// One plan of a tiled step.
#[derive(Clone, Debug)]
pub struct Tile {
    pub plan: Plan,
    /// First input row the tile reads (-1: the zero row above the map) and how many.
    pub in_row0: i32,
    pub in_rows: u32,
    /// Where the tile's output goes in the step's output: first row and first channel.
    pub out_row0: u32,
    pub out_ch0: u32,
    /// The tile's weights, codebooks and biases differ from the tile before's (send them).
    pub new_weights: bool,
    /// The tile's input differs from the tile before's (send it).
    pub new_input: bool,
    /// For each of the plan's jobs, which of the step's layers it computes (index into the
    /// step's layers in job order).
    pub job_layers: Vec<usize>,
}

impl Tile {
    /// The tile's input rows cut from the step's CHW input `x` of shape `shape` (rows outside
    /// the map are zeros).
    pub fn input_of(&self, x: &[u8], shape: Shape) -> Vec<u8> {
        let (h, w) = (shape.h as i64, shape.w as usize);
        let rows = self.in_rows as usize;
        let mut v = vec![0u8; shape.c as usize * rows * w];
        for c in 0..shape.c as usize {
            for r in 0..rows {
                let y = self.in_row0 as i64 + r as i64;
                if (0..h).contains(&y) {
                    let src = (c * h as usize + y as usize) * w;
                    v[(c * rows + r) * w..][..w].copy_from_slice(&x[src..src + w]);
                }
            }
        }
        v
    }

    /// Copy the tile's CHW output `part` into the step's CHW output `out` (`oh x ow` maps).
    pub fn place_output(&self, part: &[u8], out: &mut [u8], oh: u32, ow: u32) {
        let (ph, pw) = (self.plan.out_h as usize, self.plan.out_w as usize);
        let (oh, ow) = (oh as usize, ow as usize);
        debug_assert_eq!(pw, ow);
        for c in 0..self.plan.out_c as usize {
            let dst = ((self.out_ch0 as usize + c) * oh + self.out_row0 as usize) * ow;
            out[dst..dst + ph * pw].copy_from_slice(&part[c * ph * pw..][..ph * pw]);
        }
    }
}

/// Split `n` items into the fewest parts of at most `max` items, as equal as possible:
/// (start, len) of each.
fn balanced(n: u32, max: u32) -> Vec<(u32, u32)> {
    let parts = n.div_ceil(max.max(1));
    let (base, extra) = (n / parts, n % parts);
    let mut at = 0;
    (0..parts)
        .map(|i| {
            let len = base + (i < extra) as u32;
            let r = (at, len);
            at += len;
            r
        })
        .collect()
}

/// The Fire module's output channels (expand1x1's, then expand3x3's) in groups whose weights
/// and biases fit the engine, the first with the squeeze: (first, count) of each.
fn fire_groups(cfg: &AccelConfig, layers: &FireLayers) -> Result<Vec<(u32, u32)>, JobError> {
    let [_, sq_c, e1_c, _] = layers.dims;
    let block = weight_block;
    let sq_entries: u64 = layers.sq.chans.iter().map(|c| c.len() as u64).sum();
    let chans: Vec<u64> = (layers.e1.chans.iter())
        .chain(&layers.e3.chans)
        .map(|c| c.len() as u64)
        .collect();
    let (wcap, bcap) = (cfg.weight_entries as u64, cfg.bias_words as u64);
    if block(sq_entries) + chans[0] > wcap || sq_c as u64 + 1 > bcap {
        return Err(JobError::Capacity(format!(
            "the squeeze's {sq_entries} weight entries and one expand channel exceed weight_entries = {wcap}"
        )));
    }
    let mut groups = Vec::new();
    let mut first = 0u32;
    while (first as usize) < chans.len() {
        let (mut w, mut b) = if groups.is_empty() {
            (block(sq_entries), sq_c as u64)
        } else {
            (0, 0)
        };
        // Entries of the expand1x1 and expand3x3 parts (each a 4-aligned block).
        let (mut e1w, mut e3w) = (0u64, 0u64);
        let mut end = first;
        while (end as usize) < chans.len() {
            let n = chans[end as usize];
            let (a1, a3) = if end < e1_c {
                (e1w + n, e3w)
            } else {
                (e1w, e3w + n)
            };
            if w + block(a1) + block(a3) > wcap || b + 1 > bcap {
                break;
            }
            (e1w, e3w) = (a1, a3);
            b += 1;
            end += 1;
        }
        if end == first {
            return Err(JobError::Capacity(format!(
                "one expand channel of {} entries exceeds weight_entries = {wcap}",
                chans[first as usize]
            )));
        }
        w += block(e1w) + block(e3w);
        debug_assert!(w <= wcap);
        groups.push((first, end - first));
        first = end;
    }
    Ok(groups)
}

/// The Fire part of output channels `(first, n)` of the concatenation (the first group also
/// runs the squeeze).
fn fire_part(layers: &FireLayers, (first, n): (u32, u32), squeeze: bool) -> FirePart {
    let e1_c = layers.dims[2];
    let (end, e1_end) = (first + n, (first + n).min(e1_c));
    let e1 = (first.min(e1_c), e1_end.saturating_sub(first.min(e1_c)));
    let e3_first = first.max(e1_c) - e1_c;
    FirePart {
        squeeze,
        e1,
        e3: (e3_first, (end.max(e1_c) - e1_c) - e3_first),
    }
}

/// Plan a Fire module for input `x` in tiles: bands of output rows as tall as the activation
/// buffer holds, each band in groups of output channels whose weights fit.
pub fn plan_fire_tiles(
    cfg: &AccelConfig,
    sq: &ConvLayer,
    e1: &ConvLayer,
    e3: &ConvLayer,
    x: Shape,
) -> Result<Vec<Tile>, JobError> {
    let layers = FireLayers::checked(cfg, sq, e1, e3, x)?;
    let groups = fire_groups(cfg, &layers)?;
    let pool = e1.pool;
    // Output rows of the step (pooled rows with a pool) and the conv rows of `n` of them.
    let out_rows = if pool { pooled(x.h) } else { x.h };
    let conv_rows = |n: u32| if pool { 2 * n + 1 } else { n };
    let row0_of = |first: u32| if pool { 2 * first } else { first };
    let plan = |first: u32, n: u32, g: usize| {
        let (rows, row0) = (conv_rows(n), row0_of(first));
        let band = RowBand {
            top: row0 == 0,
            bottom: row0 + rows == x.h,
            whole: n == out_rows,
        };
        let part = fire_part(&layers, groups[g], g == 0);
        fire_plan(cfg, &layers, Shape { h: rows, ..x }, band, &part)
    };
    // The tallest band whose every group fits (the capacity checks depend only on its height).
    let mut last_err = None;
    let mut fit = None;
    for n in (1..=out_rows).rev() {
        match (0..groups.len()).try_for_each(|g| plan(0, n, g).map(|_| ())) {
            Ok(()) => {
                fit = Some(n);
                break;
            }
            Err(e @ JobError::Capacity(_)) => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    let Some(fit) = fit else {
        return Err(last_err.unwrap_or_else(|| {
            JobError::Capacity("a Fire module of one output row does not fit".into())
        }));
    };
    let mut tiles = Vec::new();
    for (first, n) in balanced(out_rows, fit) {
        for g in 0..groups.len() {
            let whole = n == out_rows;
            tiles.push(Tile {
                plan: plan(first, n, g)?,
                in_row0: if whole { 0 } else { row0_of(first) as i32 - 1 },
                in_rows: if whole { x.h } else { conv_rows(n) + 2 },
                out_row0: first,
                out_ch0: groups[g].0,
                // One group: every band runs the same weights.
                new_weights: groups.len() > 1 || first == 0,
                // Later groups read the window the first group's squeeze wrote.
                new_input: g == 0,
                job_layers: job_layers(&fire_part(&layers, groups[g], g == 0)),
            });
        }
    }
    Ok(tiles)
}

/// Which of the Fire module's layers (0 squeeze, 1 expand1x1, 2 expand3x3) each job of a part
/// computes.
fn job_layers(p: &FirePart) -> Vec<usize> {
    let mut v = Vec::new();
    if p.squeeze {
        v.push(0);
    }
    if p.e1.1 > 0 {
        v.push(1);
    }
    if p.e3.1 > 0 {
        v.push(2);
    }
    v
}

/// `l`'s output channels `o0 .. o0 + n` as a layer of their own.
fn channel_group(l: &ConvLayer, o0: u32, n: u32) -> ConvLayer {
    let per = (l.in_c * l.k * l.k) as usize;
    let (a, b) = (o0 as usize * per, (o0 + n) as usize * per);
    ConvLayer {
        out_c: n,
        weights: match &l.weights {
            LayerWeights::Dense(w) => LayerWeights::Dense(w[a..b].to_vec()),
            LayerWeights::Coded { codes, lut } => LayerWeights::Coded {
                codes: codes[a..b].to_vec(),
                lut: lut.clone(),
            },
        },
        bias: l.bias[o0 as usize..(o0 + n) as usize].to_vec(),
        ..l.clone()
    }
}

/// Plan a convolution for input `x` in groups of output channels, each as large as the engine
/// holds.
pub fn plan_conv_tiles(cfg: &AccelConfig, l: &ConvLayer, x: Shape) -> Result<Vec<Tile>, JobError> {
    // Entries per output channel decide the groups (each block is 4-aligned by the planner).
    let el = engine_layer(l)?;
    let budget = cfg.weight_entries as u64;
    let mut groups: Vec<(u32, u32)> = Vec::new();
    let (mut start, mut entries) = (0u32, 0u64);
    for (o, ch) in el.chans.iter().enumerate() {
        let n = ch.len() as u64;
        let bias_full = (o as u32 - start) >= cfg.bias_words;
        if o as u32 > start && (entries + n > budget || bias_full) {
            groups.push((start, o as u32 - start));
            start = o as u32;
            entries = 0;
        }
        entries += n;
    }
    groups.push((start, l.out_c - start));
    groups
        .into_iter()
        .enumerate()
        .map(|(i, (o0, n))| {
            let plan = super::plan_conv_for(cfg, &channel_group(l, o0, n), x)?;
            Ok(Tile {
                plan,
                in_row0: 0,
                in_rows: x.h,
                out_row0: 0,
                out_ch0: o0,
                new_weights: true,
                new_input: i == 0,
                job_layers: vec![0],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_parts_cover_everything_evenly() {
        assert_eq!(balanced(27, 10), vec![(0, 9), (9, 9), (18, 9)]);
        assert_eq!(balanced(55, 20), vec![(0, 19), (19, 18), (37, 18)]);
        assert_eq!(balanced(5, 5), vec![(0, 5)]);
    }
}
