//! Quantization of the model to the engine's arithmetic (the contract is `spec::numerics`):
//!
//! - weights: per layer, `s_w = max_c |cb[c]| / WEIGHT_QMAX` (f32), `lut[c] = clamp(round(cb[c] /
//!   s_w), -WEIGHT_QMAX, WEIGHT_QMAX)` with round half away from zero, `lut[0] = 0`, `LUT_BITS`
//!   wide (16); the engine keeps the 8-bit codes and 4-bit relative indices and decodes codes
//!   through the LUT;
//! - input: the raw 8-bit BGR pixels (scale 1, unsigned). The float network subtracts
//!   `INPUT_MEAN_BGR`; conv1 has no padding, so that is folded into conv1's bias:
//!   `b_q = round(b / s_w - sum(lut[w] * mean[c]))` over the channel's weights;
//! - bias (other layers): `b_q = round(b / (s_w * s_in))` as i32;
//! - requantization: `y = clamp((acc * m + 2^(shift-1)) >> shift, 0, 255)` with `m * 2^-shift` the
//!   closest value to `s_w * s_in / s_out`, `m` normalised into [16384, 32767] when possible;
//! - activation scales (`s_out` per layer, post-ReLU, uint8) come from a [`Calibration`]: made by
//!   `reference::calib` (a per-layer search for the scale that minimises the int8 model's
//!   error against the float model on a set of real photos) and committed as
//!   `weights/data/*.calib.json`.
//!
//! Scales are stored as f32; every derived integer (LUT, bias, m/shift) is computed in f64 from
//! those f32 values, so any consumer that uses this module gets the same integers.

use crate::model::{Layer, Model};
use crate::net::CODEBOOK_LEN;
use crate::topology::{scale_group, LayerSpec, Role, INPUT_MEAN_BGR, LAYERS, NUM_LAYERS};
use serde::{Deserialize, Serialize};
pub use spec::numerics::{LUT_BITS, WEIGHT_QMAX};
use std::path::{Path, PathBuf};

/// Format tag of calibration files.
pub const CALIB_FORMAT: &str = "sqz-calib-v2";
/// File name of the committed calibration for the Deep Compression SqueezeNet v1.0 model.
pub const CALIB_FILE_NAME: &str = "squeezenet_v1.0_dc.calib.json";
/// The committed calibration, built into the crate so a moved binary still has it.
const COMMITTED_CALIB: &str = include_str!("../data/squeezenet_v1.0_dc.calib.json");

/// Smallest and largest `m` (a signed 16-bit multiplier operand).
pub const M_MIN: u16 = 1;
/// Largest `m`.
pub const M_MAX: u16 = 32767;
/// Lower bound of a normalised `m`.
pub const M_NORM_MIN: u16 = 16384;
/// Smallest shift.
pub const SHIFT_MIN: u8 = 1;
/// Largest shift.
pub const SHIFT_MAX: u8 = 46;

/// A quantization failure.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    /// The calibration was made for another `.net` file.
    #[error("calibration belongs to a different model: it names sha256 {calib} ({calib_bytes} bytes), the model is {model} ({model_bytes} bytes); make one for it with `sqz-host calibrate --model PATH --out FILE PHOTOS...` and pass `--calibration FILE`")]
    ModelMismatch {
        calib: String,
        calib_bytes: u64,
        model: String,
        model_bytes: u64,
    },
    /// The calibration's layer list does not match the topology.
    #[error("calibration: {0}")]
    Layers(String),
    /// A scale is zero, negative or not finite.
    #[error("calibration: scale {what} = {value} must be finite and > 0")]
    BadScale { what: String, value: f32 },
    /// A quantized bias does not fit in i32.
    #[error("layer {layer}: bias of channel {channel} quantizes to {value}, outside i32")]
    BiasOverflow {
        layer: String,
        channel: usize,
        value: f64,
    },
    /// The calibration file cannot be read or parsed.
    #[error("calibration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Calibrated activation statistic and scale of one layer's output (post-ReLU).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibLayer {
    /// Caffe name of the layer.
    pub name: String,
    /// The clipping point: the largest float value the layer's output represents (for the two
    /// expands of a Fire module: shared, since they are concatenated).
    pub stat: f32,
    /// Output scale: `stat / 255`.
    pub s_out: f32,
}

