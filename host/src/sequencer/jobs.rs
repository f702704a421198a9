//! The job protocol and the streaming under compute: packets on H2C, the descriptor into
//! `DESC`, `START`, the job's output and trailer read from C2H while the card works, `DONE`;
//! the next step's input built from the output as it arrives ([`Forward`]) and the next step's
//! weights sent where they miss what the running jobs use ([`schedule_early`]).

use std::collections::VecDeque;

use spec::descriptor::Descriptor;
use spec::job::{ActLayout, JobStep, Plan};
use spec::packet::{Packet, PacketType};
use spec::protocol;
use spec::trailer::TRAILER_BYTES;
use spec::AccelConfig;
use weights::topology::LAYERS;

use super::LayerReport;
use crate::device::{self, Device, DeviceError, JobPort, Result};
use crate::perf_report::{H2cBytes, JobModel};

/// Send packets on H2C as one transfer.
pub fn send_packets(dev: &mut dyn Device, packets: &[Packet]) -> Result<()> {
    if packets.is_empty() {
        return Ok(());
    }
    dev.write_h2c(&spec::packet::packets_to_bytes(packets))
}

/// Run one job whose inputs are already loaded (`spec::protocol`): descriptor, `START`, its
/// output and trailer, `DONE`, each checked. Returns the C2H payload
/// (`Descriptor::output_bytes` of it; none for a job that writes the squeeze buffer).
pub fn run_job(dev: &mut dyn Device, cfg: &AccelConfig, d: &Descriptor) -> Result<Vec<u8>> {
    let seq = protocol::start_job(&mut JobPort(dev), d)?;
    let payload = d.output_bytes(cfg.pixel_lanes) as usize;
    let mut out = vec![0u8; payload + TRAILER_BYTES];
    dev.read_c2h(&mut out)?;
    protocol::finish_job(&mut JobPort(dev), &out, seq)?;
    out.truncate(payload);
    Ok(out)
}

/// The next step's input, built from this step's output as it arrives and sent to the card
/// while this step's jobs still run.
pub(super) struct Forward {
    pub(super) layout: ActLayout,
    /// The next step's ACT_IN payload (zero-padded to whole beats), filled channel by channel.
    pub(super) bytes: Vec<u8>,
    /// Channels filled (they arrive in order).
    pub(super) channels: u32,
    /// Bytes already on the card (a whole number of beats from the start).
    pub(super) sent: usize,
    /// H2C bytes this step sent for it (headers included).
    pub(super) h2c_bytes: u64,
}

/// Read the output and send the next input in pieces of about this much while a job runs (a
/// DMA and a packet header per piece; what arrives after a step's last piece is sent with the
/// next step's packets).
const FORWARD_MIN_BYTES: usize = 16 * 1024;

impl Forward {
    pub(super) fn new(layout: ActLayout) -> Forward {
        let beat = spec::STREAM_BYTES as usize;
        Forward {
            layout,
            bytes: vec![0; layout.len().div_ceil(beat) * beat],
            channels: 0,
            sent: 0,
            h2c_bytes: 0,
        }
    }

    /// Every channel of the next input arrived: `bytes` is its whole ACT_IN payload.
    pub(super) fn complete(&self) -> bool {
        self.channels == self.layout.c
    }

    /// Channel `k` of the next input arrived: job `j`'s C2H bytes `ch` of it, parsed into its
    /// plane. Out of order: ignored, and nothing past it is sent early (the step's packets send
    /// it later).
    fn channel(&mut self, k: u32, j: &JobStep, ch: &[u8]) {
        if k != self.channels || k >= self.layout.c {
            return;
        }
        let (at, stride) = self.layout.map_at(k);
        if j.parse_channel_into(ch, &mut self.bytes[at..], stride) {
            self.channels += 1;
        }
    }

    /// Append to `out` the H2C bytes of an ACT_IN packet with what is ready (whole beats), if
    /// that is at least `min` bytes and none of the step's jobs still to run (`remaining`, the
    /// running one first) reads where it goes; otherwise nothing (kept for later). The caller
    /// sends them while the first of `remaining` runs.
    fn take(&mut self, remaining: &[Descriptor], min: usize, out: &mut Vec<u8>) -> Result<()> {
        let beat = spec::STREAM_BYTES as usize;
        let ready = if self.channels == self.layout.c {
            self.bytes.len()
        } else {
            self.channels as usize * self.layout.plane() / beat * beat
        };
        if ready <= self.sent || ready - self.sent < min {
            return Ok(());
        }
        let addr = self.layout.base + self.sent as u32;
        let beats = ((ready - self.sent) / beat) as u32;
        if !remaining
            .iter()
            .all(|d| d.loads_while_running(PacketType::ActIn, addr, beats))
        {
            return Ok(());
        }
        spec::packet::write_act(false, addr, &self.bytes[self.sent..ready], out)
            .map_err(|e| DeviceError::Model(format!("forwarded input packet: {e}")))?;
        self.h2c_bytes += spec::packet::act_packet_bytes(ready - self.sent);
        self.sent = ready;
        Ok(())
    }
}

