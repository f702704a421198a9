//! Deterministic calibration of the activation scales: run the float reference on the four golden
//! images, take one statistic (the maximum, or a high percentile) of every layer's post-ReLU output
//! over all four images (the two expands of a Fire module pooled together, since they are
//! concatenated and share one scale) and of |input|, and turn them into a
//! [`weights::Calibration`] (`s_out = stat / 255`, `s_in = stat / 127`).
//!
//! The float forward pass is single-threaded plain f32 in a fixed order and the percentile is an
//! exact order statistic, so recalibrating reproduces the committed file byte for byte.

use super::{cosine, float, golden, int8, overlap, top_k, RefError};
use weights::quant::{Calibration, QuantModel};
use weights::topology::{scale_group, LAYERS, NUM_LAYERS};
use weights::Model;

/// The statistic the committed calibration uses (chosen by measuring int8 vs float logits, see
/// `cargo run -p sim --release --bin calibrate -- --sweep`).
pub const DEFAULT_STATISTIC: &str = "p99.999";

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
                "statistic {s:?}: expected `max` or `pNN.N` with 0 < NN.N < 100"
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

/// Calibrate `model` on `images` (preprocessed 3x227x227 each) named `names`.
pub fn calibrate(
    model: &Model,
    images: &[Vec<f32>],
    names: &[String],
    statistic: &str,
) -> Result<Calibration, RefError> {
    let stat = Statistic::parse(statistic)?;
    let mut input_vals: Vec<f32> = Vec::new();
    let mut groups: Vec<Vec<f32>> = vec![Vec::new(); NUM_LAYERS];
    for img in images {
        let trace = float::forward_trace(model, img)?;
        input_vals.extend(img.iter().map(|v| v.abs()));
        for (i, t) in trace.outputs.iter().enumerate() {
            groups[scale_group(i)].extend_from_slice(&t.data);
        }
    }
    let input_stat = stat.eval(&mut input_vals);
    let mut layer_stats = vec![0.0f32; NUM_LAYERS];
    for i in 0..NUM_LAYERS {
        if scale_group(i) == i {
            layer_stats[i] = stat.eval(&mut groups[i]);
        }
    }
    for i in 0..NUM_LAYERS {
        layer_stats[i] = layer_stats[scale_group(i)];
    }
    for (i, &s) in layer_stats.iter().enumerate() {
        if !(s > 0.0 && s.is_finite()) {
            return Err(RefError::Param(format!(
                "layer {}: statistic {statistic} of its output is {s}; cannot set a scale",
                LAYERS[i].name
            )));
        }
    }
    Ok(Calibration::from_stats(
        model,
        statistic,
        names,
        input_stat,
        &layer_stats,
    ))
}

/// Calibrate on the shared golden images.
pub fn calibrate_golden(model: &Model, statistic: &str) -> anyhow::Result<Calibration> {
    let images = golden::load_inputs()?;
    let names: Vec<String> = golden::IMAGES.iter().map(|s| s.to_string()).collect();
    Ok(calibrate(model, &images, &names, statistic)?)
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

/// Quantize with `calib` and compare int8 with float logits on `images`.
pub fn evaluate(
    model: &Model,
    calib: &Calibration,
    images: &[Vec<f32>],
) -> anyhow::Result<Vec<Agreement>> {
    let q = QuantModel::from_model(model, calib)?;
    let mut v = Vec::new();
    for img in images {
        let f = float::try_forward(model, img)?;
        let i = int8::try_forward(&q, img)?;
        v.push(agreement(&f, &i.logits));
    }
    Ok(v)
}
