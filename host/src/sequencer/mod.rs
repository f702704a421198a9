//! The network sequencer: the one piece of driver logic, written against `&mut dyn Device`, so
//! the board, the emulated card and the Verilated RTL all run exactly the same steps.
//!
//! A job is: H2C packets (weights, codebooks, biases, masks, activations), the descriptor words
//! into `DESC`, a `START` pulse, the job's output read from C2H (read while the card works: the
//! card holds `DONE` until its output has left), then `DONE`. The network run checks the card's
//! identity first and ends with the global average pool and softmax on the host.
//!
//! Streaming under compute: a step's output is the next step's input. While the step's jobs
//! still run, the sequencer reads their output channel by channel, builds the next step's input
//! planes from it and sends them as `ACT_IN` packets at once; the card's loader writes them
//! while it computes (`Descriptor::loads_while_running`: the next input lies at the bottom of
//! the activation buffer, below everything a running job reads; the Fire mid window sits at the
//! top, and the image for conv1 is placed at the top too). Only what cannot go early (masks,
//! weights that are not resident, the tail of the last channel) is sent between steps.

mod host_time;
mod jobs;
mod steps;
mod tiles;

use std::time::{Duration, Instant};

use reference::int8::{logits_from_final, QTensor};
use spec::descriptor::Descriptor;
use spec::job::{self, ActLayout, ConvLayer, Footprint, JobError, Plan, Shape, Tile};
use spec::packet::{Packet, PacketType};
use spec::AccelConfig;

use weights::quant::QuantModel;
use weights::topology::{Input, Role, INPUT_C, INPUT_H, INPUT_LEN, INPUT_W, LAYERS, NUM_LAYERS};

use crate::device::{self, Device, DeviceError};
use crate::perf_report::{H2cBytes, JobModel};
use host_time::{HostClock, Metered};
pub use jobs::{run_job, send_packets};
use jobs::{run_jobs, schedule_early, Forward, JobsRun, Schedule};
use steps::layer_input;
pub use steps::{conv_layer, steps, Step};
use tiles::tiled_models;

// ---- the network ---------------------------------------------------------------------------

/// Why a network run failed.
#[derive(Debug, thiserror::Error)]
pub enum SeqError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("planning {step} for the {preset} engine: {source}")]
    Plan {
        step: &'static str,
        preset: String,
        #[source]
        source: JobError,
    },
    #[error("{0}")]
    Input(String),
}

/// Counters of one job (one layer), from the card's PERF registers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerReport {
    pub layer: &'static str,
    /// Busy cycles, MACs issued and stall cycles of the job.
    pub perf: device::Perf,
    /// Dense-equivalent MACs of the layer (K*K*I*O*H*W).
    pub dense_macs: u64,
    /// C2H bytes of the job.
    pub out_bytes: u64,
    /// What the plan makes the job do (entries, tiles, positions), for the cycle breakdown.
    pub model: JobModel,
}

/// One step (conv or Fire module) as run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepReport {
    pub step: &'static str,
    pub layers: Vec<LayerReport>,
    /// H2C bytes sent (weights, codebooks, biases, masks, activations).
    pub h2c_bytes: u64,
    /// The same bytes by kind.
    pub h2c: H2cBytes,
    /// Host time of the step: planning, transfers, waiting.
    pub wall: Duration,
    /// The host's own CPU time in the step: the thread's CPU time less what it spent inside the
    /// device's calls (building packets and inputs, streaming the next input, parsing and
    /// stitching the output; see `host_time`).
    pub host: Duration,
}

/// What one network run produced.
#[derive(Clone, Debug)]
pub struct NetOutput {
    /// The int8 image sent to conv1.
    pub input: QTensor,
    /// Output of each layer read back from the card (after its pool); `None` for the squeeze
    /// layers, whose output stays on chip.
    pub layers: Vec<Option<QTensor>>,
    pub logits: Vec<f32>,
    pub probabilities: Vec<f32>,
    pub steps: Vec<StepReport>,
}

