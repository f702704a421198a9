//! The lane's 32-bit accumulator: `q <= prod + (first ? bias : q)` when `en`.
//!
//! Registered: `q`. Combinational: the operand select and the sum, which on ECP5 are one
//! carry chain. Yosys maps an adder to `CCU2C` cells that use only two of each half's four LUT
//! inputs, so the operand select became a LUT (and a route) in front of every bit: on the
//! routed runs the accumulators were the largest group of late endpoints. With
//! [`crate::dsp::ECP5_PRIMITIVES_DEFINE`] defined (the ECP5 place-and-route flow), the body
//! instantiates the 16 `CCU2C` cells itself with the select inside each half's LUT4: A = the
//! product bit, B = `first`, C = the accumulator bit, D = the bias bit, `F = A ^ (B ? D : C)`.
//! A CCU2C's generate term is its LUT's low nibble read as a function of A and B alone
//! (C = D = 0): there the select gives 0 and the nibble is `A`, which is the carry whenever
//! `F = 0` (then `A` equals the selected operand). Both bodies compute the same function; the
//! test below proves it with Yosys' own `CCU2C` model.
//!
//! Ports: `clk`; `en`, `first`, `prod`, `bias`; `q`.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct MacAcc {
    pub clk: Signal<In, Clock>,
    pub en: Signal<In, Bit>,
    pub first: Signal<In, Bit>,
    pub prod: Signal<In, Bits<32>>,
    pub bias: Signal<In, Bits<32>>,
    pub q: Signal<Out, Bits<32>>,
}

/// The CCU2C LUT4 contents for `F = A ^ (B ? D : C)` (bit index `{D, C, B, A}`).
pub fn ccu2c_select_add_init() -> u16 {
    (0..16u16)
        .filter(|i| {
            let (a, b, c, d) = (i & 1, (i >> 1) & 1, (i >> 2) & 1, (i >> 3) & 1);
            (a ^ if b == 1 { d } else { c }) == 1
        })
        .fold(0, |acc, i| acc | (1 << i))
}

impl MacAcc {
    /// The sum's combinational body: behavioural, or the CCU2C chain under the ECP5 define.
    fn sum_body() -> String {
        let init = ccu2c_select_add_init();
        let mut cells = String::new();
        for i in 0..16 {
            let (b0, b1) = (2 * i, 2 * i + 1);
            cells.push_str(&format!(
                "CCU2C #(.INIT0(16'h{init:04X}), .INIT1(16'h{init:04X}), .INJECT1_0(\"NO\"), .INJECT1_1(\"NO\")) cc{i} (\n    .A0(prod[{b0}]), .B0(first), .C0(q[{b0}]), .D0(bias[{b0}]),\n    .A1(prod[{b1}]), .B1(first), .C1(q[{b1}]), .D1(bias[{b1}]),\n    .CIN(c[{i}]), .COUT(c[{n}]), .S0(s[{b0}]), .S1(s[{b1}]));\n",
                n = i + 1
            ));
        }
        format!(
            r#"wire [31:0] s;
`ifdef {define}
/* verilator lint_off UNUSEDSIGNAL */
wire [16:0] c;
/* verilator lint_on UNUSEDSIGNAL */
assign c[0] = 1'b0;
{cells}`else
assign s = prod + (first ? bias : q);
`endif
"#,
            define = crate::dsp::ECP5_PRIMITIVES_DEFINE
        )
    }
}

impl Logic for MacAcc {
    // Judged only as Verilog (Verilator); rust-hdl's simulator does not run this leaf.
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "{}always @(posedge clk) if (en) q <= s;\n",
            Self::sum_body()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_the_select_add_and_its_low_nibble_is_a() {
        // F = A ^ (B ? D : C) over indices {D, C, B, A}, worked out by hand; the low nibble
        // (C = D = 0) is A, the generate term.
        assert_eq!(ccu2c_select_add_init(), 0x569A);
        assert_eq!(ccu2c_select_add_init() & 0xF, 0b1010);
    }

    /// The CCU2C chain equals `prod + (first ? bias : q)` for every input: a SAT proof on a
    /// miter of the two bodies, with Yosys' ECP5 `CCU2C` simulation model (Yosys on PATH, as in
    /// CI).
    #[test]
    fn ecp5_carry_chain_equals_the_behavioural_sum() {
        let comb = |name: &str| {
            format!(
                "module {name}(input [31:0] prod, input first, input [31:0] q, input [31:0] bias, output [31:0] out);\n{}assign out = s;\nendmodule\n",
                MacAcc::sum_body()
            )
        };
        let dir = std::env::temp_dir().join(format!("sqz-acc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gold.v"), comb("gold")).unwrap();
        std::fs::write(dir.join("gate.v"), comb("gate")).unwrap();
        std::fs::write(
            dir.join("check.v"),
            "module check(input [31:0] prod, input first, input [31:0] q, input [31:0] bias, output ok);\n\
             wire [31:0] a, b;\n\
             gold g(.prod(prod), .first(first), .q(q), .bias(bias), .out(a));\n\
             gate t(.prod(prod), .first(first), .q(q), .bias(bias), .out(b));\n\
             assign ok = a == b;\nendmodule\n",
        )
        .unwrap();
        let script = format!(
            "read_verilog gold.v; read_verilog -D {d} gate.v; read_verilog +/ecp5/cells_sim.v; \
             read_verilog check.v; hierarchy -top check; proc; flatten; opt -fast; \
             sat -verify -prove ok 1 check",
            d = crate::dsp::ECP5_PRIMITIVES_DEFINE
        );
        let out = std::process::Command::new("yosys")
            .args(["-q", "-l", "yosys.log", "-p", &script])
            .current_dir(&dir)
            .output()
            .expect("yosys on PATH");
        let log = std::fs::read_to_string(dir.join("yosys.log")).unwrap_or_default();
        assert!(
            out.status.success() && log.contains("SUCCESS"),
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            log.lines().rev().take(40).collect::<Vec<_>>().join("\n")
        );
    }
}
