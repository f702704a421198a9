//! One step run whole: its packets (what the step before did not stream already), its jobs,
//! the next step's input streamed from its output and the next step's weights sent early, then
//! its output parsed.

use reference::int8::QTensor;
use spec::job::ActLayout;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use super::host_time::thread_cpu_time;
use super::jobs::{run_jobs, EarlySends, Forward, JobsRun};
use super::setup::relocate;
use super::{shape_of, LayerReport, SeqError, Sequencer, Step};
use crate::device::Device;
use crate::perf_report::H2cBytes;

/// What a step streams: its own input's beginning, already on the card (from the step before),
/// and where the next step's input goes (if this step's output is that input).
#[derive(Default)]
pub(super) struct StepForward<'a> {
    pub(super) input: Option<&'a Forward>,
    pub(super) output: Option<ActLayout>,
    /// Send the next step's weight, codebook and bias packets while this step runs, wherever
    /// they miss what its remaining jobs use.
    pub(super) next_weights: bool,
    /// What the step before sent of this step's weights (`None`: nothing); this step sends
    /// the rest (`late`).
    pub(super) own_weights_left: Option<Arc<EarlySends>>,
}

/// One step as run: output, per-layer counters, H2C bytes by kind, and the next step's input as
/// far as it was streamed.
pub(super) struct StepRun {
    /// The output as read back; `None` when nobody needs it (see [`Sequencer::read_layers`]).
    pub(super) y: Option<QTensor>,
    pub(super) layers: Vec<LayerReport>,
    pub(super) h2c: H2cBytes,
    pub(super) forward: Option<Forward>,
    /// The next step's weights as sent during this step (`None`: none were).
    pub(super) next_weights_left: Option<Arc<EarlySends>>,
    /// CPU time planning the step's packets and input, and parsing its output into a tensor.
    pub(super) plan_cpu: Duration,
    pub(super) parse_cpu: Duration,
}

impl Sequencer {
    /// Run step `si` on input `x` (`None`: the step before streamed all of it, `fwd.input`).
    /// The output is parsed into a tensor when the layers are read back, when the step is the
    /// last, or when its output is not all streamed on as the next input.
    pub(super) fn step_at(
        &self,
        dev: &mut dyn Device,
        si: usize,
        step: Step,
        x: Option<&QTensor>,
        send_weights: bool,
        fwd: StepForward,
    ) -> Result<StepRun, SeqError> {
        let t0 = thread_cpu_time();
        let mut c2h = self.c2h.borrow_mut();
        let at = self.places[si];
        // The plan made at start-up, unless `x` is not the shape it was made for (a streamed
        // input is: it was built for that plan).
        let other;
        let (plan, jobs, early) = if x.is_none_or(|x| self.plans[si].input_shape() == shape_of(x)) {
            (
                &self.plans[si],
                &self.descs[si],
                self.early_sends[si].clone(),
            )
        } else {
            let x = x.expect("checked above");
            let plan = self.plan(step, shape_of(x))?;
            let jobs = relocate(&plan, at);
            let early = self
                .early_weights
                .get(si + 1)
                .filter(|next| !next.is_empty())
                .map(|next| Arc::new(EarlySends::new(next, &jobs, &self.models[si])));
            other = (plan, jobs);
            (&other.0, &other.1, early)
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
                let tail = &f.bytes[f.sent..];
                if let Some(x) = x {
                    debug_assert_eq!(
                        plan.input_grid_after(&x.data, sent)
                            .ok()
                            .flatten()
                            .as_deref(),
                        Some(tail),
                        "{}: the streamed input differs from the planned input",
                        step.name()
                    );
                }
                Cow::Borrowed(tail)
            }
            _ => Cow::Owned(
                plan.input_grid_after(
                    &x.ok_or_else(|| {
                        SeqError::Input(format!(
                            "{}: its input was neither streamed whole nor read back",
                            step.name()
                        ))
                    })?
                    .data,
                    sent,
                )
                .map_err(plan_err)?
                .ok_or_else(|| {
                    SeqError::Input(format!(
                        "{}: the streamed input differs from the planned input",
                        step.name()
                    ))
                })?,
            ),
        };
        // This step's weights: all of them, none (resident and loaded), or what the step
        // before could not send.
        let (weights, mut h2c) = match &fwd.own_weights_left {
            Some(left) => (&left.late[..], left.late_h2c),
            None if send_weights => (&self.weight_bytes[si][..], self.weight_h2c[si]),
            None => (&[][..], H2cBytes::default()),
        };
        // One H2C transfer: the weights, the mask, then the input (less what is on the card).
        h2c += H2cBytes::of(std::slice::from_ref(&plan.mask));
        let input = !tail.is_empty() || sent.is_empty();
        if input {
            h2c.activations += spec::packet::act_packet_bytes(tail.len());
        }
        let mut own = Vec::with_capacity(h2c.total() as usize);
        own.extend_from_slice(weights);
        plan.mask.write_bytes(&mut own);
        if input {
            spec::packet::write_act(false, at.act + sent.len() as u32, &tail, &mut own)
                .map_err(|e| plan_err(e.into()))?;
        }
        let mut next = fwd.output.map(Forward::new);
        // The next step's weights, sent during this step's jobs where they miss what is used.
        let early = early.filter(|_| fwd.next_weights);
        let plan_cpu = thread_cpu_time().saturating_sub(t0);
        let JobsRun {
            c2h_bytes,
            reports: layers,
            h2c_bytes,
        } = run_jobs(
            dev,
            &mut c2h,
            &own,
            plan,
            jobs,
            &step.layers(),
            &self.models[si],
            next.as_mut(),
            early.as_deref(),
        )?;
        debug_assert_eq!(h2c.total(), h2c_bytes);
        if let Some(e) = &early {
            h2c += e.h2c;
        }
        let next_weights_left = early;
        if let Some(f) = &next {
            h2c.activations += f.h2c_bytes;
        }
        let t1 = thread_cpu_time();
        let needed = self.read_layers
            || si + 1 == self.plans.len()
            || !next.as_ref().is_some_and(Forward::complete);
        let y = if needed {
            let y = plan.parse_output(&c2h[..c2h_bytes]).map_err(plan_err)?;
            Some(
                QTensor::from_u8(
                    plan.out_c as usize,
                    plan.out_h as usize,
                    plan.out_w as usize,
                    y,
                )
                .map_err(|e| SeqError::Input(e.to_string()))?,
            )
        } else {
            None
        };
        let parse_cpu = thread_cpu_time().saturating_sub(t1);
        Ok(StepRun {
            y,
            layers,
            h2c,
            forward: next,
            next_weights_left,
            plan_cpu,
            parse_cpu,
        })
    }
}
