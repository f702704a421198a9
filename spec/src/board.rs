//! The boards the engine is built for, declared once: the FPGA each carries (part name and the
//! resources the synthesis report is measured against), the PCIe bridge between host and engine
//! (the Xilinx XDMA IP, configured as the board vendor's reference design configures it), the
//! configuration flash the card boots from, and the rules the host keeps on the H2C stream.
//!
//! `hdl::board` writes the Vivado flow (block design, constraints, build script) from these
//! values; `hdl::tools::synth` reports resources as a share of [`Fpga`]; the driver pads its
//! writes with [`h2c_padded_len`]. Where a value comes from the vendor (RHS Research's
//! NiteFury-and-LiteFury sample project, `Sample-Projects/Project-0/FPGA`), the doc says so.

use crate::config::{AccelConfig, STREAM_BYTES};

/// An FPGA part and the resources a resource estimate is a share of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fpga {
    /// Short name, also the `hdl synth --target` name.
    pub name: &'static str,
    /// Vivado part (device, package, speed grade).
    pub part: &'static str,
    /// Device and package without the speed grade (openFPGALoader's `--fpga-part`).
    pub device_package: &'static str,
    /// Slice LUTs.
    pub luts: u32,
    /// Slice flip-flops.
    pub ffs: u32,
    /// DSP48E1 slices.
    pub dsps: u32,
    /// 36 Kb block RAMs (each two RAMB18).
    pub ramb36: u32,
}

/// XC7A200T-2FBG484 (NiteFury-II): 134,600 LUT, 269,200 FF, 740 DSP48E1, 365 RAMB36 (DS180).
pub const XC7A200T: Fpga = Fpga {
    name: "xc7a200t",
    part: "xc7a200tfbg484-2",
    device_package: "xc7a200tfbg484",
    luts: 134_600,
    ffs: 269_200,
    dsps: 740,
    ramb36: 365,
};

/// XC7A100T-2FGG484 (LiteFury): 63,400 LUT, 126,800 FF, 240 DSP48E1, 135 RAMB36 (DS180).
pub const XC7A100T: Fpga = Fpga {
    name: "xc7a100t",
    part: "xc7a100tfgg484-2",
    device_package: "xc7a100tfgg484",
    luts: 63_400,
    ffs: 126_800,
    dsps: 240,
    ramb36: 135,
};

/// The part named `name` (`hdl synth --target`), if it is one of ours.
pub fn fpga(name: &str) -> Option<Fpga> {
    [XC7A200T, XC7A100T].into_iter().find(|f| f.name == name)
}

/// Share of the part a design may take, in percent, so that the XDMA IP, the clock-crossing
/// IP and Vivado's placer keep room (the Yosys estimate is held under this).
pub const FIT_PERCENT: u32 = 70;

/// The XDMA IP (PG195) as the board's block design configures it: PCIe Gen2 x4 on the 7-series
/// integrated block, one H2C and one C2H channel in AXI4-Stream mode, the AXI4-Lite master on
/// BAR0 for the engine's registers (the driver's `<prefix>_user`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Xdma {
    /// Link rate per lane in MT/s (Gen2: 5000).
    pub link_mts: u32,
    /// Link width in lanes.
    pub lanes: u32,
    /// Width of the XDMA's AXI4-Stream (and AXI) data path in bits.
    pub axi_bits: u32,
    /// The XDMA's user clock `axi_aclk` in MHz.
    pub axi_mhz: u32,
    /// PCIe reference clock in MHz (the M.2 slot's REFCLK).
    pub refclk_mhz: u32,
    /// PCI vendor and device ID the card enumerates with (the XDMA Linux driver's table
    /// `xdma_mod.c` lists 10ee:7011).
    pub vendor_id: u16,
    pub device_id: u16,
    /// PCI class code (base, sub, interface): 0x12 = processing accelerator.
    pub class_code: u32,
    /// Seconds the XDMA Linux driver waits for one H2C or C2H transfer before failing it
    /// (`h2c_timeout` / `c2h_timeout` module parameters, default 10, `cdev_sgdma.c`).
    pub driver_timeout_s: u32,
}

impl Xdma {
    /// Bytes of one XDMA-side stream beat.
    pub const fn axi_bytes(&self) -> u32 {
        self.axi_bits / 8
    }

    /// The link's data rate after 8b/10b coding (Gen1/Gen2), in Mbit/s.
    pub const fn link_mbps(&self) -> u64 {
        self.link_mts as u64 * self.lanes as u64 * 8 / 10
    }

    /// The XDMA's `pl_link_cap_max_link_speed` value.
    pub fn speed_param(&self) -> String {
        format!(
            "{}.{}_GT/s",
            self.link_mts / 1000,
            self.link_mts % 1000 / 100
        )
    }
}

