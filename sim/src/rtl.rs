//! `sim::rtl`: the Verilated `sqz_top` in process, behind a safe API shaped like the device the
//! driver talks to: 32-bit AXI4-Lite register reads and writes, H2C beats in, C2H beats out, and
//! waiting for the job to finish. `build.rs` verilates the presets (`tiny` always, more with
//! `SQZ_RTL_PRESETS` or the `rtl-*` features); [`Rtl::new`] picks the one whose config hash
//! matches. Every operation is one batched call into `csrc/sqz_shim.cpp` that clocks the model
//! until the transaction completes or a cycle budget runs out, so a broken engine gives an error,
//! never a hang. Random back-pressure on both streams and the register bus is seeded from Rust
//! ([`Backpressure`]) and replays exactly.
//!
//! [`Rtl::run_plan`] runs a `spec::job::Plan` with the driver's job protocol (stream the
//! load; per job: descriptor, START, read the C2H payload and its checked trailer, wait DONE,
//! check PERF_JOBS) and returns the CHW output and the
//! engine's own performance counters; [`Rtl::run_plan_continuing`] does so without clearing the
//! counters first, numbering the jobs on from PERF_JOBS as a driver running layer after layer.

#[path = "rtl_ffi.rs"]
mod ffi;
#[path = "rtl_plan.rs"]
mod plan;

pub use plan::PlanRun;

use ffi::{
    BuiltModel, SqzPump, BUILT, SQZ_ENOTRACE, SQZ_OK, STOP_IN_DONE, STOP_IRQ, STOP_OUT_FULL,
    STOP_TLAST,
};
use spec::job::JobError;
use spec::regs;
use spec::AccelConfig;
use std::ffi::{c_void, CString};
use std::path::Path;
use std::ptr::NonNull;

