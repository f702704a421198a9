//! Calibration of the activation scales: the clipping point of every layer's uint8 output.
//!
//! Two methods:
//! - [`Method::Mse`] (the default): layer by layer in network order, run the int8 model up to the
//!   layer on every calibration image (earlier layers already at their chosen scales, so each
//!   choice sees the error that reaches it), and pick the clipping point whose requantized output
//!   is closest, in squared error, to the float model's output of that layer. Candidates are a
//!   geometric grid of fractions of the largest float value, refined around the best. The two
//!   expands of a Fire module are concatenated and share one scale: they are judged together.
//!   conv_final is judged on what the host computes from it, the 1000 averaged logits.
//! - [`Method::Stat`]: a statistic (maximum or nearest-rank percentile) of each layer's float
//!   output over all images.
//!
//! Both are deterministic: the float and int8 passes are single-threaded per image in a fixed
//! order, results are combined in image order, and the search is exhaustive over a fixed grid, so
//! the same images give the same file byte for byte.

use super::float::{self, FloatTrace};
use super::int8::{self, QConvLayer, QTensor};
use super::{cosine, overlap, par_map, top_k, RefError};
use weights::quant::{
    quantize_layer, requant_multiplier, requantize, Calibration, QuantLayer, WEIGHT_QMAX,
};
use weights::topology::{scale_group, Input, Role, LAYERS, NUM_LAYERS};
use weights::Model;

/// The method the committed calibration uses.
pub const DEFAULT_METHOD: &str = "mse";

/// Statistic of a set of activations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Statistic {
    /// The largest value.
    Max,
    /// The nearest-rank percentile `p` (0 < p < 100): the value at rank ceil(p/100 * n).
    Percentile(f64),
}

impl Statistic {
    /// Parse `max` or `pNN.NN` (e.g. `p99.99`).
    pub fn parse(s: &str) -> Result<Statistic, RefError> {
        if s == "max" {
            return Ok(Statistic::Max);
        }
        let bad = || {
            RefError::Param(format!(
                "method {s:?}: expected `mse`, `max` or `pNN.N` with 0 < NN.N < 100"
            ))
        };
        let p: f64 = s
            .strip_prefix('p')
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        if !(p > 0.0 && p < 100.0) {
            return Err(bad());
        }
        Ok(Statistic::Percentile(p))
    }

    /// Evaluate over `values` (reordered in place). Empty input gives 0.
    pub fn eval(&self, values: &mut [f32]) -> f32 {
        if values.is_empty() {
            return 0.0;
        }
        match *self {
            Statistic::Max => values.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)),
            Statistic::Percentile(p) => {
                let n = values.len();
                let rank = ((p / 100.0) * n as f64).ceil() as usize;
                let idx = rank.clamp(1, n) - 1;
                *values.select_nth_unstable_by(idx, |a, b| a.total_cmp(b)).1
            }
        }
    }
}

/// How the clipping points are chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Minimise the int8 model's squared error against the float model, layer by layer.
    Mse,
    /// A statistic of the float outputs.
    Stat(Statistic),
}

impl Method {
    /// Parse `mse`, `max` or `pNN.N`.
    pub fn parse(s: &str) -> Result<Method, RefError> {
        if s == "mse" {
            Ok(Method::Mse)
        } else {
            Statistic::parse(s).map(Method::Stat)
        }
    }
}

/// The layers of each scale group (one layer, or the two expands of a Fire module), in order.
fn groups() -> Vec<Vec<usize>> {
    (0..NUM_LAYERS)
        .filter(|&i| scale_group(i) == i)
        .map(|g| (0..NUM_LAYERS).filter(|&j| scale_group(j) == g).collect())
        .collect()
}

/// Calibrate `model` on `images` (preprocessed 3x227x227 each) named `names`, with `method`
/// (`mse`, `max` or `pNN.N`).
pub fn calibrate(
    model: &Model,
    images: &[Vec<f32>],
    names: &[String],
    method: &str,
) -> Result<Calibration, RefError> {
    if images.is_empty() {
        return Err(RefError::Param(
            "calibration needs at least one image".into(),
        ));
    }
    let m = Method::parse(method)?;
    let traces: Vec<FloatTrace> = par_map(images, |img| float::forward_trace(model, img))
        .into_iter()
        .collect::<Result<_, _>>()?;
    let stats = match m {
        Method::Stat(stat) => stat_clips(&traces, stat),
        Method::Mse => mse_clips(model, images, &traces)?,
    };
    for (i, &s) in stats.iter().enumerate() {
        if !(s > 0.0 && s.is_finite()) {
            return Err(RefError::Param(format!(
                "layer {}: the {method} clipping point of its output is {s}; cannot set a scale",
                LAYERS[i].name
            )));
        }
    }
    Ok(Calibration::from_stats(model, method, names, &stats))
}

