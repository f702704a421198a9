//! The emulated card: something that behaves like the sqz engine at its pins, for the driver's
//! tests and for users without a board.
//!
//! [`CardModel`] is the card at clock level: AXI4-Lite register reads and writes plus the two
//! AXI4-Stream directions, advanced in cycles. Two implement it: [`soft::SoftCard`], a software
//! card (register file, packet loader and a job executor written from `spec`: [`engine::Engine`]
//! computes the jobs functionally, instant and deterministic, for fast tests), and
//! [`rtl::RtlCard`], the Verilated RTL of `sim::rtl` (with the `rtl` feature; without it
//! `RtlCard::new` is an error saying how to build it).
//!
//! A model is used either in process (`host::device::model::ModelDevice`, the `sim` backend) or
//! behind XDMA-like files by [`files::Emulator`] (`sqz-host emulate`), so that the `xdma`
//! backend's real open/mmap/read/write path runs against it. [`Faults`] lets tests break that
//! card in the ways a real one breaks.

pub mod cli;
pub mod engine;
pub mod files;
#[cfg(feature = "rtl")]
pub mod rtl;
#[cfg(not(feature = "rtl"))]
#[path = "rtl_absent.rs"]
pub mod rtl;
mod serve;
pub mod soft;

use std::collections::VecDeque;

pub use files::{Emulator, EmulatorOptions, Faults};

/// A card at its pins. Times are in clock cycles of the card.
pub trait CardModel {
    /// Short description ("soft tiny", "rtl tiny").
    fn name(&self) -> String;
    /// One AXI4-Lite write (an unmapped address is answered and dropped, as on the card).
    /// `Err` only when the model itself fails (a bus that never answers).
    fn write_reg(&mut self, off: u32, value: u32) -> Result<(), String>;
    /// One AXI4-Lite read (an unmapped address reads 0).
    fn read_reg(&mut self, off: u32) -> Result<u32, String>;
    /// Advance up to `cycles` clocks. H2C beats are offered from the front of `h2c` (the ones the
    /// card accepts are popped); C2H beats the card emits are appended to `c2h`, at most
    /// `c2h_room` of them (the sink is not ready beyond that). Returns the cycles run; a model
    /// may stop early when it has nothing to do (an idle card with no input pending).
    fn run(
        &mut self,
        cycles: u64,
        h2c: &mut VecDeque<u64>,
        c2h: &mut VecDeque<u64>,
        c2h_room: usize,
    ) -> u64;
    /// Cycles run since the model was made.
    fn cycles(&mut self) -> u64;
}

/// A boxed model is a model (so tests and the emulator can pick one at run time).
impl<M: CardModel + ?Sized> CardModel for Box<M> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn write_reg(&mut self, off: u32, value: u32) -> Result<(), String> {
        (**self).write_reg(off, value)
    }
    fn read_reg(&mut self, off: u32) -> Result<u32, String> {
        (**self).read_reg(off)
    }
    fn run(
        &mut self,
        cycles: u64,
        h2c: &mut VecDeque<u64>,
        c2h: &mut VecDeque<u64>,
        c2h_room: usize,
    ) -> u64 {
        (**self).run(cycles, h2c, c2h, c2h_room)
    }
    fn cycles(&mut self) -> u64 {
        (**self).cycles()
    }
}
