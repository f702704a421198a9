//! The bit-exact int8 model of the engine (the specification the RTL is compared with), exactly per
//! the numerics contract of `spec::numerics` and `weights::quant`:
//!
//! - activations are 8-bit with zero point 0: conv1 reads the raw uint8 pixels (the mean is in its
//!   bias), every other layer reads uint8; a job may also declare its input int8 (the engine
//!   supports both); padding pixels are 0;
//! - weights are `LUT_BITS`-bit integers (the decoded codebook);
//! - `acc: i32 = b_q + sum(w_q * a)` in wrapping i32 arithmetic;
//! - `y = clamp((acc * m + 2^(shift-1)) >> shift, 0, 255)` (ReLU fused);
//! - optional fused max-pool 3x3 stride 2 (floor) on the uint8 output;
//! - host side: `logit = mean(y) * s_out_final` in f32 and softmax.
//!
//! [`conv_layer`] handles any K, stride, padding and pool; [`forward`] runs the whole network and keeps
//! every layer's uint8 output so RTL tests can compare layer by layer. Convolutions iterate only the
//! nonzero weights (see `kernel`).

use super::kernel::{conv_channel, taps, Padded, I32};
use super::{softmax, RefError};
use weights::quant::{requantize, QuantLayer, QuantModel, SHIFT_MAX, SHIFT_MIN};
use weights::topology::{
    pooled_size, Input, INPUT_C, INPUT_H, INPUT_LEN, INPUT_W, LAYERS, POOL_K, POOL_STRIDE,
};

/// An 8-bit activation tensor, CHW. `signed` says whether the bytes are i8 (the image) or u8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QTensor {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub signed: bool,
    /// CHW bytes; interpret as i8 when `signed`.
    pub data: Vec<u8>,
}

impl QTensor {
    /// A uint8 tensor from CHW bytes.
    pub fn from_u8(c: usize, h: usize, w: usize, data: Vec<u8>) -> Result<QTensor, RefError> {
        Self::check(c, h, w, data.len())?;
        Ok(QTensor {
            c,
            h,
            w,
            signed: false,
            data,
        })
    }

    /// An int8 tensor from CHW values.
    pub fn from_i8(c: usize, h: usize, w: usize, data: &[i8]) -> Result<QTensor, RefError> {
        Self::check(c, h, w, data.len())?;
        Ok(QTensor {
            c,
            h,
            w,
            signed: true,
            data: data.iter().map(|&v| v as u8).collect(),
        })
    }

    fn check(c: usize, h: usize, w: usize, len: usize) -> Result<(), RefError> {
        if c.checked_mul(h).and_then(|v| v.checked_mul(w)) != Some(len) {
            return Err(RefError::Shape(format!(
                "QTensor {c}x{h}x{w} does not hold {len} bytes"
            )));
        }
        Ok(())
    }

    /// Value at flat index `i`, sign- or zero-extended.
    #[inline]
    pub fn value(&self, i: usize) -> i32 {
        if self.signed {
            self.data[i] as i8 as i32
        } else {
            self.data[i] as i32
        }
    }

    /// Value at (channel, row, column).
    pub fn at(&self, c: usize, y: usize, x: usize) -> i32 {
        self.value((c * self.h + y) * self.w + x)
    }

    /// Channel concatenation of tensors of equal size and signedness (a Fire module's output).
    pub fn concat(parts: &[&QTensor]) -> Result<QTensor, RefError> {
        let first = parts
            .first()
            .ok_or_else(|| RefError::Shape("concat of nothing".into()))?;
        let mut data = Vec::new();
        let mut c = 0;
        for p in parts {
            if (p.h, p.w, p.signed) != (first.h, first.w, first.signed) {
                return Err(RefError::Shape(format!(
                    "concat of {}x{} with {}x{}",
                    first.h, first.w, p.h, p.w
                )));
            }
            c += p.c;
            data.extend_from_slice(&p.data);
        }
        Ok(QTensor {
            c,
            h: first.h,
            w: first.w,
            signed: first.signed,
            data,
        })
    }

    /// Channels `from..from + n` as a new tensor.
    pub fn channels(&self, from: usize, n: usize) -> QTensor {
        let plane = self.h * self.w;
        QTensor {
            c: n,
            h: self.h,
            w: self.w,
            signed: self.signed,
            data: self.data[from * plane..(from + n) * plane].to_vec(),
        }
    }
}

/// One convolution job of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QConvLayer {
    pub in_c: usize,
    pub out_c: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    /// Fused max-pool 3x3 stride 2 after requantization.
    pub pool: bool,
    /// Dense integer weights (decoded LUT entries), (O,I,K,K) row-major.
    pub weights: Vec<i16>,
    /// int32 bias per output channel.
    pub bias: Vec<i32>,
    pub m: u16,
    pub shift: u8,
}