/// Activation scales of the whole network, tied to one `.net` file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Always [`CALIB_FORMAT`].
    pub format: String,
    /// Size in bytes of the `.net` file the scales belong to.
    pub model_bytes: u64,
    /// SHA-256 (hex) of that `.net` file.
    pub model_sha256: String,
    /// How the scales were chosen, e.g. `mse` (the error-minimising search) or `p99.99`.
    pub statistic: String,
    /// The images the scales were chosen on (file names, with the view of each when views
    /// were made).
    pub images: Vec<String>,
    /// One entry per layer, in topology order.
    pub layers: Vec<CalibLayer>,
}

impl Calibration {
    /// The committed calibration of the real model (built into the crate).
    pub fn committed() -> Result<Calibration, QuantError> {
        Calibration::from_json(COMMITTED_CALIB, &Calibration::committed_path())
    }

    /// Where the committed calibration lives in the source tree.
    pub fn committed_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(CALIB_FILE_NAME)
    }

    /// Parse calibration JSON (`path` only names it in errors).
    pub fn from_json(text: &str, path: &Path) -> Result<Calibration, QuantError> {
        let c: Calibration = serde_json::from_str(text).map_err(|e| QuantError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if c.format != CALIB_FORMAT {
            return Err(QuantError::File {
                path: path.to_path_buf(),
                reason: format!("format {:?}, expected {CALIB_FORMAT:?}", c.format),
            });
        }
        Ok(c)
    }

    /// Load a calibration file.
    pub fn load(path: impl AsRef<Path>) -> Result<Calibration, QuantError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| QuantError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Calibration::from_json(&text, path)
    }

    /// The canonical file text (pretty JSON plus a final newline); recalibrating must reproduce it
    /// byte for byte.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("Calibration serialises");
        s.push('\n');
        s
    }

    /// Build a calibration from one clipping point per layer (already merged per scale group by
    /// the caller: expands of one Fire carry the same value).
    pub fn from_stats(
        model: &Model,
        statistic: &str,
        images: &[String],
        layer_stats: &[f32],
    ) -> Calibration {
        Calibration {
            format: CALIB_FORMAT.to_string(),
            model_bytes: model.file_bytes,
            model_sha256: model.sha256.clone(),
            statistic: statistic.to_string(),
            images: images.to_vec(),
            layers: LAYERS
                .iter()
                .zip(layer_stats)
                .map(|(l, &s)| CalibLayer {
                    name: l.name.to_string(),
                    stat: s,
                    s_out: s / 255.0,
                })
                .collect(),
        }
    }

    fn check(&self, model: &Model) -> Result<(), QuantError> {
        if self.model_sha256 != model.sha256 || self.model_bytes != model.file_bytes {
            return Err(QuantError::ModelMismatch {
                calib: self.model_sha256.clone(),
                calib_bytes: self.model_bytes,
                model: model.sha256.clone(),
                model_bytes: model.file_bytes,
            });
        }
        if self.layers.len() != NUM_LAYERS {
            return Err(QuantError::Layers(format!(
                "{} layers, expected {NUM_LAYERS}",
                self.layers.len()
            )));
        }
        for (i, (c, l)) in self.layers.iter().zip(LAYERS.iter()).enumerate() {
            if c.name != l.name {
                return Err(QuantError::Layers(format!(
                    "layer {i} is {:?}, expected {:?}",
                    c.name, l.name
                )));
            }
            check_scale(&c.name, c.s_out)?;
            let g = scale_group(i);
            if self.layers[g].s_out != c.s_out {
                return Err(QuantError::Layers(format!(
                    "{} and {} are concatenated and must share one output scale",
                    l.name, LAYERS[g].name
                )));
            }
        }
        Ok(())
    }
}

fn check_scale(what: &str, v: f32) -> Result<(), QuantError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(QuantError::BadScale {
            what: what.to_string(),
            value: v,
        })
    }
}

