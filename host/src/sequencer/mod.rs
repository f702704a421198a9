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
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`Sequencer`], the network run (`run`, `run_step`, `run_from`), reports |
//! | `steps.rs` | the network's steps (conv or Fire module) and each layer's input |
//! | `setup.rs` | planning once per model and card: plans or tiles, weight places, descriptors |
//! | `step_run.rs` | one step run whole: packets, jobs, the next input streamed, output parsed |
//! | `tiles.rs` | one step run as tiles (bands of rows, groups of channels) |
//! | `jobs.rs` | the job protocol over a step's jobs, streaming the next input (`Forward`), early weights |
//! | `host_time.rs` | the host's own CPU time (thread CPU less the device's calls) |

mod host_time;
mod jobs;
mod setup;
mod step_run;
mod steps;
mod tiles;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reference::int8::{logits_from_final, QTensor};
use spec::descriptor::Descriptor;
use spec::job::{ActLayout, ConvLayer, JobError, Plan, Shape, Tile};
use spec::packet::Packet;
use spec::AccelConfig;

use weights::quant::QuantModel;
use weights::topology::{Role, INPUT_C, INPUT_H, INPUT_LEN, INPUT_W, LAYERS, NUM_LAYERS};

use crate::device::{self, Device, DeviceError};
use crate::perf_report::{H2cBytes, JobModel};
use host_time::{HostClock, Metered};
pub use jobs::{run_job, send_packets};
use jobs::{EarlySends, Forward};
use setup::Place;
use step_run::{StepForward, StepRun};
use steps::layer_input;
pub use steps::{conv_layer, steps, Step};

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
    /// The parts of `host` spent planning the step's packets and input (before its jobs) and
    /// parsing its output into a tensor (after them). The rest is the work beside the jobs:
    /// streaming the next input, checking each job's output against its trailer.
    pub host_plan: Duration,
    pub host_parse: Duration,
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
    /// The planning and parsing parts of [`NetOutput::host_time`].
    pub fn host_plan_parse(&self) -> (Duration, Duration) {
        (
            self.steps.iter().map(|s| s.host_plan).sum(),
            self.steps.iter().map(|s| s.host_parse).sum(),
        )
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
    /// Per step: its weight, codebook and bias packets at its place, as packets, as H2C bytes,
    /// and those bytes by kind.
    early_weights: Vec<Vec<Packet>>,
    weight_bytes: Vec<Vec<u8>>,
    weight_h2c: Vec<H2cBytes>,
    /// Per step but the last: the next step's weights as sent during this step's jobs.
    early_sends: Vec<Option<Arc<EarlySends>>>,
    resident: bool,
    /// The card holds every step's weights (resident mode, after a successful image).
    loaded: bool,
    /// The C2H bytes of the running step (kept from step to step and image to image).
    c2h: RefCell<Vec<u8>>,
    /// Parse every layer's output into [`NetOutput::layers`] (otherwise only what is needed:
    /// the last layer, and inputs that were not streamed whole).
    read_layers: bool,
}

impl Sequencer {
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

    /// Whether [`Sequencer::run`] and [`Sequencer::run_from`] return every layer's output in
    /// [`NetOutput::layers`] (the default) or only the last layer's. Every job's output is
    /// checked against its trailer either way; this only skips turning the streamed
    /// intermediate outputs into tensors.
    pub fn read_layers(&mut self, on: bool) {
        self.read_layers = on;
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
            self.step_at(dev, si, step, Some(x), send, StepForward::default())
        };
        if r.is_err() {
            self.loaded = false;
        }
        let r = r?;
        let y =
            r.y.ok_or_else(|| SeqError::Input(format!("{}: no output read back", step.name())))?;
        Ok((y, r.layers))
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
        // What the step before sent of this step's weights (`None`: nothing).
        let mut weights_left: Option<Arc<EarlySends>> = None;
        for (si, step) in steps().into_iter().enumerate().skip(first) {
            let t0 = Instant::now();
            let clock = HostClock::start(&dev);
            // The step before's output as read back, when it is this step's whole input; none
            // when the step before streamed all of it to the card.
            let x = match carried_y.take() {
                Some(y) => Some(y),
                None if si == first => Some(x.clone()),
                None if carried.as_ref().is_some_and(Forward::complete) && !self.tiled(si) => None,
                None => Some(layer_input(step.first(), x, outs)?),
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
                plan_cpu,
                parse_cpu,
            } = if self.tiled(si) {
                let x = x.as_ref().ok_or_else(|| {
                    SeqError::Input(format!("{}: no input read back", step.name()))
                })?;
                self.run_tiles(&mut dev, si, step, x)?
            } else {
                self.step_at(&mut dev, si, step, x.as_ref(), send_weights, fwd)?
            };
            carried = forward;
            weights_left = next_weights_left;
            if let Some(y) = &y {
                if self.read_layers || si + 1 == steps().len() {
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
                }
            }
            carried_y = y.filter(|_| Self::feeds_next(si));
            let r = StepReport {
                step: step.name(),
                layers,
                h2c_bytes: h2c.total(),
                h2c,
                wall: t0.elapsed(),
                host: clock.elapsed(&dev),
                host_plan: plan_cpu,
                host_parse: parse_cpu,
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