/// The next step's packets to send after each job's START (per job), and those that wait for
/// the next step.
type Schedule = (Vec<Vec<Packet>>, Vec<Packet>);

/// Which of the next step's weight, codebook and bias packets go in right after each job's START
/// (per job), and which must wait for the next step (the rest). A packet, or the part of a
/// weight packet, goes at the first job from which on no remaining job of this step uses its
/// destination (`Descriptor::loads_while_running` against every job still to run).
fn schedule_early(next: &[Packet], jobs: &[Descriptor]) -> Schedule {
    let mut at: Vec<Vec<Packet>> = vec![Vec::new(); jobs.len()];
    let mut late = Vec::new();
    let wpb = spec::packet::WEIGHTS_PER_BEAT as u32;
    let free = |ty: PacketType, addr: u32, beats: u32, from: usize| {
        jobs[from..]
            .iter()
            .all(|d| d.loads_while_running(ty, addr, beats))
    };
    for p in next {
        if p.ty != PacketType::Weights {
            match (0..jobs.len()).find(|&j| free(p.ty, p.addr, p.payload.len() as u32, j)) {
                Some(j) => at[j].push(p.clone()),
                None => late.push(p.clone()),
            }
            continue;
        }
        // Weight beats one by one: beat b goes at the first job from which it is free; runs of
        // beats with the same job become one packet.
        let first_free = |b: usize| {
            (0..jobs.len()).find(|&j| free(PacketType::Weights, p.addr + b as u32 * wpb, 1, j))
        };
        let mut b = 0;
        while b < p.payload.len() {
            let j = first_free(b);
            let mut e = b + 1;
            while e < p.payload.len() && first_free(e) == j {
                e += 1;
            }
            let part = Packet {
                ty: PacketType::Weights,
                addr: p.addr + b as u32 * wpb,
                payload: p.payload[b..e].to_vec(),
            };
            match j {
                Some(j) => at[j].push(part),
                None => late.push(part),
            }
            b = e;
        }
    }
    (at, late)
}

/// The next step's weight, codebook and bias packets as a step sends them: the H2C bytes that go
/// right after each job's START ([`schedule_early`], as much as the loader takes in the job's own
/// time: the planner's issue and fetch cycles, a lower bound) and those that wait for the next
/// step. They depend on the model and the card only, so they are built once.
pub(super) struct EarlySends {
    per_job: Vec<Vec<u8>>,
    /// H2C bytes by kind of everything sent after the jobs' STARTs.
    pub(super) h2c: H2cBytes,
    /// What waits for the next step, as H2C bytes, and by kind.
    pub(super) late: Vec<u8>,
    pub(super) late_h2c: H2cBytes,
}

impl EarlySends {
    /// `next` sent during the step of `jobs` (with their cycle models).
    pub(super) fn new(next: &[Packet], jobs: &[Descriptor], models: &[JobModel]) -> EarlySends {
        let (early, late) = schedule_early(next, jobs);
        let mut queue: VecDeque<Packet> = VecDeque::new();
        let mut per_job = Vec::with_capacity(jobs.len());
        let mut h2c = H2cBytes::default();
        for (at, model) in early.into_iter().zip(models) {
            queue.extend(at);
            let budget = (model.issue_cycles() + model.fetch_cycles()) * 3 / 4;
            let now = take_cycles(&mut queue, budget);
            h2c += H2cBytes::of(&now);
            per_job.push(spec::packet::packets_to_bytes(&now));
        }
        let left: Vec<Packet> = queue.into_iter().chain(late).collect();
        EarlySends {
            per_job,
            h2c,
            late: spec::packet::packets_to_bytes(&left),
            late_h2c: H2cBytes::of(&left),
        }
    }

    /// The bytes to send after job `j`'s START.
    fn after_start(&self, j: usize) -> &[u8] {
        self.per_job.get(j).map_or(&[], |b| &b[..])
    }
}

