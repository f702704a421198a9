//! The board flow (`hdl::board`), checked without Vivado: the XDC names only ports the block
//! design's wrapper has and places every one of them on the vendor's pin; every port of `sqz_top`
//! is connected in `build.tcl`; the XDMA parameters are a combination PG195/PG054 allow for the
//! 7-series Gen2 block; the engine clock and the converters follow the preset and `spec`.

use hdl::board::{self, PortKind};
use spec::board::{Board, BOARDS};
use spec::{AccelConfig, STREAM_BYTES};
use std::collections::BTreeSet;

/// Port names in `get_ports {...}` / `get_ports name` of an XDC.
fn xdc_ports(xdc: &str) -> Vec<String> {
    xdc.split("[get_ports ")
        .skip(1)
        .map(|r| {
            let r = r.trim_start();
            if let Some(r) = r.strip_prefix('{') {
                r[..r.find('}').unwrap()].to_string()
            } else {
                r[..r.find(']').unwrap()].trim().to_string()
            }
        })
        .collect()
}

/// `value` of `CONFIG.<key> {value}` in a TCL text, after the line that contains `anchor`.
fn config_after(tcl: &str, anchor: &str, key: &str) -> String {
    let from = tcl
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} in build.tcl"));
    let pat = format!("CONFIG.{key} {{");
    let at = from
        + tcl[from..]
            .find(&pat)
            .unwrap_or_else(|| panic!("{key} after {anchor}"))
        + pat.len();
    tcl[at..at + tcl[at..].find('}').unwrap()].to_string()
}

#[test]
fn xdc_names_wrapper_ports_on_the_vendors_pins() {
    // The vendor's early.xdc/normal.xdc (NiteFury-II and LiteFury are the same), as facts:
    // (port, package pin), and (pipe_lane cell, GT site).
    let vendor_pins = [
        ("pcie_mgt_rxn[0]", "A10"),
        ("pcie_mgt_rxp[0]", "B10"),
        ("pcie_mgt_txn[0]", "A6"),
        ("pcie_mgt_txp[0]", "B6"),
        ("pcie_mgt_rxn[1]", "A8"),
        ("pcie_mgt_rxp[1]", "B8"),
        ("pcie_mgt_txn[1]", "A4"),
        ("pcie_mgt_txp[1]", "B4"),
        ("pcie_mgt_rxn[2]", "C11"),
        ("pcie_mgt_rxp[2]", "D11"),
        ("pcie_mgt_txn[2]", "C5"),
        ("pcie_mgt_txp[2]", "D5"),
        ("pcie_mgt_rxn[3]", "C9"),
        ("pcie_mgt_rxp[3]", "D9"),
        ("pcie_mgt_txn[3]", "C7"),
        ("pcie_mgt_txp[3]", "D7"),
        ("pcie_clkin_clk_p[0]", "F6"),
        ("pcie_clkin_clk_n[0]", "E6"),
        ("pcie_clkreq_l[0]", "G1"),
        ("pci_reset", "J1"),
        ("LED_A3", "G4"),
        ("LED_A4", "H4"),
    ];
    let vendor_gts = [
        (3, "GTPE2_CHANNEL_X0Y7"),
        (0, "GTPE2_CHANNEL_X0Y6"),
        (2, "GTPE2_CHANNEL_X0Y5"),
        (1, "GTPE2_CHANNEL_X0Y4"),
    ];
    for b in BOARDS {
        let cfg = b.config();
        let (early, normal) = (board::early_xdc(&b), board::normal_xdc(&b, &cfg));
        let wrapper: BTreeSet<String> = board::wrapper_ports(&b).into_iter().collect();
        let xdc = format!("{early}{normal}");
        for p in xdc_ports(&xdc) {
            assert!(
                wrapper.contains(&p),
                "{}: the XDC names port {p}, which Top_wrapper does not have ({wrapper:?})",
                b.name
            );
        }
        // Every wrapper port is on the vendor's pin, and every pin line is the vendor's.
        for p in &wrapper {
            let (_, pin) = vendor_pins
                .iter()
                .find(|(v, _)| v == p)
                .unwrap_or_else(|| panic!("{p} is not a vendor pin"));
            let line_braced = format!("set_property PACKAGE_PIN {pin} [get_ports {{{p}}}]");
            let line_plain = format!("set_property PACKAGE_PIN {pin} [get_ports {p}]");
            assert!(
                xdc.contains(&line_braced) || xdc.contains(&line_plain),
                "{}: {p} is not placed on {pin}",
                b.name
            );
        }
        assert_eq!(xdc.matches("PACKAGE_PIN").count(), wrapper.len());
        for (lane, gt) in vendor_gts {
            let line = format!(
                "set_property LOC {gt} [get_cells {{{}}}]",
                board::gt_cell(lane)
            );
            assert!(early.contains(&line), "{}: {line}", b.name);
        }
        // The vendor's cell path: the BD instance Top_i, the XDMA xdma_0, its IP Top_xdma_0_0.
        assert!(board::gt_cell(0).starts_with(
            "Top_i/xdma_0/inst/Top_xdma_0_0_pcie2_to_pcie3_wrapper_i/pcie2_ip_i/inst/inst/gt_top_i/"
        ));
        // I/O standards and configuration, as the vendor's.
        for p in ["pcie_clkreq_l[0]", "pci_reset", "LED_A3", "LED_A4"] {
            assert!(
                xdc.contains(&format!("IOSTANDARD LVCMOS33 [get_ports {{{p}}}]"))
                    || xdc.contains(&format!("IOSTANDARD LVCMOS33 [get_ports {p}]")),
                "{p}"
            );
        }
        for line in [
            "set_false_path -from [get_ports pci_reset]",
            "set_property BITSTREAM.CONFIG.OVERTEMPPOWERDOWN ENABLE [current_design]",
            "set_property BITSTREAM.CONFIG.EXTMASTERCCLK_EN Div-1 [current_design]",
            "set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]",
            "set_property CONFIG_MODE SPIx4 [current_design]",
            "set_property BITSTREAM.CONFIG.SPI_FALL_EDGE YES [current_design]",
            "set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]",
            "set_property CONFIG_VOLTAGE 3.3 [current_design]",
            "set_property CFGBVS VCCO [current_design]",
            "set_property PULLUP true [get_ports LED_A3]",
            "set_property DRIVE 8 [get_ports LED_A3]",
        ] {
            assert!(normal.contains(line), "{}: {line}", b.name);
        }
        // The TCL creates exactly these external ports and processes early.xdc EARLY.
        let tcl = board::build_tcl(&b, &cfg);
        for (name, kind) in board::external_ports() {
            let made = match kind {
                PortKind::DiffClock | PortKind::PcieMgt => {
                    tcl.contains("create_bd_intf_port") && tcl.contains(&format!(" {name}\n"))
                }
                PortKind::Scalar | PortKind::Bit0 => tcl.contains(&format!(" {name}\n")),
            };
            assert!(made, "{}: build.tcl does not create port {name}", b.name);
        }
        assert!(tcl.contains("create_bd_port -dir O -from 0 -to 0 pcie_clkreq_l\n"));
        assert!(tcl.contains("set_property PROCESSING_ORDER EARLY [get_files \"$here/early.xdc\"]"));
        assert!(tcl.contains(&format!("-part {}", b.fpga.part)));
    }
}

