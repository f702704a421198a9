//! The engine's performance counters (the `PERF_*` registers of [`crate::regs`]) as one value,
//! and how they are read over AXI4-Lite: each 64-bit counter LO first (reading LO latches HI).
//! The driver and the Verilator harness both read them through [`Perf::read`].

use crate::regs::{self, Register};

/// The performance counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Perf {
    pub busy: u64,
    pub macs: u64,
    pub stall: u64,
    pub stall_in: u64,
    pub stall_out: u64,
    pub jobs: u32,
    /// H2C payload beats written while a job ran (loaded under compute).
    pub h2c_hidden: u64,
}

impl Perf {
    /// Read every counter with `read_reg` (one 32-bit AXI4-Lite read per call).
    pub fn read<E>(mut read_reg: impl FnMut(u32) -> Result<u32, E>) -> Result<Perf, E> {
        let mut counter = |r: &Register| -> Result<u64, E> {
            let lo = read_reg(r.at(0))? as u64;
            let hi = if r.count > 1 {
                read_reg(r.at(1))? as u64
            } else {
                0
            };
            Ok(hi << 32 | lo)
        };
        Ok(Perf {
            busy: counter(&regs::PERF_BUSY)?,
            macs: counter(&regs::PERF_MACS)?,
            stall: counter(&regs::PERF_STALL)?,
            stall_in: counter(&regs::PERF_STALL_IN)?,
            stall_out: counter(&regs::PERF_STALL_OUT)?,
            jobs: counter(&regs::PERF_JOBS)? as u32,
            h2c_hidden: counter(&regs::PERF_H2C_HIDDEN)?,
        })
    }
}

impl std::ops::Sub for Perf {
    type Output = Perf;
    fn sub(self, o: Perf) -> Perf {
        Perf {
            busy: self.busy.wrapping_sub(o.busy),
            macs: self.macs.wrapping_sub(o.macs),
            stall: self.stall.wrapping_sub(o.stall),
            stall_in: self.stall_in.wrapping_sub(o.stall_in),
            stall_out: self.stall_out.wrapping_sub(o.stall_out),
            jobs: self.jobs.wrapping_sub(o.jobs),
            h2c_hidden: self.h2c_hidden.wrapping_sub(o.h2c_hidden),
        }
    }
}

impl std::ops::AddAssign for Perf {
    fn add_assign(&mut self, o: Perf) {
        self.busy += o.busy;
        self.macs += o.macs;
        self.stall += o.stall;
        self.stall_in += o.stall_in;
        self.stall_out += o.stall_out;
        self.jobs += o.jobs;
        self.h2c_hidden += o.h2c_hidden;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LO before HI for each 64-bit counter, one word for PERF_JOBS, every counter once.
    #[test]
    fn counters_are_read_lo_first() {
        let mut seen = Vec::new();
        let p = Perf::read(|off| {
            seen.push(off);
            Ok::<u32, ()>(if off == regs::PERF_BUSY.at(1) { 2 } else { 1 })
        })
        .unwrap();
        assert_eq!(p.busy, 2 << 32 | 1);
        assert_eq!(p.jobs, 1);
        let lo = seen
            .iter()
            .position(|&o| o == regs::PERF_BUSY.at(0))
            .unwrap();
        assert_eq!(seen[lo + 1], regs::PERF_BUSY.at(1));
        assert_eq!(seen.len(), 13);
    }
}