/// One quantized convolution layer: everything the engine and the int8 reference need.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantLayer {
    /// Shape and role.
    pub spec: &'static LayerSpec,
    /// The codebook as `LUT_BITS`-bit integers (`lut[0] == 0`).
    pub lut: [i16; CODEBOOK_LEN],
    /// Codebook index per stored entry (fillers included), as in the `.net` file.
    pub codes: Vec<u8>,
    /// 4-bit relative index per stored entry.
    pub rel_idx: Vec<u8>,
    /// Dense integer weights (O,I,K,K) = `lut[code]` at each entry's position, 0 elsewhere.
    pub weights: Vec<i16>,
    /// int32 bias per output channel.
    pub bias: Vec<i32>,
    /// Requantization multiplier.
    pub m: u16,
    /// Requantization shift.
    pub shift: u8,
    /// Weight scale.
    pub s_w: f32,
    /// Input activation scale.
    pub s_in: f32,
    /// Output activation scale.
    pub s_out: f32,
}

impl QuantLayer {
    /// Caffe name.
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// Whether the layer's input is signed: conv1 reads the image (`spec::numerics::INPUT_SIGNED`),
    /// every other layer reads uint8.
    pub fn signed_input(&self) -> bool {
        self.spec.role == Role::Conv1 && spec::numerics::INPUT_SIGNED
    }

    /// The real-valued requantization factor `s_w * s_in / s_out` that `m * 2^-shift` approximates.
    pub fn requant_ratio(&self) -> f64 {
        self.s_w as f64 * self.s_in as f64 / self.s_out as f64
    }
}

/// The quantized network.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantModel {
    /// The 26 layers in topology order.
    pub layers: Vec<QuantLayer>,
    /// Scale of the final layer's uint8 output: `logit = mean(y) * output_scale`.
    pub output_scale: f32,
    /// SHA-256 of the `.net` file.
    pub model_sha256: String,
}

/// Weight scale of a codebook: `max |cb| / qmax` (1.0 for an all-zero codebook, which has no
/// scale). The engine's `qmax` is [`WEIGHT_QMAX`].
pub fn weight_scale(codebook: &[f32; CODEBOOK_LEN], qmax: i32) -> f32 {
    let max = codebook.iter().fold(0.0f32, |a, &c| a.max(c.abs()));
    if max > 0.0 {
        max / qmax as f32
    } else {
        1.0
    }
}

/// The LUT of a codebook at scale `s_w`, entries clamped to `±qmax`.
pub fn quantize_codebook(
    codebook: &[f32; CODEBOOK_LEN],
    s_w: f32,
    qmax: i32,
) -> [i16; CODEBOOK_LEN] {
    let mut lut = [0i16; CODEBOOK_LEN];
    for (q, &c) in lut.iter_mut().zip(codebook.iter()).skip(1) {
        // f64::round rounds half away from zero.
        *q = (c as f64 / s_w as f64)
            .round()
            .clamp(-qmax as f64, qmax as f64) as i16;
    }
    lut
}

/// `(m, shift)` with `m * 2^-shift` closest to `ratio`, `m` in [16384, 32767] when some shift in
/// [1, 46] allows it, else the closest over all `m` in [1, 32767]. Ties go to the larger shift.
pub fn requant_multiplier(ratio: f64) -> (u16, u8) {
    let mut best: Option<(f64, u16, u8, bool)> = None;
    for shift in SHIFT_MIN..=SHIFT_MAX {
        let scaled = ratio * (1u64 << shift) as f64;
        let m = scaled.round().clamp(M_MIN as f64, M_MAX as f64) as u16;
        let err = (m as f64 / (1u64 << shift) as f64 - ratio).abs();
        let norm = m >= M_NORM_MIN;
        let better = match best {
            None => true,
            Some((e, _, _, n)) => (norm && !n) || (norm == n && err <= e),
        };
        if better {
            best = Some((err, m, shift, norm));
        }
    }
    let (_, m, shift, _) = best.expect("at least one shift");
    (m, shift)
}

/// The contract's requantization with fused ReLU: `clamp((acc * m + 2^(shift-1)) >> shift, 0, 255)`.
#[inline]
pub fn requantize(acc: i32, m: u16, shift: u8) -> u8 {
    let v = ((acc as i64) * (m as i64) + (1i64 << (shift - 1))) >> shift;
    v.clamp(0, 255) as u8
}

