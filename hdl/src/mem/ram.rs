//! [`Ram`]: one write port, one read port, registered read, `depth` words (1 cycle; 2 for
//! [`Ram::registered`]; [`DEEP_RAM_LATENCY`] for [`Ram::deep`], banked with registered
//! addresses and outputs). A generated Verilog leaf.

use rust_hdl::prelude::*;

use super::kept::kept_reg;

use super::bits_for;

#[derive(LogicBlock, Default)]
pub struct Ram<const D: usize> {
    pub clk: Signal<In, Clock>,
    pub raddr: Signal<In, Bits<24>>,
    pub rdata: Signal<Out, Bits<D>>,
    pub waddr: Signal<In, Bits<24>>,
    pub wdata: Signal<In, Bits<D>>,
    pub we: Signal<In, Bit>,
    _depth: usize,
    _deep: bool,
    _reg_out: bool,
}

impl<const D: usize> Ram<D> {
    /// Read latency 1.
    pub fn new(depth: usize) -> Self {
        Ram {
            _depth: depth,
            ..Default::default()
        }
    }

    /// Read latency 2: the block RAM's output is registered in the fabric before any logic sees
    /// it (an ECP5 block RAM without its output register puts data out over 4 ns after
    /// the clock; the ECP5 flow moves this register into the block, `bram_oreg`).
    pub fn registered(depth: usize) -> Self {
        Ram {
            _reg_out: true,
            ..Self::new(depth)
        }
    }

    /// Read latency [`DEEP_RAM_LATENCY`], for a memory of many block RAMs (the weight memory):
    /// it is split into banks of [`DEEP_RAM_BANK`] words, each with its own registered copy of
    /// the read address (no single register drives every block RAM) and a register on its
    /// output (which the ECP5 flow moves into the block RAM, `bram_oreg`), and the bank select
    /// is a registered multiplexer. The write
    /// port is registered twice (the write port, then each bank's own copy: a write lands two
    /// cycles late).
    pub fn deep(depth: usize) -> Self {
        Ram {
            _deep: true,
            ..Self::new(depth)
        }
    }
}

/// Read latency of [`Ram::registered`]: block RAM, fabric register.
pub const REGISTERED_RAM_LATENCY: usize = 2;
/// Read latency of [`Ram::deep`]: address copy, block RAM, bank register, gated bank word, bank
/// OR.
pub const DEEP_RAM_LATENCY: usize = 5;
/// Bits per slice of a [`Ram::deep`] bank's word (each slice has its own address registers).
pub const DEEP_RAM_SLICE: usize = 4;
/// Words per bank of [`Ram::deep`] (one ECP5 DP16KD deep at 16K x 1; a RAMB36 at 32K x 1 holds
/// two).
pub const DEEP_RAM_BANK: usize = 16384;