/// Interface signals IP integrator infers from `<interface>_<signal>` names.
const AXI_LITE: [&str; 17] = [
    "awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp", "bvalid",
    "bready", "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready",
];
const AXIS: [&str; 5] = ["tdata", "tkeep", "tlast", "tvalid", "tready"];

fn check_every_port_connected(b: &Board, cfg: &AccelConfig) {
    let tcl = board::build_tcl(b, cfg);
    let v = hdl::emit::verilog(cfg).expect("emit");
    let start = v.find("module sqz_top(").expect("module sqz_top") + "module sqz_top(".len();
    let end = start + v[start..].find(");").expect("end of port list");
    let ports: Vec<&str> = v[start..end].split(',').map(str::trim).collect();
    assert!(ports.len() > 20, "{ports:?}");
    let cell = board::ENGINE_CELL;
    for p in &ports {
        let iface = board::ENGINE_INTERFACES
            .iter()
            .find(|i| p.starts_with(&format!("{i}_")));
        match iface {
            Some(i) => {
                let sig = &p[i.len() + 1..];
                let known = if *i == "s_axil" {
                    AXI_LITE.contains(&sig)
                } else {
                    AXIS.contains(&sig)
                };
                assert!(known, "{p}: IP integrator would not infer it into {i}");
                assert!(
                    tcl.contains("connect_bd_intf_net")
                        && tcl.contains(&format!("[get_bd_intf_pins {cell}/{i}]")),
                    "{}: interface {i} (port {p}) is not connected",
                    b.name
                );
            }
            None => assert!(
                tcl.lines().any(|l| l.starts_with("connect_bd_net")
                    && l.contains(&format!("[get_bd_pins {cell}/{p}]"))),
                "{}: sqz_top port {p} is not connected in build.tcl",
                b.name
            ),
        }
    }
    // And the TCL names nothing the engine lacks.
    for part in tcl.split(&format!("{cell}/")).skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name == "s_axil" && part.starts_with("s_axil/reg0") {
            continue;
        }
        assert!(
            ports
                .iter()
                .any(|p| *p == name || p.starts_with(&format!("{name}_"))),
            "build.tcl uses {cell}/{name}, which sqz_top does not have"
        );
    }
    // Every converter clock and reset pin is driven.
    for pin in [
        "h2c_width/aclk",
        "h2c_cdc/s_axis_aclk",
        "h2c_cdc/m_axis_aclk",
        "c2h_cdc/s_axis_aclk",
        "c2h_cdc/m_axis_aclk",
        "c2h_width/aclk",
        "axil_cdc/s_axi_aclk",
        "axil_cdc/m_axi_aclk",
        "h2c_cdc/m_axis_aresetn",
        "axil_cdc/m_axi_aresetn",
    ] {
        assert!(tcl.contains(pin), "{pin}");
    }
}

