//! The register map, declared once as a table (LiteX CSR style). The RTL register file is
//! generated from [`REGISTERS`], the driver uses the typed constants below, and
//! [`to_markdown`], [`to_json`] and [`to_c_header`] export the same table for people, scripts
//! and C code. Offsets are byte addresses on the AXI4-Lite bus; every register is 32 bits wide.
//!
//! An unmapped address answers (reads return 0 with `SLVERR`, writes are dropped with `SLVERR`),
//! so a wrong offset never hangs the bus.

use crate::descriptor::DESC_WORDS;
use serde::Serialize;

/// The value of the `ID` register: ASCII "SQZ1".
pub const ID_VALUE: u32 = 0x5351_5A31;
/// Engine version reported in `VERSION` (major, minor, patch).
pub const VERSION: (u8, u8, u8) = (0, 1, 0);
/// AXI response code for an access to an unmapped address.
pub const RESP_SLVERR: u32 = 2;

/// Who may do what to a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Access {
    /// Read-only: written by the hardware.
    RO,
    /// Read-write: written by the host, read back unchanged.
    RW,
    /// Write-only pulse bits: writing 1 triggers an action for one cycle; reads return 0.
    WO,
    /// Read, write 1 to clear (sticky status bits).
    W1C,
}

/// A bit field inside a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub lsb: u32,
    pub width: u32,
    pub description: &'static str,
}

impl Field {
    /// Mask of the field in place.
    pub const fn mask(&self) -> u32 {
        (if self.width >= 32 {
            u32::MAX
        } else {
            (1u32 << self.width) - 1
        }) << self.lsb
    }
    /// Extract the field from a register value.
    pub const fn get(&self, reg: u32) -> u32 {
        (reg & self.mask()) >> self.lsb
    }
    /// Return `reg` with the field replaced by `value` (truncated to the field width).
    pub const fn set(&self, reg: u32, value: u32) -> u32 {
        (reg & !self.mask()) | ((value << self.lsb) & self.mask())
    }
    /// The field set to `value`, all other bits 0.
    pub const fn val(&self, value: u32) -> u32 {
        self.set(0, value)
    }
}

/// One register, or an array of `count` consecutive registers (stride 4 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Register {
    pub name: &'static str,
    pub offset: u32,
    pub access: Access,
    /// Reset value; for RO registers whose value is fixed at build time (`ID`, `CONFIG_HASH`, ...)
    /// the generator fills the real value from the config.
    pub reset: u32,
    /// Number of consecutive 32-bit registers (1 for a plain register).
    pub count: u32,
    pub fields: &'static [Field],
    pub description: &'static str,
}

impl Register {
    /// Byte offset of element `i` of a register array.
    pub const fn at(&self, i: u32) -> u32 {
        self.offset + 4 * i
    }
    /// One past the last byte the register (array) occupies.
    pub const fn end(&self) -> u32 {
        self.offset + 4 * self.count
    }
    /// Names of the fields that are nonzero in `value` (for error and status messages).
    pub fn set_fields(&self, value: u32) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter(|f| f.get(value) != 0)
            .map(|f| f.name)
            .collect()
    }
    /// Whether the host can write it.
    pub const fn writable(&self) -> bool {
        !matches!(self.access, Access::RO)
    }
}

macro_rules! field {
    ($name:literal, $lsb:expr, $width:expr, $desc:literal) => {
        Field {
            name: $name,
            lsb: $lsb,
            width: $width,
            description: $desc,
        }
    };
}

const WHOLE: &[Field] = &[];