/// Everything that can go wrong talking to the simulated engine.
#[derive(Debug, thiserror::Error)]
pub enum RtlError {
    #[error("no Verilated model of preset `{name}` (config hash {hash:08x}) in this build; built: {built}. Rebuild with SQZ_RTL_PRESETS={name} (or the sim feature rtl-{name})")]
    NotBuilt {
        name: String,
        hash: u32,
        built: String,
    },
    #[error(transparent)]
    Config(#[from] spec::ConfigError),
    #[error("AXI4-Lite {op} at 0x{addr:03X}: no response within {cycles} cycles")]
    BusTimeout {
        op: &'static str,
        addr: u32,
        cycles: u64,
    },
    #[error("AXI4-Lite {op} at 0x{addr:03X} answered {resp_name} ({resp})")]
    BusResp {
        op: &'static str,
        addr: u32,
        resp: u32,
        resp_name: &'static str,
    },
    #[error("H2C stream: {accepted} of {total} beats accepted within {cycles} cycles")]
    StreamInTimeout {
        accepted: u64,
        total: u64,
        cycles: u64,
    },
    #[error("C2H stream: {got} of {want} beats received within {cycles} cycles")]
    StreamOutTimeout { got: u64, want: u64, cycles: u64 },
    #[error("C2H stream: tlast on beat {at} of a {want}-beat transfer")]
    TlastEarly { at: u64, want: u64 },
    #[error("C2H stream: no tlast on the last of {want} beats")]
    TlastMissing { want: u64 },
    #[error("C2H stream: {count} beats with tkeep != 0xFF")]
    BadKeep { count: u32 },
    #[error("C2H protocol violation: m_axis_tvalid dropped or tdata/tkeep/tlast changed before the beat was accepted ({count} times)")]
    C2hProtocol { count: u64 },
    #[error("job did not finish within {cycles} cycles (STATUS = 0x{status:08X})")]
    JobTimeout { cycles: u64, status: u32 },
    #[error("engine error: ERR = 0x{err:08X} ({names})")]
    Device { err: u32, names: String },
    /// The job protocol's checks (`spec::protocol`): output trailer, job count, stale DONE.
    #[error(transparent)]
    Protocol(#[from] spec::protocol::ProtocolError),
    #[error("waveform tracing is not compiled in: build sim with `--features trace` (VCD) or `--features trace-fst`")]
    NoTrace,
    #[error("bad trace path {0}")]
    TracePath(String),
    #[error("job {job} of {jobs}: {cause} [after it: STATUS = 0x{status:08X}, ERR = 0x{err:08X} ({err_names}), PERF_BUSY = {busy}, PERF_JOBS = {done_jobs}]")]
    JobFailed {
        job: usize,
        jobs: usize,
        cause: Box<RtlError>,
        status: u32,
        err: u32,
        err_names: String,
        busy: u64,
        done_jobs: u32,
    },
    #[error("planning the job: {0}")]
    Job(#[from] JobError),
}

pub type Result<T> = std::result::Result<T, RtlError>;

/// Random back-pressure settings. Probabilities are per cycle; 1.0 means never stall.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backpressure {
    /// Chance that a pending H2C beat is offered (s_axis_tvalid) in a cycle.
    pub h2c_valid: f64,
    /// Chance that m_axis_tready is high in a cycle.
    pub c2h_ready: f64,
    /// Chance per cycle that the AXI4-Lite master raises a valid/ready it owes.
    pub axil: f64,
    /// Seed of the three generators (each stream gets its own derived seed).
    pub seed: u64,
}

impl Backpressure {
    /// No stalls: the fastest simulation.
    pub const NONE: Backpressure = Backpressure {
        h2c_valid: 1.0,
        c2h_ready: 1.0,
        axil: 1.0,
        seed: 1,
    };

    /// Random stalls on both streams and the register bus.
    pub fn random(seed: u64, h2c_valid: f64, c2h_ready: f64) -> Backpressure {
        Backpressure {
            h2c_valid,
            c2h_ready,
            axil: 0.5,
            seed,
        }
    }

    fn pct(p: f64) -> u32 {
        // At least 1/256 so a stream is never blocked for good.
        (p.clamp(0.0, 1.0) * 256.0).round().clamp(1.0, 256.0) as u32
    }
}

impl Default for Backpressure {
    fn default() -> Self {
        Self::NONE
    }
}

pub use spec::perf::Perf;

/// One Verilated `sqz_top`.
pub struct Rtl {
    cfg: AccelConfig,
    model: &'static BuiltModel,
    handle: NonNull<c_void>,
    bus_timeout: u64,
    stream_timeout: u64,
    pressure: Backpressure,
    tracing: bool,
}

// SAFETY: the handle is owned by this value alone (no aliasing, freed in Drop) and each Verilated
// model has its own VerilatedContext, so moving it to another thread is sound; `&mut self` on
// every operation keeps access single-threaded.
unsafe impl Send for Rtl {}

/// Names of the presets compiled into this build.
pub fn built_presets() -> Vec<&'static str> {
    BUILT.iter().map(|m| m.name).collect()
}

/// Whether a model with `cfg`'s hardware (same config hash) is compiled into this build.
pub fn is_built(cfg: &AccelConfig) -> bool {
    BUILT.iter().any(|m| m.config_hash == cfg.config_hash())
}

/// Waveform format compiled in: `Some("vcd")`, `Some("fst")` or `None`.
pub fn trace_kind() -> Option<&'static str> {
    ffi::TRACE_KIND
}

fn resp_name(resp: u32) -> &'static str {
    match resp {
        0 => "OKAY",
        1 => "EXOKAY",
        2 => "SLVERR",
        _ => "DECERR",
    }
}

impl Rtl {
    /// A fresh model of `cfg` (reset applied). Errors when no built preset has `cfg`'s hardware.
    pub fn new(cfg: &AccelConfig) -> Result<Rtl> {
        cfg.validate()?;
        let hash = cfg.config_hash();
        let model = BUILT
            .iter()
            .find(|m| m.config_hash == hash)
            .ok_or_else(|| RtlError::NotBuilt {
                name: cfg.name.clone(),
                hash,
                built: built_presets().join(", "),
            })?;
        // SAFETY: `new` takes no arguments and returns a fresh heap object (never null: C++ `new`
        // aborts on failure); ownership passes to this Rtl and ends in Drop.
        let raw = unsafe { (model.fns.new)() };
        let handle = NonNull::new(raw).expect("sqz shim returned a null model");
        Ok(Rtl {
            cfg: cfg.clone(),
            model,
            handle,
            bus_timeout: 10_000,
            stream_timeout: 1_000_000,
            pressure: Backpressure::NONE,
            tracing: false,
        })
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &AccelConfig {
        &self.cfg
    }

    /// Name of the Verilated preset in use.
    pub fn preset(&self) -> &'static str {
        self.model.name
    }

    fn h(&self) -> *mut c_void {
        self.handle.as_ptr()
    }

    /// Cycles clocked since the model was made.
    pub fn cycles(&mut self) -> u64 {
        // SAFETY: the handle is live (owned by self) and `cycles` only reads a counter.
        unsafe { (self.model.fns.cycles)(self.h()) }
    }

