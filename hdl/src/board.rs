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

use anyhow::Context;
use spec::board::{Board, Xdma};
use spec::{AccelConfig, STREAM_BYTES};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

/// The two-flop synchroniser that carries the engine's level interrupt to `usr_irq_req`.
pub fn irq_sync_verilog() -> String {
    format!(
        "// {IRQ_SYNC}: the engine's level interrupt into the XDMA's clock domain (written by `hdl vivado`).\n\
         module {IRQ_SYNC} (\n\
         \x20   input  wire clk,\n\
         \x20   input  wire irq_in,\n\
         \x20   output wire irq_out\n\
         );\n\
         \x20   (* ASYNC_REG = \"TRUE\" *) reg meta = 1'b0;\n\
         \x20   (* ASYNC_REG = \"TRUE\" *) reg sync = 1'b0;\n\
         \x20   always @(posedge clk) begin\n\
         \x20       meta <= irq_in;\n\
         \x20       sync <= meta;\n\
         \x20   end\n\
         \x20   assign irq_out = sync;\n\
         endmodule\n"
    )
}

/// The XDMA's CONFIG values: (parameter, value), in the order set.
pub fn xdma_params(x: &Xdma, cfg: &AccelConfig) -> Vec<(&'static str, String)> {
    vec![
        ("mode_selection", "Advanced".into()),
        ("pl_link_cap_max_link_speed", x.speed_param()),
        ("pl_link_cap_max_link_width", format!("X{}", x.lanes)),
        ("ref_clk_freq", format!("{}_MHz", x.refclk_mhz)),
        ("axi_data_width", format!("{}_bit", x.axi_bits)),
        ("axisten_freq", x.axi_mhz.to_string()),
        ("xdma_axi_intf_mm", "AXI_Stream".into()),
        ("xdma_rnum_chnl", "1".into()),
        ("xdma_wnum_chnl", "1".into()),
        ("axilite_master_en", "true".into()),
        (
            "axilite_master_size",
            (cfg.axil_bytes() / 1024).max(4).to_string(),
        ),
        ("axilite_master_scale", "Kilobytes".into()),
        ("xdma_num_usr_irq", "1".into()),
        ("vendor_id", format!("{:04X}", x.vendor_id)),
        ("pf0_device_id", format!("{:04X}", x.device_id)),
        ("pf0_Use_Class_Code_Lookup_Assistant", "false".into()),
        (
            "pf0_class_code_base",
            format!("{:02X}", x.class_code >> 16 & 0xff),
        ),
        (
            "pf0_class_code_sub",
            format!("{:02X}", x.class_code >> 8 & 0xff),
        ),
        (
            "pf0_class_code_interface",
            format!("{:02X}", x.class_code & 0xff),
        ),
    ]
}

/// Engine-side AXI signal names that make IP integrator infer `sqz_top`'s three interfaces.
pub const ENGINE_INTERFACES: [&str; 3] = ["s_axil", "s_axis", "m_axis"];

fn dict(params: &[(&str, String)]) -> String {
    let mut s = String::from("[list");
    for (k, v) in params {
        let _ = write!(s, " \\\n    CONFIG.{k} {{{v}}}");
    }
    s.push_str(" \\\n]");
    s
}

