//! `board`: the Vivado batch flow for a board of `spec::board` (NiteFury-II, LiteFury), written
//! from the contract: `hdl vivado --board nitefury --out build/vivado` emits the engine's RTL and
//! writes `early.xdc`, `normal.xdc`, `build.tcl` (project, block design, synthesis,
//! implementation, run and timing checks, bitstream, SPI x4 flash image) and `flash.tcl`
//! (Vivado hardware manager), then runs `vivado -mode batch -source build.tcl` if Vivado is on
//! PATH, else prints that command.
//!
//! The block design follows the board vendor's (RHS Research, `Sample-Projects/Project-0/FPGA`):
//! the XDMA at Gen2 x4 with 128-bit AXI at 125 MHz, its `sys_clk` from an `IBUFDSGTE`
//! (`util_ds_buf`; 7-series has no `sys_clk_gt`), PERST# on `sys_rst_n`, CLKREQ# driven low,
//! the link-up LED, and the same external port names, so the constraints are the vendor's lines.
//! Unlike the vendor's memory-mapped design, the XDMA runs in AXI-Stream mode and the engine runs
//! on its own clock (an MMCM, `clk_wiz`, at the preset's `target_mhz`): the streams cross through
//! `axis_dwidth_converter` (XDMA width <-> `spec::STREAM_BYTES`) and `axis_clock_converter`, the
//! registers through an AXI4-Lite `axi_clock_converter`, the engine's reset through
//! `proc_sys_reset`, its interrupt through a two-flop synchroniser written here.
//!
//! This file holds the names, ports and pins both outputs share and [`write`]; the constraints
//! are `board/xdc.rs`, the scripts (and the synchroniser) `board/tcl.rs`.

use anyhow::Context;
use spec::board::Board;
use std::path::{Path, PathBuf};

mod tcl;
mod xdc;

pub use tcl::{build_tcl, flash_tcl, irq_sync_verilog, xdma_params, ENGINE_INTERFACES};
pub use xdc::{early_xdc, normal_xdc};

/// Block design name (the vendor's): the wrapper is `Top_wrapper`, its instance `Top_i`.
pub const BD: &str = "Top";
/// The XDMA cell (the vendor's name; the GT cell paths in `early.xdc` go through it).
pub const XDMA_CELL: &str = "xdma_0";
/// The engine's cell (module reference `sqz_top`).
pub const ENGINE_CELL: &str = "sqz";
/// The interrupt synchroniser's module and cell.
pub const IRQ_SYNC: &str = "sqz_irq_sync";

/// External ports of the block design (the vendor's names).
pub const PCIE_MGT: &str = "pcie_mgt";
pub const PCIE_REFCLK: &str = "pcie_clkin";
pub const PCIE_PERST: &str = "pci_reset";
pub const PCIE_CLKREQ: &str = "pcie_clkreq_l";
/// LED_A3: the PCIe link is up (the vendor drives it from `user_lnk_up` too).
pub const LED_LINK: &str = "LED_A3";
/// LED_A4: the engine clock's MMCM is locked (the vendor shows DDR calibration there).
pub const LED_CLOCK: &str = "LED_A4";

/// What kind of external port, which decides the names the wrapper gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// A scalar pin.
    Scalar,
    /// A one-bit vector pin (`[0:0]`, as `xlconstant`'s output).
    Bit0,
    /// A `diff_clock_rtl` interface port on `util_ds_buf`'s `CLK_IN_D` (a `[0:0]` pair):
    /// `<name>_clk_p[0]`, `<name>_clk_n[0]`.
    DiffClock,
    /// A `pcie_7x_mgt_rtl` interface port: `<name>_{rxp,rxn,txp,txn}[lanes-1:0]`.
    PcieMgt,
}

/// The block design's external ports.
pub fn external_ports() -> Vec<(&'static str, PortKind)> {
    vec![
        (PCIE_MGT, PortKind::PcieMgt),
        (PCIE_REFCLK, PortKind::DiffClock),
        (PCIE_PERST, PortKind::Scalar),
        (PCIE_CLKREQ, PortKind::Bit0),
        (LED_LINK, PortKind::Scalar),
        (LED_CLOCK, PortKind::Scalar),
    ]
}

