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

pub use files::{Emulator, EmulatorOptions, Faults};

/// The card at its pins (defined at the device boundary, which adapts it to a `Device`).
pub use crate::device::model::CardModel;