    /// C2H protocol violations the shim's monitor has seen since the model was made (the engine
    /// dropped m_axis_tvalid or changed the beat before it was accepted).
    pub fn protocol_errors(&mut self) -> u64 {
        // SAFETY: live handle; reads a counter.
        unsafe { (self.model.fns.protocol_errors)(self.h()) }
    }

    /// Level of the irq pin.
    pub fn irq(&mut self) -> bool {
        // SAFETY: live handle; `irq` settles the model and reads one output.
        unsafe { (self.model.fns.irq)(self.h()) != 0 }
    }

    /// Pulse resetn for `cycles` cycles (at least 2).
    pub fn reset(&mut self, cycles: u32) {
        // SAFETY: live handle; `reset` drives inputs and clocks the model.
        unsafe { (self.model.fns.reset)(self.h(), cycles) }
    }

    /// Set random back-pressure (see [`Backpressure`]); the generators restart from the seed.
    pub fn set_backpressure(&mut self, bp: Backpressure) {
        self.pressure = bp;
        let s = bp.seed;
        // SAFETY: live handle; plain integer arguments.
        unsafe {
            (self.model.fns.set_pressure)(
                self.h(),
                Backpressure::pct(bp.h2c_valid),
                s ^ 0x1111_1111_1111_1111,
                Backpressure::pct(bp.c2h_ready),
                s ^ 0x2222_2222_2222_2222,
                Backpressure::pct(bp.axil),
                s ^ 0x3333_3333_3333_3333,
            )
        }
    }

    /// The current back-pressure settings.
    pub fn backpressure(&self) -> Backpressure {
        self.pressure
    }

    /// Cycle budget of one AXI4-Lite transaction (default 10,000).
    pub fn set_bus_timeout(&mut self, cycles: u64) {
        self.bus_timeout = cycles.max(1);
    }

    /// Extra cycle budget of a stream transfer beyond the beats themselves (default 1,000,000).
    pub fn set_stream_timeout(&mut self, cycles: u64) {
        self.stream_timeout = cycles.max(1);
    }

    /// One AXI4-Lite write; returns the raw BRESP (0 = OKAY, 2 = SLVERR).
    pub fn write_reg_resp(&mut self, off: u32, value: u32) -> Result<u32> {
        let mut resp = 0u32;
        // SAFETY: live handle; `resp` is a valid out-pointer for the duration of the call.
        let rc = unsafe {
            (self.model.fns.axil_write)(self.h(), off, value, 0xF, self.bus_timeout, &mut resp)
        };
        if rc != SQZ_OK {
            return Err(RtlError::BusTimeout {
                op: "write",
                addr: off,
                cycles: self.bus_timeout,
            });
        }
        Ok(resp)
    }

    /// One AXI4-Lite read; returns (RDATA, RRESP).
    pub fn read_reg_resp(&mut self, off: u32) -> Result<(u32, u32)> {
        let (mut data, mut resp) = (0u32, 0u32);
        // SAFETY: live handle; `data` and `resp` are valid out-pointers for the call.
        let rc = unsafe {
            (self.model.fns.axil_read)(self.h(), off, self.bus_timeout, &mut data, &mut resp)
        };
        if rc != SQZ_OK {
            return Err(RtlError::BusTimeout {
                op: "read",
                addr: off,
                cycles: self.bus_timeout,
            });
        }
        Ok((data, resp))
    }

    /// Write a 32-bit register; any response but OKAY is an error.
    pub fn write_reg(&mut self, off: u32, value: u32) -> Result<()> {
        match self.write_reg_resp(off, value)? {
            0 => Ok(()),
            r => Err(RtlError::BusResp {
                op: "write",
                addr: off,
                resp: r,
                resp_name: resp_name(r),
            }),
        }
    }

    /// Read a 32-bit register; any response but OKAY is an error.
    pub fn read_reg(&mut self, off: u32) -> Result<u32> {
        match self.read_reg_resp(off)? {
            (d, 0) => Ok(d),
            (_, r) => Err(RtlError::BusResp {
                op: "read",
                addr: off,
                resp: r,
                resp_name: resp_name(r),
            }),
        }
    }