fn stat_clips(traces: &[FloatTrace], stat: Statistic) -> Vec<f32> {
    let mut stats = vec![0.0f32; NUM_LAYERS];
    for g in groups() {
        let mut vals: Vec<f32> = Vec::new();
        for t in traces {
            for &l in &g {
                vals.extend_from_slice(&t.outputs[l].data);
            }
        }
        let s = stat.eval(&mut vals);
        for &l in &g {
            stats[l] = s;
        }
    }
    stats
}

/// Every `SAMPLE_STRIDE`-th output value is scored (a fixed, deterministic subsample: the layers
/// hold millions of values per image and the error estimate needs far fewer).
const SAMPLE_STRIDE: usize = 3;
/// Coarse grid: clipping points `max * 2^(-i / COARSE_STEPS_PER_OCTAVE)` down to `max / 2^OCTAVES`.
const COARSE_STEPS_PER_OCTAVE: usize = 8;
const OCTAVES: usize = 6;
/// Fine grid around the best coarse point: this many steps on each side, a quarter step apart.
const FINE_STEPS: usize = 3;

/// The int8 layer of layer `l` with input scale `s_in` and output scale `s_out`.
fn qlayer(model: &Model, l: usize, s_in: f32, s_out: f32) -> Result<QuantLayer, RefError> {
    quantize_layer(&model.layers[l], s_in, s_out, WEIGHT_QMAX)
        .map_err(|e| RefError::Param(e.to_string()))
}

/// The squared error of one layer group at clipping point `clip`, summed over images.
fn group_error(
    accs: &[Vec<Vec<i32>>],
    targets: &[Vec<Vec<f32>>],
    ratio_num: &[f64],
    clip: f32,
    final_layer: bool,
    plane: usize,
) -> f64 {
    let s_out = clip / 255.0;
    let ms: Vec<(u16, u8)> = ratio_num
        .iter()
        .map(|&r| requant_multiplier(r / s_out as f64))
        .collect();
    let mut err = 0.0f64;
    for (img_acc, img_t) in accs.iter().zip(targets) {
        for ((acc, t), &(m, sh)) in img_acc.iter().zip(img_t).zip(&ms) {
            if final_layer {
                // The host's logits: the mean of each channel's plane times s_out.
                for (pa, pt) in acc.chunks(plane).zip(t) {
                    let sum: u32 = pa.iter().map(|&a| requantize(a, m, sh) as u32).sum();
                    let d = sum as f64 / plane as f64 * s_out as f64 - *pt as f64;
                    err += d * d;
                }
            } else {
                for (a, &f) in acc.iter().zip(t) {
                    let d = requantize(*a, m, sh) as f64 * s_out as f64 - f as f64;
                    err += d * d;
                }
            }
        }
    }
    err
}