/// `build.tcl`: the whole batch flow; exits non-zero when a run fails or timing is not met.
pub fn build_tcl(b: &Board, cfg: &AccelConfig) -> String {
    let x = &b.xdma;
    let eng_bytes = STREAM_BYTES;
    let xdma_bytes = x.axi_bytes();
    let mhz = cfg.target_mhz;
    let name = format!("sqz_{}", b.name);
    let axil_range = format!("{}K", (cfg.axil_bytes() / 1024).max(4));
    let pin = |cell: &str, p: &str| format!("[get_bd_pins {cell}/{p}]");
    let mut t = String::new();
    let _ = write!(
        t,
        r#"# {name}: Vivado batch flow for the {board} ({part}), preset `{preset}`, engine at {mhz} MHz.
# Written by `cargo run -p hdl -- vivado --board {board}`; run from anywhere:
#   vivado -mode batch -source build.tcl
# Writes {name}.bit, {name}.mcs / {name}.bin (SPI x4 flash image) and reports beside this file;
# exits 1 when a run fails or timing is not met. SQZ_VIVADO_JOBS sets the run parallelism.

set here [file dirname [file normalize [info script]]]
set jobs 2
if {{[info exists ::env(SQZ_VIVADO_JOBS)]}} {{ set jobs $::env(SQZ_VIVADO_JOBS) }}

proc sqz_fail {{msg}} {{
    puts "SQZ BUILD FAILED: $msg"
    exit 1
}}

create_project -force {name} $here/project -part {part}
set_property target_language Verilog [current_project]

# The engine (hdl emit) and the interrupt synchroniser.
set fl [open "$here/rtl/filelist.f" r]
foreach f [split [read $fl] "\n"] {{
    if {{$f ne ""}} {{ add_files -norecurse "$here/rtl/$f" }}
}}
close $fl
add_files -norecurse "$here/{irq}.v"
update_compile_order -fileset sources_1

add_files -fileset constrs_1 -norecurse [list "$here/early.xdc" "$here/normal.xdc"]
set_property PROCESSING_ORDER EARLY [get_files "$here/early.xdc"]

create_bd_design {bd}

# ---- External ports (the vendor's names) ----
create_bd_intf_port -mode Master -vlnv xilinx.com:interface:pcie_7x_mgt_rtl:1.0 {mgt}
create_bd_intf_port -mode Slave -vlnv xilinx.com:interface:diff_clock_rtl:1.0 {refclk}
set_property CONFIG.FREQ_HZ {refclk_hz} [get_bd_intf_ports {refclk}]
create_bd_port -dir I -type rst {perst}
set_property CONFIG.POLARITY ACTIVE_LOW [get_bd_ports {perst}]
create_bd_port -dir O -from 0 -to 0 {clkreq}
create_bd_port -dir O {led_link}
create_bd_port -dir O {led_clock}

# ---- XDMA: Gen2 x4, {axi_bits}-bit AXI at {axi_mhz} MHz, AXI-Stream H2C/C2H, AXI-Lite master on BAR0 ----
set xdma [create_bd_cell -type ip -vlnv xilinx.com:ip:xdma {xcell}]
set_property -dict {xdma_dict} $xdma

# 7-series: sys_clk takes the IBUFDS_GTE2 output (there is no sys_clk_gt).
set refbuf [create_bd_cell -type ip -vlnv xilinx.com:ip:util_ds_buf util_ds_buf]
set_property CONFIG.C_BUF_TYPE {{IBUFDSGTE}} $refbuf
connect_bd_intf_net [get_bd_intf_ports {refclk}] [get_bd_intf_pins util_ds_buf/CLK_IN_D]
connect_bd_net [get_bd_pins util_ds_buf/IBUF_OUT] {xsys_clk}
connect_bd_net [get_bd_ports {perst}] {xsys_rst}
connect_bd_intf_net [get_bd_intf_ports {mgt}] [get_bd_intf_pins {xcell}/pcie_mgt]

set clkreq_low [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconstant clkreq_low]
set_property CONFIG.CONST_VAL {{0}} $clkreq_low
connect_bd_net [get_bd_pins clkreq_low/dout] [get_bd_ports {clkreq}]
connect_bd_net {xlnk} [get_bd_ports {led_link}]

# ---- Engine clock: an MMCM from axi_aclk ({axi_mhz} MHz) to the preset's {mhz} MHz ----
set mmcm [create_bd_cell -type ip -vlnv xilinx.com:ip:clk_wiz engine_clk]
set_property -dict [list \
    CONFIG.PRIM_SOURCE {{No_buffer}} \
    CONFIG.PRIM_IN_FREQ {{{axi_mhz}.000}} \
    CONFIG.CLKOUT1_REQUESTED_OUT_FREQ {{{mhz}.000}} \
    CONFIG.USE_LOCKED {{true}} \
    CONFIG.USE_RESET {{true}} \
    CONFIG.RESET_TYPE {{ACTIVE_LOW}} \
    CONFIG.RESET_PORT {{resetn}} \
] $mmcm
connect_bd_net {xaclk} [get_bd_pins engine_clk/clk_in1]
connect_bd_net {xaresetn} [get_bd_pins engine_clk/resetn]
connect_bd_net [get_bd_pins engine_clk/locked] [get_bd_ports {led_clock}]

# Engine reset: released in the engine clock domain once the MMCM locks and the XDMA is out of reset.
set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset engine_rst]
set_property CONFIG.C_EXT_RESET_HIGH {{0}} $rst
connect_bd_net [get_bd_pins engine_clk/clk_out1] [get_bd_pins engine_rst/slowest_sync_clk]
connect_bd_net {xaresetn} [get_bd_pins engine_rst/ext_reset_in]
connect_bd_net [get_bd_pins engine_clk/locked] [get_bd_pins engine_rst/dcm_locked]

# ---- The engine: module reference; IP integrator infers s_axil, s_axis and m_axis ----
create_bd_cell -type module -reference sqz_top {ecell}
set_property -dict [list CONFIG.ASSOCIATED_BUSIF {{s_axil:s_axis:m_axis}} CONFIG.ASSOCIATED_RESET {{resetn}} CONFIG.FREQ_HZ {{{mhz}000000}}] {eclk}
set_property CONFIG.POLARITY {{ACTIVE_LOW}} {eresetn}
connect_bd_net [get_bd_pins engine_clk/clk_out1] {eclk}
connect_bd_net [get_bd_pins engine_rst/peripheral_aresetn] {eresetn}

# ---- H2C: {xdma_bytes}-byte beats at {axi_mhz} MHz -> {eng_bytes}-byte beats -> engine clock ----
set h2c_width [create_bd_cell -type ip -vlnv xilinx.com:ip:axis_dwidth_converter h2c_width]
set_property -dict [list CONFIG.S_TDATA_NUM_BYTES {{{xdma_bytes}}} CONFIG.M_TDATA_NUM_BYTES {{{eng_bytes}}} CONFIG.HAS_TLAST {{1}} CONFIG.HAS_TKEEP {{1}}] $h2c_width
set h2c_cdc [create_bd_cell -type ip -vlnv xilinx.com:ip:axis_clock_converter h2c_cdc]
set_property -dict [list CONFIG.TDATA_NUM_BYTES {{{eng_bytes}}} CONFIG.HAS_TLAST {{1}} CONFIG.HAS_TKEEP {{1}}] $h2c_cdc
connect_bd_intf_net [get_bd_intf_pins {xcell}/M_AXIS_H2C_0] [get_bd_intf_pins h2c_width/S_AXIS]
connect_bd_intf_net [get_bd_intf_pins h2c_width/M_AXIS] [get_bd_intf_pins h2c_cdc/S_AXIS]
connect_bd_intf_net [get_bd_intf_pins h2c_cdc/M_AXIS] [get_bd_intf_pins {ecell}/s_axis]

# ---- C2H: engine clock -> {axi_mhz} MHz, {eng_bytes}-byte beats -> {xdma_bytes}-byte beats ----
set c2h_cdc [create_bd_cell -type ip -vlnv xilinx.com:ip:axis_clock_converter c2h_cdc]
set_property -dict [list CONFIG.TDATA_NUM_BYTES {{{eng_bytes}}} CONFIG.HAS_TLAST {{1}} CONFIG.HAS_TKEEP {{1}}] $c2h_cdc
set c2h_width [create_bd_cell -type ip -vlnv xilinx.com:ip:axis_dwidth_converter c2h_width]
set_property -dict [list CONFIG.S_TDATA_NUM_BYTES {{{eng_bytes}}} CONFIG.M_TDATA_NUM_BYTES {{{xdma_bytes}}} CONFIG.HAS_TLAST {{1}} CONFIG.HAS_TKEEP {{1}}] $c2h_width
connect_bd_intf_net [get_bd_intf_pins {ecell}/m_axis] [get_bd_intf_pins c2h_cdc/S_AXIS]
connect_bd_intf_net [get_bd_intf_pins c2h_cdc/M_AXIS] [get_bd_intf_pins c2h_width/S_AXIS]
connect_bd_intf_net [get_bd_intf_pins c2h_width/M_AXIS] [get_bd_intf_pins {xcell}/S_AXIS_C2H_0]

# ---- Registers: BAR0's AXI4-Lite master -> clock crossing -> engine ----
set axil_cdc [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_clock_converter axil_cdc]
set_property -dict [list CONFIG.PROTOCOL {{AXI4LITE}} CONFIG.DATA_WIDTH {{{axil_bits}}}] $axil_cdc
connect_bd_intf_net [get_bd_intf_pins {xcell}/M_AXI_LITE] [get_bd_intf_pins axil_cdc/S_AXI]
connect_bd_intf_net [get_bd_intf_pins axil_cdc/M_AXI] [get_bd_intf_pins {ecell}/s_axil]

# ---- Clocks and resets of the converters: the XDMA side on axi_aclk, the engine side on its own ----
foreach p {{h2c_width/aclk h2c_cdc/s_axis_aclk c2h_cdc/m_axis_aclk c2h_width/aclk axil_cdc/s_axi_aclk}} {{
    connect_bd_net {xaclk} [get_bd_pins $p]
}}
foreach p {{h2c_width/aresetn h2c_cdc/s_axis_aresetn c2h_cdc/m_axis_aresetn c2h_width/aresetn axil_cdc/s_axi_aresetn}} {{
    connect_bd_net {xaresetn} [get_bd_pins $p]
}}
foreach p {{h2c_cdc/m_axis_aclk c2h_cdc/s_axis_aclk axil_cdc/m_axi_aclk}} {{
    connect_bd_net [get_bd_pins engine_clk/clk_out1] [get_bd_pins $p]
}}
foreach p {{h2c_cdc/m_axis_aresetn c2h_cdc/s_axis_aresetn axil_cdc/m_axi_aresetn}} {{
    connect_bd_net [get_bd_pins engine_rst/peripheral_aresetn] [get_bd_pins $p]
}}

# ---- Interrupt: engine clock -> axi_aclk ----
create_bd_cell -type module -reference {irq} {irq}
connect_bd_net {xaclk} [get_bd_pins {irq}/clk]
connect_bd_net {eirq} [get_bd_pins {irq}/irq_in]
connect_bd_net [get_bd_pins {irq}/irq_out] {xirq}

# BAR0 -> the engine's {axil_kb} KB register window at offset 0.
assign_bd_address -target_address_space /{xcell}/M_AXI_LITE [get_bd_addr_segs {ecell}/s_axil/reg0] -force
set_property range {axil_range} [get_bd_addr_segs {xcell}/M_AXI_LITE/SEG_{ecell}_reg0]
set_property offset 0x00000000 [get_bd_addr_segs {xcell}/M_AXI_LITE/SEG_{ecell}_reg0]

validate_bd_design
save_bd_design
make_wrapper -files [get_files {bd}.bd] -top -import
set_property top {bd}_wrapper [current_fileset]
update_compile_order -fileset sources_1

# ---- Synthesis and implementation, each checked ----
proc sqz_check_run {{run}} {{
    set status [get_property STATUS [get_runs $run]]
    if {{[get_property PROGRESS [get_runs $run]] ne "100%" || [string match -nocase "*error*" $status] || [string match -nocase "*failed*" $status]}} {{
        sqz_fail "run $run: $status"
    }}
    puts "sqz: run $run: $status"
}}
launch_runs synth_1 -jobs $jobs
wait_on_run synth_1
sqz_check_run synth_1
launch_runs impl_1 -jobs $jobs
wait_on_run impl_1
sqz_check_run impl_1

open_run impl_1
report_utilization -file "$here/utilization.rpt"
report_utilization -hierarchical -file "$here/utilization_hier.rpt"
set summary [report_timing_summary -max_paths 10 -return_string]
set fh [open "$here/timing_summary.rpt" w]; puts $fh $summary; close $fh
report_clock_interaction -file "$here/clock_interaction.rpt"
report_cdc -file "$here/cdc.rpt"
set wns [get_property STATS.WNS [get_runs impl_1]]
set whs [get_property STATS.WHS [get_runs impl_1]]
puts "sqz: WNS $wns ns, WHS $whs ns (engine clock {mhz} MHz)"
if {{$wns < 0 || $whs < 0 || [string first "All user specified timing constraints are met" $summary] < 0}} {{
    sqz_fail "timing not met (WNS $wns ns, WHS $whs ns): see $here/timing_summary.rpt"
}}

# ---- Bitstream and the SPI x4 flash image (the vendor's make-mcs.tcl) ----
write_bitstream -force "$here/{name}.bit"
write_cfgmem -force -format mcs -size {flash_mb} -interface {flash_if} -loadbit "up 0x00000000 $here/{name}.bit" -file "$here/{name}.mcs"
write_cfgmem -force -format bin -size {flash_mb} -interface {flash_if} -loadbit "up 0x00000000 $here/{name}.bit" -file "$here/{name}.bin"
puts "sqz: wrote $here/{name}.bit, $here/{name}.mcs, $here/{name}.bin"
exit 0
"#,
        board = b.name,
        part = b.fpga.part,
        preset = cfg.name,
        irq = IRQ_SYNC,
        bd = BD,
        mgt = PCIE_MGT,
        refclk = PCIE_REFCLK,
        refclk_hz = x.refclk_mhz as u64 * 1_000_000,
        perst = PCIE_PERST,
        clkreq = PCIE_CLKREQ,
        led_link = LED_LINK,
        led_clock = LED_CLOCK,
        axi_bits = x.axi_bits,
        axi_mhz = x.axi_mhz,
        xcell = XDMA_CELL,
        ecell = ENGINE_CELL,
        xdma_dict = dict(&xdma_params(x, cfg)),
        xsys_clk = pin(XDMA_CELL, "sys_clk"),
        xsys_rst = pin(XDMA_CELL, "sys_rst_n"),
        xlnk = pin(XDMA_CELL, "user_lnk_up"),
        xaclk = pin(XDMA_CELL, "axi_aclk"),
        xaresetn = pin(XDMA_CELL, "axi_aresetn"),
        xirq = pin(XDMA_CELL, "usr_irq_req"),
        eclk = pin(ENGINE_CELL, "clk"),
        eresetn = pin(ENGINE_CELL, "resetn"),
        eirq = pin(ENGINE_CELL, "irq"),
        axil_bits = spec::config::AXIL_DATA_BITS,
        axil_kb = cfg.axil_bytes() / 1024,
        flash_mb = b.flash.image_mb,
        flash_if = b.flash.interface,
    );
    t
}

