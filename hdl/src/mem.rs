//! Memory and delay leaf blocks, emitted as generated Verilog (a leaf whose body is plain Verilog infers block RAM quickly; rust-hdl's RAM widgets emit one
//! assignment per word). Each has a trivial rust-hdl `update` because the RTL is judged under
//! Verilator only.
//!
//! * [`Ram`]: one write port, one read port, registered read (1 cycle; 2 for
//!   [`Ram::registered`]; [`DEEP_RAM_LATENCY`] for
//!   [`Ram::deep`], banked with registered addresses and outputs), `depth` words.
//! * [`BankedMem`]: `S` byte banks (bank = address mod S) with rotation, so `S` consecutive bytes
//!   at any address are read (latency 2: bank read registered, rotation registered;
//!   [`PIPELINED_READ_LATENCY`] for the activation and pool buffers, whose reads register the
//!   row addresses and the banks' outputs) or written (per-lane enables) per cycle.
//! * [`MaskMem`]: the output-position mask, written 64 bits at a time, read `S` bits per tile
//!   (latency 1).
//! * [`Pipe`]: a `depth`-stage delay line (all stages registered).

use rust_hdl::prelude::*;

fn bits_for(n: u64) -> usize {
    (64 - (n.max(2) - 1).leading_zeros()) as usize
}

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

#[derive(LogicBlock, Default)]
pub struct BankedMem<const S: usize, const S8: usize> {
    pub clk: Signal<In, Clock>,
    pub raddr: Signal<In, Bits<24>>,
    pub rdata: Signal<Out, Bits<S8>>,
    pub waddr: Signal<In, Bits<24>>,
    pub wdata: Signal<In, Bits<S8>>,
    pub wlanes: Signal<In, Bits<S>>,
    pub we: Signal<In, Bit>,
    _bytes: usize,
    _pipelined: bool,
    _aligned_writes: bool,
    _pool: bool,
}

impl<const S: usize, const S8: usize> BankedMem<S, S8> {
    /// Read latency 2; a write lands at the clock edge that takes it.
    pub fn new(bytes: usize) -> Self {
        assert_eq!(S * 8, S8);
        BankedMem {
            _bytes: bytes,
            ..Default::default()
        }
    }

    /// Read latency [`PIPELINED_READ_LATENCY`] and writes one cycle late: the row addresses are
    /// registered, then each bank registers its own read row and write row (so no adder, and no
    /// register shared by every bank, sits in front of a block RAM's address pins), and the
    /// banks' outputs are registered before the two-step rotation (Fmax). Writes are lane-positioned: `waddr` is rounded down to a multiple of `S`
    /// and lane `s` of `wdata`/`wlanes` goes to bank `s` (no write rotator; the writer places
    /// its bytes). For a buffer never read right after a write (the activation buffer: loads and
    /// squeeze outputs finish before the reading job starts).
    pub fn pipelined(bytes: usize) -> Self {
        BankedMem {
            _pipelined: true,
            ..Self::new(bytes)
        }
    }

    /// Read latency 2; every write address is a multiple of `S` (lane `s` goes to bank `s`), so
    /// the write port has no rotator. For the pool plane buffer, written a whole tile at a time
    /// at tile offsets.
    pub fn aligned_writes(bytes: usize) -> Self {
        BankedMem {
            _aligned_writes: true,
            ..Self::new(bytes)
        }
    }

    /// The pool plane buffer: aligned writes, registered per bank like the activation buffer's
    /// (a write lands one cycle late), and the pipelined read (latency
    /// [`PIPELINED_READ_LATENCY`]), so neither an adder nor a rotator sits in front of the bank
    /// addresses, and a bank's output meets a register before the rotation.
    pub fn pool_buffer(bytes: usize) -> Self {
        BankedMem {
            _pool: true,
            ..Self::new(bytes)
        }
    }
}

/// Module name prefix of the kept registers: `sqz_kc_reg_w<W>`, a `W`-bit register with an
/// enable. The name matches the place-and-route synthesis' `*_kc*` keep pattern, so each
/// instance stays apart until flattening (Yosys merges equal registers otherwise);
/// [`kept_reg_modules`] defines the widths a Verilog text uses.
pub const KEPT_REG: &str = "sqz_kc_reg_w";