impl QConvLayer {
    /// The job of one quantized network layer.
    pub fn from_quant(l: &QuantLayer) -> QConvLayer {
        QConvLayer {
            in_c: l.spec.in_c,
            out_c: l.spec.out_c,
            k: l.spec.k,
            stride: l.spec.stride,
            pad: l.spec.pad,
            pool: l.spec.pool,
            weights: l.weights.clone(),
            bias: l.bias.clone(),
            m: l.m,
            shift: l.shift,
        }
    }

    /// Convolution output (height, width) for an input of `h` x `w`, before the pool.
    pub fn conv_out(&self, h: usize, w: usize) -> (usize, usize) {
        (
            weights::topology::conv_size(h, self.k, self.stride, self.pad),
            weights::topology::conv_size(w, self.k, self.stride, self.pad),
        )
    }

    /// Final output (height, width) for an input of `h` x `w`, after the optional pool.
    pub fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        let (ho, wo) = self.conv_out(h, w);
        if self.pool {
            (pooled_size(ho), pooled_size(wo))
        } else {
            (ho, wo)
        }
    }

    fn validate(&self, x: &QTensor) -> Result<(), RefError> {
        let shape = |s: String| Err(RefError::Shape(s));
        if x.c != self.in_c {
            return shape(format!(
                "input has {} channels, layer expects {}",
                x.c, self.in_c
            ));
        }
        if x.data.len() != x.c * x.h * x.w {
            return shape(format!(
                "input {}x{}x{} holds {} bytes",
                x.c,
                x.h,
                x.w,
                x.data.len()
            ));
        }
        if self.k == 0 || self.stride == 0 || self.out_c == 0 {
            return shape(format!(
                "k = {}, stride = {}, out_c = {}",
                self.k, self.stride, self.out_c
            ));
        }
        if self.weights.len() != self.out_c * self.in_c * self.k * self.k {
            return shape(format!(
                "{} weights for {}x{}x{}x{}",
                self.weights.len(),
                self.out_c,
                self.in_c,
                self.k,
                self.k
            ));
        }
        if self.bias.len() != self.out_c {
            return shape(format!(
                "{} biases for {} outputs",
                self.bias.len(),
                self.out_c
            ));
        }
        if x.h + 2 * self.pad < self.k || x.w + 2 * self.pad < self.k {
            return shape(format!(
                "input {}x{} with pad {} is smaller than the {}x{} kernel",
                x.h, x.w, self.pad, self.k, self.k
            ));
        }
        let (ho, wo) = self.conv_out(x.h, x.w);
        if self.pool && (ho < POOL_K || wo < POOL_K) {
            return shape(format!("{ho}x{wo} output is too small for the 3x3 pool"));
        }
        if !(SHIFT_MIN..=SHIFT_MAX).contains(&self.shift) {
            return Err(RefError::Param(format!(
                "shift {} outside {SHIFT_MIN}..={SHIFT_MAX}",
                self.shift
            )));
        }
        if !(1..=32767).contains(&self.m) {
            return Err(RefError::Param(format!("m {} outside 1..=32767", self.m)));
        }
        Ok(())
    }
}

/// The int32 accumulators (bias included, before requantization), (O, Ho, Wo).
pub fn conv_acc(x: &QTensor, layer: &QConvLayer) -> Result<Vec<i32>, RefError> {
    layer.validate(x)?;
    let (ho, wo) = layer.conv_out(x.h, x.w);
    let p = if x.signed {
        Padded::new(x.c, x.h, x.w, layer.pad, layer.stride, |i| {
            x.data[i] as i8 as i32
        })
    } else {
        Padded::new(x.c, x.h, x.w, layer.pad, layer.stride, |i| x.data[i] as i32)
    };
    let mut acc = vec![0i32; layer.out_c * ho * wo];
    let mut t = Vec::new();
    let mut scratch = Vec::new();
    for (o, plane) in acc.chunks_mut(ho * wo).enumerate() {
        taps(
            &p,
            &layer.weights,
            o,
            layer.in_c,
            layer.k,
            |w: i16| w as i32,
            &mut t,
        );
        conv_channel::<I32>(&p, &t, ho, wo, layer.bias[o], &mut scratch, plane);
    }
    Ok(acc)
}

/// Max-pool 3x3 stride 2 (floor) of uint8 planes.
pub fn max_pool(x: &QTensor) -> QTensor {
    let (ho, wo) = (pooled_size(x.h), pooled_size(x.w));
    let mut data = Vec::with_capacity(x.c * ho * wo);
    for plane in x.data.chunks(x.h * x.w) {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut m = 0u8;
                for dy in 0..POOL_K {
                    let row = &plane[(POOL_STRIDE * oy + dy) * x.w + POOL_STRIDE * ox..];
                    m = m.max(row[0]).max(row[1]).max(row[2]);
                }
                data.push(m);
            }
        }
    }
    QTensor {
        c: x.c,
        h: ho,
        w: wo,
        signed: false,
        data,
    }
}