// ---- identification -------------------------------------------------------------------------
pub const ID: Register = Register {
    name: "ID",
    offset: 0x000,
    access: Access::RO,
    reset: ID_VALUE,
    count: 1,
    fields: WHOLE,
    description: "Magic number 0x53515A31 (\"SQZ1\"): this is an sqz engine.",
};
pub const VERSION_FIELDS: [Field; 3] = [
    field!("PATCH", 0, 8, "Patch version."),
    field!("MINOR", 8, 8, "Minor version."),
    field!(
        "MAJOR",
        16,
        8,
        "Major version: the descriptor and packet formats change only with it."
    ),
];
pub const VERSION_REG: Register = Register {
    name: "VERSION",
    offset: 0x004,
    access: Access::RO,
    reset: ((VERSION.0 as u32) << 16) | ((VERSION.1 as u32) << 8) | VERSION.2 as u32,
    count: 1,
    fields: &VERSION_FIELDS,
    description: "Engine version.",
};
pub const CONFIG_HASH: Register = Register {
    name: "CONFIG_HASH",
    offset: 0x008,
    access: Access::RO,
    reset: 0,
    count: 1,
    fields: WHOLE,
    description: "FNV-1a hash of the AccelConfig the bitstream was generated from (AccelConfig::config_hash).",
};
pub const CAPS_FIELDS: [Field; 2] = [
    field!("PE_GROUPS", 0, 8, "Number of PE groups (weight streams)."),
    field!("PIXEL_LANES", 8, 12, "Pixel lanes per PE group."),
];
pub const CAPS: Register = Register {
    name: "CAPS",
    offset: 0x00C,
    access: Access::RO,
    reset: 0,
    count: 1,
    fields: &CAPS_FIELDS,
    description: "Array shape, for humans; the driver trusts CONFIG_HASH.",
};
pub const WEIGHT_CAP: Register = Register {
    name: "WEIGHT_CAP",
    offset: 0x010,
    access: Access::RO,
    reset: 0,
    count: 1,
    fields: WHOLE,
    description: "Weight memory capacity in entries.",
};

// ---- control and status ---------------------------------------------------------------------
pub const CTRL_START: Field = field!("START", 0, 1, "Write 1: run the job described by DESC.");
pub const CTRL_SOFT_RESET: Field = field!(
    "SOFT_RESET",
    1,
    1,
    "Write 1: abort the job, flush the streams, clear STATUS and ERR."
);
pub const CTRL_CLEAR_PERF: Field = field!("CLEAR_PERF", 2, 1, "Write 1: zero the PERF counters.");
pub const CTRL_FIELDS: [Field; 3] = [CTRL_START, CTRL_SOFT_RESET, CTRL_CLEAR_PERF];
pub const CTRL: Register = Register {
    name: "CTRL",
    offset: 0x020,
    access: Access::WO,
    reset: 0,
    count: 1,
    fields: &CTRL_FIELDS,
    description: "Control pulses.",
};
pub const STATUS_BUSY: Field = field!("BUSY", 0, 1, "A job is running.");
pub const STATUS_DONE: Field = field!(
    "DONE",
    1,
    1,
    "The last job finished and its output has left on C2H; cleared by START."
);
pub const STATUS_ERROR: Field = field!(
    "ERROR",
    2,
    1,
    "Some ERR bit is set; the engine is idle until SOFT_RESET."
);
pub const STATUS_FIELDS: [Field; 3] = [STATUS_BUSY, STATUS_DONE, STATUS_ERROR];
pub const STATUS: Register = Register {
    name: "STATUS",
    offset: 0x024,
    access: Access::RO,
    reset: 0,
    count: 1,
    fields: &STATUS_FIELDS,
    description: "Engine state.",
};
pub const ERR_BAD_PACKET: Field = field!(
    "BAD_PACKET",
    0,
    1,
    "An H2C packet had an unknown type or a wrong length."
);
pub const ERR_BAD_DESC: Field = field!(
    "BAD_DESC",
    1,
    1,
    "START with a descriptor the engine cannot run."
);
pub const ERR_WEIGHT_OVERFLOW: Field = field!(
    "WEIGHT_OVERFLOW",
    2,
    1,
    "A weight, codebook or bias load ran past its memory."
);
pub const ERR_ACT_OVERFLOW: Field = field!(
    "ACT_OVERFLOW",
    3,
    1,
    "An activation load or the squeeze output ran past its buffer."
);
pub const ERR_FIELDS: [Field; 4] = [
    ERR_BAD_PACKET,
    ERR_BAD_DESC,
    ERR_WEIGHT_OVERFLOW,
    ERR_ACT_OVERFLOW,
];
pub const ERR: Register = Register {
    name: "ERR",
    offset: 0x028,
    access: Access::W1C,
    reset: 0,
    count: 1,
    fields: &ERR_FIELDS,
    description: "Sticky error bits; write 1 to clear.",
};
pub const IRQ_EN_DONE: Field = field!("DONE", 0, 1, "Raise irq when STATUS.DONE is set.");
pub const IRQ_EN_ERROR: Field = field!("ERROR", 1, 1, "Raise irq when STATUS.ERROR is set.");
pub const IRQ_EN_FIELDS: [Field; 2] = [IRQ_EN_DONE, IRQ_EN_ERROR];
pub const IRQ_EN: Register = Register {
    name: "IRQ_EN",
    offset: 0x02C,
    access: Access::RW,
    reset: 0,
    count: 1,
    fields: &IRQ_EN_FIELDS,
    description: "Interrupt enables (irq is a level).",
};
pub const SCRATCH: Register = Register {
    name: "SCRATCH",
    offset: 0x030,
    access: Access::RW,
    reset: 0,
    count: 1,
    fields: WHOLE,
    description: "Free for the host: bus sanity checks.",
};