/// `flash.tcl`: write the flash image over JTAG with Vivado's hardware manager (the vendor's
/// `add-flash-s25fl256s-0.tcl` and `program-flash.tcl`, one script).
pub fn flash_tcl(b: &Board) -> String {
    let name = format!("sqz_{}", b.name);
    format!(
        r#"# Write {name}.mcs to the {board}'s SPI flash over JTAG (Vivado hardware manager).
#   vivado -mode batch -source flash.tcl
set here [file dirname [file normalize [info script]]]
open_hw_manager
connect_hw_server
open_hw_target
set dev [lindex [get_hw_devices {device}*] 0]
current_hw_device $dev
refresh_hw_device $dev
create_hw_cfgmem -hw_device $dev [lindex [get_cfgmem_parts {{{flash}}}] 0]
set mem [get_property PROGRAM.HW_CFGMEM $dev]
set_property PROGRAM.ADDRESS_RANGE {{use_file}} $mem
set_property PROGRAM.FILES [list "$here/{name}.mcs"] $mem
set_property PROGRAM.PRM_FILE {{}} $mem
set_property PROGRAM.UNUSED_PIN_TERMINATION {{pull-none}} $mem
set_property PROGRAM.BLANK_CHECK 0 $mem
set_property PROGRAM.ERASE 1 $mem
set_property PROGRAM.CFG_PROGRAM 1 $mem
set_property PROGRAM.VERIFY 1 $mem
set_property PROGRAM.CHECKSUM 0 $mem
create_hw_bitstream -hw_device $dev [get_property PROGRAM.HW_CFGMEM_BITFILE $dev]
program_hw_devices $dev
refresh_hw_device $dev
program_hw_cfgmem -hw_cfgmem $mem
puts "sqz: flash written; power-cycle the host (or reboot) so the card loads it and enumerates"
exit 0
"#,
        board = b.name,
        device = &b.fpga.device_package[..8],
        flash = b.flash.vivado_part,
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