#[test]
fn every_sqz_top_port_is_connected() {
    for b in BOARDS {
        check_every_port_connected(&b, &b.config());
    }
}

/// PG054 (7 Series Integrated Block for PCI Express, which the XDMA wraps on 7-series; PG195
/// allows 64- and 128-bit there): the AXI width and user clock each link speed and width allows.
/// (link GT/s x 10, lanes, AXI bits, MHz x 10).
const PG054_WIDTH_CLOCK: [(u32, u32, u32, u32); 17] = [
    (25, 1, 64, 625),
    (25, 1, 64, 1250),
    (25, 1, 64, 2500),
    (50, 1, 64, 625),
    (50, 1, 64, 1250),
    (50, 1, 64, 2500),
    (25, 2, 64, 625),
    (25, 2, 64, 1250),
    (25, 2, 64, 2500),
    (50, 2, 64, 1250),
    (50, 2, 64, 2500),
    (25, 4, 64, 1250),
    (25, 4, 64, 2500),
    (50, 4, 64, 2500),
    (50, 4, 128, 1250),
    (25, 8, 128, 1250),
    (50, 8, 128, 2500),
];

#[test]
fn xdma_parameters_are_a_valid_gen2_combination() {
    // Every row carries the link's data rate after 8b/10b or more (AXI Mbit/s = bits x MHz;
    // link Mbit/s = GT/s x 1000 x lanes x 0.8), and 64-bit at 125 MHz is not one for Gen2 x4.
    for (gts10, lanes, bits, mhz10) in PG054_WIDTH_CLOCK {
        assert!(
            bits * mhz10 >= gts10 * lanes * 800,
            "{gts10} {lanes} {bits} {mhz10}"
        );
    }
    assert!(!PG054_WIDTH_CLOCK.contains(&(50, 4, 64, 1250)));
    let x = spec::board::XDMA_GEN2_X4;
    assert!(x.axi_bits as u64 * x.axi_mhz as u64 >= x.link_mbps());
    for b in BOARDS {
        let cfg = b.config();
        let tcl = board::build_tcl(&b, &cfg);
        let x = "xilinx.com:ip:xdma";
        let speed = config_after(&tcl, x, "pl_link_cap_max_link_speed");
        let width = config_after(&tcl, x, "pl_link_cap_max_link_width");
        let bits = config_after(&tcl, x, "axi_data_width");
        let mhz = config_after(&tcl, x, "axisten_freq");
        let gts: u32 = match speed.as_str() {
            "2.5_GT/s" => 25,
            "5.0_GT/s" => 50,
            s => panic!("{s} is not a 7-series Gen1/Gen2 speed"),
        };
        let lanes: u32 = width.trim_start_matches('X').parse().unwrap();
        let bits: u32 = bits.trim_end_matches("_bit").parse().unwrap();
        let mhz10: u32 = mhz.parse::<u32>().unwrap() * 10;
        assert!(
            PG054_WIDTH_CLOCK.contains(&(gts, lanes, bits, mhz10)),
            "{}: {speed} {width} with {bits}-bit AXI at {mhz} MHz is not a valid combination",
            b.name
        );
        // The vendor's: Gen2 x4, 128-bit at 125 MHz, 100 MHz refclk, AXI-Lite master on.
        assert_eq!((gts, lanes, bits, mhz10), (50, 4, 128, 1250));
        assert_eq!(config_after(&tcl, x, "ref_clk_freq"), "100_MHz");
        assert_eq!(config_after(&tcl, x, "axilite_master_en"), "true");
        assert_eq!(config_after(&tcl, x, "xdma_axi_intf_mm"), "AXI_Stream");
        assert_eq!(config_after(&tcl, x, "pf0_device_id"), "7011");
        // 7-series: sys_clk from the IBUFDS_GTE2, no sys_clk_gt.
        assert!(!tcl.contains("xdma_0/sys_clk_gt"));
        assert!(tcl.contains("set_property CONFIG.C_BUF_TYPE {IBUFDSGTE}"));
        assert!(tcl.contains(
            "connect_bd_net [get_bd_pins util_ds_buf/IBUF_OUT] [get_bd_pins xdma_0/sys_clk]"
        ));
        assert!(
            tcl.contains("connect_bd_net [get_bd_ports pci_reset] [get_bd_pins xdma_0/sys_rst_n]")
        );
        assert!(tcl.contains("CONFIG.CONST_VAL {0}"));
    }
}

