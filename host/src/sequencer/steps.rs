//! The network as the sequencer runs it: its steps (a convolution or a Fire module), each
//! layer as the planner's input, and each layer's input from the outputs read back.

use reference::int8::QTensor;
use spec::job::{ConvLayer, LayerWeights};
use weights::quant::QuantLayer;
use weights::topology::{Input, FIRES, LAYERS, NUM_LAYERS};

use super::SeqError;

/// One unit the sequencer runs: a plain convolution or a Fire module (three jobs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Conv(usize),
    Fire {
        squeeze: usize,
        expand1x1: usize,
        expand3x3: usize,
    },
}

impl Step {
    /// Layer indices whose output this step sends back to the host.
    pub fn outputs(&self) -> Vec<usize> {
        match *self {
            Step::Conv(i) => vec![i],
            Step::Fire {
                expand1x1,
                expand3x3,
                ..
            } => vec![expand1x1, expand3x3],
        }
    }
    pub fn name(&self) -> &'static str {
        match *self {
            Step::Conv(i) => LAYERS[i].name,
            Step::Fire { squeeze, .. } => LAYERS[squeeze].name.split('/').next().unwrap_or("fire"),
        }
    }
    pub(super) fn first(&self) -> usize {
        match *self {
            Step::Conv(i) => i,
            Step::Fire { squeeze, .. } => squeeze,
        }
    }
    /// The layers of the step, in job order.
    pub fn layers(&self) -> Vec<usize> {
        match *self {
            Step::Conv(i) => vec![i],
            Step::Fire {
                squeeze,
                expand1x1,
                expand3x3,
            } => vec![squeeze, expand1x1, expand3x3],
        }
    }
}

/// conv1, fire2..fire9, conv_final.
pub fn steps() -> Vec<Step> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < NUM_LAYERS {
        if let Some(f) = FIRES.iter().find(|f| f.squeeze == i) {
            v.push(Step::Fire {
                squeeze: f.squeeze,
                expand1x1: f.expand1x1,
                expand3x3: f.expand3x3,
            });
            i += 3;
        } else {
            v.push(Step::Conv(i));
            i += 1;
        }
    }
    v
}

/// A quantized layer as the planner's input: the stored codes put back at their dense positions,
/// decoded on the card through the layer's int8 LUT.
pub fn conv_layer(q: &QuantLayer) -> Result<ConvLayer, SeqError> {
    let s = q.spec;
    let mut codes = vec![0u8; s.weight_count()];
    let mut pos: i64 = -1;
    for (&c, &r) in q.codes.iter().zip(&q.rel_idx) {
        pos += r as i64 + 1;
        let slot = codes.get_mut(pos as usize).ok_or_else(|| {
            SeqError::Input(format!(
                "{}: weight entry at position {pos} is past the layer",
                s.name
            ))
        })?;
        *slot = c;
    }
    // The dense int8 weights the reference uses must be exactly what the card will decode.
    if codes
        .iter()
        .zip(&q.weights)
        .any(|(&c, &w)| q.lut[c as usize] != w)
    {
        return Err(SeqError::Input(format!(
            "{}: codes and dense weights disagree",
            s.name
        )));
    }
    Ok(ConvLayer {
        in_c: s.in_c as u32,
        out_c: s.out_c as u32,
        k: s.k as u32,
        stride: s.stride as u32,
        pad: s.pad as u32,
        pool: s.pool,
        weights: LayerWeights::Coded {
            codes,
            lut: q.lut.to_vec(),
        },
        bias: q.bias.clone(),
        m: q.m,
        shift: q.shift,
    })
}

/// The input of layer `i`, from the image and the outputs read back so far.
pub(super) fn layer_input(
    i: usize,
    image: &QTensor,
    outs: &[Option<QTensor>],
) -> Result<QTensor, SeqError> {
    let get = |j: usize| {
        outs[j].as_ref().ok_or_else(|| {
            SeqError::Input(format!(
                "{} needs the output of {}, not read back",
                LAYERS[i].name, LAYERS[j].name
            ))
        })
    };
    Ok(match LAYERS[i].input {
        Input::Image => image.clone(),
        Input::Layer(j) => get(j)?.clone(),
        Input::Concat(a, b) => {
            QTensor::concat(&[get(a)?, get(b)?]).map_err(|e| SeqError::Input(e.to_string()))?
        }
    })
}