/// Quantize one layer whose input has scale `s_in` (1.0 for conv1: the raw pixels) and whose
/// output has scale `s_out`, with LUT entries of at most `qmax` (the engine's is [`WEIGHT_QMAX`]).
pub fn quantize_layer(
    layer: &Layer,
    s_in: f32,
    s_out: f32,
    qmax: i32,
) -> Result<QuantLayer, QuantError> {
    let s_w = weight_scale(&layer.codebook, qmax);
    let lut = quantize_codebook(&layer.codebook, s_w, qmax);
    let mut weights = vec![0i16; layer.spec.weight_count()];
    let mut pos = 0usize;
    for (k, (&c, &r)) in layer.codes.iter().zip(&layer.rel_idx).enumerate() {
        pos = if k == 0 {
            r as usize
        } else {
            pos + r as usize + 1
        };
        // The parser guarantees every position is in range.
        weights[pos] = lut[c as usize];
    }
    let s_acc = s_w as f64 * s_in as f64;
    let per_out = layer.spec.in_c * layer.spec.k * layer.spec.k;
    let taps = layer.spec.k * layer.spec.k;
    let mut bias = Vec::with_capacity(layer.bias.len());
    for (ch, &b) in layer.bias.iter().enumerate() {
        let mut q = b as f64 / s_acc;
        if layer.spec.role == Role::Conv1 {
            // The engine reads raw pixels: subtract what the mean contributes through the
            // channel's (quantized) weights, in accumulator units.
            let w = &weights[ch * per_out..(ch + 1) * per_out];
            let folded: f64 = w
                .chunks(taps)
                .zip(INPUT_MEAN_BGR)
                .map(|(plane, mean)| {
                    plane.iter().map(|&v| v as f64).sum::<f64>() * mean as f64 / s_in as f64
                })
                .sum();
            q -= folded;
        }
        let q = q.round();
        if !(i32::MIN as f64..=i32::MAX as f64).contains(&q) {
            return Err(QuantError::BiasOverflow {
                layer: layer.spec.name.to_string(),
                channel: ch,
                value: q,
            });
        }
        bias.push(q as i32);
    }
    let (m, shift) = requant_multiplier(s_acc / s_out as f64);
    Ok(QuantLayer {
        spec: layer.spec,
        lut,
        codes: layer.codes.clone(),
        rel_idx: layer.rel_idx.clone(),
        weights,
        bias,
        m,
        shift,
        s_w,
        s_in,
        s_out,
    })
}

impl QuantModel {
    /// Quantize `model` with the activation scales of `calib` (which must belong to this model).
    pub fn from_model(model: &Model, calib: &Calibration) -> Result<QuantModel, QuantError> {
        QuantModel::from_model_with_qmax(model, calib, WEIGHT_QMAX)
    }

    /// Like [`QuantModel::from_model`] with LUT entries of at most `qmax` instead of the engine's
    /// [`WEIGHT_QMAX`]: a narrower LUT, to measure what weight precision costs. Only
    /// `qmax == WEIGHT_QMAX` is what the engine computes.
    pub fn from_model_with_qmax(
        model: &Model,
        calib: &Calibration,
        qmax: i32,
    ) -> Result<QuantModel, QuantError> {
        calib.check(model)?;
        let mut layers = Vec::with_capacity(NUM_LAYERS);
        for (i, layer) in model.layers.iter().enumerate() {
            let s_in = input_scale_of(i, calib);
            layers.push(quantize_layer(layer, s_in, calib.layers[i].s_out, qmax)?);
        }
        Ok(QuantModel {
            layers,
            output_scale: calib.layers[NUM_LAYERS - 1].s_out,
            model_sha256: model.sha256.clone(),
        })
    }

    /// Quantize with the committed calibration.
    pub fn from_model_committed(model: &Model) -> Result<QuantModel, QuantError> {
        QuantModel::from_model(model, &Calibration::committed()?)
    }