#[test]
fn engine_clock_and_converters_follow_the_preset() {
    for b in BOARDS {
        let cfg = b.config();
        let tcl = board::build_tcl(&b, &cfg);
        let x = b.xdma;
        let f = |anchor: &str, key: &str| config_after(&tcl, anchor, key);
        assert_eq!(
            f("xilinx.com:ip:clk_wiz", "CLKOUT1_REQUESTED_OUT_FREQ"),
            format!("{}.000", cfg.target_mhz)
        );
        assert_eq!(
            f("xilinx.com:ip:clk_wiz", "PRIM_IN_FREQ"),
            format!("{}.000", x.axi_mhz)
        );
        assert!(tcl.contains(
            "connect_bd_net [get_bd_pins xdma_0/axi_aclk] [get_bd_pins engine_clk/clk_in1]"
        ));
        assert!(
            tcl.contains("connect_bd_net [get_bd_pins engine_clk/clk_out1] [get_bd_pins sqz/clk]")
        );
        assert!(tcl.contains(
            "connect_bd_net [get_bd_pins engine_rst/peripheral_aresetn] [get_bd_pins sqz/resetn]"
        ));
        assert_eq!(
            f("-reference sqz_top", "FREQ_HZ"),
            format!("{}000000", cfg.target_mhz)
        );
        let xb = x.axi_bytes().to_string();
        let eb = STREAM_BYTES.to_string();
        assert_eq!(f("h2c_width]", "S_TDATA_NUM_BYTES"), xb);
        assert_eq!(f("h2c_width]", "M_TDATA_NUM_BYTES"), eb);
        assert_eq!(f("h2c_cdc]", "TDATA_NUM_BYTES"), eb);
        assert_eq!(f("c2h_cdc]", "TDATA_NUM_BYTES"), eb);
        assert_eq!(f("c2h_width]", "S_TDATA_NUM_BYTES"), eb);
        assert_eq!(f("c2h_width]", "M_TDATA_NUM_BYTES"), xb);
        assert_eq!(f("axil_cdc]", "PROTOCOL"), "AXI4LITE");
        // The stream path: XDMA -> width -> clock -> engine, and back.
        for (a, z) in [
            ("xdma_0/M_AXIS_H2C_0", "h2c_width/S_AXIS"),
            ("h2c_width/M_AXIS", "h2c_cdc/S_AXIS"),
            ("h2c_cdc/M_AXIS", "sqz/s_axis"),
            ("sqz/m_axis", "c2h_cdc/S_AXIS"),
            ("c2h_cdc/M_AXIS", "c2h_width/S_AXIS"),
            ("c2h_width/M_AXIS", "xdma_0/S_AXIS_C2H_0"),
            ("xdma_0/M_AXI_LITE", "axil_cdc/S_AXI"),
            ("axil_cdc/M_AXI", "sqz/s_axil"),
        ] {
            let line = format!("connect_bd_intf_net [get_bd_intf_pins {a}] [get_bd_intf_pins {z}]");
            assert!(tcl.contains(&line), "{}: {line}", b.name);
        }
        // The flow checks its runs and timing, and writes the bitstream and the flash image.
        for must in [
            "sqz_check_run synth_1",
            "sqz_check_run impl_1",
            "STATS.WNS",
            "STATS.WHS",
            "All user specified timing constraints are met",
            "write_bitstream -force",
            "write_cfgmem -force -format mcs -size 16 -interface SPIx4",
            "exit 1",
        ] {
            assert!(tcl.contains(must), "{}: {must}", b.name);
        }
        // The clock-domain crossing of the interrupt.
        assert!(tcl.contains("[get_bd_pins sqz_irq_sync/irq_out] [get_bd_pins xdma_0/usr_irq_req]"));
        assert!(board::irq_sync_verilog().contains("ASYNC_REG"));
    }
}
