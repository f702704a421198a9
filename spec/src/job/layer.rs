//! A layer in the engine's form: stride 1 on a grid, a tap window of at most `MAX_K`, the
//! weights as per-output-channel lists of (code, gap) entries with 15-gap fillers, the codebook
//! built from dense weights when the layer has none.

use super::{ConvLayer, JobError, LayerWeights};
use crate::descriptor::MAX_K;
use crate::numerics::{CODEBOOK_ENTRIES, LUT_BITS, WEIGHT_QMAX};

/// Entries of one output channel in the engine's order: (code, relative index) with 15-gap fillers.
pub(super) fn encode_channel(positions_codes: impl Iterator<Item = (u32, u8)>) -> Vec<(u8, u8)> {
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
pub(super) struct EngineLayer {
    pub(super) k: u32,
    pub(super) lut: Vec<i16>,
    pub(super) chans: Vec<Vec<(u8, u8)>>,
    pub(super) bias: Vec<i32>,
    pub(super) m: u16,
    pub(super) shift: u8,
    pub(super) pool: bool,
}

impl EngineLayer {
    /// Output channels `(first, count)` as a layer of their own.
    pub(super) fn channels(&self, (first, n): (u32, u32)) -> EngineLayer {
        let r = first as usize..(first + n) as usize;
        EngineLayer {
            k: self.k,
            lut: self.lut.clone(),
            chans: self.chans[r.clone()].to_vec(),
            bias: self.bias[r].to_vec(),
            m: self.m,
            shift: self.shift,
            pool: self.pool,
        }
    }

    /// Weight-memory beats its entries occupy (the descriptor's `weight_beats`).
    pub(super) fn weight_beats(&self) -> u32 {
        let n: usize = self.chans.iter().map(|c| c.len()).sum();
        (n as u32).div_ceil(crate::packet::WEIGHTS_PER_BEAT as u32)
    }
}

/// Codes and codebook of dense weights: the distinct nonzero values, sorted, from code 1.
pub(super) fn dense_codes(w: &[i16]) -> Result<(Vec<u8>, Vec<i16>), JobError> {
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
pub(super) fn engine_layer(l: &ConvLayer) -> Result<EngineLayer, JobError> {
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
