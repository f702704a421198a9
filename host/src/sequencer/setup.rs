//! Planning a model for a card once: every step's plan (or tiles), where its weights live
//! (all resident when they fit, else two alternating regions so the next step's weights can go in
//! while a step runs), its descriptors at that place, and which outputs stream back as inputs.

use spec::descriptor::Descriptor;
use spec::job::{self, ActLayout, Footprint, JobError, Plan, Shape};
use spec::packet::PacketType;
use spec::AccelConfig;
use weights::quant::QuantModel;
use weights::topology::{Input, LAYERS, NUM_LAYERS};

use std::cell::RefCell;
use std::sync::Arc;

use spec::packet::packets_to_bytes;

use super::jobs::EarlySends;
use super::tiles::tiled_models;
use super::{conv_layer, steps, SeqError, Sequencer, Step};
use crate::perf_report::H2cBytes;

/// Where a step's weights, biases and codebooks live on the card, and how far its input is
/// moved up in the activation buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Place {
    pub(super) weight: u32,
    pub(super) bias: u32,
    pub(super) slot: u32,
    pub(super) act: u32,
}

/// `plan`'s descriptors with its weights, biases, codebooks and input moved to `at`.
pub(super) fn relocate(plan: &Plan, at: Place) -> Vec<Descriptor> {
    plan.jobs
        .iter()
        .map(|j| {
            let mut d = j.descriptor.clone();
            d.weight_base += at.weight;
            d.bias_base += at.bias;
            if !d.src_mid {
                d.src_base += at.act;
            }
            d.lut_slot += at.slot;
            d
        })
        .collect()
}

impl Sequencer {
    /// Prepare for `cfg`: plan every step once for its input's shape (weights, codebooks,
    /// biases, masks, descriptors, cycle models) and place the steps' weights in the card's
    /// memories, all resident if they fit.
    pub fn new(cfg: &AccelConfig, model: &QuantModel) -> Result<Sequencer, SeqError> {
        if model.layers.len() != NUM_LAYERS {
            return Err(SeqError::Input(format!(
                "the model has {} layers, expected {NUM_LAYERS}",
                model.layers.len()
            )));
        }
        let layers = model
            .layers
            .iter()
            .map(conv_layer)
            .collect::<Result<Vec<_>, _>>()?;
        let mut seq = Sequencer {
            cfg: cfg.clone(),
            layers,
            output_scale: model.output_scale,
            places: vec![Place::default(); steps().len()],
            plans: Vec::new(),
            tiles: Vec::new(),
            descs: Vec::new(),
            models: Vec::new(),
            inputs: Vec::new(),
            early_weights: Vec::new(),
            weight_bytes: Vec::new(),
            weight_h2c: Vec::new(),
            early_sends: Vec::new(),
            resident: false,
            loaded: false,
            c2h: RefCell::new(Vec::new()),
            read_layers: true,
        };
        // Weight regions start at whole beats (the loader writes a beat's entries together).
        let wpb = spec::packet::WEIGHTS_PER_BEAT as u32;
        let mut at = Place::default();
        let mut acts = Vec::new();
        let mut sizes = Vec::new();
        for (i, step) in steps().into_iter().enumerate() {
            let l = &LAYERS[step.first()];
            let x = Shape {
                c: l.in_c as u32,
                h: l.in_hw as u32,
                w: l.in_hw as u32,
                signed: l.input == Input::Image && spec::numerics::INPUT_SIGNED,
            };
            let (plan, tiles) = match seq.plan(step, x) {
                Ok(plan) => (plan, Vec::new()),
                Err(SeqError::Plan {
                    source: JobError::Capacity(_),
                    ..
                }) => {
                    let tiles = seq.plan_tiles(step, x)?;
                    (tiles[0].plan.clone(), tiles)
                }
                Err(e) => return Err(e),
            };
            let f = tiles
                .iter()
                .map(|t| t.plan.footprint())
                .fold(plan.footprint(), |a, b| Footprint {
                    weight: a.weight.max(b.weight),
                    bias: a.bias.max(b.bias),
                    slot: a.slot.max(b.slot),
                });
            sizes.push(f);
            seq.models.push(if tiles.is_empty() {
                plan.models.clone()
            } else {
                tiled_models(&tiles, step.layers().len())
            });
            seq.places[i] = at;
            at.weight += f.weight.div_ceil(wpb) * wpb;
            at.bias += f.bias;
            at.slot += f.slot;
            // The image goes to the top of the activation buffer, so that conv1's output can
            // stream into the bottom (the next step's input) while conv1 still reads it.
            let act = if l.input == Input::Image {
                let s = cfg.pixel_lanes;
                cfg.act_in_bytes.saturating_sub(plan.input_span) / s * s
            } else {
                0
            };
            acts.push(act);
            // Nothing streams into a tiled step's input: each tile sends its own rows.
            let input = plan.input.filter(|_| tiles.is_empty());
            seq.inputs.push(input.map(|lay| ActLayout {
                base: lay.base + act,
                ..lay
            }));
            seq.plans.push(plan);
            seq.tiles.push(tiles);
        }
        let tiled = seq.tiles.iter().any(|t| !t.is_empty());
        seq.resident = !tiled
            && at.weight <= cfg.weight_entries
            && at.bias <= cfg.bias_words
            && at.slot <= cfg.codebook_slots;
        if !seq.resident {
            // Each step loads its own weights: even steps at the bottom of the weight, bias and
            // codebook memories, odd steps at the top, so that the next step's weights can go
            // in while this step runs wherever they miss what its remaining jobs use.
            for (i, (p, f)) in seq.places.iter_mut().zip(&sizes).enumerate() {
                *p = if i % 2 == 0 {
                    Place::default()
                } else {
                    Place {
                        weight: cfg.weight_entries.saturating_sub(f.weight) / wpb * wpb,
                        bias: cfg.bias_words.saturating_sub(f.bias),
                        slot: cfg.codebook_slots.saturating_sub(f.slot),
                        act: 0,
                    }
                };
            }
        }
        for (p, act) in seq.places.iter_mut().zip(acts) {
            p.act = act;
        }
        for ((plan, &at), tiles) in seq.plans.iter().zip(&seq.places).zip(&seq.tiles) {
            // A tiled step sends its weights itself, tile by tile.
            if !tiles.is_empty() {
                seq.early_weights.push(Vec::new());
                seq.descs.push(relocate(plan, at));
                continue;
            }
            seq.early_weights.push(
                plan.weights
                    .iter()
                    .map(|k| {
                        let mut k = k.clone();
                        k.addr += match k.ty {
                            PacketType::Weights => at.weight,
                            PacketType::Bias => at.bias,
                            _ => at.slot,
                        };
                        k
                    })
                    .collect(),
            );
            seq.descs.push(relocate(plan, at));
        }
        seq.weight_bytes = seq
            .early_weights
            .iter()
            .map(|w| packets_to_bytes(w))
            .collect();
        seq.weight_h2c = seq.early_weights.iter().map(|w| H2cBytes::of(w)).collect();
        seq.early_sends = (0..seq.plans.len())
            .map(|si| {
                let next = seq.early_weights.get(si + 1)?;
                (!next.is_empty())
                    .then(|| Arc::new(EarlySends::new(next, &seq.descs[si], &seq.models[si])))
            })
            .collect();
        Ok(seq)
    }

