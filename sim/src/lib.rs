//! `sim`: the engine's Verilog under Verilator, as a Rust object ([`rtl::Rtl`]). The build script
//! emits the RTL with `hdl` and verilates it, so building this crate needs Verilator; the
//! software models it is compared with live in the `reference` crate, which needs nothing.

pub mod rtl;