// ---- the job --------------------------------------------------------------------------------
pub const DESC: Register = Register {
    name: "DESC",
    offset: 0x040,
    access: Access::RW,
    reset: 0,
    count: DESC_WORDS as u32,
    fields: WHOLE,
    description: "Layer descriptor words (spec::descriptor packs them).",
};

// ---- performance counters (64-bit, LO then HI; reading LO latches HI) -------------------------
pub const PERF_BUSY: Register = Register {
    name: "PERF_BUSY",
    offset: 0x100,
    access: Access::RO,
    reset: 0,
    count: 2,
    fields: WHOLE,
    description: "Cycles with a job running (LO, HI).",
};
pub const PERF_MACS: Register = Register {
    name: "PERF_MACS",
    offset: 0x108,
    access: Access::RO,
    reset: 0,
    count: 2,
    fields: WHOLE,
    description: "Multiply-accumulates issued, counting every active lane (LO, HI).",
};
pub const PERF_STALL: Register = Register {
    name: "PERF_STALL",
    offset: 0x110,
    access: Access::RO,
    reset: 0,
    count: 2,
    fields: WHOLE,
    description: "Busy cycles in which no MAC was issued (LO, HI).",
};
pub const PERF_STALL_IN: Register = Register {
    name: "PERF_STALL_IN",
    offset: 0x118,
    access: Access::RO,
    reset: 0,
    count: 2,
    fields: WHOLE,
    description: "Busy cycles spent waiting for H2C data (LO, HI).",
};
pub const PERF_STALL_OUT: Register = Register {
    name: "PERF_STALL_OUT",
    offset: 0x120,
    access: Access::RO,
    reset: 0,
    count: 2,
    fields: WHOLE,
    description: "Busy cycles spent waiting for C2H back-pressure (LO, HI).",
};
pub const PERF_JOBS: Register = Register {
    name: "PERF_JOBS",
    offset: 0x128,
    access: Access::RO,
    reset: 0,
    count: 1,
    fields: WHOLE,
    description: "Jobs completed since the last CLEAR_PERF.",
};
pub const PERF_H2C_HIDDEN: Register = Register {
    name: "PERF_H2C_HIDDEN",
    offset: 0x130,
    access: Access::RO,
    reset: 0,
    count: 2,
    fields: WHOLE,
    description: "H2C payload beats written while a job ran, i.e. loaded under compute (LO, HI).",
};

/// The whole map, in address order.
pub const REGISTERS: &[Register] = &[
    ID,
    VERSION_REG,
    CONFIG_HASH,
    CAPS,
    WEIGHT_CAP,
    CTRL,
    STATUS,
    ERR,
    IRQ_EN,
    SCRATCH,
    DESC,
    PERF_BUSY,
    PERF_MACS,
    PERF_STALL,
    PERF_STALL_IN,
    PERF_STALL_OUT,
    PERF_JOBS,
    PERF_H2C_HIDDEN,
];

