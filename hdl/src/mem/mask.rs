//! [`MaskMem`]: the output-position mask, written 64 bits at a time, read `S` bits per tile
//! (latency 1). A generated Verilog leaf.

use rust_hdl::prelude::*;

use super::bits_for;

/// Cycles from `rtile` to `rdata`.
pub const MASK_READ_LATENCY: usize = 1;

#[derive(LogicBlock, Default)]
pub struct MaskMem<const S: usize> {
    pub clk: Signal<In, Clock>,
    /// Tile index.
    pub rtile: Signal<In, Bits<16>>,
    pub rdata: Signal<Out, Bits<S>>,
    /// 64-bit word index.
    pub waddr: Signal<In, Bits<24>>,
    pub wdata: Signal<In, Bits<64>>,
    pub we: Signal<In, Bit>,
    _bits: usize,
}

impl<const S: usize> MaskMem<S> {
    pub fn new(bits: usize) -> Self {
        MaskMem {
            _bits: bits,
            ..Default::default()
        }
    }
}

impl<const S: usize> Logic for MaskMem<S> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.rdata.connect();
    }
    fn hdl(&self) -> Verilog {
        let words = self._bits / 64;
        let wa = bits_for(words as u64);
        let code = if S <= 64 {
            let per = 64 / S;
            let pb = per.trailing_zeros() as usize;
            let sel = if pb == 0 {
                "wire [0:0] sel_d = 1'b0;".to_string()
            } else {
                format!(
                    "reg [{}:0] sel_d;\nalways @(posedge clk) sel_d <= rtile[{}:0];",
                    pb - 1,
                    pb - 1
                )
            };
            let tile_hi = wa + pb - 1;
            format!(
                r#"
(* no_rw_check *) reg [63:0] mem [0:{last}];
reg [63:0] word_q;
{sel}
/* verilator lint_off UNUSEDSIGNAL */
// Tile index and word address buses are wider than this memory needs.
wire [15:0] unused_tile = rtile;
wire [23:0] unused_waddr = waddr;
/* verilator lint_on UNUSEDSIGNAL */
always @(posedge clk) begin
    word_q <= mem[rtile[{tile_hi}:{pb}]];
    if (we) mem[waddr[{wah}:0]] <= wdata;
end
always @(*) rdata = word_q[sel_d * {S} +: {S}];
"#,
                last = words - 1,
                wah = wa - 1,
            )
        } else {
            let nb = S / 64;
            let bb = nb.trailing_zeros() as usize;
            let rows = words / nb;
            let rb = bits_for(rows as u64);
            let mut s = format!(
                r#"
/* verilator lint_off UNUSEDSIGNAL */
// Tile index and word address buses are wider than this memory needs.
wire [15:0] unused_tile = rtile;
wire [23:0] unused_waddr = waddr;
/* verilator lint_on UNUSEDSIGNAL */
"#
            );
            for j in 0..nb {
                s.push_str(&format!(
                    r#"(* no_rw_check *) reg [63:0] mem{j} [0:{last}];
always @(posedge clk) begin
    rdata[{j}*64 +: 64] <= mem{j}[rtile[{rbh}:0]];
    if (we && waddr[{bbh}:0] == {bb}'d{j}) mem{j}[waddr[{wtop}:{bb}]] <= wdata;
end
"#,
                    last = rows - 1,
                    rbh = rb - 1,
                    bbh = bb - 1,
                    wtop = bb + rb - 1,
                ));
            }
            s
        };
        Verilog::Custom(code)
    }
}
