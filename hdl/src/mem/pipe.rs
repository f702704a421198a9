//! [`Pipe`]: a `depth`-stage delay line (all stages registered). A generated Verilog leaf.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct Pipe<const W: usize> {
    pub clk: Signal<In, Clock>,
    pub din: Signal<In, Bits<W>>,
    pub dout: Signal<Out, Bits<W>>,
    _depth: usize,
}

impl<const W: usize> Pipe<W> {
    pub fn new(depth: usize) -> Self {
        assert!(depth >= 1);
        Pipe {
            _depth: depth,
            ..Default::default()
        }
    }
}

impl<const W: usize> Logic for Pipe<W> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.dout.connect();
    }
    fn hdl(&self) -> Verilog {
        let n = self._depth;
        let mut s = format!("reg [{}:0] stage [0:{}];\ninteger i;\nalways @(posedge clk) begin\n    stage[0] <= din;\n", W - 1, n - 1);
        if n > 1 {
            s.push_str(&format!(
                "    for (i = 1; i < {n}; i = i + 1) stage[i] <= stage[i - 1];\n"
            ));
        }
        s.push_str(&format!("end\nalways @(*) dout = stage[{}];\n", n - 1));
        Verilog::Custom(s)
    }
}