    /// Clock both streams: offer `input` on H2C (tlast on the last beat when `last_at_end`),
    /// collect up to `out_room` C2H beats, for at most `max_cycles`, stopping early on `stop`.
    fn pump(
        &mut self,
        input: &[u64],
        last_at_end: bool,
        out_room: usize,
        max_cycles: u64,
        stop: u32,
    ) -> (SqzPump, Vec<u64>) {
        let mut out = vec![0u64; out_room];
        let mut r = SqzPump::default();
        // SAFETY: live handle; `input` is valid for `input.len()` reads, `out` for `out_room`
        // writes (the shim never writes past `out_max`), keep is null (not collected), `r` is a
        // valid out-pointer; none of them is retained after the call.
        let rc = unsafe {
            (self.model.fns.pump)(
                self.h(),
                input.as_ptr(),
                input.len() as u64,
                last_at_end as u32,
                out.as_mut_ptr(),
                std::ptr::null_mut(),
                out_room as u64,
                max_cycles,
                stop,
                &mut r,
            )
        };
        debug_assert_eq!(rc, SQZ_OK, "pump arguments are valid by construction");
        out.truncate(r.out_count as usize);
        (r, out)
    }

    fn stream_budget(&self, beats: u64, p: f64) -> u64 {
        let per = (1.0 / p.clamp(1.0 / 256.0, 1.0)).ceil() as u64 + 1;
        beats * per * 2 + self.stream_timeout
    }

    /// Send H2C beats (tlast on the last one); errors if the engine stops accepting them.
    pub fn stream_in(&mut self, beats: &[u64]) -> Result<()> {
        let budget = self.stream_budget(beats.len() as u64, self.pressure.h2c_valid);
        let (r, _) = self.pump(beats, true, 0, budget, STOP_IN_DONE);
        if r.in_accepted != beats.len() as u64 {
            return Err(RtlError::StreamInTimeout {
                accepted: r.in_accepted,
                total: beats.len() as u64,
                cycles: r.cycles,
            });
        }
        Ok(())
    }

    /// Receive C2H beats until one carries tlast or `max_beats` arrived (whichever first).
    /// Errors if neither happens within the stream budget, or a beat has tkeep != 0xFF.
    pub fn stream_out(&mut self, max_beats: usize) -> Result<Vec<u64>> {
        let budget = self.stream_budget(max_beats as u64, self.pressure.c2h_ready);
        let (r, out) = self.pump(&[], false, max_beats, budget, STOP_TLAST | STOP_OUT_FULL);
        if r.out_bad_keep != 0 {
            return Err(RtlError::BadKeep {
                count: r.out_bad_keep,
            });
        }
        if r.stopped == 0 {
            return Err(RtlError::StreamOutTimeout {
                got: r.out_count,
                want: max_beats as u64,
                cycles: r.cycles,
            });
        }
        Ok(out)
    }

    /// Receive exactly `beats` C2H beats, the last (and only the last) with tlast.
    pub fn stream_out_exact(&mut self, beats: usize) -> Result<Vec<u64>> {
        let budget = self.stream_budget(beats as u64, self.pressure.c2h_ready);
        self.stream_out_exact_within(beats, budget)
    }

    /// [`stream_out_exact`](Self::stream_out_exact) with an explicit cycle budget (a job's
    /// output may start only after millions of compute cycles). The wait is cut into slices;
    /// between slices STATUS is read, so an engine that flags ERROR fails at once.
    pub fn stream_out_exact_within(&mut self, beats: usize, budget: u64) -> Result<Vec<u64>> {
        const SLICE: u64 = 50_000;
        let mut out = Vec::with_capacity(beats);
        let (mut cycles, mut lasts, mut bad_keep) = (0u64, 0u64, 0u32);
        loop {
            let (r, got) = self.pump(
                &[],
                false,
                beats - out.len(),
                SLICE.min(budget - cycles),
                STOP_TLAST | STOP_OUT_FULL,
            );
            out.extend(got);
            cycles += r.cycles;
            lasts += r.out_lasts;
            bad_keep += r.out_bad_keep;
            if r.stopped != 0 {
                break;
            }
            if cycles >= budget {
                return Err(RtlError::StreamOutTimeout {
                    got: out.len() as u64,
                    want: beats as u64,
                    cycles,
                });
            }
            let status = self.read_reg(regs::STATUS.offset)?;
            if regs::STATUS_ERROR.get(status) != 0 {
                let err = self.read_reg(regs::ERR.offset)?;
                return Err(RtlError::Device {
                    err,
                    names: err_names(err),
                });
            }
        }
        if bad_keep != 0 {
            return Err(RtlError::BadKeep { count: bad_keep });
        }
        let violations = self.protocol_errors();
        if violations != 0 {
            return Err(RtlError::C2hProtocol { count: violations });
        }
        if out.len() < beats {
            return Err(RtlError::TlastEarly {
                at: out.len() as u64 - 1,
                want: beats as u64,
            });
        }
        if lasts == 0 {
            return Err(RtlError::TlastMissing { want: beats as u64 });
        }
        Ok(out)
    }