    /// Whether step `si`'s output is exactly the next step's input (the same channels in the
    /// same order).
    pub(super) fn feeds_next(si: usize) -> bool {
        let all = steps();
        let (Some(step), Some(next)) = (all.get(si), all.get(si + 1)) else {
            return false;
        };
        match LAYERS[next.first()].input {
            Input::Image => false,
            Input::Layer(j) => step.outputs() == [j],
            Input::Concat(a, b) => step.outputs() == [a, b],
        }
    }

    /// Where step `si`'s output goes if it is exactly the next step's input and that input is
    /// stored stride-1: then it is streamed to the card as it arrives.
    pub(super) fn forward_target(&self, si: usize) -> Option<ActLayout> {
        let lay = self.inputs.get(si + 1).copied().flatten()?;
        let out_c: usize = steps()
            .get(si)?
            .outputs()
            .iter()
            .map(|&o| LAYERS[o].out_c)
            .sum();
        (Self::feeds_next(si) && lay.c as usize == out_c).then_some(lay)
    }

    pub(super) fn plan(&self, step: Step, x: Shape) -> Result<Plan, SeqError> {
        let plan_err = |source| SeqError::Plan {
            step: step.name(),
            preset: self.cfg.name.clone(),
            source,
        };
        match step {
            Step::Conv(i) => job::plan_conv_for(&self.cfg, &self.layers[i], x),
            Step::Fire {
                squeeze,
                expand1x1,
                expand3x3,
            } => job::plan_fire_for(
                &self.cfg,
                &self.layers[squeeze],
                &self.layers[expand1x1],
                &self.layers[expand3x3],
                x,
            ),
        }
        .map_err(plan_err)
    }
}
