//! The register map's exports, generated from [`crate::regs::REGISTERS`] with the values a
//! configuration fixes: Markdown (`regmap.md`), JSON (`regmap.json`) and a C header
//! (`sqz_regs.h`), each with the arithmetic contract and the C2H trailer's layout.
//! `cargo run -p hdl -- emit` writes them beside the Verilog.

use crate::regs::{fixed_value, Access, REGISTERS};

fn access_name(a: Access) -> &'static str {
    match a {
        Access::RO => "RO",
        Access::RW => "RW",
        Access::WO => "WO",
        Access::W1C => "W1C",
    }
}

/// The register map as a Markdown document, with the values fixed by `cfg`.
pub fn to_markdown(cfg: &crate::AccelConfig) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# sqz register map (preset `{}`, config hash 0x{:08X})\n\nGenerated from `spec::regs` by `cargo run -p hdl -- emit`; do not edit.\nAll registers are 32 bits on the AXI4-Lite bus; unmapped addresses answer SLVERR.\n\n",
        cfg.name,
        cfg.config_hash()
    ));
    s.push_str("| offset | name | access | reset | description |\n|---|---|---|---|---|\n");
    for r in REGISTERS {
        let name = if r.count > 1 {
            format!("{}[0..{}]", r.name, r.count)
        } else {
            r.name.to_string()
        };
        s.push_str(&format!(
            "| 0x{:03X} | {} | {} | 0x{:08X} | {} |\n",
            r.offset,
            name,
            access_name(r.access),
            fixed_value(r, cfg),
            r.description
        ));
    }
    for r in REGISTERS.iter().filter(|r| !r.fields.is_empty()) {
        s.push_str(&format!(
            "\n## {} (0x{:03X})\n\n| bits | field | description |\n|---|---|---|\n",
            r.name, r.offset
        ));
        for f in r.fields {
            let bits = if f.width == 1 {
                format!("{}", f.lsb)
            } else {
                format!("{}:{}", f.lsb + f.width - 1, f.lsb)
            };
            s.push_str(&format!("| {} | {} | {} |\n", bits, f.name, f.description));
        }
    }
    use crate::numerics as n;
    s.push_str(&format!(
        "\n## Arithmetic (`spec::numerics`)\n\n| what | value |\n|---|---|\n\
         | codebook LUT entry | {} bits signed, at most ±{}; a codebook packet is {} beats |\n\
         | weight x activation product | {} bits; accumulator 32 bits, wrapping |\n\
         | activations | 8 bits, zero point 0; conv1's input (the image) is {} |\n",
        n::LUT_BITS,
        n::WEIGHT_QMAX,
        crate::packet::CODEBOOK_BEATS,
        n::PRODUCT_BITS,
        if n::INPUT_SIGNED {
            "int8"
        } else {
            "the raw uint8 pixels"
        }
    ));
    use crate::trailer as t;
    s.push_str(&format!(
        "\n## C2H trailer (`spec::trailer`)\n\nEvery job's C2H output ends with {} beats; `tlast` marks the second.\n\n\
         | beat | bits 31:0 | bits 63:32 |\n|---|---|---|\n\
         | 0 | magic 0x{:08X} (`SQZT`) | job sequence number (PERF_JOBS once the job is counted) |\n\
         | 1 | payload bytes | CRC-32 of the payload (polynomial 0x{:08X} reflected, init and final XOR 0x{:08X}) |\n",
        t::TRAILER_BEATS,
        t::TRAILER_MAGIC,
        t::CRC32_POLY,
        t::CRC32_INIT
    ));
    s
}

/// The register map as JSON (for scripts), with the values fixed by `cfg`.
pub fn to_json(cfg: &crate::AccelConfig) -> String {
    let regs: Vec<serde_json::Value> = REGISTERS
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name,
                "offset": r.offset,
                "access": access_name(r.access),
                "reset": fixed_value(r, cfg),
                "count": r.count,
                "description": r.description,
                "fields": r.fields.iter().map(|f| serde_json::json!({
                    "name": f.name, "lsb": f.lsb, "width": f.width, "description": f.description
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "preset": cfg.name,
        "config_hash": cfg.config_hash(),
        "data_width": crate::config::AXIL_DATA_BITS,
        "address_width": cfg.axil_addr_bits,
        "lut_bits": crate::numerics::LUT_BITS,
        "codebook_beats": crate::packet::CODEBOOK_BEATS,
        "input_signed": crate::numerics::INPUT_SIGNED,
        "c2h_trailer": {
            "beats": crate::trailer::TRAILER_BEATS,
            "magic": crate::trailer::TRAILER_MAGIC,
            "crc32_poly_reflected": crate::trailer::CRC32_POLY,
            "crc32_init": crate::trailer::CRC32_INIT,
        },
        "registers": regs,
    }))
    .expect("register map serializes")
}

/// The register map as a C header (`sqz_regs.h`).
pub fn to_c_header(cfg: &crate::AccelConfig) -> String {
    let mut s = String::new();
    s.push_str("/* sqz register map: generated from spec::regs by `cargo run -p hdl -- emit`; do not edit. */\n");
    s.push_str("#ifndef SQZ_REGS_H\n#define SQZ_REGS_H\n\n");
    s.push_str(&format!(
        "#define SQZ_CONFIG_HASH 0x{:08X}u /* preset {} */\n",
        cfg.config_hash(),
        cfg.name
    ));
    s.push_str(&format!(
        "#define SQZ_LUT_BITS {}u /* codebook LUT entry width */\n#define SQZ_CODEBOOK_BEATS {}u\n",
        crate::numerics::LUT_BITS,
        crate::packet::CODEBOOK_BEATS
    ));
    s.push_str(&format!(
        "#define SQZ_TRAILER_BEATS {}u /* C2H trailer after each job's output */
         #define SQZ_TRAILER_MAGIC 0x{:08X}u
",
        crate::trailer::TRAILER_BEATS,
        crate::trailer::TRAILER_MAGIC
    ));
    for r in REGISTERS {
        s.push_str(&format!(
            "#define SQZ_{}_OFFSET 0x{:03X}u /* {} */\n",
            r.name, r.offset, r.description
        ));
        if r.count > 1 {
            s.push_str(&format!("#define SQZ_{}_COUNT {}u\n", r.name, r.count));
        }
        if matches!(r.access, Access::RO) && fixed_value(r, cfg) != 0 {
            s.push_str(&format!(
                "#define SQZ_{}_VALUE 0x{:08X}u\n",
                r.name,
                fixed_value(r, cfg)
            ));
        }
        for f in r.fields {
            s.push_str(&format!(
                "#define SQZ_{}_{}_SHIFT {}u\n#define SQZ_{}_{}_MASK 0x{:08X}u\n",
                r.name,
                f.name,
                f.lsb,
                r.name,
                f.name,
                f.mask()
            ));
        }
    }
    s.push_str("\n#endif /* SQZ_REGS_H */\n");
    s
}
