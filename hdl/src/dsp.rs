//! A pipelined 18x18 signed multiplier: `p = a * b` (36-bit two's complement), two cycles after
//! `a` and `b`. Registered: the operands (stage M0) and the product (stage M1); nothing is
//! combinational between the ports and those registers, so on an FPGA all three sit inside one
//! DSP block and the block's slow multiplier array lies between two of its own registers.
//!
//! The Verilog has two bodies. The default one is behavioural (what Verilator runs, and what
//! Vivado and Yosys' Xilinx flow absorb into a DSP48E1's A/B and P registers). With
//! [`ECP5_PRIMITIVES_DEFINE`] defined (the ECP5 place-and-route flow passes it to Yosys), the body
//! instantiates Lattice's `MULT18X18D` with its input A/B and output registers on `CLK0`: Yosys'
//! ECP5 mapping never packs fabric flip-flops into the DSP, and nextpnr times a fully registered
//! `MULT18X18D` from its own registers (`MULT18X18D_REGS_ALL`), so the 3 ns multiplier array
//! then leaves the fabric's paths. Both bodies have the same ports, latency and arithmetic
//! (signed A, signed B, 36-bit product, no reset: the registers start as don't-care and the
//! pipeline's valid bits travel beside them).
//!
//! Ports: `clk`; `a`, `b` (18-bit two's complement); `p` (the product's low `PW` bits, `PW` <=
//! 36: the users' products fit 32).

use rust_hdl::prelude::*;

/// The Verilog macro that selects the `MULT18X18D` body (`read_verilog -D ...` in Yosys).
pub const ECP5_PRIMITIVES_DEFINE: &str = "SQZ_ECP5_PRIMITIVES";

/// Cycles from `a`/`b` to `p`.
pub const DSP_LATENCY: usize = 2;

#[derive(LogicBlock, Default)]
pub struct DspMul<const PW: usize> {
    pub clk: Signal<In, Clock>,
    pub a: Signal<In, Bits<18>>,
    pub b: Signal<In, Bits<18>>,
    pub p: Signal<Out, Bits<PW>>,
}

impl<const PW: usize> Logic for DspMul<PW> {
    // Judged only as Verilog (Verilator); rust-hdl's simulator does not run this leaf.
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.p.connect();
    }
    fn hdl(&self) -> Verilog {
        let pins = |name: &str, n: usize, net: &str| -> String {
            (0..n)
                .map(|i| format!(".{name}{i}({net}[{i}])"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let zeros = (0..18)
            .map(|i| format!(".C{i}(1'b0)"))
            .collect::<Vec<_>>()
            .join(", ");
        Verilog::Custom(format!(
            r#"/* verilator lint_off UNUSEDSIGNAL */
wire [35:0] p_w;
/* verilator lint_on UNUSEDSIGNAL */
`ifdef {define}
MULT18X18D #(
    .REG_INPUTA_CLK("CLK0"), .REG_INPUTA_CE("CE0"), .REG_INPUTA_RST("RST0"),
    .REG_INPUTB_CLK("CLK0"), .REG_INPUTB_CE("CE0"), .REG_INPUTB_RST("RST0"),
    .REG_PIPELINE_CLK("NONE"), .REG_OUTPUT_CLK("CLK0"), .REG_OUTPUT_CE("CE0"),
    .REG_OUTPUT_RST("RST0"), .GSR("DISABLED"), .RESETMODE("SYNC"),
    .SOURCEB_MODE("B_SHIFT"), .MULT_BYPASS("DISABLED")
) dsp (
    {a_pins},
    {b_pins},
    {zeros},
    .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0),
    .CLK0(clk), .CLK1(1'b0), .CLK2(1'b0), .CLK3(1'b0),
    .CE0(1'b1), .CE1(1'b0), .CE2(1'b0), .CE3(1'b0),
    .RST0(1'b0), .RST1(1'b0), .RST2(1'b0), .RST3(1'b0),
    {p_pins}
);
`else
reg [17:0] a_r;
reg [17:0] b_r;
reg [35:0] p_r;
always @(posedge clk) begin
    a_r <= a;
    b_r <= b;
    p_r <= $signed(a_r) * $signed(b_r);
end
assign p_w = p_r;
`endif
always @(*) p = p_w[{ph}:0];
"#,
            define = ECP5_PRIMITIVES_DEFINE,
            a_pins = pins("A", 18, "a"),
            b_pins = pins("B", 18, "b"),
            p_pins = pins("P", 36, "p_w"),
            ph = PW - 1,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::count;

    /// The ECP5 body is one `MULT18X18D` holding all three registers: no fabric flip-flop or LUT
    /// is left around it (Yosys on PATH, as in CI).
    #[test]
    fn ecp5_body_is_one_fully_registered_mult18x18d() {
        let mut uut = DspMul::<32>::default();
        uut.connect_all();
        let dir = std::env::temp_dir().join(format!("sqz-dsp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("top.v"), generate_verilog(&uut)).unwrap();
        let script = format!(
            "read_verilog -D {ECP5_PRIMITIVES_DEFINE} top.v; synth_ecp5 -top top; stat; write_verilog -noattr net.v"
        );
        let out = std::process::Command::new("yosys")
            .args(["-q", "-l", "yosys.log", "-p", &script])
            .current_dir(&dir)
            .output()
            .expect("yosys on PATH");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::read_to_string(dir.join("yosys.log")).unwrap();
        let stat = log.rsplit("=== top ===").next().unwrap();
        assert_eq!(count(stat, &["MULT18X18D"]), 1, "{stat}");
        assert_eq!(count(stat, &["TRELLIS_FF", "LUT4", "CCU2C"]), 0, "{stat}");
        // The netlist keeps the three register settings on CLK0 (nextpnr then times the block
        // as MULT18X18D_REGS_ALL).
        let net = std::fs::read_to_string(dir.join("net.v")).unwrap();
        for reg in ["REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_OUTPUT_CLK"] {
            assert!(net.contains(&format!(".{reg}(\"CLK0\")")), "{reg} in {net}");
        }
    }
}