fn mse_clips(
    model: &Model,
    images: &[Vec<f32>],
    traces: &[FloatTrace],
) -> Result<Vec<f32>, RefError> {
    let mut clips = vec![0.0f32; NUM_LAYERS];
    // Each image's int8 layer outputs so far (after pools), and its pixels.
    let pixels: Vec<QTensor> = images
        .iter()
        .map(|x| {
            QTensor::from_u8(
                3,
                weights::topology::INPUT_H,
                weights::topology::INPUT_W,
                weights::quant::pixels_of_input(x),
            )
        })
        .collect::<Result<_, _>>()?;
    let mut outs: Vec<Vec<QTensor>> = vec![Vec::with_capacity(NUM_LAYERS); images.len()];
    let s_in_of = |l: usize, clips: &[f32]| match LAYERS[l].input {
        Input::Image => 1.0f32,
        Input::Layer(j) | Input::Concat(j, _) => clips[j] / 255.0,
    };
    for g in groups() {
        let final_layer = LAYERS[g[0]].role == Role::Final;
        // The accumulators do not depend on the output scale: compute them once (any s_out).
        let quant: Vec<QuantLayer> = g
            .iter()
            .map(|&l| qlayer(model, l, s_in_of(l, &clips), 1.0))
            .collect::<Result<_, _>>()?;
        let layers: Vec<QConvLayer> = quant.iter().map(QConvLayer::from_quant).collect();
        // m * 2^-shift approximates s_w * s_in / s_out: the numerator is fixed per layer.
        let ratio_num: Vec<f64> = quant.iter().map(|q| q.s_w as f64 * q.s_in as f64).collect();
        let work: Vec<usize> = (0..images.len()).collect();
        let per_image = par_map(&work, |&n| -> Result<_, RefError> {
            let mut accs = Vec::new();
            let mut targets = Vec::new();
            for (&l, ql) in g.iter().zip(&layers) {
                let x = input_of(l, &pixels[n], &outs[n]);
                let acc = int8::conv_acc(&x, ql)?;
                let t = &traces[n].outputs[l].data;
                if final_layer {
                    accs.push(acc);
                    targets.push(float::global_average(&traces[n].outputs[l]));
                } else {
                    accs.push(acc.iter().step_by(SAMPLE_STRIDE).copied().collect());
                    targets.push(t.iter().step_by(SAMPLE_STRIDE).copied().collect());
                }
            }
            Ok((accs, targets))
        });
        let (accs, targets): (Vec<_>, Vec<_>) = per_image
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        let max = traces
            .iter()
            .flat_map(|t| g.iter().map(move |&l| &t.outputs[l].data))
            .flat_map(|d| d.iter())
            .fold(0.0f32, |a, &b| a.max(b));
        if !(max > 0.0 && max.is_finite()) {
            return Err(RefError::Param(format!(
                "layer {}: its float output is never positive on the calibration images",
                LAYERS[g[0]].name
            )));
        }
        let plane = traces[0].outputs[g[0]].h * traces[0].outputs[g[0]].w;
        let at = |step: f64| (max as f64 * (-step / COARSE_STEPS_PER_OCTAVE as f64).exp2()) as f32;
        let score =
            |step: f64| group_error(&accs, &targets, &ratio_num, at(step), final_layer, plane);
        let mut best = (f64::INFINITY, 0.0f64);
        for i in 0..=COARSE_STEPS_PER_OCTAVE * OCTAVES {
            let e = score(i as f64);
            if e < best.0 {
                best = (e, i as f64);
            }
        }
        let centre = best.1;
        for j in 1..=FINE_STEPS {
            for step in [centre - j as f64 / 4.0, centre + j as f64 / 4.0] {
                if step < 0.0 {
                    continue;
                }
                let e = score(step);
                if e < best.0 {
                    best = (e, step);
                }
            }
        }
        let clip = at(best.1);
        for &l in &g {
            clips[l] = clip;
        }
        // The chosen scale's outputs feed the next groups.
        let chosen: Vec<QConvLayer> = g
            .iter()
            .map(|&l| qlayer(model, l, s_in_of(l, &clips), clip / 255.0))
            .map(|q| q.map(|q| QConvLayer::from_quant(&q)))
            .collect::<Result<_, _>>()?;
        let new_outs = par_map(&work, |&n| -> Result<Vec<QTensor>, RefError> {
            g.iter()
                .zip(&chosen)
                .map(|(&l, ql)| int8::try_conv_layer(&input_of(l, &pixels[n], &outs[n]), ql))
                .collect()
        });
        for (o, new) in outs.iter_mut().zip(new_outs) {
            o.extend(new?);
        }
    }
    Ok(clips)
}

/// Layer `l`'s int8 input given the image's pixels and the outputs of the layers before it.
fn input_of(l: usize, pixels: &QTensor, outs: &[QTensor]) -> QTensor {
    match LAYERS[l].input {
        Input::Image => pixels.clone(),
        Input::Layer(j) => outs[j].clone(),
        Input::Concat(a, b) => {
            QTensor::concat(&[&outs[a], &outs[b]]).expect("expands of one Fire have equal shapes")
        }
    }
}

/// How the int8 model compares with the float model on one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Agreement {
    /// Float top-1 class.
    pub float_top1: usize,
    /// int8 top-1 class.
    pub int8_top1: usize,
    /// Rank of the int8 top-1 in the float ranking (0 = same top-1).
    pub int8_top1_rank_in_float: usize,
    /// |float top-5 ∩ int8 top-5|.
    pub top5_overlap: usize,
    /// Cosine similarity of the logit vectors.
    pub cosine: f64,
    /// Largest |int8 logit - float logit|.
    pub max_abs_diff: f32,
}

/// Compare int8 logits with float logits.
pub fn agreement(float_logits: &[f32], int8_logits: &[f32]) -> Agreement {
    let ft = top_k(float_logits, float_logits.len());
    let it = top_k(int8_logits, 5);
    Agreement {
        float_top1: ft[0],
        int8_top1: it[0],
        int8_top1_rank_in_float: ft.iter().position(|&c| c == it[0]).unwrap_or(usize::MAX),
        top5_overlap: overlap(&ft[..5], &it),
        cosine: cosine(float_logits, int8_logits),
        max_abs_diff: float_logits
            .iter()
            .zip(int8_logits)
            .fold(0.0f32, |a, (&x, &y)| a.max((x - y).abs())),
    }
}