/// Gen2 x4, 128-bit AXI at 125 MHz, 100 MHz refclk: the vendor's XDMA (`Top_xdma_0_0.xci`:
/// `pl_link_cap_max_link_speed = 5.0_GT/s`, `pl_link_cap_max_link_width = X4`,
/// `axi_data_width = 128_bit`, `axisten_freq = 125`, `ref_clk_freq = 100_MHz`,
/// `pf0_device_id = 7011`, `pf0_class_code = 120000`).
pub const XDMA_GEN2_X4: Xdma = Xdma {
    link_mts: 5000,
    lanes: 4,
    axi_bits: 128,
    axi_mhz: 125,
    refclk_mhz: 100,
    vendor_id: 0x10ee,
    device_id: 0x7011,
    class_code: 0x12_00_00,
    driver_timeout_s: 10,
};

/// The SPI configuration flash the FPGA boots from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flash {
    /// Vivado's configuration-memory part (the vendor's `add-flash-s25fl256s-0.tcl`).
    pub vivado_part: &'static str,
    /// `write_cfgmem -size`, in MB (the vendor's `make-mcs.tcl`: 16).
    pub image_mb: u32,
    /// `write_cfgmem -interface` (the vendor's `CONFIG_MODE SPIx4`).
    pub interface: &'static str,
}

/// Spansion S25FL256S on both boards.
pub const S25FL256S: Flash = Flash {
    vivado_part: "s25fl256sxxxxxx0-spi-x1_x2_x4",
    image_mb: 16,
    interface: "SPIx4",
};

/// A board: its FPGA, the preset built for it, its PCIe bridge and flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// `hdl vivado --board` name.
    pub name: &'static str,
    pub fpga: Fpga,
    /// The `AccelConfig` preset built for this board.
    pub preset: &'static str,
    pub xdma: Xdma,
    pub flash: Flash,
}

impl Board {
    /// The board's engine configuration.
    pub fn config(&self) -> AccelConfig {
        AccelConfig::preset(self.preset).expect("a board names an existing preset")
    }
}

/// RHS Research NiteFury-II: XC7A200T-2FBG484, M.2 M-key, PCIe Gen2 x4.
pub const NITEFURY: Board = Board {
    name: "nitefury",
    fpga: XC7A200T,
    preset: "nitefury",
    xdma: XDMA_GEN2_X4,
    flash: S25FL256S,
};

/// RHS Research LiteFury: XC7A100T-2FGG484, same board and pinout as the NiteFury-II.
pub const LITEFURY: Board = Board {
    name: "litefury",
    fpga: XC7A100T,
    preset: "litefury",
    xdma: XDMA_GEN2_X4,
    flash: S25FL256S,
};

/// Every board.
pub const BOARDS: [Board; 2] = [NITEFURY, LITEFURY];

/// The board named `name`.
pub fn board(name: &str) -> Option<Board> {
    BOARDS.into_iter().find(|b| b.name == name)
}

/// Every H2C transfer the host writes is a whole number of engine stream beats
/// ([`STREAM_BYTES`] = 8 bytes): the host pads a transfer to this multiple (packets already are
/// whole 64-bit beats, `spec::packet`), so `tkeep` is all ones on every H2C beat the engine sees.
/// The engine does not read `s_axis_tkeep`; the XDMA's 128-bit beat that ends a transfer of an
/// odd number of 8-byte beats carries one null half, which the width converter in front of the
/// engine drops (the block design's `axis_dwidth_converter`, tkeep enabled).
pub const H2C_TRANSFER_MULTIPLE: usize = STREAM_BYTES as usize;

/// `len` bytes rounded up to whole H2C beats ([`H2C_TRANSFER_MULTIPLE`]).
pub const fn h2c_padded_len(len: usize) -> usize {
    len.div_ceil(H2C_TRANSFER_MULTIPLE) * H2C_TRANSFER_MULTIPLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_name_their_presets_and_parts() {
        for b in BOARDS {
            let c = b.config();
            c.validate().unwrap();
            assert_eq!(c.name, b.preset);
            assert_eq!(fpga(b.fpga.name), Some(b.fpga));
            assert!(b.fpga.part.starts_with(b.fpga.device_package));
            assert_eq!(board(b.name), Some(b));
        }
        assert_eq!(XDMA_GEN2_X4.speed_param(), "5.0_GT/s");
        assert_eq!(XDMA_GEN2_X4.axi_bytes(), 16);
        // Gen2 x4: 4 lanes x 5 GT/s x 8/10 = 16 Gbit/s, exactly 128 bits at 125 MHz.
        assert_eq!(XDMA_GEN2_X4.link_mbps(), 16_000);
    }

    #[test]
    fn h2c_transfers_pad_to_whole_beats() {
        assert_eq!(h2c_padded_len(0), 0);
        assert_eq!(h2c_padded_len(1), 8);
        assert_eq!(h2c_padded_len(8), 8);
        assert_eq!(h2c_padded_len(17), 24);
        assert_eq!(H2C_TRANSFER_MULTIPLE as u32, STREAM_BYTES);
    }
}
