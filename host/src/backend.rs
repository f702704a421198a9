//! Backend selection and the per-image classification result.
//!
//! A backend turns one preprocessed 3 x 227 x 227 input into 1000 logits and probabilities:
//! the two software models of the `reference` crate (`reference`, the bit-exact int8 model of
//! the engine; `float`, the float network) and the card backends (`sim`, the Verilated RTL, in a
//! build with the `rtl` feature; `xdma`, the board or an emulated card), which run the network
//! sequencer over the device trait (`host::card`). Without `--backend`, `xdma` when
//! `/dev/xdma0_user` exists, else `reference`. Every int8 backend quantizes with one [`Calibration`].

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use weights::quant::{Calibration, QuantModel};
use weights::Model;

/// Which implementation runs the network (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BackendKind {
    /// The int8 reference model: bit-exact with the engine (what the hardware computes).
    #[default]
    Reference,
    /// The float model (the Deep Compression weights decoded to f32).
    Float,
    /// The Verilated RTL of the engine, in process (`--preset`, default tiny).
    Sim,
    /// The card through the XDMA driver's files (`--device PREFIX`; a board or `sqz-host emulate`).
    Xdma,
}

impl BackendKind {
    /// The default when `--backend` is not given: the card when the XDMA driver's register file
    /// of the first card (`/dev/xdma0_user`) exists, else the int8 reference.
    pub fn host_default() -> BackendKind {
        let user = format!("{}_user", crate::device::xdma::DEFAULT_PREFIX);
        if std::path::Path::new(&user).exists() {
            BackendKind::Xdma
        } else {
            BackendKind::Reference
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Reference => "reference",
            BackendKind::Float => "float",
            BackendKind::Sim => "sim",
            BackendKind::Xdma => "xdma",
        })
    }
}

/// A backend ready to classify images (weights loaded and, for int8, quantized).
pub enum Backend {
    Reference(Box<QuantModel>),
    Float(Box<Model>),
    /// A card (sim, xdma) run by the network sequencer (`host::card`).
    Card(BackendKind, Box<std::sync::Mutex<crate::card::CardBackend>>),
}

/// What one forward pass produced.
#[derive(Clone, Debug)]
pub struct Scores {
    /// The 1000 pre-softmax outputs.
    pub logits: Vec<f32>,
    /// Softmax of the logits.
    pub probabilities: Vec<f32>,
}

/// One entry of a top-N list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub class: usize,
    pub probability: f32,
}

impl Scores {
    /// The `n` most probable classes, most probable first (ties: lower class index first).
    pub fn top(&self, n: usize) -> Vec<Ranked> {
        let mut order: Vec<usize> = (0..self.probabilities.len()).collect();
        order.sort_by(|&a, &b| {
            self.probabilities[b]
                .total_cmp(&self.probabilities[a])
                .then(a.cmp(&b))
        });
        order
            .into_iter()
            .take(n)
            .map(|class| Ranked {
                class,
                probability: self.probabilities[class],
            })
            .collect()
    }
}

impl Backend {
    /// Prepare `kind` from decoded weights (quantizing them for the int8 reference with the
    /// activation scales of `calib`).
    pub fn new(kind: BackendKind, model: Model, calib: &Calibration) -> Result<Backend> {
        Ok(match kind {
            BackendKind::Reference => Backend::Reference(Box::new(
                QuantModel::from_model(&model, calib)
                    .context("quantizing the model for the int8 reference")?,
            )),
            BackendKind::Float => Backend::Float(Box::new(model)),
            other => anyhow::bail!("the {other} backend needs card options (Backend::with_card)"),
        })
    }

    /// Like [`Backend::new`], with the device options the card backends need.
    pub fn with_card(
        kind: BackendKind,
        model: Model,
        calib: &Calibration,
        card: &crate::card::CardArgs,
    ) -> Result<Backend> {
        crate::card::backend(kind, model, calib, card)
    }

