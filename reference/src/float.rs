//! The float reference of SqueezeNet v1.0: conv + ReLU, max-pool 3x3/2, Fire concatenation,
//! conv_final (pad 1) + ReLU and global average pool, giving the 1000 pre-softmax logits that the
//! onnxruntime golden outputs are compared with. Convolutions iterate only nonzero weights over a
//! zero-padded input (see `kernel`); arithmetic is plain f32 in a fixed order, so results are
//! deterministic (the int8 calibration depends on that).

use super::kernel::{conv_channel, taps, Padded, F32};
use super::RefError;
use weights::topology::{Input, LayerSpec, INPUT_C, INPUT_H, INPUT_LEN, INPUT_W, LAYERS};
use weights::Model;

/// A CHW f32 tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor from CHW data (`data.len()` must be `c * h * w`).
    pub fn new(c: usize, h: usize, w: usize, data: Vec<f32>) -> Result<Tensor, RefError> {
        if data.len() != c * h * w {
            return Err(RefError::Shape(format!(
                "tensor {c}x{h}x{w} needs {} values, got {}",
                c * h * w,
                data.len()
            )));
        }
        Ok(Tensor { c, h, w, data })
    }

    /// Channel concatenation.
    pub fn concat(a: &Tensor, b: &Tensor) -> Tensor {
        debug_assert_eq!((a.h, a.w), (b.h, b.w));
        let mut data = Vec::with_capacity(a.data.len() + b.data.len());
        data.extend_from_slice(&a.data);
        data.extend_from_slice(&b.data);
        Tensor {
            c: a.c + b.c,
            h: a.h,
            w: a.w,
            data,
        }
    }
}

/// Convolution with bias and ReLU: `weights` dense (O,I,K,K).
pub fn conv_relu(
    input: &Tensor,
    weights: &[f32],
    bias: &[f32],
    out_c: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> Result<Tensor, RefError> {
    let in_c = input.c;
    if weights.len() != out_c * in_c * k * k || bias.len() != out_c || k == 0 || stride == 0 {
        return Err(RefError::Shape(format!(
            "conv {out_c}x{in_c}x{k}x{k}: {} weights, {} biases, stride {stride}",
            weights.len(),
            bias.len()
        )));
    }
    if input.h + 2 * pad < k || input.w + 2 * pad < k {
        return Err(RefError::Shape(format!(
            "input {}x{} with pad {pad} is smaller than the {k}x{k} kernel",
            input.h, input.w
        )));
    }
    let ho = (input.h + 2 * pad - k) / stride + 1;
    let wo = (input.w + 2 * pad - k) / stride + 1;
    let p = Padded::new(in_c, input.h, input.w, pad, stride, |i| input.data[i]);
    let mut out = vec![0.0f32; out_c * ho * wo];
    let mut t = Vec::new();
    let mut scratch = Vec::new();
    for (o, plane) in out.chunks_mut(ho * wo).enumerate() {
        taps(&p, weights, o, in_c, k, |w| w, &mut t);
        conv_channel::<F32>(&p, &t, ho, wo, bias[o], &mut scratch, plane);
        for v in plane.iter_mut() {
            *v = v.max(0.0);
        }
    }
    Ok(Tensor {
        c: out_c,
        h: ho,
        w: wo,
        data: out,
    })
}

/// Max-pool 3x3 stride 2, floor mode.
pub fn max_pool(t: &Tensor) -> Tensor {
    let ho = weights::topology::pooled_size(t.h);
    let wo = weights::topology::pooled_size(t.w);
    let mut data = Vec::with_capacity(t.c * ho * wo);
    for plane in t.data.chunks(t.h * t.w) {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut m = f32::NEG_INFINITY;
                for dy in 0..3 {
                    let row = &plane[(2 * oy + dy) * t.w..];
                    for dx in 0..3 {
                        m = m.max(row[2 * ox + dx]);
                    }
                }
                data.push(m);
            }
        }
    }
    Tensor {
        c: t.c,
        h: ho,
        w: wo,
        data,
    }
}

/// Per-layer activations of one forward pass.
#[derive(Clone, Debug)]
pub struct FloatTrace {
    /// Post-ReLU output of each of the 26 conv layers (before any max-pool).
    pub outputs: Vec<Tensor>,
    /// The 1000 logits (global average of conv_final's ReLU output).
    pub logits: Vec<f32>,
}

fn check_input(input: &[f32]) -> Result<(), RefError> {
    if input.len() != INPUT_LEN {
        return Err(RefError::Shape(format!(
            "input has {} values, expected {INPUT_C}x{INPUT_H}x{INPUT_W} = {INPUT_LEN}",
            input.len()
        )));
    }
    Ok(())
}

fn layer_input(spec: &LayerSpec, image: &Tensor, pooled: &[Tensor]) -> Tensor {
    match spec.input {
        Input::Image => image.clone(),
        Input::Layer(j) => pooled[j].clone(),
        Input::Concat(a, b) => Tensor::concat(&pooled[a], &pooled[b]),
    }
}

/// Run the network and keep every layer's output.
pub fn forward_trace(model: &Model, input: &[f32]) -> Result<FloatTrace, RefError> {
    let mut outputs: Vec<Tensor> = Vec::with_capacity(LAYERS.len());
    let logits = forward_with(model, input, |_, y| outputs.push(y.clone()))?;
    Ok(FloatTrace { outputs, logits })
}

/// The logits of a forward pass in which `hook(i, output)` may change layer `i`'s ReLU output
/// (before its max-pool) in place: for simulating the rounding of one source of error at a time
/// (an ablation), e.g. activations rounded to a uint8 grid.
pub fn forward_with(
    model: &Model,
    input: &[f32],
    mut hook: impl FnMut(usize, &mut Tensor),
) -> Result<Vec<f32>, RefError> {
    check_input(input)?;
    let image = Tensor::new(INPUT_C, INPUT_H, INPUT_W, input.to_vec())?;
    let mut pooled: Vec<Tensor> = Vec::with_capacity(LAYERS.len());
    let mut last = None;
    for (i, (spec, layer)) in LAYERS.iter().zip(&model.layers).enumerate() {
        let x = layer_input(spec, &image, &pooled);
        let mut y = conv_relu(
            &x,
            &layer.weights,
            &layer.bias,
            spec.out_c,
            spec.k,
            spec.stride,
            spec.pad,
        )?;
        hook(i, &mut y);
        if i + 1 == LAYERS.len() {
            last = Some(global_average(&y));
        }
        pooled.push(if spec.pool { max_pool(&y) } else { y });
    }
    Ok(last.expect("26 layers"))
}

/// Mean of each channel (accumulated in f64).
pub fn global_average(t: &Tensor) -> Vec<f32> {
    let n = (t.h * t.w) as f64;
    t.data
        .chunks(t.h * t.w)
        .map(|p| (p.iter().map(|&v| v as f64).sum::<f64>() / n) as f32)
        .collect()
}

/// The 1000 logits of one preprocessed image (3x227x227 CHW, BGR minus mean).
pub fn try_forward(model: &Model, input: &[f32]) -> Result<Vec<f32>, RefError> {
    Ok(forward_trace(model, input)?.logits)
}

/// The 1000 logits of one preprocessed image (3x227x227 CHW, BGR minus mean).
///
/// # Panics
/// If `input` does not hold exactly 3*227*227 values; use [`try_forward`] to get an error instead.
pub fn forward(model: &Model, input: &[f32]) -> Vec<f32> {
    try_forward(model, input).unwrap_or_else(|e| panic!("float::forward: {e}"))
}