    /// The engine's input bytes of a preprocessed image: [`pixels_of_input`].
    pub fn quantize_input(&self, x: &[f32]) -> Vec<u8> {
        pixels_of_input(x)
    }
}

/// The raw 8-bit BGR pixels of a preprocessed image (CHW, `pixel - INPUT_MEAN_BGR`): the mean
/// added back, rounded half away from zero and clamped to 0..=255 (exact for an image made from
/// 8-bit pixels); NaN becomes 0. The input must be a whole number of channel planes.
pub fn pixels_of_input(x: &[f32]) -> Vec<u8> {
    let plane = x.len() / INPUT_MEAN_BGR.len();
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let mean = INPUT_MEAN_BGR[(i / plane.max(1)).min(INPUT_MEAN_BGR.len() - 1)];
            (v as f64 + mean as f64).round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// The scale of layer `i`'s input: 1 for conv1 (the raw pixels), else the producing layer's
/// `s_out` (max-pool keeps the scale; a Fire concat has one scale by construction).
fn input_scale_of(i: usize, calib: &Calibration) -> f32 {
    use crate::topology::Input;
    match LAYERS[i].input {
        Input::Image => 1.0,
        Input::Layer(j) | Input::Concat(j, _) => calib.layers[j].s_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_is_normalised_and_close() {
        for &r in &[1e-6, 3.7e-4, 0.01, 0.123456, 0.5, 0.99999, 1.0, 1.7] {
            let (m, s) = requant_multiplier(r);
            assert!((M_NORM_MIN..=M_MAX).contains(&m), "r={r} m={m}");
            assert!((SHIFT_MIN..=SHIFT_MAX).contains(&s));
            let approx = m as f64 / (1u64 << s) as f64;
            assert!((approx - r).abs() <= r / 32768.0, "r={r} approx={approx}");
        }
        // Too large to normalise with shift >= 1: saturate.
        assert_eq!(requant_multiplier(1e9), (32767, 1));
        // Too small to normalise with shift <= 46: closest with the largest shift.
        let (m, s) = requant_multiplier(1e-12);
        assert_eq!(s, 46);
        assert_eq!(m, (1e-12f64 * (1u64 << 46) as f64).round().max(1.0) as u16);
    }

    #[test]
    fn requantize_rounds_and_clamps() {
        // m/2^shift = 0.5: 3 * 0.5 = 1.5 rounds up to 2; -3 clamps to 0.
        assert_eq!(requantize(3, 16384, 15), 2);
        assert_eq!(requantize(-3, 16384, 15), 0);
        assert_eq!(requantize(1000, 16384, 15), 255);
        assert_eq!(requantize(i32::MAX, 32767, 1), 255);
        assert_eq!(requantize(i32::MIN, 32767, 46), 0);
    }

    #[test]
    fn codebook_lut_is_symmetric_and_rounds_half_away() {
        let mut cb = [0.0f32; CODEBOOK_LEN];
        cb[1] = 1.27;
        cb[2] = -1.27;
        cb[3] = 0.005; // 0.5 LSB -> rounds away from zero to 1
        cb[4] = -0.005;
        cb[5] = 0.0049;
        let s = weight_scale(&cb, 127);
        assert!((s - 0.01).abs() < 1e-7);
        let lut = quantize_codebook(&cb, s, 127);
        assert_eq!(&lut[..6], &[0, 127, -127, 1, -1, 0]);
        // The engine's width: the largest entry is WEIGHT_QMAX.
        let s = weight_scale(&cb, WEIGHT_QMAX);
        let lut = quantize_codebook(&cb, s, WEIGHT_QMAX);
        assert_eq!(lut[1] as i32, WEIGHT_QMAX);
        assert_eq!(lut[2] as i32, -WEIGHT_QMAX);
    }

    #[test]
    fn pixels_add_the_mean_back_round_and_saturate() {
        // One value per channel plane: B, G, R means 104, 117, 123.
        assert_eq!(pixels_of_input(&[-104.0, 0.5, 200.0]), vec![0, 118, 255]);
        assert_eq!(pixels_of_input(&[-300.0, f32::NAN, -0.5]), vec![0, 0, 123]);
    }
}