/// Find a register by name.
pub fn by_name(name: &str) -> Option<&'static Register> {
    REGISTERS.iter().find(|r| r.name == name)
}

/// The register (and array index) that holds byte address `addr`, if any.
pub fn decode(addr: u32) -> Option<(&'static Register, u32)> {
    if addr % 4 != 0 {
        return None;
    }
    REGISTERS
        .iter()
        .find(|r| addr >= r.offset && addr < r.end())
        .map(|r| (r, (addr - r.offset) / 4))
}

/// Value a read-only identification register holds in a bitstream built from `cfg`.
pub fn fixed_value(reg: &Register, cfg: &crate::AccelConfig) -> u32 {
    match reg.name {
        "CONFIG_HASH" => cfg.config_hash(),
        "CAPS" => CAPS_FIELDS[0].val(cfg.pe_groups) | CAPS_FIELDS[1].val(cfg.pixel_lanes),
        "WEIGHT_CAP" => cfg.weight_entries,
        _ => reg.reset,
    }
}

pub use crate::regmap_export::{to_c_header, to_json, to_markdown};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccelConfig;

    #[test]
    fn offsets_are_aligned_sorted_and_do_not_overlap() {
        for w in REGISTERS.windows(2) {
            assert!(
                w[0].end() <= w[1].offset,
                "{} overlaps {}",
                w[0].name,
                w[1].name
            );
        }
        for r in REGISTERS {
            assert_eq!(r.offset % 4, 0, "{} misaligned", r.name);
            assert!(r.count >= 1);
        }
        let cfg = AccelConfig::tiny();
        let last = REGISTERS.last().unwrap();
        assert!(
            last.end() <= cfg.axil_bytes(),
            "map exceeds the AXI4-Lite window"
        );
    }

    #[test]
    fn fields_fit_and_do_not_overlap() {
        for r in REGISTERS {
            let mut used = 0u32;
            for f in r.fields {
                assert!(
                    f.width >= 1 && f.lsb + f.width <= 32,
                    "{}.{} does not fit",
                    r.name,
                    f.name
                );
                assert_eq!(
                    used & f.mask(),
                    0,
                    "{}.{} overlaps another field",
                    r.name,
                    f.name
                );
                used |= f.mask();
            }
            // Names are unique.
            assert_eq!(REGISTERS.iter().filter(|o| o.name == r.name).count(), 1);
        }
    }

    #[test]
    fn field_get_set_round_trip() {
        let f = CAPS_FIELDS[1];
        let v = f.set(0xFFFF_FFFF, 0x123);
        assert_eq!(f.get(v), 0x123);
        assert_eq!(v & !f.mask(), 0xFFFF_FFFF & !f.mask());
        assert_eq!(
            f.val(0x1FFF),
            f.mask(),
            "values wider than the field are truncated"
        );
    }

    #[test]
    fn decode_finds_every_word_and_rejects_holes() {
        for r in REGISTERS {
            for i in 0..r.count {
                let (d, idx) = decode(r.at(i)).unwrap();
                assert_eq!((d.name, idx), (r.name, i));
            }
        }
        assert!(decode(0x034).is_none());
        assert!(decode(0x001).is_none());
        assert!(decode(0xFFC).is_none());
        assert_eq!(DESC.count as usize, DESC_WORDS);
    }

    #[test]
    fn exports_name_every_register() {
        let cfg = AccelConfig::nitefury();
        let md = to_markdown(&cfg);
        let h = to_c_header(&cfg);
        let j: serde_json::Value = serde_json::from_str(&to_json(&cfg)).unwrap();
        assert_eq!(j["registers"].as_array().unwrap().len(), REGISTERS.len());
        for r in REGISTERS {
            assert!(md.contains(r.name));
            assert!(h.contains(&format!("SQZ_{}_OFFSET 0x{:03X}u", r.name, r.offset)));
        }
        assert!(h.contains(&format!("0x{:08X}", cfg.config_hash())));
        assert_eq!(
            fixed_value(&CAPS, &cfg),
            cfg.pe_groups | (cfg.pixel_lanes << 8)
        );
    }
}
