//! `AccelConfig`: the one configuration struct of the engine, with defaults, derived values,
//! `validate()`, named presets and a stable hash that the bitstream reports in a register so the
//! driver can refuse a card built from another configuration (Gemmini's `GemminiArrayConfig` style).
//!
//! Variants are built from a preset with struct update syntax:
//! `AccelConfig { pixel_lanes: 32, ..AccelConfig::tiny() }`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Width of both AXI4-Stream interfaces in bits (the XDMA IP in AXI-Stream mode, Gen2 x4 at 250 MHz, is 64 bits).
pub const STREAM_BITS: u32 = 64;
/// Bytes per AXI4-Stream beat.
pub const STREAM_BYTES: u32 = STREAM_BITS / 8;
/// AXI4-Lite data width in bits.
pub const AXIL_DATA_BITS: u32 = 32;

/// Every parameter of a generated engine. Field meanings are in the doc comments; derived values
/// are methods so they can never disagree with the fields they come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccelConfig {
    /// Preset name the config was built from (reported by `sqz-host info`).
    pub name: String,
    /// Weight streams that run in parallel, each on its own output channel (PE groups).
    pub pe_groups: u32,
    /// Output pixels computed in parallel by each PE group; all lanes of a group share one weight.
    pub pixel_lanes: u32,
    /// Capacity of the on-chip weight memory in entries (8-bit code + 4-bit relative index each).
    pub weight_entries: u32,
    /// Number of per-layer codebook LUTs (256 entries of `numerics::LUT_BITS` bits each) held on
    /// chip at once.
    pub codebook_slots: u32,
    /// Capacity of the per-output-channel bias memory (int32 words).
    pub bias_words: u32,
    /// Capacity of the activation buffer in bytes (whole layer inputs; a Fire module's squeeze
    /// output, the mid window, shares it: see `act_mid_bytes`).
    pub act_in_bytes: u32,
    /// Largest Fire squeeze output in bytes (it never leaves the chip). It is not a memory of its
    /// own: the planner places this mid window in the activation buffer right after the Fire
    /// module's input, so a Fire module needs input + squeeze output <= `act_in_bytes`. The
    /// squeeze job reads the input and writes the window through the buffer's two ports.
    pub act_mid_bytes: u32,
    /// Capacity of the output-position mask memory in bits (one bit per grid position of the
    /// jobs loaded at once; a Fire module needs three planes).
    pub mask_bits: u32,
    /// Capacity of the max-pool plane buffer in bytes (one conv output channel plane, banked).
    pub pool_bytes: u32,
    /// AXI4-Lite address width in bits (byte addresses).
    pub axil_addr_bits: u32,
    /// Clock the design is constrained for, in MHz.
    pub target_mhz: u32,
}

/// A configuration that cannot be built, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid AccelConfig `{name}`: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub reason: String,
}

/// Names of the presets, in the order `sqz-host info` tries them.
pub const PRESETS: [&str; 4] = ["nitefury", "litefury", "ecp5", "tiny"];

impl Default for AccelConfig {
    fn default() -> Self {
        Self::nitefury()
    }
}

impl AccelConfig {
    /// NiteFury-II (XC7A200T, PCIe Gen2 x4 XDMA): 256 MAC lanes. The weight memory holds the
    /// largest layer (conv10: 105,669 entries) and weights stream per layer: keeping all 448 K
    /// entries on chip would take 150 RAMB36 and push block RAM past the 70 % left beside the
    /// XDMA IP (`AccelConfig { weight_entries: 448 * 1024, ..AccelConfig::nitefury() }` keeps
    /// them resident).
    pub fn nitefury() -> Self {
        AccelConfig {
            name: "nitefury".into(),
            pe_groups: 1,
            pixel_lanes: 256,
            weight_entries: 128 * 1024,
            codebook_slots: 32,
            bias_words: 4096,
            act_in_bytes: 512 * 1024,
            act_mid_bytes: 128 * 1024,
            mask_bits: 32 * 1024,
            pool_bytes: 16 * 1024,
            axil_addr_bits: 12,
            target_mhz: 150,
        }
    }

    /// LiteFury (XC7A100T-2FGG484, PCIe Gen2 x4 XDMA; `crate::board::XC7A100T`): 64 MAC lanes,
    /// sized so the Yosys estimate stays under 70 % of the part's LUTs, DSPs and block RAM
    /// (`cargo run --release -p hdl -- synth --preset litefury --target xc7a100t`).
    ///
    /// The XC7A100T's 135 RAMB36 cannot hold SqueezeNet's largest layers whole (fire3's input
    /// and squeeze output are about 468 KB, conv10's weights 105,669 entries), so the planner
    /// runs those steps in tiles (`crate::job::Tile`): fire2..fire4 in bands of output rows,
    /// fire6..fire9 and conv10 in groups of output channels.
    pub fn litefury() -> Self {
        AccelConfig {
            name: "litefury".into(),
            pe_groups: 1,
            pixel_lanes: 64,
            weight_entries: 32 * 1024,
            codebook_slots: 8,
            bias_words: 1024,
            act_in_bytes: 256 * 1024,
            act_mid_bytes: 64 * 1024,
            mask_bits: 16 * 1024,
            pool_bytes: 16 * 1024,
            axil_addr_bits: 12,
            target_mhz: 150,
        }
    }

