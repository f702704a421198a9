//! `spec`: the hardware/software contract of the sqz engine, declared once. The RTL generator
//! (`hdl`), the Verilator harness (`sim`), the driver (`host`) and the generated docs all read
//! register offsets, bit fields, descriptor words, packet types and memory sizes from here.

pub mod board;
pub mod config;
pub mod cycles;
pub mod descriptor;
pub mod job;
pub mod numerics;
pub mod packet;
pub mod perf;
pub mod protocol;
pub mod regmap_export;
pub mod regs;
pub mod trailer;

pub use config::{AccelConfig, ConfigError, PRESETS, STREAM_BITS, STREAM_BYTES};