impl<const D: usize> Ram<D> {
    fn deep_hdl(&self) -> String {
        let a = bits_for(self._depth as u64);
        let nb = self._depth.div_ceil(DEEP_RAM_BANK);
        let bank_words = self._depth.min(DEEP_RAM_BANK);
        let ab = bits_for(bank_words as u64);
        let sb = bits_for(nb as u64);
        let dh = D - 1;
        let mut s = format!(
            r#"
/* verilator lint_off UNUSEDSIGNAL */
// Addresses are 24-bit buses; the memory uses the low {a} bits.
wire [23:0] unused_addr_bits = raddr ^ waddr;
/* verilator lint_on UNUSEDSIGNAL */
"#
        );
        if nb > 1 {
            // The bank number follows the read through the address copy, the block RAM and the
            // bank register.
            s.push_str(&format!(
                "reg [{sbh}:0] sel1, sel2;\nalways @(posedge clk) begin\n    sel1 <= raddr[{ah}:{ab}];\n    sel2 <= sel1;\nend\n",
                sbh = sb - 1,
                ah = a - 1,
            ));
        }
        // The write port is registered once before the banks (the bank decode becomes one
        // register per bank, and the placer gets a point between the loader and the banks).
        s.push_str(&format!(
            "reg [{nbh}:0] whit_q;\nreg [{abh}:0] waddr_q;\nreg [{dh}:0] wdata_q;\nalways @(posedge clk) begin\n    waddr_q <= waddr[{abh}:0];\n    wdata_q <= wdata;\n",
            nbh = nb - 1,
            abh = ab - 1,
            dh = D - 1,
        ));
        for b in 0..nb {
            let whit = if nb == 1 {
                "1'b1".to_string()
            } else {
                format!("waddr[{}:{ab}] == {sb}'d{b}", a - 1)
            };
            s.push_str(&format!("    whit_q[{b}] <= we && ({whit});\n"));
        }
        s.push_str("end\n");
        let mut mux = String::new();
        for b in 0..nb {
            // Each bank's read address, write address and data are its own registers, loaded
            // only for an access to that bank: distinct enables keep Yosys from merging the
            // copies back into one register driving every block RAM.
            let (rhit, qhit) = if nb == 1 {
                ("1'b1".to_string(), "1'b1".to_string())
            } else {
                (
                    format!("raddr[{}:{ab}] == {sb}'d{b}", a - 1),
                    format!("sel2 == {sb}'d{b}"),
                )
            };
            // The bank's word is split into slices of DEEP_RAM_SLICE bits, each a memory of its
            // own with its own (kept) read and write address registers: one address register
            // reached all 12 of a bank's block RAMs, 8.5 ns of routing.
            let slices: Vec<(usize, usize)> = (0..D)
                .step_by(DEEP_RAM_SLICE)
                .map(|lo| (lo, (lo + DEEP_RAM_SLICE).min(D) - 1))
                .collect();
            let mut decl = String::new();
            let mut body = String::new();
            let mut cat = Vec::new();
            for (k, &(lo, hi)) in slices.iter().enumerate() {
                decl.push_str(&format!(
                    "(* no_rw_check *) reg [{w}:0] mem{b}_{k} [0:{last}];\nreg [{w}:0] rd{b}_{k};\nwire [{abh}:0] ra{b}_{k}, wa{b}_{k};\n{}{}",
                    kept_reg(&format!("ra{b}_{k}"), ab, &rhit, &format!("raddr[{}:0]", ab - 1)),
                    kept_reg(&format!("wa{b}_{k}"), ab, &format!("whit_q[{b}]"), &format!("waddr_q[{}:0]", ab - 1)),
                    w = hi - lo,
                    last = bank_words - 1,
                    abh = ab - 1,
                ));
                body.push_str(&format!(
                    "    rd{b}_{k} <= mem{b}_{k}[ra{b}_{k}];\n    if (we{b}) mem{b}_{k}[wa{b}_{k}] <= wd{b}[{hi}:{lo}];\n"
                ));
                cat.push(format!("rd{b}_{k}"));
            }
            cat.reverse();
            s.push_str(&format!(
                r#"{decl}reg [{dh}:0] rq{b}, rqg{b}, wd{b};
reg we{b}, hq{b};
always @(posedge clk) begin
{body}    // A plain register (no reset, no enable): the ECP5 flow moves it into the block RAMs'
    // output registers (`bram_oreg`). `hq` says whether this bank was the one read, so the
    // bank select below is an OR of the banks' words gated by their `hq`.
    rq{b} <= {{{cat}}};
    hq{b} <= {qhit};
    // The bank's word gated by its hit, registered beside the bank (the OR below then starts
    // at flip-flops, not at block-RAM outputs spread over the chip).
    rqg{b} <= rq{b} & {{{dw}{{hq{b}}}}};
    we{b} <= whit_q[{b}];
    if (whit_q[{b}]) wd{b} <= wdata_q;
end
"#,
                cat = cat.join(", "),
                dw = D,
            ));
            mux.push_str(&format!("{}rqg{b}", if b == 0 { "" } else { " | " }));
        }
        if nb == 1 {
            s.push_str(
                "always @(posedge clk) rdata <= rqg0;
",
            );
        } else {
            s.push_str(&format!("always @(posedge clk) rdata <= {mux};\n"));
        }
        s
    }
}

impl<const D: usize> Logic for Ram<D> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.rdata.connect();
    }
    fn hdl(&self) -> Verilog {
        if self._deep {
            return Verilog::Custom(self.deep_hdl());
        }
        let a = bits_for(self._depth as u64);
        Verilog::Custom(format!(
            r#"
(* no_rw_check *) reg [{dh}:0] mem [0:{last}];
/* verilator lint_off UNUSEDSIGNAL */
// Addresses are 24-bit buses; the memory uses the low {a} bits.
wire [23:0] unused_addr_bits = raddr ^ waddr;
/* verilator lint_on UNUSEDSIGNAL */
{decl}always @(posedge clk) begin
    {read}
    if (we) mem[waddr[{ah}:0]] <= wdata;
end
"#,
            dh = D - 1,
            ah = a - 1,
            last = self._depth - 1,
            decl = if self._reg_out {
                format!("reg [{}:0] rd;\n", D - 1)
            } else {
                String::new()
            },
            read = if self._reg_out {
                format!("rd <= mem[raddr[{}:0]];\n    rdata <= rd;", a - 1)
            } else {
                format!("rdata <= mem[raddr[{}:0]];", a - 1)
            },
        ))
    }
}
