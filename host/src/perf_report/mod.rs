//! The performance report of `sqz-host bench` on a card backend, as pure functions: the
//! planner's cycle model of each job ([`JobModel`], made by `spec::job` with the plan), the
//! per-layer rows (dense and nonzero MACs, cycles, ideal cycles, dense-equivalent efficiency,
//! nonzero utilisation) with a [`Breakdown`] of the measured busy cycles into causes that adds up
//! to the counter exactly, the totals at a clock, the bytes moved per image against the PCIe link,
//! and a hand-written SVG plot of measured vs ideal cycles per layer.
//!
//! The cycle model is the walker of hdl/src/engine.rs: a job issues every weight entry of a
//! channel (fillers included) once per tile of `S` grid positions, one entry per cycle; a tile's
//! last entry waits until >= [`MIN_TILE_CYCLES`] cycles after the previous tile's last (the
//! shared requantizers), and each channel spends [`CHANNEL_FETCH_CYCLES`] fetching its bias and
//! entry count. The card counts busy cycles and `stall` = busy cycles without an issue, so
//! `issued = busy - stall` is measured; the breakdown takes useful work and lane waste from the
//! plan, the short-channel and fetch cycles from the model, the rest of `stall` as measured, and
//! shows any disagreement between model and counters as `remainder` instead of hiding it.
//!
//! One concern per file: `layer.rs` the per-layer accounting ([`LayerRow`], [`Breakdown`]),
//! `totals.rs` the per-image totals at a clock and the bytes on the link ([`Totals`],
//! [`Traffic`], [`H2cBytes`], [`Clocking`]), `text.rs` the printed tables, `svg.rs` the plot.

mod layer;
mod svg;
mod text;
mod totals;

pub use layer::{Breakdown, LayerRow};
pub use spec::cycles::{JobModel, CHANNEL_FETCH_CYCLES, MIN_TILE_CYCLES};
pub use svg::svg;
pub use text::{print_tables, print_totals};
pub use totals::{Clocking, H2cBytes, Totals, Traffic, FMAX_GIVEN, FMAX_TARGET};

/// The link rate assumed when `--link-gbps` is not given: XDMA on PCIe Gen2 x4 (5 GT/s x 4 lanes,
/// 8b/10b = 2 GB/s raw per direction, about 1.6 GB/s of payload after TLP overhead).
pub const DEFAULT_LINK_GBPS: f64 = 1.6;

/// `a / b`, or 0 when `b` is 0 (an empty report).
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::device::Perf;

    /// Counters of one job: `busy` cycles, `stall` of them without an issue, `stall_out` of
    /// those counted as C2H back-pressure.
    pub(crate) fn perf(busy: u64, stall: u64, stall_out: u64) -> Perf {
        Perf {
            busy,
            stall,
            stall_out,
            jobs: 1,
            ..Default::default()
        }
    }
}
