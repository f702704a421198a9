//! Kept registers: `W`-bit registers with an enable, instantiated as their own small modules
//! so the place-and-route synthesis keeps equal copies apart (the address trees of the block
//! RAMs and the FIFO's read-pointer copies use them).

/// Module name prefix of the kept registers: `sqz_kc_reg_w<W>`, a `W`-bit register with an
/// enable. The name matches the place-and-route synthesis' `*_kc*` keep pattern, so each
/// instance stays apart until flattening (Yosys merges equal registers otherwise);
/// [`kept_reg_modules`] defines the widths a Verilog text uses.
pub const KEPT_REG: &str = "sqz_kc_reg_w";

/// An instance `{name}_kc` of the kept register driving wire `name`.
pub(super) fn kept_reg(name: &str, width: usize, en: &str, d: &str) -> String {
    format!("{KEPT_REG}{width} {name}_kc (.clk(clk), .en({en}), .d({d}), .q({name}));\n")
}

/// The definitions of every kept-register width instantiated in `verilog`.
pub fn kept_reg_modules(verilog: &str) -> String {
    let mut widths: Vec<usize> = verilog
        .match_indices(KEPT_REG)
        .filter_map(|(i, _)| {
            let rest = &verilog[i + KEPT_REG.len()..];
            let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
            n.parse().ok()
        })
        .collect();
    widths.sort_unstable();
    widths.dedup();
    widths
        .iter()
        .map(|w| {
            format!(
                "// A {w}-bit register kept apart from its equals by the ECP5 synthesis (`*_kc*`).\nmodule {KEPT_REG}{w}(\n    input wire clk,\n    input wire en,\n    input wire [{h}:0] d,\n    output reg [{h}:0] q\n);\nalways @(posedge clk) if (en) q <= d;\nendmodule\n",
                h = w - 1
            )
        })
        .collect()
}