    /// Cycle counters of the last image, for backends with a card.
    pub fn cycle_report(&self) -> Option<crate::card::CycleReport> {
        match self {
            Backend::Card(_, c) => c.lock().ok().and_then(|c| c.cycle_report()),
            _ => None,
        }
    }

    /// The sequencer's own CPU time for the last image, for backends with a card (see
    /// `sequencer::StepReport::host`).
    pub fn host_time(&self) -> Option<Duration> {
        match self {
            Backend::Card(_, c) => c
                .lock()
                .ok()
                .and_then(|c| c.last.as_ref().map(|o| o.host_time())),
            _ => None,
        }
    }

    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Reference(_) => BackendKind::Reference,
            Backend::Float(_) => BackendKind::Float,
            Backend::Card(k, _) => *k,
        }
    }

    /// Run the network on one preprocessed input (3 x 227 x 227 CHW, BGR minus mean).
    pub fn classify(&self, input: &[f32]) -> Result<Scores> {
        ensure!(
            input.len() == crate::image::INPUT_LEN,
            "network input has {} values, expected {}",
            input.len(),
            crate::image::INPUT_LEN
        );
        let scores = match self {
            Backend::Reference(q) => {
                let out = reference::int8::try_forward(q, input)?;
                Scores {
                    logits: out.logits,
                    probabilities: out.probs,
                }
            }
            Backend::Card(_, card) => {
                let mut card = card
                    .lock()
                    .map_err(|_| anyhow::anyhow!("card backend poisoned by an earlier panic"))?;
                let (logits, probabilities) = card.classify(input)?;
                Scores {
                    logits,
                    probabilities,
                }
            }
            Backend::Float(m) => {
                let logits = reference::float::try_forward(m, input)?;
                let probabilities = reference::softmax(&logits);
                Scores {
                    logits,
                    probabilities,
                }
            }
        };
        ensure!(
            scores.logits.len() == weights::topology::NUM_CLASSES
                && scores.probabilities.len() == scores.logits.len(),
            "{} backend returned {} logits, expected {}",
            self.kind(),
            scores.logits.len(),
            weights::topology::NUM_CLASSES
        );
        // A model whose values overflow f32 (finite but huge codebook entries) gives NaN or
        // infinite logits: that is an error, never a classification.
        ensure!(
            scores
                .logits
                .iter()
                .chain(&scores.probabilities)
                .all(|v| v.is_finite()),
            "the {} backend produced non-finite logits or probabilities (is the model file corrupt?)",
            self.kind()
        );
        Ok(scores)
    }

    /// [`Backend::classify`] with its wall-clock time.
    pub fn classify_timed(&self, input: &[f32]) -> Result<(Scores, Duration)> {
        let t = Instant::now();
        let s = self.classify(input)?;
        Ok((s, t.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finite but huge codebook value overflows the float model: an error, not NaN classes.
    #[test]
    fn non_finite_outputs_are_refused() {
        let Ok(path) = weights::default_model_path(None) else {
            panic!("the shared model file is needed");
        };
        let mut m = weights::Model::load(path).unwrap();
        for w in m.layers[25].weights.iter_mut().filter(|w| **w != 0.0) {
            *w = 3.0e38;
        }
        let b = Backend::new(
            BackendKind::Float,
            m,
            &weights::Calibration::committed().unwrap(),
        )
        .unwrap();
        let x = vec![10.0f32; crate::image::INPUT_LEN];
        let e = b.classify(&x).unwrap_err();
        assert!(e.to_string().contains("non-finite"), "{e}");
    }

    #[test]
    fn top_orders_by_probability_then_index() {
        let s = Scores {
            logits: vec![0.0; 5],
            probabilities: vec![0.1, 0.3, 0.1, 0.4, 0.1],
        };
        let t: Vec<usize> = s.top(4).iter().map(|r| r.class).collect();
        assert_eq!(t, [3, 1, 0, 2]);
        assert_eq!(s.top(10).len(), 5);
    }
}