/// One engine job: convolution, requantization with ReLU, optional max-pool. Errors on shapes or
/// parameters outside the contract.
pub fn try_conv_layer(x: &QTensor, layer: &QConvLayer) -> Result<QTensor, RefError> {
    let acc = conv_acc(x, layer)?;
    let (ho, wo) = layer.conv_out(x.h, x.w);
    let y = QTensor {
        c: layer.out_c,
        h: ho,
        w: wo,
        signed: false,
        data: acc
            .iter()
            .map(|&a| requantize(a, layer.m, layer.shift))
            .collect(),
    };
    Ok(if layer.pool { max_pool(&y) } else { y })
}

/// One engine job: convolution, requantization with ReLU, optional max-pool.
///
/// # Panics
/// If the shapes or parameters are inconsistent; use [`try_conv_layer`] to get an error instead.
pub fn conv_layer(x: &QTensor, layer: &QConvLayer) -> QTensor {
    try_conv_layer(x, layer).unwrap_or_else(|e| panic!("int8::conv_layer: {e}"))
}

/// Everything one int8 inference produces.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Output {
    /// The image fed to conv1 (raw uint8 pixels).
    pub input: QTensor,
    /// The uint8 output of each of the 26 layers, after its fused pool if it has one
    /// (what the engine writes for that layer).
    pub layers: Vec<QTensor>,
    /// Host-side logits: `mean(y) * s_out` of conv_final's 15x15 output per class.
    pub logits: Vec<f32>,
    /// Softmax of the logits.
    pub probs: Vec<f32>,
}

impl Int8Output {
    /// The input of layer `i` as the engine sees it (image, a layer output, or a Fire concat).
    pub fn layer_input(&self, i: usize) -> QTensor {
        match LAYERS[i].input {
            Input::Image => self.input.clone(),
            Input::Layer(j) => self.layers[j].clone(),
            Input::Concat(a, b) => QTensor::concat(&[&self.layers[a], &self.layers[b]])
                .expect("expands of one Fire have equal shapes"),
        }
    }
}

/// The engine's image: the raw uint8 pixels of a preprocessed input (`weights::quant::pixels_of_input`).
pub fn quantize_image(model: &QuantModel, input: &[f32]) -> Result<QTensor, RefError> {
    if input.len() != INPUT_LEN {
        return Err(RefError::Shape(format!(
            "input has {} values, expected {INPUT_C}x{INPUT_H}x{INPUT_W} = {INPUT_LEN}",
            input.len()
        )));
    }
    QTensor::from_u8(INPUT_C, INPUT_H, INPUT_W, model.quantize_input(input))
}

/// Host-side global average pool of the final layer's uint8 output: `mean(y) * s_out` in f32.
pub fn logits_from_final(y: &QTensor, s_out: f32) -> Vec<f32> {
    let n = (y.h * y.w) as f32;
    y.data
        .chunks(y.h * y.w)
        .map(|p| p.iter().map(|&v| v as u32).sum::<u32>() as f32 / n * s_out)
        .collect()
}

/// Run the whole network in int8 from a preprocessed image.
pub fn try_forward(model: &QuantModel, input: &[f32]) -> Result<Int8Output, RefError> {
    let image = quantize_image(model, input)?;
    try_forward_quantized(model, image)
}

/// Run the whole network from an already quantized image.
pub fn try_forward_quantized(model: &QuantModel, image: QTensor) -> Result<Int8Output, RefError> {
    if model.layers.len() != LAYERS.len() {
        return Err(RefError::Shape(format!(
            "{} layers in the model",
            model.layers.len()
        )));
    }
    let mut out = Int8Output {
        input: image,
        layers: Vec::with_capacity(LAYERS.len()),
        logits: Vec::new(),
        probs: Vec::new(),
    };
    for (i, l) in model.layers.iter().enumerate() {
        let x = out.layer_input(i);
        let y = try_conv_layer(&x, &QConvLayer::from_quant(l))
            .map_err(|e| RefError::Shape(format!("layer {}: {e}", l.name())))?;
        out.layers.push(y);
    }
    let last = out.layers.last().expect("26 layers");
    out.logits = logits_from_final(last, model.output_scale);
    out.probs = softmax(&out.logits);
    Ok(out)
}

/// Run the whole network in int8 from a preprocessed image (3x227x227 CHW, BGR minus mean).
///
/// # Panics
/// If `input` does not hold 3*227*227 values; use [`try_forward`] to get an error instead.
pub fn forward(model: &QuantModel, input: &[f32]) -> Int8Output {
    try_forward(model, input).unwrap_or_else(|e| panic!("int8::forward: {e}"))
}
