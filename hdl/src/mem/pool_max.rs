//! [`PoolMax`]: the 3x3 stride-2 max-pool datapath, feed-forward. A generated Verilog leaf.

use rust_hdl::prelude::*;

/// The max-pool datapath, feed-forward (no running max, so no compare reaches a register's
/// enable): the `S`-byte rows arrive on three consecutive cycles; `d1` is the previous row and
/// `m01` the max of the two before, so on the third row's cycle `max(m01, d)` is the vertical
/// max, which `v` takes when `load` is high (and holds while the chunk waits for the
/// serializer). `load` comes as [`POOL_LOAD_COPIES`] equal bits, copy `k` enabling the `k`-th
/// part of `v` (the caller's kept copies: one flip-flop enabled all `S*8` bits). The
/// horizontal 3-wide stride-2 max is two registered steps: output byte `j < S/2` is
/// `max(max(v[2j], v[2j+1]), v[2j+2])` (v[S] reads as 0), the upper half is 0.
/// Registered: `d1`, `m01`, `v`, the first horizontal step and `hout`; `hout` is valid
/// [`POOL_MAX_LATENCY`] cycles after the `load` cycle and stays while `v` does.
/// Combinational: one 8-bit compare and select per byte before each register.
#[derive(LogicBlock, Default)]
pub struct PoolMax<const S8: usize> {
    pub clk: Signal<In, Clock>,
    pub load: Signal<In, Bits<POOL_LOAD_COPIES>>,
    pub d: Signal<In, Bits<S8>>,
    pub hout: Signal<Out, Bits<S8>>,
}

/// Copies of [`PoolMax`]'s `load`.
pub const POOL_LOAD_COPIES: usize = 4;

/// Cycles from the third row's cycle (`load`) to `hout`: `v`, the first horizontal step, `hout`.
pub const POOL_MAX_LATENCY: usize = 3;

impl<const S8: usize> Logic for PoolMax<S8> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.hout.connect();
    }
    fn hdl(&self) -> Verilog {
        let s = S8 / 8;
        let mut code = format!(
            "function [7:0] max2(input [7:0] a, input [7:0] b);\n    max2 = (a > b) ? a : b;\nendfunction\nreg [{h}:0] d1, m01, v;\nwire [{hx}:0] vx = {{8'd0, v}};\nalways @(posedge clk) begin\n    d1 <= d;\n",
            h = S8 - 1,
            hx = S8 + 7
        );
        for i in 0..s {
            code.push_str(&format!(
                "    m01[{i}*8 +: 8] <= max2(d[{i}*8 +: 8], d1[{i}*8 +: 8]);\n    if (load[{k}]) v[{i}*8 +: 8] <= max2(m01[{i}*8 +: 8], d[{i}*8 +: 8]);\n",
                k = i * POOL_LOAD_COPIES / s
            ));
        }
        code.push_str("end\n");
        code.push_str(&format!(
            "reg [{h2}:0] h1, c1, h;\nalways @(posedge clk) begin\n",
            h2 = S8 / 2 - 1
        ));
        for j in 0..s / 2 {
            code.push_str(&format!(
                "    h1[{j}*8 +: 8] <= max2(vx[{a}*8 +: 8], vx[{b}*8 +: 8]);\n    c1[{j}*8 +: 8] <= vx[{c}*8 +: 8];\n    h[{j}*8 +: 8] <= max2(h1[{j}*8 +: 8], c1[{j}*8 +: 8]);\n",
                a = 2 * j,
                b = 2 * j + 1,
                c = 2 * j + 2
            ));
        }
        code.push_str(&format!("end\nalways @(*) hout = {{{}'d0, h}};\n", S8 / 2));
        Verilog::Custom(code)
    }
}
