//! Steps that run as tiles (`spec::job::Tile`): planning them, running them tile by tile
//! (weights when they change, mask, input rows, then the jobs) and putting each tile's output
//! and counters together as the step's.

use std::time::Duration;

use reference::int8::QTensor;
use spec::descriptor::Descriptor;
use spec::job::{self, Shape, Tile};
use weights::topology::LAYERS;

use super::host_time::thread_cpu_time;
use super::jobs::run_jobs;
use super::step_run::StepRun;
use super::{shape_of, LayerReport, SeqError, Sequencer, Step};
use crate::device::Device;
use crate::perf_report::{H2cBytes, JobModel};

impl Sequencer {
    /// Tiles of a step that does not fit the card at once (bands of a Fire module's rows,
    /// groups of a convolution's output channels).
    pub(super) fn plan_tiles(&self, step: Step, x: Shape) -> Result<Vec<Tile>, SeqError> {
        let plan_err = |source| SeqError::Plan {
            step: step.name(),
            preset: self.cfg.name.clone(),
            source,
        };
        match step {
            Step::Conv(i) => job::plan_conv_tiles(&self.cfg, &self.layers[i], x),
            Step::Fire {
                squeeze,
                expand1x1,
                expand3x3,
            } => job::plan_fire_tiles(
                &self.cfg,
                &self.layers[squeeze],
                &self.layers[expand1x1],
                &self.layers[expand3x3],
                x,
            ),
        }
        .map_err(plan_err)
    }

    /// Whether step `si` runs as tiles (see [`spec::job::Tile`]).
    pub fn tiled(&self, si: usize) -> bool {
        self.tiles.get(si).is_some_and(|t| !t.is_empty())
    }

    /// Run a tiled step: per tile its weights (when they change), mask and input rows, then its
    /// jobs; each tile's output goes to its place in the step's output. Counters are summed per
    /// layer over the tiles.
    pub(super) fn run_tiles(
        &mut self,
        dev: &mut dyn Device,
        si: usize,
        step: Step,
        x: &QTensor,
    ) -> Result<StepRun, SeqError> {
        let plan_err = |source| SeqError::Plan {
            step: step.name(),
            preset: self.cfg.name.clone(),
            source,
        };
        let tiles = &self.tiles[si];
        let shape = shape_of(x);
        // Tiles are planned once, for the network's shape of this step's input.
        let l = &LAYERS[step.first()];
        if (x.c, x.h, x.w) != (l.in_c, l.in_hw, l.in_hw) {
            return Err(SeqError::Input(format!(
                "{}: runs in tiles planned for a {}x{}x{} input, not {}x{}x{}",
                step.name(),
                l.in_c,
                l.in_hw,
                l.in_hw,
                x.c,
                x.h,
                x.w
            )));
        }
        let out_c = tiles
            .iter()
            .map(|t| t.out_ch0 + t.plan.out_c)
            .max()
            .unwrap_or(0);
        let out_h = tiles
            .iter()
            .map(|t| t.out_row0 + t.plan.out_h)
            .max()
            .unwrap_or(0);
        let out_w = tiles[0].plan.out_w;
        let mut y = vec![0u8; (out_c * out_h * out_w) as usize];
        let layers = step.layers();
        let mut reports: Vec<Option<LayerReport>> = vec![None; layers.len()];
        let mut h2c = H2cBytes::default();
        let mut c2h = self.c2h.borrow_mut();
        let (mut plan_cpu, mut parse_cpu) = (Duration::ZERO, Duration::ZERO);
        for t in tiles {
            let t0 = thread_cpu_time();
            let mut packets = if t.new_weights {
                t.plan.weights.clone()
            } else {
                Vec::new()
            };
            packets.push(t.plan.mask.clone());
            if t.new_input {
                let rows = t.input_of(&x.data, shape);
                packets.push(t.plan.act_packet(&rows).map_err(plan_err)?);
            }
            h2c += H2cBytes::of(&packets);
            let jobs: Vec<Descriptor> = t.plan.jobs.iter().map(|j| j.descriptor.clone()).collect();
            let job_layers: Vec<usize> = t.job_layers.iter().map(|&k| layers[k]).collect();
            let own = spec::packet::packets_to_bytes(&packets);
            plan_cpu += thread_cpu_time().saturating_sub(t0);
            let run = run_jobs(
                dev,
                &mut c2h,
                &own,
                &t.plan,
                &jobs,
                &job_layers,
                &t.plan.models,
                None,
                None,
            )?;
            let t1 = thread_cpu_time();
            let part = t
                .plan
                .parse_output(&c2h[..run.c2h_bytes])
                .map_err(plan_err)?;
            t.place_output(&part, &mut y, out_h, out_w);
            parse_cpu += thread_cpu_time().saturating_sub(t1);
            for (&k, r) in t.job_layers.iter().zip(run.reports) {
                match &mut reports[k] {
                    Some(sum) => {
                        sum.perf += r.perf;
                        sum.out_bytes += r.out_bytes;
                    }
                    none => *none = Some(r),
                }
            }
        }
        // Each layer's model over all its tiles.
        let reports = reports
            .into_iter()
            .zip(&self.models[si])
            .map(|(r, m)| {
                let mut r = r.ok_or_else(|| {
                    SeqError::Input(format!("{}: a layer no tile runs", step.name()))
                })?;
                r.model = m.clone();
                Ok(r)
            })
            .collect::<Result<Vec<_>, SeqError>>()?;
        let y = QTensor::from_u8(out_c as usize, out_h as usize, out_w as usize, y)
            .map_err(|e| SeqError::Input(e.to_string()))?;
        Ok(StepRun {
            y: Some(y),
            layers: reports,
            h2c,
            forward: None,
            next_weights_left: None,
            plan_cpu,
            parse_cpu,
        })
    }
}

/// Each layer's model of a tiled step over all its tiles: within a band of rows the channel
/// groups add weights over the same positions; the bands add positions.
pub(super) fn tiled_models(tiles: &[Tile], layers: usize) -> Vec<JobModel> {
    let mut total: Vec<Option<JobModel>> = vec![None; layers];
    let mut bands = tiles.chunk_by(|a, b| a.out_row0 == b.out_row0);
    for band in &mut bands {
        let mut sum: Vec<Option<JobModel>> = vec![None; layers];
        for t in band {
            for (&k, m) in t.job_layers.iter().zip(&t.plan.models) {
                match &mut sum[k] {
                    Some(s) => s.add_channels(m),
                    none => *none = Some(m.clone()),
                }
            }
        }
        for (k, m) in sum.into_iter().enumerate() {
            match (&mut total[k], m) {
                (Some(t), Some(m)) => t.add_rows(&m),
                (t, m) if t.is_none() => *t = m,
                _ => {}
            }
        }
    }
    total.into_iter().flatten().collect()
}
