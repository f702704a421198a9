//! The driver's job protocol on the Verilated engine: [`Rtl::run_plan`] and
//! [`Rtl::run_plan_continuing`] stream a `spec::job::Plan`'s load, then per job write the
//! descriptor, START, read the C2H payload and its checked trailer, wait for DONE and check
//! PERF_JOBS, and return the CHW output with the engine's counters ([`PlanRun`]). Built only on
//! the bus and stream operations of `rtl.rs`.

use spec::job::Planned;
use spec::protocol::{self, ProtocolError};
use spec::regs;

use super::{err_names, Perf, Result, Rtl, RtlError};

/// What [`Rtl::run_plan`] measured.
#[derive(Clone, Debug, Default)]
pub struct PlanRun {
    /// Output tensor bytes, CHW (from `Plan::parse_output`).
    pub output: Vec<u8>,
    /// Simulated cycles from the first H2C beat to the last job's DONE, bus traffic included.
    pub cycles: u64,
    /// Cycles spent streaming the load packets.
    pub load_cycles: u64,
    /// The engine's counters over the plan's jobs (cleared before the first job).
    pub perf: Perf,
    /// PERF_BUSY cycles of each job, in plan order.
    pub job_busy: Vec<u64>,
}

impl Rtl {
    /// Run a planned layer or Fire module (the driver's job protocol) and parse its output.
    /// `job_timeout` bounds each job's wait for DONE, in cycles. The performance counters are
    /// cleared (CTRL.CLEAR_PERF) after the load, so the jobs are numbered from 1 and
    /// [`PlanRun::perf`] counts this plan alone.
    pub fn run_plan(&mut self, plan: &Planned, job_timeout: u64) -> Result<PlanRun> {
        self.run_plan_counting(plan, job_timeout, true)
    }

    /// [`run_plan`](Self::run_plan) without clearing the counters, the way a driver runs layer
    /// after layer: each job's number (in its trailer and in PERF_JOBS) continues from the
    /// PERF_JOBS left by what ran before, and [`PlanRun::perf`] holds the counters since the last
    /// reset or clear ([`PlanRun::job_busy`] is still per job).
    pub fn run_plan_continuing(&mut self, plan: &Planned, job_timeout: u64) -> Result<PlanRun> {
        self.run_plan_counting(plan, job_timeout, false)
    }

    fn run_plan_counting(
        &mut self,
        plan: &Planned,
        job_timeout: u64,
        clear: bool,
    ) -> Result<PlanRun> {
        let t0 = self.cycles();
        self.stream_in(&plan.load())?;
        let load_cycles = self.cycles() - t0;
        let (first_seq, mut busy_before) = if clear {
            self.write_reg(regs::CTRL.offset, regs::CTRL_CLEAR_PERF.val(1))?;
            (1, 0u64)
        } else {
            let jobs = self.read_reg(regs::PERF_JOBS.offset)?;
            (jobs.wrapping_add(1), self.read_counter(&regs::PERF_BUSY)?)
        };
        let mut c2h = Vec::with_capacity(plan.out_bytes() as usize);
        let mut job_busy = Vec::with_capacity(plan.jobs.len());
        for (k, job) in plan.jobs.iter().enumerate() {
            // Job k is PERF_JOBS's (first_seq + k)th count.
            let done = self.run_job(job, job_timeout, first_seq.wrapping_add(k as u32), &mut c2h);
            if done.is_ok() {
                let busy = self.read_counter(&regs::PERF_BUSY)?;
                job_busy.push(busy - busy_before);
                busy_before = busy;
            }
            if let Err(e) = done {
                // Say what the engine thinks happened, for triage.
                let status = self.read_reg(regs::STATUS.offset).unwrap_or(u32::MAX);
                let err = self.read_reg(regs::ERR.offset).unwrap_or(u32::MAX);
                let busy = self.read_counter(&regs::PERF_BUSY).unwrap_or(u64::MAX);
                let done_jobs = self.read_reg(regs::PERF_JOBS.offset).unwrap_or(u32::MAX);
                return Err(RtlError::JobFailed {
                    job: k,
                    jobs: plan.jobs.len(),
                    cause: Box::new(e),
                    status,
                    err,
                    err_names: err_names(err),
                    busy,
                    done_jobs,
                });
            }
        }
        let perf = self.perf()?;
        let output = plan.parse_output(&c2h)?;
        Ok(PlanRun {
            output,
            cycles: self.cycles() - t0,
            load_cycles,
            perf,
            job_busy,
        })
    }

    /// One job of a plan (`spec::protocol`): descriptor, START, its C2H payload (appended to
    /// `c2h`) and trailer, DONE; the job must be PERF_JOBS's count `seq`.
    fn run_job(
        &mut self,
        job: &spec::job::JobStep,
        job_timeout: u64,
        seq: u32,
        c2h: &mut Vec<u8>,
    ) -> Result<()> {
        let mut port = RtlPort {
            rtl: self,
            job_timeout,
        };
        let started = protocol::start_job(&mut port, &job.descriptor)?;
        if started != seq {
            return Err(ProtocolError::JobCount {
                got: started.wrapping_sub(1),
                want: seq.wrapping_sub(1),
            }
            .into());
        }
        // The payload, then the trailer (spec::trailer).
        let beats = (job.out_bytes / spec::STREAM_BYTES as u64) as usize
            + spec::trailer::TRAILER_BEATS as usize;
        let budget = self.stream_budget(beats as u64, self.pressure.c2h_ready) + job_timeout;
        let out = self.stream_out_exact_within(beats, budget)?;
        let bytes: Vec<u8> = out.iter().flat_map(|b| b.to_le_bytes()).collect();
        let mut port = RtlPort {
            rtl: self,
            job_timeout,
        };
        c2h.extend(protocol::finish_job(&mut port, &bytes, seq)?);
        Ok(())
    }
}

/// The Verilated engine as the job protocol's port: pulses are plain `CTRL` writes (the RTL
/// takes them in the write's cycle), DONE within `job_timeout` cycles.
struct RtlPort<'a> {
    rtl: &'a mut Rtl,
    job_timeout: u64,
}

impl protocol::JobPort for RtlPort<'_> {
    type Error = RtlError;
    fn read_reg(&mut self, off: u32) -> Result<u32> {
        self.rtl.read_reg(off)
    }
    fn write_reg(&mut self, off: u32, value: u32) -> Result<()> {
        self.rtl.write_reg(off, value)
    }
    fn pulse(&mut self, ctrl: u32) -> Result<()> {
        self.rtl.write_reg(regs::CTRL.offset, ctrl)
    }
    fn wait_done(&mut self) -> Result<()> {
        self.rtl.wait_done(self.job_timeout)
    }
}