/// An instance `{name}_kc` of the kept register driving wire `name`.
fn kept_reg(name: &str, width: usize, en: &str, d: &str) -> String {
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

impl<const S: usize, const S8: usize> Logic for BankedMem<S, S8> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.rdata.connect();
    }
    fn hdl(&self) -> Verilog {
        let lb = S.trailing_zeros() as usize;
        let rows = self._bytes / S;
        let ra = bits_for(rows as u64);
        // A bank of < 512 bytes would waste most of a block RAM (18 Kb): ask for LUT RAM. From
        // 512 bytes on, block RAM: spreading that much LUT RAM over an ECP5 put 15 ns of routing
        // on its address nets (the ecp5 pool buffer, 32 banks x 512 bytes).
        let style = if rows < 512 {
            "(* ram_style = \"distributed\" *) "
        } else {
            ""
        };
        // Read side: the pipelined variants register each bank's row choice first.
        let mut banks = String::new();
        let piped_read = self._pipelined || self._pool;
        // Banks are fed through a register per group of ROW_GROUP banks (a tree: no register
        // drives every bank's row register or enable across the chip).
        let groups = S / ROW_GROUP;
        if piped_read {
            banks.push_str(&format!(
                r#"reg [{rah}:0] rrow_q, rrow1_q;
reg [{sh}:0] rinc_q;
reg [{lbh}:0] rrot_q, rrot_q1, rrot_q2;
always @(posedge clk) begin
    rrow_q <= rrow;
    rrow1_q <= rrow + {ra}'d1;
    rrot_q <= rrot;
    rrot_q1 <= rrot_q;
    rrot_q2 <= rrot_q1;
end
"#,
                rah = ra - 1,
                sh = S - 1,
                lbh = lb - 1,
            ));
            for g in 0..groups {
                // Bank b reads row + (b < rrot): within a group that is the row of its first
                // bank (`rhi`) or of its last (`rlo`). The two differ between groups, so Yosys
                // cannot merge the groups' registers.
                let (first, last) = (g * ROW_GROUP, g * ROW_GROUP + ROW_GROUP - 1);
                let lt = |b: usize| {
                    if b == S - 1 {
                        "1'b0".to_string()
                    } else {
                        format!("{lb}'d{b} < rrot_q")
                    }
                };
                banks.push_str(&format!(
                    "reg [{rah}:0] rhi_g{g}, rlo_g{g};
always @(posedge clk) begin
    rhi_g{g} <= ({}) ? rrow1_q : rrow_q;
    rlo_g{g} <= ({}) ? rrow1_q : rrow_q;
end
",
                    lt(first),
                    lt(last),
                    rah = ra - 1
                ));
            }
        }
        // Write side: registered (activation buffer), aligned (pool buffer) or plain.
        let aligned = self._aligned_writes || self._pool || self._pipelined;
        // Registered writes (activation and pool buffers): each bank has its own write row and
        // enable, loaded only for a write to that bank (distinct enables, so Yosys keeps the
        // copies apart): no register drives every block RAM's address pins across the chip.
        let reg_writes = self._pipelined || self._pool;
        if reg_writes {
            banks.push_str(&format!(
                "reg [{s8h}:0] wd_q, wd_q2;\nalways @(posedge clk) begin\n    wd_q <= wdata;\n    wd_q2 <= wd_q;\nend\n",
                s8h = S8 - 1,
            ));
            for g in 0..groups {
                // The group's write row loads only for a write to one of its banks; `wl_g` are
                // its banks' enables. Kept registers: the pool buffer's lanes are all enabled
                // together, so Yosys would merge every group's copy into one.
                let (lo, hi) = (g * ROW_GROUP, g * ROW_GROUP + ROW_GROUP - 1);
                banks.push_str(&format!(
                    "wire [{rah}:0] wrow_g{g};\nwire [{gh}:0] wl_g{g};\n{}{}",
                    kept_reg(
                        &format!("wl_g{g}"),
                        ROW_GROUP,
                        "1'b1",
                        &format!("we ? wlanes[{hi}:{lo}] : {ROW_GROUP}'d0")
                    ),
                    kept_reg(
                        &format!("wrow_g{g}"),
                        ra,
                        &format!("we & (|wlanes[{hi}:{lo}])"),
                        "wrow"
                    ),
                    rah = ra - 1,
                    gh = ROW_GROUP - 1,
                ));
            }
        }
        for b in 0..S {
            // Bank S-1 never takes the next row (the rotation is < S).
            let inc = |rot: &str| {
                if b == S - 1 {
                    "1'b0".to_string()
                } else {
                    format!("{lb}'d{b} < {rot}")
                }
            };
            let mut body = String::new();
            if piped_read {
                // The bank's own read row, registered (it drives only this bank's block RAMs).
                let g = b / ROW_GROUP;
                banks.push_str(&format!(
                    "reg [{rah}:0] rrow_b{b};\nalways @(posedge clk) rrow_b{b} <= rinc_q[{b}] ? rhi_g{g} : rlo_g{g};\n",
                    rah = ra - 1
                ));
                body.push_str(&format!(
                    "    rinc_q[{b}] <= {};\n    bank_q[{b}*8 +: 8] <= bank{b}[rrow_b{b}];\n",
                    inc("rrot_q")
                ));
            } else {
                body.push_str(&format!(
                    "    bank_q[{b}*8 +: 8] <= bank{b}[rrow + (({b} < rrot) ? {ra}'d1 : {ra}'d0)];\n"
                ));
            }
            if reg_writes {
                let (g, k) = (b / ROW_GROUP, b % ROW_GROUP);
                banks.push_str(&format!(
                    "wire [{rah}:0] wrow_b{b};\nwire we_b{b};\n{}{}",
                    kept_reg(&format!("we_b{b}"), 1, "1'b1", &format!("wl_g{g}[{k}]")),
                    kept_reg(
                        &format!("wrow_b{b}"),
                        ra,
                        &format!("wl_g{g}[{k}]"),
                        &format!("wrow_g{g}")
                    ),
                    rah = ra - 1
                ));
                body.push_str(&format!(
                    "    if (we_b{b}) bank{b}[wrow_b{b}] <= wd_q2[{b}*8 +: 8];\n"
                ));
            } else if aligned {
                body.push_str(&format!(
                    "    if (we & wlanes[{b}]) bank{b}[wrow] <= wdata[{b}*8 +: 8];\n"
                ));
            } else {
                body.push_str(&format!(
                    "    if (we & wl_rot[{b}]) bank{b}[wrow + (({b} < wrot) ? {ra}'d1 : {ra}'d0)] <= wd_rot[{b}*8 +: 8];\n"
                ));
            }
            banks.push_str(&format!(
                "{style}(* no_rw_check *) reg [7:0] bank{b} [0:{last}];\nalways @(posedge clk) begin\n{body}end\n",
                last = rows - 1,
            ));
        }
        let rot_src = if piped_read { "rrot_q2" } else { "rrot" };
        let write_rot = if aligned {
            "// Writes are S-aligned (the low address bits are 0): lane s goes to bank s.\n"
                .to_string()
        } else {
            format!(
                r#"wire [{lbh}:0] wrot = waddr[{lbh}:0];
// Write: lane s goes to bank (waddr + s) mod {S}: rotate left by waddr mod {S} lanes.
// A rotation is a shift of the doubled word; only one half of it is the result.
/* verilator lint_off UNUSEDSIGNAL */
wire [{s2h}:0] wd_dbl = {{wdata, wdata}} << {{wrot, 3'd0}};
wire [{s2lh}:0] wl_dbl = {{wlanes, wlanes}} << wrot;
/* verilator lint_on UNUSEDSIGNAL */
wire [{s8h}:0] wd_rot = wd_dbl[{s2h}:{S8}];
wire [{sh}:0] wl_rot = wl_dbl[{s2lh}:{S}];
"#,
                lbh = lb - 1,
                s2h = 2 * S8 - 1,
                s8h = S8 - 1,
                s2lh = 2 * S - 1,
                sh = S - 1,
            )
        };
        // The read's rotation: in one registered step behind the block RAMs (latency 2), or, for
        // the activation and pool buffers, behind a register on the banks' outputs and in two
        // registered steps, high rotation bits then low (latency PIPELINED_READ_LATENCY).
        let read_rot = if piped_read {
            let lo = lb / 2;
            format!(
                r#"reg [{s8h}:0] bank_r, bank_r2, rot_a;
reg [{lbh}:0] rot_r0, rot_r;
reg [{loh}:0] rot_r2;
/* verilator lint_off UNUSEDSIGNAL */
wire [{s2h}:0] rd_dbl = {{bank_r2, bank_r2}} >> {{rot_r[{lbh}:{lo}], {lo}'d0, 3'd0}};
wire [{s2h}:0] rd_dbl2 = {{rot_a, rot_a}} >> {{rot_r2[{loh}:0], 3'd0}};
/* verilator lint_on UNUSEDSIGNAL */
always @(posedge clk) begin
    rot_q <= {rot_src};
    // bank_r becomes the block RAMs' own output register on ECP5 (`bram_oreg`); bank_r2 is
    // the fabric's, so each block RAM output drives one flip-flop, not the rotation's muxes.
    bank_r <= bank_q;
    bank_r2 <= bank_r;
    rot_r0 <= rot_q;
    rot_r <= rot_r0;
    rot_a <= rd_dbl[{s8h}:0];
    rot_r2 <= rot_r[{loh}:0];
    rdata <= rd_dbl2[{s8h}:0];
end
"#,
                lbh = lb - 1,
                loh = lo - 1,
                s2h = 2 * S8 - 1,
                s8h = S8 - 1,
            )
        } else {
            format!(
                r#"/* verilator lint_off UNUSEDSIGNAL */
wire [{s2h}:0] rd_dbl = {{bank_q, bank_q}} >> {{rot_q, 3'd0}};
/* verilator lint_on UNUSEDSIGNAL */
always @(posedge clk) begin
    rot_q <= {rot_src};
    rdata <= rd_dbl[{s8h}:0];
end
"#,
                s2h = 2 * S8 - 1,
                s8h = S8 - 1,
            )
        };
        Verilog::Custom(format!(
            r#"
// {S} banks x {rows} bytes; bank b holds byte addresses a with a mod {S} == b at row a / {S}.
wire [{rah}:0] rrow = raddr[{rtop}:{lb}];
wire [{lbh}:0] rrot = raddr[{lbh}:0];
wire [{rah}:0] wrow = waddr[{rtop}:{lb}];
/* verilator lint_off UNUSEDSIGNAL */
// Addresses are 24-bit buses; the banks use the low {abits} bits.
wire [23:0] unused_addr_bits = raddr ^ waddr;
/* verilator lint_on UNUSEDSIGNAL */
{write_rot}reg [{s8h}:0] bank_q;
reg [{lbh}:0] rot_q;
// Read: lane s = bank (raddr + s) mod {S}: rotate right by raddr mod {S} lanes.
{read_rot}{banks}"#,
            rah = ra - 1,
            rtop = lb + ra - 1,
            lbh = lb - 1,
            abits = lb + ra,
            s8h = S8 - 1,
        ))
    }
}

/// Read latency of [`BankedMem::pipelined`] (the activation buffer) and of
/// [`BankedMem::pool_buffer`]: row registers, the group's row registers, each bank's own row
/// register, block RAMs, the banks' output register and its fabric copy, two rotation steps.
/// Their writes land three cycles after the write port (group, bank, block RAM).
pub const PIPELINED_READ_LATENCY: usize = 8;
/// Banks per group of the activation and pool buffers' address tree (each group has its own
/// registered read rows and write row between the shared registers and the banks' own).
pub const ROW_GROUP: usize = 8;

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

/// The descriptor field decoder: slices the `DESC` words into named ports, generated from
/// `spec::descriptor::FIELDS` (positions and widths are read from spec, and `new` checks that
/// every port width equals the spec field width). Purely combinational.
#[derive(LogicBlock, Default)]
pub struct DescDecode {
    pub desc: Signal<In, Bits<{ crate::regfile::DESC_BITS }>>,
    pub k: Signal<Out, Bits<3>>,
    pub src_mid: Signal<Out, Bit>,
    pub dst_mid: Signal<Out, Bit>,
    pub in_signed: Signal<Out, Bit>,
    pub pool: Signal<Out, Bit>,
    pub lut_slot: Signal<Out, Bits<6>>,
    pub out_c: Signal<Out, Bits<16>>,
    pub grid_w: Signal<Out, Bits<16>>,
    pub plane_in: Signal<Out, Bits<16>>,
    pub q_start: Signal<Out, Bits<24>>,
    pub ntiles: Signal<Out, Bits<16>>,
    pub src_base: Signal<Out, Bits<24>>,
    pub weight_base: Signal<Out, Bits<23>>,
    pub weight_beats: Signal<Out, Bits<16>>,
    pub bias_base: Signal<Out, Bits<16>>,
    pub m: Signal<Out, Bits<16>>,
    pub shift: Signal<Out, Bits<6>>,
    pub dst_base: Signal<Out, Bits<24>>,
    pub plane_out: Signal<Out, Bits<16>>,
    pub out_ch_offset: Signal<Out, Bits<16>>,
    pub mask_base: Signal<Out, Bits<16>>,
    pub wr_count: Signal<Out, Bits<24>>,
    pub pool_oh: Signal<Out, Bits<12>>,
    pub pool_chunks: Signal<Out, Bits<8>>,
    pub pool_col0: Signal<Out, Bits<4>>,
}

impl DescDecode {
    pub fn new() -> Self {
        let d = DescDecode::default();
        let widths: [(&str, usize); 25] = [
            ("k", 3),
            ("src_mid", 1),
            ("dst_mid", 1),
            ("in_signed", 1),
            ("pool", 1),
            ("lut_slot", 6),
            ("out_c", 16),
            ("grid_w", 16),
            ("plane_in", 16),
            ("q_start", 24),
            ("ntiles", 16),
            ("src_base", 24),
            ("weight_base", 23),
            ("weight_beats", 16),
            ("bias_base", 16),
            ("m", 16),
            ("shift", 6),
            ("dst_base", 24),
            ("plane_out", 16),
            ("out_ch_offset", 16),
            ("mask_base", 16),
            ("wr_count", 24),
            ("pool_oh", 12),
            ("pool_chunks", 8),
            ("pool_col0", 4),
        ];
        assert_eq!(widths.len(), spec::descriptor::FIELDS.len());
        for (name, w) in widths {
            let f = spec::descriptor::FIELDS
                .iter()
                .find(|f| f.name == name)
                .expect("descriptor field");
            assert_eq!(f.width as usize, w, "port width of descriptor field {name}");
        }
        d
    }
}

impl Logic for DescDecode {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.k.connect();
        self.src_mid.connect();
        self.dst_mid.connect();
        self.in_signed.connect();
        self.pool.connect();
        self.lut_slot.connect();
        self.out_c.connect();
        self.grid_w.connect();
        self.plane_in.connect();
        self.q_start.connect();
        self.ntiles.connect();
        self.src_base.connect();
        self.weight_base.connect();
        self.weight_beats.connect();
        self.bias_base.connect();
        self.m.connect();
        self.shift.connect();
        self.dst_base.connect();
        self.plane_out.connect();
        self.out_ch_offset.connect();
        self.mask_base.connect();
        self.wr_count.connect();
        self.pool_oh.connect();
        self.pool_chunks.connect();
        self.pool_col0.connect();
    }
    fn hdl(&self) -> Verilog {
        let mut s =
            String::from("// Generated from spec::descriptor::FIELDS.\nalways @(*) begin\n");
        let mut used = vec![false; crate::regfile::DESC_BITS];
        for f in spec::descriptor::FIELDS {
            let b = f.bit() as usize;
            s.push_str(&format!(
                "    {} = desc[{}:{}];\n",
                f.name,
                b + f.width as usize - 1,
                b
            ));
            for u in used.iter_mut().skip(b).take(f.width as usize) {
                *u = true;
            }
        }
        s.push_str("end\n");
        // Reserved descriptor bits are not used by the hardware.
        let unused: Vec<String> = (0..used.len())
            .filter(|&i| !used[i])
            .map(|i| format!("desc[{i}]"))
            .collect();
        s.push_str(&format!(
            "/* verilator lint_off UNUSEDSIGNAL */\n// Reserved descriptor bits (not part of any field).\nwire unused_reserved = ^{{{}}};\n/* verilator lint_on UNUSEDSIGNAL */\n",
            unused.join(", ")
        ));
        Verilog::Custom(s)
    }
}

/// Concatenation of `S` bytes into one bus (`out` byte i = `ins[i]`): rust-hdl cannot assign a
/// slice selected by a loop variable, so this leaf does it. Purely combinational.
#[derive(LogicBlock)]
pub struct Concat<const S: usize, const S8: usize> {
    pub ins: [Signal<In, Bits<8>>; S],
    pub out: Signal<Out, Bits<S8>>,
}

impl<const S: usize, const S8: usize> Default for Concat<S, S8> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const S: usize, const S8: usize> Concat<S, S8> {
    pub fn new() -> Self {
        assert_eq!(S * 8, S8);
        Concat {
            ins: std::array::from_fn(|_| Default::default()),
            out: Default::default(),
        }
    }
}

impl<const S: usize, const S8: usize> Logic for Concat<S, S8> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.out.connect();
    }
    fn hdl(&self) -> Verilog {
        let parts: Vec<String> = (0..S).rev().map(|i| format!("ins${i}")).collect();
        Verilog::Custom(format!("always @(*) out = {{{}}};\n", parts.join(", ")))
    }
}

/// One 64-bit H2C beat copied into every 8-byte group of an `S`-byte word (`out` = `{S/8{din}}`):
/// with lane enables picking one group, the loader writes the activation buffer without a
/// rotator. Purely combinational.
#[derive(LogicBlock, Default)]
pub struct Replicate<const S8: usize> {
    pub din: Signal<In, Bits<64>>,
    pub out: Signal<Out, Bits<S8>>,
}

impl<const S8: usize> Logic for Replicate<S8> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.out.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!("always @(*) out = {{{}{{din}}}};\n", S8 / 64))
    }
}
