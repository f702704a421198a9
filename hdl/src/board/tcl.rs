//! The board's Vivado scripts: `build.tcl` (project, block design with the XDMA in AXI-Stream
//! mode and the engine on its own clock, synthesis, implementation, timing checks, bitstream,
//! flash image), `flash.tcl` (the hardware manager), and the interrupt synchroniser's Verilog
//! the block design instantiates.

use spec::board::{Board, Xdma};
use spec::{AccelConfig, STREAM_BYTES};
use std::fmt::Write as _;

use super::*;

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
