//! The mid window's lane enables: a count `c` (0..=S) of bytes to keep becomes the thermometer
//! `lanes[i] = c > i`, in two registered stages so that no compare or shifter drives the S
//! enable flip-flops (the thermometer from a 16-bit compare and a barrel shift was the
//! engine's critical path on ECP5).
//!
//! Stage 1 (registered) decodes the count in groups of eight lanes: `hi_gt[k] = c >= 8(k+1)`,
//! `hi_eq[k] = c / 8 == k` (S/8 of each) and `lo_th[j] = c % 8 > j` (j < 7). Stage 2 (registered)
//! is one LUT per lane: `lanes[8k + j] = hi_gt[k] | (hi_eq[k] & lo_th[j])`. Nothing is
//! combinational between the ports and the registers but those two decodes.
//!
//! Ports: `clk`; `count` (16 bits, at most S); `lanes` (S bits), [`KEEP_LATENCY`] cycles later.
//! Judged only as Verilog (Verilator); rust-hdl's simulator does not run this leaf.

use rust_hdl::prelude::*;

/// Cycles from `count` to `lanes`.
pub const KEEP_LATENCY: usize = 2;

#[derive(LogicBlock, Default)]
pub struct KeepLanes<const S: usize> {
    pub clk: Signal<In, Clock>,
    pub count: Signal<In, Bits<16>>,
    pub lanes: Signal<Out, Bits<S>>,
}

impl<const S: usize> Logic for KeepLanes<S> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.lanes.connect();
    }
    fn hdl(&self) -> Verilog {
        assert!(S % 8 == 0 && S >= 8 && S < (1 << 15));
        let g = S / 8;
        let mut s = format!(
            "reg [{gm}:0] hi_gt;\nreg [{gm}:0] hi_eq;\nreg [6:0] lo_th;\nreg [{sm}:0] th;\nalways @(posedge clk) begin\n",
            gm = g - 1,
            sm = S - 1
        );
        for k in 0..g {
            s.push_str(&format!(
                "    hi_gt[{k}] <= count >= 16'd{};\n    hi_eq[{k}] <= count[15:3] == 13'd{k};\n",
                8 * (k + 1)
            ));
        }
        for j in 0..7 {
            s.push_str(&format!("    lo_th[{j}] <= count[2:0] > 3'd{j};\n"));
        }
        for i in 0..S {
            let (k, j) = (i / 8, i % 8);
            // The last lane of a group: `c % 8 > 7` never holds.
            s.push_str(&if j == 7 {
                format!("    th[{i}] <= hi_gt[{k}];\n")
            } else {
                format!("    th[{i}] <= hi_gt[{k}] | (hi_eq[{k}] & lo_th[{j}]);\n")
            });
        }
        s.push_str("end\nalways @(*) lanes = th;\n");
        Verilog::Custom(s)
    }
}