impl NetOutput {
    /// Sum of the card's busy cycles over all jobs.
    pub fn cycles(&self) -> u64 {
        self.steps
            .iter()
            .flat_map(|s| &s.layers)
            .map(|l| l.perf.busy)
            .sum()
    }
    /// The host's own CPU time over all steps (see [`StepReport::host`]).
    pub fn host_time(&self) -> Duration {
        self.steps.iter().map(|s| s.host).sum()
    }
}

fn shape_of(q: &QTensor) -> Shape {
    Shape {
        c: q.c as u32,
        h: q.h as u32,
        w: q.w as u32,
        signed: q.signed,
    }
}

/// Where a step's weights, biases and codebooks live on the card, and how far its input is
/// moved up in the activation buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Place {
    weight: u32,
    bias: u32,
    slot: u32,
    act: u32,
}

/// `plan`'s descriptors with its weights, biases, codebooks and input moved to `at`.
fn relocate(plan: &Plan, at: Place) -> Vec<Descriptor> {
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

/// What a step streams: its own input's beginning, already on the card (from the step before),
/// and where the next step's input goes (if this step's output is that input).
#[derive(Default)]
struct StepForward<'a> {
    input: Option<&'a Forward>,
    output: Option<ActLayout>,
    /// Send the next step's weight, codebook and bias packets while this step runs, wherever
    /// they miss what its remaining jobs use.
    next_weights: bool,
    /// This step's weight packets not sent during the step before (`None`: not sent at all).
    own_weights_left: Option<Vec<Packet>>,
}

/// One step as run: output, per-layer counters, H2C bytes by kind, and the next step's input as
/// far as it was streamed.
struct StepRun {
    y: QTensor,
    layers: Vec<LayerReport>,
    h2c: H2cBytes,
    forward: Option<Forward>,
    /// The next step's weight packets that could not go in during this step (`None`: none
    /// were offered).
    next_weights_left: Option<Vec<Packet>>,
}