    /// Lattice LFE5U-85F (open flow: Yosys + nextpnr-ecp5). Weights are reloaded per layer group.
    pub fn ecp5() -> Self {
        AccelConfig {
            name: "ecp5".into(),
            pe_groups: 1,
            pixel_lanes: 32,
            // Holds the largest single layer (conv10: 105,669 entries); weights reload per layer.
            weight_entries: 128 * 1024,
            codebook_slots: 4,
            bias_words: 1024,
            act_in_bytes: 128 * 1024,
            act_mid_bytes: 32 * 1024,
            mask_bits: 16 * 1024,
            pool_bytes: 16 * 1024,
            axil_addr_bits: 12,
            target_mhz: 150,
        }
    }

    /// A few lanes, for fast Verilator tests. Memories are still large enough for every real layer
    /// (weights reloaded per layer), since simulated memory costs little.
    pub fn tiny() -> Self {
        AccelConfig {
            name: "tiny".into(),
            pe_groups: 1,
            pixel_lanes: 16,
            weight_entries: 128 * 1024,
            codebook_slots: 4,
            bias_words: 1024,
            act_in_bytes: 512 * 1024,
            act_mid_bytes: 128 * 1024,
            mask_bits: 32 * 1024,
            pool_bytes: 16 * 1024,
            axil_addr_bits: 12,
            target_mhz: 150,
        }
    }

    /// Look a preset up by name.
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        match name {
            "nitefury" => Ok(Self::nitefury()),
            "litefury" => Ok(Self::litefury()),
            "ecp5" => Ok(Self::ecp5()),
            "tiny" => Ok(Self::tiny()),
            other => Err(ConfigError {
                name: other.into(),
                reason: format!("unknown preset; known presets: {}", PRESETS.join(", ")),
            }),
        }
    }

    /// Multiply-accumulate units in the engine.
    pub fn mac_lanes(&self) -> u32 {
        self.pe_groups * self.pixel_lanes
    }

    /// Bits of weight storage (12 bits per entry: 8-bit code + 4-bit relative index).
    pub fn weight_memory_bits(&self) -> u64 {
        self.weight_entries as u64 * 12
    }

    /// Whether `total_entries` (all layers of a model, fillers included) fit on chip at once.
    pub fn weights_fit(&self, total_entries: u64) -> bool {
        total_entries <= self.weight_entries as u64
    }

    /// Bytes of each bank of the input activation buffer (one bank per pixel lane).
    pub fn act_in_bank_bytes(&self) -> u32 {
        self.act_in_bytes / self.pixel_lanes
    }

    /// Register address space in bytes.
    pub fn axil_bytes(&self) -> u32 {
        1 << self.axil_addr_bits
    }

    /// Check every constraint the RTL generator relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |reason: String| {
            Err(ConfigError {
                name: self.name.clone(),
                reason,
            })
        };
        let pow2 = |v: u32| v != 0 && v.is_power_of_two();
        // The engine is one weight-broadcast group today (docs/ARCHITECTURE.md explains why and
        // how a second group would use the second BRAM port).
        if self.pe_groups != 1 {
            return err(format!(
                "pe_groups = {} must be 1 (one weight-broadcast group)",
                self.pe_groups
            ));
        }
        if !pow2(self.pixel_lanes) || !(16..=256).contains(&self.pixel_lanes) {
            return err(format!(
                "pixel_lanes = {} must be a power of two in 16..=256",
                self.pixel_lanes
            ));
        }
        for (what, v) in [
            ("mask_bits", self.mask_bits),
            ("pool_bytes", self.pool_bytes),
        ] {
            if !pow2(v) || v < 64 * self.pixel_lanes || v > (1 << 20) {
                return err(format!(
                    "{what} = {v} must be a power of two in 64*pixel_lanes..=1M"
                ));
            }
        }
        if self.mac_lanes() > 1024 {
            return err(format!("{} MAC lanes is more than 1024", self.mac_lanes()));
        }
        if !pow2(self.weight_entries) && self.weight_entries % 1024 != 0 {
            return err(format!(
                "weight_entries = {} must be a multiple of 1024",
                self.weight_entries
            ));
        }
        if self.weight_entries < 1024 || self.weight_entries > (1 << 22) {
            return err(format!(
                "weight_entries = {} must be in 1024..=4M",
                self.weight_entries
            ));
        }
        if !pow2(self.codebook_slots) || self.codebook_slots > 64 {
            return err(format!(
                "codebook_slots = {} must be a power of two <= 64",
                self.codebook_slots
            ));
        }
        if self.bias_words < 1024 || self.bias_words % 1024 != 0 {
            return err(format!(
                "bias_words = {} must be a multiple of 1024 (conv_final has 1000 outputs)",
                self.bias_words
            ));
        }
        for (what, bytes) in [
            ("act_in_bytes", self.act_in_bytes),
            ("act_mid_bytes", self.act_mid_bytes),
        ] {
            if bytes % (self.pixel_lanes * 1024) != 0 && !pow2(bytes / self.pixel_lanes) {
                return err(format!(
                    "{what} = {bytes} must split into pixel_lanes equal banks of whole KiB"
                ));
            }
            if bytes > (1 << 24) {
                return err(format!("{what} = {bytes} exceeds 16 MiB"));
            }
        }
        if !(10..=16).contains(&self.axil_addr_bits) {
            return err(format!(
                "axil_addr_bits = {} must be in 10..=16",
                self.axil_addr_bits
            ));
        }
        if self.target_mhz == 0 || self.target_mhz > 500 {
            return err(format!(
                "target_mhz = {} is not a plausible clock",
                self.target_mhz
            ));
        }
        Ok(())
    }

    /// The canonical text the config hash is computed from: every hardware-relevant field, in order.
    /// The preset name is not part of it: two presets with equal hardware are the same bitstream.
    pub fn canonical(&self) -> String {
        format!(
            "sqz-config-v1;pe_groups={};pixel_lanes={};weight_entries={};codebook_slots={};bias_words={};act_in_bytes={};act_mid_bytes={};mask_bits={};pool_bytes={};axil_addr_bits={};stream_bits={};lut_bits={}",
            self.pe_groups,
            self.pixel_lanes,
            self.weight_entries,
            self.codebook_slots,
            self.bias_words,
            self.act_in_bytes,
            self.act_mid_bytes,
            self.mask_bits,
            self.pool_bytes,
            self.axil_addr_bits,
            STREAM_BITS,
            crate::numerics::LUT_BITS
        )
    }

    /// 32-bit FNV-1a hash of [`canonical`](Self::canonical); the bitstream reports it in
    /// `CONFIG_HASH` and the driver compares it before loading anything.
    pub fn config_hash(&self) -> u32 {
        fnv1a32(self.canonical().as_bytes())
    }

    /// The preset whose hardware this hash identifies, if any.
    pub fn preset_for_hash(hash: u32) -> Option<AccelConfig> {
        PRESETS
            .iter()
            .filter_map(|p| AccelConfig::preset(p).ok())
            .find(|c| c.config_hash() == hash)
    }
}

