//! [`BankedMem`]: `S` byte banks (bank = address mod S) with rotation, so `S` consecutive bytes
//! at any address are read or written (per-lane enables) per cycle; the kept-register modules
//! its address tree uses kept registers ([`super::KEPT_REG`]). A generated Verilog leaf.

use rust_hdl::prelude::*;

use super::kept::kept_reg;

use super::bits_for;

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
