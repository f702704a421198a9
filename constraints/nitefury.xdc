# NiteFury-II (RHS Research): XC7A200T-2FBG484, M.2 M-key, PCIe Gen2 x4 through the Xilinx XDMA IP.
# Pin facts from the board vendor's public sample projects (RHSResearchLLC/NiteFury-and-LiteFury).
# The board's lane order does not match what IP integrator picks, so the GT channels are placed here
# and this file must be processed LATE (create_project.tcl sets PROCESSING_ORDER LATE).

# ---- PCIe x4 lanes: package pins and GTP channel per lane ------------------------------------
set_property PACKAGE_PIN B10 [get_ports {pcie_mgt_rxp[0]}]
set_property PACKAGE_PIN A10 [get_ports {pcie_mgt_rxn[0]}]
set_property PACKAGE_PIN B6  [get_ports {pcie_mgt_txp[0]}]
set_property PACKAGE_PIN A6  [get_ports {pcie_mgt_txn[0]}]
set_property PACKAGE_PIN B8  [get_ports {pcie_mgt_rxp[1]}]
set_property PACKAGE_PIN A8  [get_ports {pcie_mgt_rxn[1]}]
set_property PACKAGE_PIN B4  [get_ports {pcie_mgt_txp[1]}]
set_property PACKAGE_PIN A4  [get_ports {pcie_mgt_txn[1]}]
set_property PACKAGE_PIN D11 [get_ports {pcie_mgt_rxp[2]}]
set_property PACKAGE_PIN C11 [get_ports {pcie_mgt_rxn[2]}]
set_property PACKAGE_PIN D5  [get_ports {pcie_mgt_txp[2]}]
set_property PACKAGE_PIN C5  [get_ports {pcie_mgt_txn[2]}]
set_property PACKAGE_PIN D9  [get_ports {pcie_mgt_rxp[3]}]
set_property PACKAGE_PIN C9  [get_ports {pcie_mgt_rxn[3]}]
set_property PACKAGE_PIN D7  [get_ports {pcie_mgt_txp[3]}]
set_property PACKAGE_PIN C7  [get_ports {pcie_mgt_txn[3]}]
set_property LOC GTPE2_CHANNEL_X0Y7 [get_cells -hier -filter {NAME =~ *pipe_lane[3].gt_wrapper_i/gtp_channel.gtpe2_channel_i}]
set_property LOC GTPE2_CHANNEL_X0Y6 [get_cells -hier -filter {NAME =~ *pipe_lane[0].gt_wrapper_i/gtp_channel.gtpe2_channel_i}]
set_property LOC GTPE2_CHANNEL_X0Y5 [get_cells -hier -filter {NAME =~ *pipe_lane[2].gt_wrapper_i/gtp_channel.gtpe2_channel_i}]
set_property LOC GTPE2_CHANNEL_X0Y4 [get_cells -hier -filter {NAME =~ *pipe_lane[1].gt_wrapper_i/gtp_channel.gtpe2_channel_i}]

# ---- PCIe reference clock (100 MHz) and side-band ---------------------------------------------
set_property PACKAGE_PIN F6 [get_ports {pcie_refclk_p[0]}]
set_property PACKAGE_PIN E6 [get_ports {pcie_refclk_n[0]}]
create_clock -name pcie_refclk -period 10.000 [get_ports {pcie_refclk_p[0]}]
set_property PACKAGE_PIN J1 [get_ports pcie_perst_n]
set_property IOSTANDARD LVCMOS33 [get_ports pcie_perst_n]
set_property PULLUP true [get_ports pcie_perst_n]
# PERST# is asynchronous; the XDMA IP resynchronises it.
set_false_path -from [get_ports pcie_perst_n]
set_property PACKAGE_PIN G1 [get_ports pcie_clkreq_n]
set_property IOSTANDARD LVCMOS33 [get_ports pcie_clkreq_n]

# ---- Status LED: lit while the PCIe link is up ------------------------------------------------
set_property PACKAGE_PIN G3 [get_ports led_link_up_n]
set_property IOSTANDARD LVCMOS33 [get_ports led_link_up_n]
set_false_path -to [get_ports led_link_up_n]

# ---- The engine runs on the XDMA user clock (axi_aclk, 125 MHz for Gen2 x4 / 64-bit, created
# by the IP). For a 150 MHz engine clock add an MMCM and AXI clock converters in the block design.

# ---- Configuration: quad SPI at full rate so the FPGA is up before PCIe enumeration ------------
set_property CONFIG_VOLTAGE 3.3 [current_design]
set_property CFGBVS VCCO [current_design]
set_property CONFIG_MODE SPIx4 [current_design]
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]
set_property BITSTREAM.CONFIG.EXTMASTERCCLK_EN Div-1 [current_design]
set_property BITSTREAM.CONFIG.SPI_FALL_EDGE YES [current_design]
set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]
set_property BITSTREAM.CONFIG.OVERTEMPPOWERDOWN ENABLE [current_design]
