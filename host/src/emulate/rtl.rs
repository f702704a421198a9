//! The Verilated RTL (`sim::rtl::Rtl`) as a [`CardModel`]: the real engine behind the `sim`
//! backend (in process) and behind `sqz-host emulate --card rtl` (behind XDMA-like files).
//! Register accesses are AXI4-Lite transactions on the model's bus; `run` clocks both streams
//! at once with the harness's `pump_streams`, so H2C input and C2H output interleave as they
//! would through the XDMA IP.

use std::collections::VecDeque;

use sim::rtl::{Backpressure, Rtl, RtlError};
use spec::AccelConfig;

use super::CardModel;

/// The Verilated engine.
pub struct RtlCard {
    rtl: Rtl,
}

impl RtlCard {
    /// A fresh (reset) model of `cfg`; an error names the presets this build has verilated.
    pub fn new(cfg: &AccelConfig) -> Result<RtlCard, RtlError> {
        Ok(RtlCard {
            rtl: Rtl::new(cfg)?,
        })
    }

    /// Random stalls on both streams and the register bus (reproducible from the seed).
    pub fn with_backpressure(mut self, bp: Backpressure) -> RtlCard {
        self.rtl.set_backpressure(bp);
        self
    }

    pub fn rtl(&mut self) -> &mut Rtl {
        &mut self.rtl
    }
}

impl CardModel for RtlCard {
    fn name(&self) -> String {
        format!("rtl {}", self.rtl.preset())
    }

    fn write_reg(&mut self, off: u32, value: u32) -> Result<(), String> {
        // SLVERR (an unmapped offset) is an answer, as on the board; only a silent bus is an error.
        self.rtl
            .write_reg_resp(off, value)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn read_reg(&mut self, off: u32) -> Result<u32, String> {
        self.rtl
            .read_reg_resp(off)
            .map(|(d, _)| d)
            .map_err(|e| e.to_string())
    }

    fn run(
        &mut self,
        cycles: u64,
        h2c: &mut VecDeque<u64>,
        c2h: &mut VecDeque<u64>,
        c2h_room: usize,
    ) -> u64 {
        let (taken, out) = self
            .rtl
            .pump_streams(h2c.make_contiguous(), c2h_room, cycles);
        h2c.drain(..taken.min(h2c.len()));
        c2h.extend(out);
        cycles
    }

    fn cycles(&mut self) -> u64 {
        self.rtl.cycles()
    }
}
