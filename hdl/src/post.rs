//! Post-processing of rust-hdl's Verilog text: the top module is renamed `sqz_top`, sub-module
//! kinds get plain `sqz_*` names, a header naming the config is prepended, and Verilator lint
//! waivers are placed next to the constructs they excuse, each by warning name with its reason
//! (no blanket flags):
//! * `DECLFILENAME` on each sub-module header: every module is emitted into the one file
//!   `sqz_top.v` on purpose (one file for Verilator, Yosys and Vivado alike).
//! * `WIDTH` on the rust-hdl generated statements that contain a sized literal (`'h`): rust-hdl
//!   emits every literal as a 32-bit constant and widens with `bit_cast` masks, so these width
//!   changes are intended (the RTL is judged bit-exact under Verilator). Statements without a
//!   literal are not waived, nor is any hand-written leaf.
//! * The [`DECL_WAIVERS`] table: individual signal declarations, by module, warning and reason.

use spec::AccelConfig;

/// (module, declared signal or `*suffix`, warning, reason) waivers placed around that declaration
/// line.
const DECL_WAIVERS: &[(&str, &str, &str, &str)] = &[
    (
        "sqz_engine",
        "s_axis_tkeep",
        "UNUSEDSIGNAL",
        "H2C packet lengths come from the headers (spec::packet); tkeep is ignored",
    ),
    (
        "sqz_engine",
        "s_axis_tlast",
        "UNUSEDSIGNAL",
        "H2C packet lengths come from the headers (spec::packet); tlast is ignored",
    ),
    (
        "sqz_engine$outctl",
        "fifo_meta$empty",
        "UNUSEDSIGNAL",
        "the meta FIFO moves in lockstep with the data FIFO, whose empty flag is used",
    ),
    (
        "sqz_engine$outctl",
        "fifo_lanes$empty",
        "UNUSEDSIGNAL",
        "the lane-enable FIFO moves in lockstep with the data FIFO, whose empty flag is used",
    ),
    (
        "sqz_engine$array$lanes",
        "full",
        "UNUSEDSIGNAL",
        "an int8 x (u)int8 product fits the low 16 bits of the 16x16 product",
    ),
    (
        "sqz_engine$array$units",
        "shifted",
        "UNUSEDSIGNAL",
        "only a 16-bit window of p >> (shift & !7) is kept; the clamp tests p against the ovf mask",
    ),
    (
        "sqz_engine$array$units",
        "fine",
        "UNUSEDSIGNAL",
        "the output byte is the low 8 bits of the window shifted by shift & 7",
    ),
    (
        "sqz_engine$array",
        "*$chunk",
        "UNUSEDSIGNAL",
        "every requantizer runs the same chunk sequence; unit 0's drives the lanes' load strobes",
    ),
    (
        "sqz_engine$outctl",
        "hold_sh",
        "UNUSEDSIGNAL",
        "the offered beat is the low 64 bits of the holding register shifted by whole beats",
    ),
];

fn module_of(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("module ")?;
    rest.split('(').next().map(str::trim)
}

/// Insert the lint waivers.
fn waive(body: &str) -> String {
    let mut out = String::with_capacity(body.len() * 11 / 10);
    let mut module = String::new();
    let mut in_generated_update = false;
    for line in body.lines() {
        if let Some(m) = module_of(line) {
            module = m.to_string();
            in_generated_update = false;
            if m != "sqz_top" {
                out.push_str("// lint: every module lives in sqz_top.v on purpose.\n/* verilator lint_off DECLFILENAME */\n");
                out.push_str(line);
                out.push_str("\n/* verilator lint_on DECLFILENAME */\n");
                continue;
            }
        }
        if line.trim_start().starts_with("// Update code") {
            in_generated_update = !line.contains("(custom)");
            if in_generated_update {
                out.push_str(line);
                out.push_str("\n// lint: WIDTH is waived on statements with rust-hdl literals (always 32-bit) or bit_cast masks.\n");
                continue;
            }
        }
        if line.starts_with("endmodule") {
            in_generated_update = false;
        }
        let decl = DECL_WAIVERS.iter().find(|(m, sig, _, _)| {
            // Lane modules are numbered (`sqz_engine$array$lanes$3`): match by prefix.
            (module == *m || module.starts_with(&format!("{m}$"))) && {
                let t = line.trim();
                (t.starts_with("reg ")
                    || t.starts_with("wire ")
                    || t.starts_with("input ")
                    || t.starts_with("output "))
                    && t.trim_end_matches(';')
                        .split_whitespace()
                        .last()
                        .is_some_and(|n| match sig.strip_prefix('*') {
                            // `*suffix`: every numbered instance's port of that name.
                            Some(suffix) => n.ends_with(suffix),
                            None => n == *sig,
                        })
            }
        });
        if let Some((_, _, w, why)) = decl {
            out.push_str(&format!("/* verilator lint_off {w} */\n// lint: {why}.\n{line}\n/* verilator lint_on {w} */\n"));
            continue;
        }
        if in_generated_update && line.contains("'h") {
            out.push_str(&format!(
                "/* verilator lint_off WIDTH */\n{line}\n/* verilator lint_on WIDTH */\n"
            ));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

pub fn finish(cfg: &AccelConfig, text: &str) -> String {
    // Sub-module kinds are named by path (`top$engine`); give them plain `sqz_` names.
    let body = text
        .replacen("module top(", "module sqz_top(", 1)
        .replace("endmodule // top\n", "endmodule // sqz_top\n")
        .replace("top$", "sqz_");
    let body = format!("{body}{}", crate::mem::kept_reg_modules(&body));
    format!(
        "// sqz_top: generated by `cargo run -p hdl -- emit` from AccelConfig `{}` (config hash 0x{:08X}); do not edit.\n// {}\n{}",
        cfg.name,
        cfg.config_hash(),
        cfg,
        waive(&body)
    )
}
