# Vivado project for the NiteFury-II: XDMA (PCIe Gen2 x4, AXI-Stream, AXI4-Lite master) + sqz_top.
# Usage (from the repository root, after `cargo run -p hdl -- emit --preset nitefury --out build/rtl`):
#   vivado -mode batch -source constraints/nitefury_project.tcl -tclargs build/rtl build/vivado
# Not run in CI (no Vivado here): `cargo test -p hdl` checks that every sqz_top port named below
# exists in the emitted Verilog.

set rtl_dir   [lindex $argv 0]
set build_dir [lindex $argv 1]
set here      [file dirname [file normalize [info script]]]

create_project sqz_nitefury $build_dir -part xc7a200tfbg484-2 -force

# The emitted engine: sqz_top.v, memory init files and the file list written by `hdl emit`.
set fl [open "$rtl_dir/filelist.f" r]
foreach f [split [read $fl] "\n"] {
    if {$f ne ""} { add_files -norecurse "$rtl_dir/$f" }
}
close $fl
add_files -fileset constrs_1 -norecurse "$here/nitefury.xdc"
set_property PROCESSING_ORDER LATE [get_files "$here/nitefury.xdc"]

create_bd_design top

# XDMA: Gen2 x4, 64-bit AXI at 125 MHz, one H2C and one C2H channel in AXI-Stream mode,
# an AXI4-Lite master on BAR0 for the engine's registers (the driver's /dev/xdma0_user).
set xdma [create_bd_cell -type ip -vlnv xilinx.com:ip:xdma xdma_0]
set_property -dict [list \
    CONFIG.mode_selection {Advanced} \
    CONFIG.pl_link_cap_max_link_width {X4} \
    CONFIG.pl_link_cap_max_link_speed {5.0_GT/s} \
    CONFIG.axi_data_width {64_bit} \
    CONFIG.axisten_freq {125} \
    CONFIG.xdma_axi_intf_mm {AXI_Stream} \
    CONFIG.xdma_rnum_chnl {1} \
    CONFIG.xdma_wnum_chnl {1} \
    CONFIG.axilite_master_en {true} \
    CONFIG.axilite_master_size {4} \
    CONFIG.axilite_master_scale {Kilobytes} \
    CONFIG.pf0_msix_enabled {false} \
    CONFIG.xdma_num_usr_irq {1} \
] $xdma

set refclk_buf [create_bd_cell -type ip -vlnv xilinx.com:ip:util_ds_buf refclk_ibuf]
set_property CONFIG.C_BUF_TYPE {IBUFDSGTE} $refclk_buf

# The engine as a module reference; its ports are plain AXI names, so IP integrator infers the
# s_axil (AXI4-Lite), s_axis (H2C) and m_axis (C2H) interfaces.
create_bd_cell -type module -reference sqz_top sqz

create_bd_intf_port -mode Master -vlnv xilinx.com:interface:pcie_7x_mgt_rtl:1.0 pcie_mgt
create_bd_intf_port -mode Slave -vlnv xilinx.com:interface:diff_clock_rtl:1.0 pcie_refclk
create_bd_port -dir I -type rst pcie_perst_n
create_bd_port -dir O pcie_clkreq_n
create_bd_port -dir O led_link_up_n

connect_bd_intf_net [get_bd_intf_ports pcie_mgt] [get_bd_intf_pins xdma_0/pcie_mgt]
connect_bd_intf_net [get_bd_intf_ports pcie_refclk] [get_bd_intf_pins refclk_ibuf/CLK_IN_D]
connect_bd_net [get_bd_pins refclk_ibuf/IBUF_DS_ODIV2] [get_bd_pins xdma_0/sys_clk]
connect_bd_net [get_bd_pins refclk_ibuf/IBUF_OUT] [get_bd_pins xdma_0/sys_clk_gt]
connect_bd_net [get_bd_ports pcie_perst_n] [get_bd_pins xdma_0/sys_rst_n]

set clkreq [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconstant clkreq_low]
set_property CONFIG.CONST_VAL {0} $clkreq
connect_bd_net [get_bd_pins clkreq_low/dout] [get_bd_ports pcie_clkreq_n]
set led [create_bd_cell -type ip -vlnv xilinx.com:ip:util_vector_logic link_led]
set_property -dict [list CONFIG.C_OPERATION {not} CONFIG.C_SIZE {1}] $led
connect_bd_net [get_bd_pins xdma_0/user_lnk_up] [get_bd_pins link_led/Op1]
connect_bd_net [get_bd_pins link_led/Res] [get_bd_ports led_link_up_n]

# Engine clock, reset and buses.
connect_bd_net [get_bd_pins xdma_0/axi_aclk] [get_bd_pins sqz/clk]
connect_bd_net [get_bd_pins xdma_0/axi_aresetn] [get_bd_pins sqz/resetn]
connect_bd_intf_net [get_bd_intf_pins xdma_0/M_AXI_LITE] [get_bd_intf_pins sqz/s_axil]
connect_bd_intf_net [get_bd_intf_pins xdma_0/M_AXIS_H2C_0] [get_bd_intf_pins sqz/s_axis]
connect_bd_intf_net [get_bd_intf_pins sqz/m_axis] [get_bd_intf_pins xdma_0/S_AXIS_C2H_0]
connect_bd_net [get_bd_pins sqz/irq] [get_bd_pins xdma_0/usr_irq_req]
assign_bd_address -target_address_space /xdma_0/M_AXI_LITE [get_bd_addr_segs sqz/s_axil/reg0] -force
set_property range 4K [get_bd_addr_segs xdma_0/M_AXI_LITE/SEG_sqz_reg0]
set_property offset 0x00000000 [get_bd_addr_segs xdma_0/M_AXI_LITE/SEG_sqz_reg0]

validate_bd_design
save_bd_design
make_wrapper -files [get_files top.bd] -top -import
set_property top top_wrapper [current_fileset]

launch_runs impl_1 -to_step write_bitstream -jobs 2
wait_on_run impl_1
open_run impl_1
report_utilization -file "$build_dir/utilization.rpt"
report_timing_summary -file "$build_dir/timing.rpt"