impl fmt::Display for AccelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} PE groups x {} pixel lanes = {} MAC lanes, {} weight entries, act {} KiB (Fire mid window <= {} KiB inside), hash {:08x}",
            self.name,
            self.pe_groups,
            self.pixel_lanes,
            self.mac_lanes(),
            self.weight_entries,
            self.act_in_bytes / 1024,
            self.act_mid_bytes / 1024,
            self.config_hash()
        )
    }
}

/// 32-bit FNV-1a.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_have_distinct_hashes() {
        let mut hashes = Vec::new();
        for p in PRESETS {
            let c = AccelConfig::preset(p).unwrap();
            c.validate().unwrap();
            assert_eq!(c.name, p);
            hashes.push(c.config_hash());
            assert_eq!(
                AccelConfig::preset_for_hash(c.config_hash()).unwrap().name,
                p
            );
        }
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), PRESETS.len());
    }

    #[test]
    fn nitefury_has_256_lanes_and_holds_the_largest_layer() {
        let c = AccelConfig::nitefury();
        assert_eq!(c.mac_lanes(), 256);
        // conv10, the largest layer, is 105,669 entries; the whole model (415,921 nonzero
        // weights + 6,162 fillers) streams per layer unless a variant holds it.
        assert!(c.weights_fit(105_669));
        assert!(!c.weights_fit(415_921 + 6_162));
        let resident = AccelConfig {
            weight_entries: 448 * 1024,
            ..AccelConfig::nitefury()
        };
        assert!(resident.validate().is_ok() && resident.weights_fit(415_921 + 6_162));
    }

    #[test]
    fn invalid_configs_are_rejected_with_a_reason() {
        let bad = AccelConfig {
            pixel_lanes: 3,
            ..AccelConfig::tiny()
        };
        let e = bad.validate().unwrap_err();
        assert!(e.reason.contains("pixel_lanes"), "{e}");
        assert!(AccelConfig::preset("nope")
            .unwrap_err()
            .reason
            .contains("nitefury"));
        let bad = AccelConfig {
            axil_addr_bits: 40,
            ..AccelConfig::tiny()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn hash_changes_with_hardware_not_name() {
        let a = AccelConfig::tiny();
        let b = AccelConfig {
            name: "renamed".into(),
            ..AccelConfig::tiny()
        };
        let c = AccelConfig {
            pixel_lanes: 32,
            ..AccelConfig::tiny()
        };
        assert_eq!(a.config_hash(), b.config_hash());
        assert_ne!(a.config_hash(), c.config_hash());
        // FNV-1a test vector.
        assert_eq!(fnv1a32(b"a"), 0xe40c292c);
    }
}