/// Every bit-level port name of `Top_wrapper` (IP integrator's naming of interface ports:
/// `<port>_<signal>`, vectors with their index), as `get_ports` sees them.
pub fn wrapper_ports(b: &Board) -> Vec<String> {
    let mut v = Vec::new();
    for (name, kind) in external_ports() {
        match kind {
            PortKind::Scalar => v.push(name.to_string()),
            PortKind::Bit0 => v.push(format!("{name}[0]")),
            PortKind::DiffClock => {
                v.push(format!("{name}_clk_p[0]"));
                v.push(format!("{name}_clk_n[0]"));
            }
            PortKind::PcieMgt => {
                for s in ["rxp", "rxn", "txp", "txn"] {
                    for l in 0..b.xdma.lanes {
                        v.push(format!("{name}_{s}[{l}]"));
                    }
                }
            }
        }
    }
    v
}

/// One PCIe lane: the port index, the GTP channel the vendor places it on (through the IP's
/// `pipe_lane[n]` cell, which is not lane n on this board) and its four package pins.
#[derive(Clone, Copy, Debug)]
pub struct Lane {
    pub port: u32,
    pub pipe_lane: u32,
    pub gt: &'static str,
    pub rxp: &'static str,
    pub rxn: &'static str,
    pub txp: &'static str,
    pub txn: &'static str,
}

/// The vendor's `early.xdc` (identical for NiteFury-II and LiteFury), lane by lane.
pub const LANES: [Lane; 4] = [
    Lane {
        port: 0,
        pipe_lane: 3,
        gt: "GTPE2_CHANNEL_X0Y7",
        rxp: "B10",
        rxn: "A10",
        txp: "B6",
        txn: "A6",
    },
    Lane {
        port: 1,
        pipe_lane: 0,
        gt: "GTPE2_CHANNEL_X0Y6",
        rxp: "B8",
        rxn: "A8",
        txp: "B4",
        txn: "A4",
    },
    Lane {
        port: 2,
        pipe_lane: 2,
        gt: "GTPE2_CHANNEL_X0Y5",
        rxp: "D11",
        rxn: "C11",
        txp: "D5",
        txn: "C5",
    },
    Lane {
        port: 3,
        pipe_lane: 1,
        gt: "GTPE2_CHANNEL_X0Y4",
        rxp: "D9",
        rxn: "C9",
        txp: "D7",
        txn: "C7",
    },
];

/// Refclk pins (p, n), PERST#, CLKREQ#, LED_A3 and LED_A4 (the vendor's).
pub const REFCLK_PINS: (&str, &str) = ("F6", "E6");
pub const PERST_PIN: &str = "J1";
pub const CLKREQ_PIN: &str = "G1";
pub const LED_LINK_PIN: &str = "G4";
pub const LED_CLOCK_PIN: &str = "H4";

/// The GTP channel cell of the XDMA's `pipe_lane[n]` inside the wrapper (the vendor's path,
/// from the BD and XDMA cell names).
pub fn gt_cell(pipe_lane: u32) -> String {
    format!(
        "{BD}_i/{XDMA_CELL}/inst/{BD}_{XDMA_CELL}_0_pcie2_to_pcie3_wrapper_i/pcie2_ip_i/inst/inst/gt_top_i/pipe_wrapper_i/pipe_lane[{pipe_lane}].gt_wrapper_i/gtp_channel.gtpe2_channel_i"
    )
}

/// What [`write`] produced.
#[derive(Debug, Clone)]
pub struct BoardFiles {
    pub dir: PathBuf,
    pub build_tcl: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Emit the RTL of the board's preset into `out/rtl` and write the constraints and scripts.
pub fn write(b: &Board, out: &Path) -> anyhow::Result<BoardFiles> {
    let cfg = b.config();
    let rtl = crate::emit(&cfg, &out.join("rtl")).context("emitting the engine")?;
    let mut files = rtl.files;
    let mut put = |name: &str, text: String| -> anyhow::Result<PathBuf> {
        let p = out.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        files.push(p.clone());
        Ok(p)
    };
    put("early.xdc", early_xdc(b))?;
    put("normal.xdc", normal_xdc(b, &cfg))?;
    put(&format!("{IRQ_SYNC}.v"), irq_sync_verilog())?;
    put("flash.tcl", flash_tcl(b))?;
    let build_tcl = put("build.tcl", build_tcl(b, &cfg))?;
    Ok(BoardFiles {
        dir: out.to_path_buf(),
        build_tcl,
        files,
    })
}