/// Run one planned step: its packets' H2C bytes `own`, then each job (descriptor, START, C2H,
/// DONE) with its counters, the next step's weights (`early`) sent after each START. The jobs'
/// output goes into `c2h` (grown as needed, never shrunk). With `fwd`, the output is read
/// channel by channel and streamed back as the next step's input.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_jobs(
    dev: &mut dyn Device,
    c2h: &mut Vec<u8>,
    own: &[u8],
    plan: &Plan,
    jobs: &[Descriptor],
    layers: &[usize],
    models: &[JobModel],
    mut fwd: Option<&mut Forward>,
    early: Option<&EarlySends>,
) -> Result<JobsRun, DeviceError> {
    if !own.is_empty() {
        dev.write_h2c(own)?;
    }
    // The step's C2H bytes go into `c2h` (kept from step to step: no allocation, no zeroing
    // once it is large enough); each job's trailer is overwritten by the next job's output.
    let mut used = 0usize;
    let mut reports = Vec::new();
    let mut before = device::read_perf(dev)?;
    for (((j, d), &li), model) in plan.jobs.iter().zip(jobs).zip(layers).zip(models) {
        // The job's number: PERF_JOBS counts it when it is done, and its trailer carries it.
        let seq = protocol::start_job(&mut JobPort(dev), d)?;
        let at = used;
        let payload = j.out_bytes as usize;
        let job_end = at + payload + TRAILER_BYTES;
        if c2h.len() < job_end {
            c2h.resize(job_end, 0);
        }
        // The next step's weights that miss what this and the later jobs use.
        let weights = early.map_or(&[][..], |e| e.after_start(reports.len()));
        match (fwd.as_deref_mut(), j.out_channels()) {
            (Some(f), Some((ch0, n, cb))) if cb > 0 => {
                // Each piece of output read goes with the next input piece built from the one
                // before (both directions at once); the previous job's last piece goes first.
                let remaining = &jobs[reports.len()..];
                let mut send = weights.to_vec();
                f.take(remaining, 1, &mut send)?;
                let cb = cb as usize;
                let per_read = (FORWARD_MIN_BYTES / cb).max(1);
                let mut o = 0usize;
                while o < n as usize {
                    // Pieces shrink towards the end of the job (a quarter of what is left, the
                    // last channel alone): the input streamed back trails the output by a
                    // piece, and what trails the job's end loads after it.
                    let left = n as usize - o;
                    let mut k = per_read.min(left.div_ceil(4)).max(1);
                    if k == left && k > 1 {
                        k -= 1;
                    }
                    // The last piece takes the trailer with it.
                    let end = if o + k == n as usize {
                        job_end
                    } else {
                        at + (o + k) * cb
                    };
                    dev.exchange(&send, &mut c2h[at + o * cb..end])?;
                    for c in o..o + k {
                        f.channel(ch0 + c as u32, j, &c2h[at + c * cb..at + (c + 1) * cb]);
                    }
                    o += k;
                    // Built now, sent with the next read (the job is still running then).
                    send.clear();
                    if o < n as usize {
                        f.take(remaining, FORWARD_MIN_BYTES, &mut send)?;
                    }
                }
            }
            // A job with no payload still sends its trailer.
            _ => dev.exchange(weights, &mut c2h[at..job_end])?,
        }
        protocol::finish_job(&mut JobPort(dev), &c2h[at..job_end], seq)?;
        let after = device::read_perf(dev)?;
        used = at + payload;
        reports.push(LayerReport {
            layer: LAYERS[li].name,
            perf: after - before,
            dense_macs: LAYERS[li].dense_macs(),
            out_bytes: j.out_bytes,
            model: model.clone(),
        });
        before = after;
    }
    Ok(JobsRun {
        c2h_bytes: used,
        reports,
        h2c_bytes: own.len() as u64,
    })
}

/// What [`run_jobs`] did.
pub(super) struct JobsRun {
    /// The step's C2H payload bytes, at the start of the buffer given.
    pub(super) c2h_bytes: usize,
    pub(super) reports: Vec<LayerReport>,
    /// H2C bytes of the step's own packets.
    pub(super) h2c_bytes: u64,
}

/// Take packets from the front of `queue` worth at most `cycles` loader cycles (splitting a
/// weight packet at a beat if it does not fit whole).
fn take_cycles(queue: &mut VecDeque<Packet>, cycles: u64) -> Vec<Packet> {
    let mut out = Vec::new();
    let mut left = cycles;
    while let Some(p) = queue.front_mut() {
        let cost = spec::packet::loader_cycles(p.ty, p.payload.len());
        if cost <= left {
            left -= cost;
            out.extend(queue.pop_front());
            continue;
        }
        let header = spec::packet::HEADER_CYCLES;
        if p.ty == PacketType::Weights && left > header + spec::packet::WEIGHT_BEAT_CYCLES {
            let k = ((left - header) / spec::packet::WEIGHT_BEAT_CYCLES) as usize;
            let head = Packet {
                ty: p.ty,
                addr: p.addr,
                payload: p.payload.drain(..k).collect(),
            };
            p.addr += (k * spec::packet::WEIGHTS_PER_BEAT) as u32;
            out.push(head);
        }
        break;
    }
    out
}