    /// Clock `cycles` cycles with both streams idle (nothing offered, C2H not ready).
    pub fn run(&mut self, cycles: u64) {
        self.pump(&[], false, 0, cycles, 0);
    }

    /// Clock both streams for up to `cycles` cycles: offer `h2c` (no tlast) and accept up to
    /// `c2h_room` C2H beats. Returns (H2C beats accepted, C2H beats received). For drivers that
    /// interleave both directions (the host's emulated card).
    pub fn pump_streams(&mut self, h2c: &[u64], c2h_room: usize, cycles: u64) -> (usize, Vec<u64>) {
        let (r, out) = self.pump(h2c, false, c2h_room, cycles, 0);
        (r.in_accepted as usize, out)
    }

    /// Clock until irq is high; returns the cycles waited. Enable it in IRQ_EN first.
    pub fn run_until_irq(&mut self, timeout_cycles: u64) -> Result<u64> {
        let (r, _) = self.pump(&[], false, 0, timeout_cycles, STOP_IRQ);
        if r.stopped == 0 {
            let status = self.read_reg(regs::STATUS.offset)?;
            return Err(RtlError::JobTimeout {
                cycles: r.cycles,
                status,
            });
        }
        Ok(r.cycles)
    }

    /// Poll STATUS until DONE (Ok) or ERROR (Err with the ERR bits), like a driver would.
    pub fn wait_done(&mut self, timeout_cycles: u64) -> Result<()> {
        let start = self.cycles();
        loop {
            let status = self.read_reg(regs::STATUS.offset)?;
            if regs::STATUS_ERROR.get(status) != 0 {
                let err = self.read_reg(regs::ERR.offset)?;
                return Err(RtlError::Device {
                    err,
                    names: err_names(err),
                });
            }
            if regs::STATUS_DONE.get(status) != 0 && regs::STATUS_BUSY.get(status) == 0 {
                return Ok(());
            }
            let waited = self.cycles() - start;
            if waited >= timeout_cycles {
                return Err(RtlError::JobTimeout {
                    cycles: waited,
                    status,
                });
            }
            self.run(64.min(timeout_cycles - waited));
        }
    }

    /// Read a 64-bit counter (LO first: reading LO latches HI).
    pub fn read_counter(&mut self, reg: &regs::Register) -> Result<u64> {
        let lo = self.read_reg(reg.at(0))? as u64;
        let hi = if reg.count > 1 {
            self.read_reg(reg.at(1))? as u64
        } else {
            0
        };
        Ok(hi << 32 | lo)
    }

    /// All performance counters.
    pub fn perf(&mut self) -> Result<Perf> {
        Perf::read(|off| self.read_reg(off))
    }

    /// Start writing a waveform (VCD or FST, per the build feature) to `path`.
    pub fn trace(&mut self, path: &Path) -> Result<()> {
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| RtlError::TracePath(path.display().to_string()))?;
        // SAFETY: live handle; `c` is a NUL-terminated string valid for the call (the shim copies
        // the path into the trace file object).
        let rc = unsafe { (self.model.fns.trace_open)(self.h(), c.as_ptr()) };
        match rc {
            SQZ_OK => {
                self.tracing = true;
                Ok(())
            }
            SQZ_ENOTRACE => Err(RtlError::NoTrace),
            _ => Err(RtlError::TracePath(path.display().to_string())),
        }
    }

    /// Flush and close the waveform.
    pub fn trace_close(&mut self) -> Result<()> {
        // SAFETY: live handle; closing a model without an open trace is a no-op in the shim.
        let rc = unsafe { (self.model.fns.trace_close)(self.h()) };
        self.tracing = false;
        if rc == SQZ_ENOTRACE {
            return Err(RtlError::NoTrace);
        }
        Ok(())
    }
}

impl Drop for Rtl {
    fn drop(&mut self) {
        // SAFETY: the handle came from this preset's `new`, is freed exactly once here, and is not
        // used afterwards (self is being dropped). `free` also closes an open trace.
        unsafe { (self.model.fns.free)(self.h()) }
    }
}

/// Names of the ERR bits set in `err`.
pub fn err_names(err: u32) -> String {
    let v = regs::ERR.set_fields(err);
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
