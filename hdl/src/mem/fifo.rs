//! [`Fifo`]: the output FIFO, first word fall through, its reads in slices. A generated
//! Verilog leaf.

use rust_hdl::prelude::*;

use super::kept::kept_reg;

/// Bits per read slice of a [`Fifo`] (each slice reads at its own copy of the read pointer).
pub const FIFO_SLICE: usize = 32;

/// A small first-word-fall-through FIFO (`depth` entries, power of two). The engine's credit
/// counter guarantees `push` never hits a full FIFO. Registered: storage and pointers (the read
/// pointer with a kept copy per [`FIFO_SLICE`] bits); combinational: `dout`, `empty`.
#[derive(LogicBlock, Default)]
pub struct Fifo<const W: usize> {
    pub clk: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub push: Signal<In, Bit>,
    pub din: Signal<In, Bits<W>>,
    pub pop: Signal<In, Bit>,
    pub dout: Signal<Out, Bits<W>>,
    pub empty: Signal<Out, Bit>,
    _depth: usize,
}

impl<const W: usize> Fifo<W> {
    pub fn new(depth: usize) -> Self {
        assert!(depth.is_power_of_two() && depth >= 2);
        Fifo {
            _depth: depth,
            ..Default::default()
        }
    }
}

impl<const W: usize> Logic for Fifo<W> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.dout.connect();
        self.empty.connect();
    }
    fn hdl(&self) -> Verilog {
        let pb = self._depth.trailing_zeros() as usize;
        // The read side in slices of FIFO_SLICE bits, each with its own (kept) copy of the
        // read pointer: one pointer register reached every LUT-RAM cell of the 256-bit data
        // FIFO across the chip (8.5 ns of routing, the critical path of a routed run).
        let slices: Vec<(usize, usize)> = (0..W)
            .step_by(FIFO_SLICE)
            .map(|lo| (lo, (lo + FIFO_SLICE).min(W) - 1))
            .collect();
        let mut read = String::new();
        for (k, &(lo, hi)) in slices.iter().enumerate() {
            read.push_str(&format!(
                "wire [{pbh}:0] rp_{k};\n{}",
                kept_reg(
                    &format!("rp_{k}"),
                    pb,
                    "1'b1",
                    &format!("rst ? {pb}'d0 : rp_n[{}:0]", pb - 1)
                ),
                pbh = pb - 1
            ));
            // A memory per slice (one write port, one read port each).
            read.push_str(&format!(
                "reg [{w}:0] mem_{k} [0:{last}];\nalways @(posedge clk) if (!rst && push) mem_{k}[wp[{pbh}:0]] <= din[{hi}:{lo}];\nalways @(*) dout[{hi}:{lo}] = mem_{k}[rp_{k}];\n",
                w = hi - lo,
                last = self._depth - 1,
                pbh = pb - 1,
            ));
        }
        Verilog::Custom(format!(
            r#"
reg [{pb}:0] wp;
reg [{pb}:0] rp;
// `empty` is a register (computed from the next pointers), so the reader's pop decision
// starts at a flip-flop.
reg empty_q;
wire popped = pop && !empty_q;
wire [{pb}:0] wp_n = push ? wp + {pb1}'d1 : wp;
wire [{pb}:0] rp_n = popped ? rp + {pb1}'d1 : rp;
// Empty after this cycle: a push leaves it non-empty; a pop alone empties it when it takes
// the last entry (rp + 1 == wp, from registers); otherwise it stays as it is. The pop decides
// it through one LUT, not through the pointer sums and a compare.
wire last_one = (rp + {pb1}'d1) == wp;
always @(posedge clk) begin
    if (rst) begin
        wp <= {pb1}'d0;
        rp <= {pb1}'d0;
        empty_q <= 1'b1;
    end else begin
        wp <= wp_n;
        rp <= rp_n;
        empty_q <= !push && (popped ? last_one : empty_q);
    end
end
always @(*) empty = empty_q;
{read}"#,
            pb1 = pb + 1,
        ))
    }
}
