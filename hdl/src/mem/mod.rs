//! Memory and delay leaf blocks, one per file, emitted as generated Verilog (a leaf whose body is
//! plain Verilog infers block RAM quickly; rust-hdl's RAM widgets emit one assignment per word). Each has a trivial rust-hdl `update` because the RTL is judged under
//! Verilator only.
//!
//! * [`Ram`]: one write port, one read port, registered read (1 cycle; 2 for
//!   [`Ram::registered`]; [`DEEP_RAM_LATENCY`] for
//!   [`Ram::deep`], banked with registered addresses and outputs), `depth` words.
//! * [`BankedMem`]: `S` byte banks (bank = address mod S) with rotation, so `S` consecutive bytes
//!   at any address are read (latency 2: bank read registered, rotation registered;
//!   [`PIPELINED_READ_LATENCY`] for the activation and pool buffers, whose reads register the
//!   row addresses and the banks' outputs) or written (per-lane enables) per cycle.
//! * [`MaskMem`]: the output-position mask, written 64 bits at a time, read `S` bits per tile
//!   (latency 1).
//! * [`Pipe`]: a `depth`-stage delay line (all stages registered).
//! * [`Fifo`], [`PoolMax`], [`DescDecode`], [`Concat`], [`Replicate`]: the output FIFO, the
//!   max-pool datapath, the descriptor decoder and two wiring leaves.

mod banked;
mod desc_decode;
mod fifo;
mod kept;
mod mask;
mod pipe;
mod pool_max;
mod ram;
mod wiring;

pub use banked::*;
pub use desc_decode::*;
pub use fifo::*;
pub use kept::{kept_reg_modules, KEPT_REG};
pub use mask::*;
pub use pipe::*;
pub use pool_max::*;
pub use ram::*;
pub use wiring::*;

/// Address bits for `n` words (at least 1).
fn bits_for(n: u64) -> usize {
    (64 - (n.max(2) - 1).leading_zeros()) as usize
}
