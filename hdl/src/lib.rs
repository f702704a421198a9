//! `hdl`: the sqz Fire engine described in rust-hdl. [`emit::emit`] writes it as Verilog
//! (`sqz_top.v`) with the register map exports; `cargo run -p hdl -- emit|synth|lint` drives it.
//! Blocks, bottom up: memories and pipes (generated Verilog leaves, [`mem`]), the MAC lane
//! ([`lane`]), the lane array ([`array`]), the engine ([`engine`]), the register file
//! ([`regfile`]), the C2H framer ([`framer`]) and the top ([`top`]). docs/ARCHITECTURE.md
//! describes the data path.

pub mod acc;
pub mod addr_gen;
pub mod array;
pub mod board;
pub mod bram_oreg;
pub mod dsp;
pub mod emit;
pub mod engine;
pub mod framer;
pub mod issue;
pub mod keep;
pub mod lane;
pub mod loader;
pub mod loader_gate;
pub mod mem;
pub mod outctl;
pub mod post;
pub mod regfile;
pub mod requant;
pub mod requant_consts;
pub mod skid;
pub mod tapwrap;
pub mod tools;
pub mod top;
pub mod walker;
pub mod weight_decode;

pub use emit::{emit, EmitReport};
