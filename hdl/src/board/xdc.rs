//! The board's constraints: `early.xdc` (GT sites of the PCIe lanes, refclk, PERST#, CLKREQ#,
//! processed before the XDMA's own constraints) and `normal.xdc` (the LEDs, the clock groups of
//! the engine's MMCM, the interrupt synchroniser, the bitstream and flash settings), from the
//! pins and names of `board.rs`.

use spec::board::Board;
use spec::AccelConfig;
use std::fmt::Write as _;

use super::*;

/// `early.xdc`: GT placement and the PCIe pins, processed EARLY (before the XDMA's own
/// constraints, whose lane placement does not fit the board; vendor's readme).
pub fn early_xdc(b: &Board) -> String {
    let mut s = format!(
        "# {}: PCIe lanes, GT sites, refclk, PERST#, CLKREQ# (written by `hdl vivado`).\n\
         # The vendor's early.xdc line for line: processed EARLY (build.tcl sets PROCESSING_ORDER),\n\
         # so these LOCs win over the XDMA's generated lane placement (expect its 3 critical warnings).\n",
        b.fpga.part
    );
    for l in LANES {
        let _ = writeln!(s, "\n# PCIe lane {}", l.port);
        let _ = writeln!(
            s,
            "set_property LOC {} [get_cells {{{}}}]",
            l.gt,
            gt_cell(l.pipe_lane)
        );
        for (sig, pin) in [
            ("rxn", l.rxn),
            ("rxp", l.rxp),
            ("txn", l.txn),
            ("txp", l.txp),
        ] {
            let _ = writeln!(
                s,
                "set_property PACKAGE_PIN {pin} [get_ports {{{PCIE_MGT}_{sig}[{}]}}]",
                l.port
            );
        }
    }
    let _ = writeln!(s, "\n# PCIe refclock ({} MHz)", b.xdma.refclk_mhz);
    let _ = writeln!(
        s,
        "set_property PACKAGE_PIN {} [get_ports {{{PCIE_REFCLK}_clk_p[0]}}]",
        REFCLK_PINS.0
    );
    let _ = writeln!(
        s,
        "set_property PACKAGE_PIN {} [get_ports {{{PCIE_REFCLK}_clk_n[0]}}]",
        REFCLK_PINS.1
    );
    let _ = writeln!(s, "\n# Other PCIe signals");
    let _ = writeln!(
        s,
        "set_property PACKAGE_PIN {CLKREQ_PIN} [get_ports {{{PCIE_CLKREQ}[0]}}]"
    );
    let _ = writeln!(
        s,
        "set_property IOSTANDARD LVCMOS33 [get_ports {{{PCIE_CLKREQ}[0]}}]"
    );
    let _ = writeln!(
        s,
        "set_property PACKAGE_PIN {PERST_PIN} [get_ports {PCIE_PERST}]"
    );
    let _ = writeln!(
        s,
        "set_property IOSTANDARD LVCMOS33 [get_ports {PCIE_PERST}]"
    );
    s
}

/// `normal.xdc`: LEDs, the reset false path, the synchroniser's timing exception and the
/// configuration settings (the vendor's `normal.xdc`; its DDR and SPI pins are not used here).
pub fn normal_xdc(b: &Board, cfg: &AccelConfig) -> String {
    let mut s = format!(
        "# {} / preset {}: LEDs, exceptions, configuration (written by `hdl vivado`).\n\n",
        b.fpga.part, cfg.name
    );
    for (port, pin) in [(LED_LINK, LED_LINK_PIN), (LED_CLOCK, LED_CLOCK_PIN)] {
        let _ = writeln!(s, "set_property PACKAGE_PIN {pin} [get_ports {port}]");
        let _ = writeln!(s, "set_property IOSTANDARD LVCMOS33 [get_ports {port}]");
        let _ = writeln!(s, "set_property PULLUP true [get_ports {port}]");
        let _ = writeln!(s, "set_property DRIVE 8 [get_ports {port}]");
    }
    s.push_str(
        "\n# The refclk is not given a clock here, as in the vendor's file: the XDMA's constraints\n\
         # time the GT clocks.\n\
         # Input reset is resynchronized within the XDMA.\n",
    );
    let _ = writeln!(s, "set_false_path -from [get_ports {PCIE_PERST}]");
    let _ = writeln!(
        s,
        "# The engine's interrupt enters the XDMA clock domain through two ASYNC_REG flops.\n\
         set_false_path -to [get_pins -hierarchical -filter {{NAME =~ *{IRQ_SYNC}*/meta_reg/D}}]"
    );
    s.push_str(
        "\n# Power down on overtemp\n\
         set_property BITSTREAM.CONFIG.OVERTEMPPOWERDOWN ENABLE [current_design]\n\
         \n# High-speed configuration so the FPGA is up in time to negotiate with the PCIe root complex\n\
         set_property BITSTREAM.CONFIG.EXTMASTERCCLK_EN Div-1 [current_design]\n\
         set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]\n\
         set_property CONFIG_MODE SPIx4 [current_design]\n\
         set_property BITSTREAM.CONFIG.SPI_FALL_EDGE YES [current_design]\n\
         set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]\n\
         \n\
         set_property CONFIG_VOLTAGE 3.3 [current_design]\n\
         set_property CFGBVS VCCO [current_design]\n",
    );
    s
}