/// The network sequencer for one card configuration and model. When every layer's weights fit
/// on the card at once (`nitefury`), each step gets its own region of the weight, bias and
/// codebook memories and the weights are sent once, with the first image; otherwise (`tiny`,
/// `ecp5`) each step loads its own weights before its jobs.
pub struct Sequencer {
    cfg: AccelConfig,
    /// The planner's view of each layer (codes at dense positions, LUT, bias, m/shift).
    layers: Vec<ConvLayer>,
    output_scale: f32,
    /// Per step: where its weights live (all zero when they are reloaded per step).
    places: Vec<Place>,
    /// Per step: its plan (the input-independent part, planned once); for a tiled step, its
    /// first tile's.
    plans: Vec<Plan>,
    /// Per step: its tiles when it does not fit the card at once (empty: it runs whole).
    tiles: Vec<Vec<Tile>>,
    /// Per step: its jobs' descriptors at its place.
    descs: Vec<Vec<Descriptor>>,
    /// Per step: the cycle model of each job.
    models: Vec<Vec<JobModel>>,
    /// Per step: where and how its input is stored (stride-1 inputs), after relocation.
    inputs: Vec<Option<ActLayout>>,
    /// Per step: its weight, codebook and bias packets at its place.
    early_weights: Vec<Vec<Packet>>,
    /// Per step but the last: when the next step's weights go in during this step's jobs
    /// ([`schedule_early`]).
    schedules: Vec<Option<Schedule>>,
    resident: bool,
    /// The card holds every step's weights (resident mode, after a successful image).
    loaded: bool,
    /// The C2H bytes of the running step (kept from step to step and image to image).
    c2h: Vec<u8>,
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
            schedules: Vec::new(),
            resident: false,
            loaded: false,
            c2h: Vec::new(),
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
        seq.schedules = (0..seq.plans.len())
            .map(|si| {
                let next = seq.early_weights.get(si + 1)?;
                (!next.is_empty()).then(|| schedule_early(next, &seq.descs[si]))
            })
            .collect();
        Ok(seq)
    }

    /// Whether step `si`'s output is exactly the next step's input (the same channels in the
    /// same order).
    fn feeds_next(si: usize) -> bool {
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
    fn forward_target(&self, si: usize) -> Option<ActLayout> {
        let lay = self.inputs.get(si + 1).copied().flatten()?;
        let out_c: usize = steps()
            .get(si)?
            .outputs()
            .iter()
            .map(|&o| LAYERS[o].out_c)
            .sum();
        (Self::feeds_next(si) && lay.c as usize == out_c).then_some(lay)
    }

    /// The planner's view of each job, per step (see [`crate::perf_report::JobModel`]).
    pub fn job_models(&self) -> &[Vec<JobModel>] {
        &self.models
    }

    /// Whether all weights stay on the card (sent once).
    pub fn resident(&self) -> bool {
        self.resident
    }

    /// Forget that the card holds the weights (e.g. after the card was reprogrammed).
    pub fn invalidate(&mut self) {
        self.loaded = false;
    }

    fn plan(&self, step: Step, x: Shape) -> Result<Plan, SeqError> {
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

    /// Run the whole network for one preprocessed image (3x227x227 CHW). `on_step` is called
    /// after each step (progress display).
    pub fn run(
        &mut self,
        dev: &mut dyn Device,
        input: &[f32],
        on_step: &mut dyn FnMut(&StepReport),
    ) -> Result<NetOutput, SeqError> {
        let r = self.run_inner(dev, input, on_step);
        if r.is_err() {
            // The card's memories are in an unknown state.
            self.loaded = false;
        }
        r
    }

    /// Run one step on input `x` (conv1: the int8 image; else the step's uint8 input) and return
    /// its output as read back (a Fire module: both expands concatenated) with its counters.
    /// Weights are sent unless they are resident and already loaded.
    pub fn run_step(
        &mut self,
        dev: &mut dyn Device,
        step: Step,
        x: &QTensor,
    ) -> Result<(QTensor, Vec<LayerReport>), SeqError> {
        let si = steps()
            .iter()
            .position(|s| *s == step)
            .ok_or_else(|| SeqError::Input(format!("{step:?} is not a step of the network")))?;
        let send = !(self.resident && self.loaded);
        let r = if self.tiled(si) {
            self.run_tiles(dev, si, step, x)
        } else {
            self.step_at(dev, si, step, x, send, StepForward::default())
        };
        if r.is_err() {
            self.loaded = false;
        }
        r.map(|r| (r.y, r.layers))
    }

    /// (output, per-layer counters, H2C bytes by kind, the next step's input streamed).
    fn step_at(
        &mut self,
        dev: &mut dyn Device,
        si: usize,
        step: Step,
        x: &QTensor,
        send_weights: bool,
        fwd: StepForward,
    ) -> Result<StepRun, SeqError> {
        let mut c2h = std::mem::take(&mut self.c2h);
        let r = self.step_in(dev, &mut c2h, si, step, x, send_weights, fwd);
        self.c2h = c2h;
        r
    }

    /// [`Sequencer::step_at`] with the C2H buffer given.
    #[allow(clippy::too_many_arguments)]
    fn step_in(
        &self,
        dev: &mut dyn Device,
        c2h: &mut Vec<u8>,
        si: usize,
        step: Step,
        x: &QTensor,
        send_weights: bool,
        fwd: StepForward,
    ) -> Result<StepRun, SeqError> {
        let at = self.places[si];
        // The plan made at start-up, unless `x` is not the shape it was made for.
        let other;
        let (plan, jobs, schedule) = if self.plans[si].input_shape() == shape_of(x) {
            (&self.plans[si], &self.descs[si], &self.schedules[si])
        } else {
            let plan = self.plan(step, shape_of(x))?;
            let jobs = relocate(&plan, at);
            let schedule = self
                .early_weights
                .get(si + 1)
                .map(|next| schedule_early(next, &jobs));
            other = (plan, jobs, schedule);
            (&other.0, &other.1, &other.2)
        };
        let plan_err = |source| SeqError::Plan {
            step: step.name(),
            preset: self.cfg.name.clone(),
            source,
        };
        // The input's ACT_IN packet, less what the step before streamed to the card already
        // (checked to be the same bytes: it was built from the previous step's output).
        let sent = match fwd.input {
            Some(f) if f.sent > 0 => {
                if f.layout.base != at.act {
                    return Err(SeqError::Input(format!(
                        "{}: no input packet where the streamed input went",
                        step.name()
                    )));
                }
                &f.bytes[..f.sent]
            }
            _ => &[],
        };
        let tail = match fwd.input {
            // Every channel arrived during the step before, which built the whole payload
            // from the same output `x` was parsed from: send the rest of it.
            Some(f) if f.complete() && f.layout.base == at.act => {
                let tail = f.bytes[f.sent..].to_vec();
                debug_assert_eq!(
                    plan.input_grid_after(&x.data, sent).ok().flatten(),
                    Some(tail.clone()),
                    "{}: the streamed input differs from the planned input",
                    step.name()
                );
                tail
            }
            _ => plan
                .input_grid_after(&x.data, sent)
                .map_err(plan_err)?
                .ok_or_else(|| {
                    SeqError::Input(format!(
                        "{}: the streamed input differs from the planned input",
                        step.name()
                    ))
                })?,
        };
        let mut rest = vec![plan.mask.clone()];
        if !tail.is_empty() || sent.is_empty() {
            let act = Packet::act(false, at.act + sent.len() as u32, &tail)
                .map_err(|e| plan_err(e.into()))?;
            rest.push(act);
        }
        // This step's weights: all of them, none (resident and loaded), or what the step
        // before could not send.
        let weights = match fwd.own_weights_left {
            Some(left) => left,
            None if send_weights => self.early_weights[si].clone(),
            None => Vec::new(),
        };
        let packets: Vec<Packet> = weights.into_iter().chain(rest).collect();
        let mut h2c = H2cBytes::of(&packets);
        let mut next = fwd.output.map(Forward::new);
        // The next step's weights, sent during this step's jobs where they miss what is used.
        let (early, late): (&[Vec<Packet>], &[Packet]) = match schedule {
            Some((early, late)) if fwd.next_weights => (early, late),
            _ => (&[], &[]),
        };
        let JobsRun {
            c2h_bytes,
            reports: layers,
            h2c_bytes,
            early_sent,
            early_left,
        } = run_jobs(
            dev,
            c2h,
            &packets,
            plan,
            jobs,
            &step.layers(),
            &self.models[si],
            next.as_mut(),
            early,
        )?;
        debug_assert_eq!(h2c.total(), h2c_bytes);
        h2c += early_sent;
        let next_weights_left = fwd
            .next_weights
            .then(|| early_left.into_iter().chain(late.iter().cloned()).collect());
        if let Some(f) = &next {
            h2c.activations += f.h2c_bytes;
        }
        let y = plan.parse_output(&c2h[..c2h_bytes]).map_err(plan_err)?;
        let y = QTensor::from_u8(
            plan.out_c as usize,
            plan.out_h as usize,
            plan.out_w as usize,
            y,
        )
        .map_err(|e| SeqError::Input(e.to_string()))?;
        Ok(StepRun {
            y,
            layers,
            h2c,
            forward: next,
            next_weights_left,
        })
    }

    fn run_inner(
        &mut self,
        dev: &mut dyn Device,
        input: &[f32],
        on_step: &mut dyn FnMut(&StepReport),
    ) -> Result<NetOutput, SeqError> {
        device::check_identity(dev, &self.cfg)?;
        // A clean card: no job, no error left from an earlier run, counters at zero, and no
        // output of an abandoned run left in the C2H stream.
        device::reset_card(dev)?;
        if input.len() != INPUT_LEN {
            return Err(SeqError::Input(format!(
                "network input has {} values, expected {INPUT_LEN}",
                input.len()
            )));
        }
        let image = QTensor::from_u8(
            INPUT_C,
            INPUT_H,
            INPUT_W,
            weights::quant::pixels_of_input(input),
        )
        .map_err(|e| SeqError::Input(e.to_string()))?;
        let mut outs: Vec<Option<QTensor>> = vec![None; NUM_LAYERS];
        let send_weights = !(self.resident && self.loaded);
        let reports = self.run_chain(dev, 0, &image, &mut outs, send_weights, on_step)?;
        self.loaded = self.resident;
        let last = outs[NUM_LAYERS - 1]
            .as_ref()
            .ok_or_else(|| SeqError::Input("no final output".into()))?;
        debug_assert_eq!(LAYERS[NUM_LAYERS - 1].role, Role::Final);
        let logits = logits_from_final(last, self.output_scale);
        let probabilities = reference::softmax(&logits);
        Ok(NetOutput {
            input: image,
            layers: outs,
            logits,
            probabilities,
            steps: reports,
        })
    }

    /// Run `step` on input `x` (as [`Sequencer::run_step`]) and then every later step of the
    /// network, each on the output of the one before, streaming each output back as the next
    /// input while the card computes. Returns each layer's output read back (`None` before
    /// `step` and for the squeeze layers) and the per-step reports.
    pub fn run_from(
        &mut self,
        dev: &mut dyn Device,
        step: Step,
        x: &QTensor,
    ) -> Result<(Vec<Option<QTensor>>, Vec<StepReport>), SeqError> {
        let first = steps()
            .iter()
            .position(|s| *s == step)
            .ok_or_else(|| SeqError::Input(format!("{step:?} is not a step of the network")))?;
        let mut outs: Vec<Option<QTensor>> = vec![None; NUM_LAYERS];
        let send = !(self.resident && self.loaded);
        let r = self.run_chain(dev, first, x, &mut outs, send, &mut |_| {});
        if r.is_err() {
            self.loaded = false;
        }
        Ok((outs, r?))
    }

    /// Steps `first..` with `x` the input of step `first` (the image for conv1).
    fn run_chain(
        &mut self,
        dev: &mut dyn Device,
        first: usize,
        x: &QTensor,
        outs: &mut [Option<QTensor>],
        send_weights: bool,
        on_step: &mut dyn FnMut(&StepReport),
    ) -> Result<Vec<StepReport>, SeqError> {
        let mut dev = Metered::new(dev);
        let mut reports = Vec::new();
        let mut carried: Option<Forward> = None;
        let mut carried_y: Option<QTensor> = None;
        // What of this step's weights the step before could not send (`None`: it sent none).
        let mut weights_left: Option<Vec<Packet>> = None;
        for (si, step) in steps().into_iter().enumerate().skip(first) {
            let t0 = Instant::now();
            let clock = HostClock::start(&dev);
            // The step before's output as read back, when it is this step's whole input.
            let x = match carried_y.take() {
                Some(y) => y,
                None if si == first => x.clone(),
                None => layer_input(step.first(), x, outs)?,
            };
            let fwd = StepForward {
                input: carried.as_ref(),
                output: self.forward_target(si),
                next_weights: send_weights,
                own_weights_left: weights_left.take(),
            };
            let StepRun {
                y,
                layers,
                h2c,
                forward,
                next_weights_left,
            } = if self.tiled(si) {
                self.run_tiles(&mut dev, si, step, &x)?
            } else {
                self.step_at(&mut dev, si, step, &x, send_weights, fwd)?
            };
            carried = forward;
            weights_left = next_weights_left;
            let mut from = 0;
            for li in step.outputs() {
                let n = LAYERS[li].out_c;
                outs[li] = Some(if step.outputs().len() == 1 {
                    y.clone()
                } else {
                    y.channels(from, n)
                });
                from += n;
            }
            carried_y = Self::feeds_next(si).then_some(y);
            let r = StepReport {
                step: step.name(),
                layers,
                h2c_bytes: h2c.total(),
                h2c,
                wall: t0.elapsed(),
                host: clock.elapsed(&dev),
            };
            on_step(&r);
            reports.push(r);
        }
        Ok(reports)
    }
}

/// Run the whole network once with a fresh [`Sequencer`] (weights sent with this image).
pub fn run_network(
    dev: &mut dyn Device,
    cfg: &AccelConfig,
    model: &QuantModel,
    input: &[f32],
    on_step: &mut dyn FnMut(&StepReport),
) -> Result<NetOutput, SeqError> {
    Sequencer::new(cfg, model)?.run(dev, input, on_step)
}
