//! The AXI4-Lite register file: a Verilog leaf block generated from `spec::regs::REGISTERS`
//! (offsets, access types, reset and fixed values come from the table; nothing is retyped here).
//!
//! Registered: every storage register (DESC, IRQ_EN, SCRATCH, ERR sticky bits, the DONE flag),
//! the 64-bit performance counters and their HI shadows, the read data / response and BVALID.
//! Combinational: AWREADY/WREADY (= both valid and no response pending), ARREADY (= no read data
//! pending), the control pulses (START, SOFT_RESET) and `irq`.
//! Unmapped addresses answer SLVERR (reads return 0); writes to read-only registers are ignored
//! with OKAY, as AXI slaves usually do.
//!
//! Ports: `clk`, `resetn` (synchronous, active low), the `s_axil_*` slave, `desc` (all DESC
//! words, word 0 in bits 31:0), `start`/`soft_reset` (one-cycle pulses), `busy`, `done_set`
//! (pulse at job end), `err_set` (pulses, bit i = `ERR_FIELDS[i]`), `inc_*` (performance counter
//! increments this cycle), `jobs` (PERF_JOBS, for the C2H trailer's sequence number), `halted`
//! (some ERR bit is set) and `irq`.

use rust_hdl::prelude::*;
use spec::regs::{self, Access, Register, REGISTERS};
use spec::AccelConfig;

/// Address width the top level supports (the presets all use it).
pub const AXIL_AW: usize = 12;
pub const DESC_BITS: usize = spec::descriptor::DESC_WORDS * 32;

#[derive(LogicBlock)]
pub struct RegFile {
    pub clk: Signal<In, Clock>,
    pub resetn: Signal<In, Bit>,
    pub s_axil_awaddr: Signal<In, Bits<AXIL_AW>>,
    pub s_axil_awvalid: Signal<In, Bit>,
    pub s_axil_awready: Signal<Out, Bit>,
    pub s_axil_wdata: Signal<In, Bits<32>>,
    pub s_axil_wstrb: Signal<In, Bits<4>>,
    pub s_axil_wvalid: Signal<In, Bit>,
    pub s_axil_wready: Signal<Out, Bit>,
    pub s_axil_bresp: Signal<Out, Bits<2>>,
    pub s_axil_bvalid: Signal<Out, Bit>,
    pub s_axil_bready: Signal<In, Bit>,
    pub s_axil_araddr: Signal<In, Bits<AXIL_AW>>,
    pub s_axil_arvalid: Signal<In, Bit>,
    pub s_axil_arready: Signal<Out, Bit>,
    pub s_axil_rdata: Signal<Out, Bits<32>>,
    pub s_axil_rresp: Signal<Out, Bits<2>>,
    pub s_axil_rvalid: Signal<Out, Bit>,
    pub s_axil_rready: Signal<In, Bit>,
    pub desc: Signal<Out, Bits<DESC_BITS>>,
    pub start: Signal<Out, Bit>,
    pub soft_reset: Signal<Out, Bit>,
    pub busy: Signal<In, Bit>,
    pub done_set: Signal<In, Bit>,
    pub err_set: Signal<In, Bits<4>>,
    pub inc_busy: Signal<In, Bit>,
    pub inc_macs: Signal<In, Bits<16>>,
    pub inc_stall: Signal<In, Bit>,
    pub inc_stall_in: Signal<In, Bit>,
    pub inc_stall_out: Signal<In, Bit>,
    pub inc_h2c_hidden: Signal<In, Bit>,
    pub jobs: Signal<Out, Bits<32>>,
    pub halted: Signal<Out, Bit>,
    pub irq: Signal<Out, Bit>,
    _code: String,
}

impl RegFile {
    pub fn new(cfg: &AccelConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(
            cfg.axil_addr_bits as usize == AXIL_AW,
            "the RTL generator supports axil_addr_bits = {AXIL_AW} (config has {})",
            cfg.axil_addr_bits
        );
        anyhow::ensure!(regs::ERR_FIELDS.len() == 4, "err_set is 4 bits wide");
        Ok(RegFile {
            clk: Default::default(),
            resetn: Default::default(),
            s_axil_awaddr: Default::default(),
            s_axil_awvalid: Default::default(),
            s_axil_awready: Default::default(),
            s_axil_wdata: Default::default(),
            s_axil_wstrb: Default::default(),
            s_axil_wvalid: Default::default(),
            s_axil_wready: Default::default(),
            s_axil_bresp: Default::default(),
            s_axil_bvalid: Default::default(),
            s_axil_bready: Default::default(),
            s_axil_araddr: Default::default(),
            s_axil_arvalid: Default::default(),
            s_axil_arready: Default::default(),
            s_axil_rdata: Default::default(),
            s_axil_rresp: Default::default(),
            s_axil_rvalid: Default::default(),
            s_axil_rready: Default::default(),
            desc: Default::default(),
            start: Default::default(),
            soft_reset: Default::default(),
            busy: Default::default(),
            done_set: Default::default(),
            err_set: Default::default(),
            inc_busy: Default::default(),
            inc_macs: Default::default(),
            inc_stall: Default::default(),
            inc_stall_in: Default::default(),
            inc_stall_out: Default::default(),
            inc_h2c_hidden: Default::default(),
            jobs: Default::default(),
            halted: Default::default(),
            irq: Default::default(),
            _code: generate(cfg)?,
        })
    }
}

fn ident(r: &Register) -> String {
    r.name.to_lowercase()
}

fn field_bit(r: &Register, name: &str) -> anyhow::Result<u32> {
    r.fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.lsb)
        .ok_or_else(|| anyhow::anyhow!("register {} has no field {name}", r.name))
}

/// The read decode regrouped by groups of eight words: per group, a `case` on the word's low
/// three bits into `gval<g>`/`gok<g>` (registered every cycle, so the cycle after `rd_fire`
/// holds its address's groups), and the second stage's `case` on the group. `reads` holds one
/// `case` item per word (`<word>: begin ... end`), written with `rd_val`/`rd_ok` and the perf
/// counters' `rd_latch_*` flags (a latch flag is qualified by its group). Returns (declarations,
/// first-stage body, the group registers' loads, second-stage items).
fn grouped_reads(reads: &str, wa: usize) -> anyhow::Result<(String, String, String, String)> {
    let mut groups: std::collections::BTreeMap<usize, Vec<(usize, String)>> = Default::default();
    for line in reads.lines().filter(|l| !l.trim().is_empty()) {
        let (w, body) = line
            .trim()
            .split_once(": ")
            .ok_or_else(|| anyhow::anyhow!("read item without a word: {line}"))?;
        let w: usize = w.parse()?;
        groups
            .entry(w >> 3)
            .or_default()
            .push((w & 7, body.to_string()));
    }
    let (mut decls, mut comb, mut seq, mut sel) =
        (String::new(), String::new(), String::new(), String::new());
    for (g, items) in &groups {
        decls.push_str(&format!(
            "reg [31:0] gval{g}, gval{g}_q;\nreg gok{g}, gok{g}_q;\n"
        ));
        comb.push_str(&format!(
            "    gval{g} = 32'd0;\n    gok{g} = 1'b0;\n    case (rd_word[2:0])\n"
        ));
        for (lo, body) in items {
            let body = body
                .replace("rd_val", &format!("gval{g}"))
                .replace("rd_ok", &format!("gok{g}"));
            // A perf latch fires only for a read of its own group.
            let body = match body.find("rd_latch_") {
                Some(_) => body.replacen(
                    " = 1'b1; end",
                    &format!(" = (rd_word[{}:3] == {}'d{g}); end", wa - 1, wa - 3),
                    1,
                ),
                None => body,
            };
            comb.push_str(&format!("        3'd{lo}: {body}\n"));
        }
        comb.push_str("        default: ;\n    endcase\n");
        seq.push_str(&format!(
            "    gval{g}_q <= gval{g};\n    gok{g}_q <= gok{g};\n"
        ));
        sel.push_str(&format!(
            "        {}'d{g}: begin rd2_val = gval{g}_q; rd2_ok = gok{g}_q; end\n",
            wa - 3
        ));
    }
    Ok((decls, comb, seq, sel))
}

/// The Verilog body of the register file.
fn generate(cfg: &AccelConfig) -> anyhow::Result<String> {
    let aw = AXIL_AW;
    let mut decls = String::new();
    let mut reset = String::new();
    let mut writes = String::new();
    let mut writes_seq = String::new();
    let mut reads = String::new();
    let mut seq = String::new();
    let mut comb = String::new();
    // The increments arrive from all over the engine: register them once so the counters' carry
    // chains start at a flip-flop (a count lands one cycle late; the host reads after DONE).
    decls.push_str(
        "reg inc_busy_r, inc_stall_r, inc_stall_in_r, inc_stall_out_r, inc_h2c_hidden_r;\nreg [15:0] inc_macs_r;\n",
    );
    reset.push_str(
        "        inc_busy_r <= 1'b0;\n        inc_stall_r <= 1'b0;\n        inc_stall_in_r <= 1'b0;\n        inc_stall_out_r <= 1'b0;\n        inc_h2c_hidden_r <= 1'b0;\n        inc_macs_r <= 16'd0;\n",
    );
    seq.push_str(
        "        inc_busy_r <= inc_busy;\n        inc_stall_r <= inc_stall;\n        inc_stall_in_r <= inc_stall_in;\n        inc_stall_out_r <= inc_stall_out;\n        inc_h2c_hidden_r <= inc_h2c_hidden;\n        inc_macs_r <= inc_macs;\n",
    );
    // The perf counters: name -> increment expression.
    let perf_src = |name: &str| -> Option<&'static str> {
        match name {
            "PERF_BUSY" => Some("{63'd0, inc_busy_r}"),
            "PERF_MACS" => Some("{48'd0, inc_macs_r}"),
            "PERF_STALL" => Some("{63'd0, inc_stall_r}"),
            "PERF_STALL_IN" => Some("{63'd0, inc_stall_in_r}"),
            "PERF_STALL_OUT" => Some("{63'd0, inc_stall_out_r}"),
            "PERF_JOBS" => Some("{63'd0, done_set}"),
            "PERF_H2C_HIDDEN" => Some("{63'd0, inc_h2c_hidden_r}"),
            _ => None,
        }
    };
    let clear_perf_bit = field_bit(&regs::CTRL, "CLEAR_PERF")?;
    for r in REGISTERS {
        let n = ident(r);
        let word = |i: u32| (r.at(i) >> 2) as usize;
        match (r.name, r.access) {
            ("CTRL", Access::WO) => {
                let sb = field_bit(r, "START")?;
                let rb = field_bit(r, "SOFT_RESET")?;
                decls.push_str("reg ctrl_we;\n");
                comb.push_str(&format!(
                    "    start = ctrl_we & wdata_q[{sb}];\n    soft_reset = ctrl_we & wdata_q[{rb}];\n    clear_perf = ctrl_we & wdata_q[{clear_perf_bit}];\n"
                ));
                decls.push_str("reg [31:0] wdata_q;\nreg clear_perf;\n/* verilator lint_off UNUSEDSIGNAL */\n// Only the CTRL field bits of the held write data are used.\nwire [31:0] unused_wdata_q = wdata_q;\n/* verilator lint_on UNUSEDSIGNAL */\n");
                writes.push_str(&format!(
                    "            {}: begin wr_ok = 1'b1; ctrl_hit = 1'b1; end\n",
                    word(0)
                ));
                reads.push_str(&format!(
                    "            {}: begin rd_val = 32'd0; rd_ok = 1'b1; end\n",
                    word(0)
                ));
            }
            ("STATUS", Access::RO) => {
                let b = field_bit(r, "BUSY")?;
                let d = field_bit(r, "DONE")?;
                let e = field_bit(r, "ERROR")?;
                decls.push_str("reg done_q;\n");
                reset.push_str("        done_q <= 1'b0;\n");
                seq.push_str(
                    "        if (start) done_q <= 1'b0; else if (done_set) done_q <= 1'b1;\n",
                );
                reads.push_str(&format!(
                    "            {}: begin rd_val = 32'd0; rd_val[{b}] = busy; rd_val[{d}] = done_q; rd_val[{e}] = |err_q; rd_ok = 1'b1; end\n",
                    word(0)
                ));
            }
            ("ERR", Access::W1C) => {
                decls.push_str("reg [3:0] err_q;\n");
                reset.push_str("        err_q <= 4'd0;\n");
                seq.push_str(&format!(
                    "        if (soft_reset) err_q <= 4'd0; else err_q <= (err_q & ~((wr_fire && wr_word == {}) ? s_axil_wdata[3:0] : 4'd0)) | err_set;\n",
                    word(0)
                ));
                writes.push_str(&format!("            {}: wr_ok = 1'b1;\n", word(0)));
                reads.push_str(&format!(
                    "            {}: begin rd_val = {{28'd0, err_q}}; rd_ok = 1'b1; end\n",
                    word(0)
                ));
            }
            (_, Access::RW) => {
                let bits = r.count * 32;
                decls.push_str(&format!("reg [{}:0] {n}_q;\n", bits - 1));
                for i in 0..r.count {
                    reset.push_str(&format!(
                        "        {n}_q[{}:{}] <= 32'h{:08X};\n",
                        i * 32 + 31,
                        i * 32,
                        r.reset
                    ));
                    writes.push_str(&format!("            {}: wr_ok = 1'b1;\n", word(i)));
                    writes_seq.push_str(&format!(
                        "            {}: {n}_q[{}:{}] <= wmerge({n}_q[{}:{}]);\n",
                        word(i),
                        i * 32 + 31,
                        i * 32,
                        i * 32 + 31,
                        i * 32
                    ));
                    reads.push_str(&format!(
                        "            {}: begin rd_val = {n}_q[{}:{}]; rd_ok = 1'b1; end\n",
                        word(i),
                        i * 32 + 31,
                        i * 32
                    ));
                }
                if r.name == "DESC" {
                    comb.push_str(&format!("    desc = {n}_q;\n"));
                }
            }
            (name, Access::RO) if perf_src(name).is_some() => {
                let inc = perf_src(name).unwrap();
                // Single-word counters keep 32 bits; two-word ones 64 with a HI shadow.
                let bits = if r.count == 2 { 64 } else { 32 };
                decls.push_str(&format!("reg [{}:0] {n}_q;\n", bits - 1));
                reset.push_str(&format!("        {n}_q <= {bits}'d0;\n"));
                if r.count == 2 {
                    decls.push_str(&format!("reg [31:0] {n}_hi;\n"));
                    reset.push_str(&format!("        {n}_hi <= 32'd0;\n"));
                }
                let inc = if bits == 32 {
                    inc.replace("{63'd0,", "{31'd0,")
                } else {
                    inc.to_string()
                };
                seq.push_str(&format!(
                    "        if (clear_perf) {n}_q <= {bits}'d0; else {n}_q <= {n}_q + {inc};\n"
                ));
                if r.name == regs::PERF_JOBS.name {
                    anyhow::ensure!(bits == 32, "PERF_JOBS is one word: the `jobs` port");
                    comb.push_str(&format!("    jobs = {n}_q;\n"));
                }
                if r.count == 2 {
                    reads.push_str(&format!(
                        "            {}: begin rd_val = {n}_q[31:0]; rd_ok = 1'b1; rd_latch_{n} = 1'b1; end\n",
                        word(0)
                    ));
                    decls.push_str(&format!("reg rd_latch_{n};\n"));
                    comb.push_str(&format!("    rd_latch_{n} = 1'b0;\n"));
                } else {
                    reads.push_str(&format!(
                        "            {}: begin rd_val = {n}_q; rd_ok = 1'b1; end\n",
                        word(0)
                    ));
                }
                if r.count == 2 {
                    seq.push_str(&format!(
                        "        if (rd_fire && rd_latch_{n}) {n}_hi <= {n}_q[63:32];\n"
                    ));
                    reads.push_str(&format!(
                        "            {}: begin rd_val = {n}_hi; rd_ok = 1'b1; end\n",
                        word(1)
                    ));
                } else {
                    anyhow::ensure!(r.count == 1, "{}: perf registers have 1 or 2 words", r.name);
                }
            }
            (_, Access::RO) if r.count == 1 => {
                reads.push_str(&format!(
                    "            {}: begin rd_val = 32'h{:08X}; rd_ok = 1'b1; end\n",
                    word(0),
                    regs::fixed_value(r, cfg)
                ));
            }
            (name, access) => anyhow::bail!(
                "register {name} ({access:?}) has no hardware behaviour in regfile.rs"
            ),
        }
    }
    // The perf latch flags are assigned inside the read decode; move their defaults first.
    let read_defaults = comb
        .lines()
        .filter(|l| l.contains("rd_latch_"))
        .collect::<Vec<_>>()
        .join("\n");
    let comb_other = comb
        .lines()
        .filter(|l| !l.contains("rd_latch_"))
        .collect::<Vec<_>>()
        .join("\n");
    let wa = aw - 2;
    let (grp_decls, grp_comb, grp_seq, grp_sel) = grouped_reads(&reads, wa as usize)?;
    Ok(format!(
        r#"
// Generated from spec::regs::REGISTERS by hdl/src/regfile.rs; do not edit.
{decls}
reg bvalid_q;
reg [1:0] bresp_q;
reg rvalid_q;
reg [1:0] rresp_q;
reg [31:0] rdata_q;
reg wr_ok;
reg ctrl_hit;
reg rd_pend;
reg [{gh}:0] grp_q;
reg rd2_ok;
reg [31:0] rd2_val;
{grp_decls}wire wr_fire = s_axil_awvalid & s_axil_wvalid & ~bvalid_q;
// A read takes two cycles: the word is picked within its group of eight (registered per
// group), then the group (registered into rdata), so no register reaches rdata through one
// deep multiplexer.
wire rd_fire = s_axil_arvalid & ~rvalid_q & ~rd_pend;
wire [{wh}:0] wr_word = s_axil_awaddr[{ah}:2];
wire [{wh}:0] rd_word = s_axil_araddr[{ah}:2];
/* verilator lint_off UNUSEDSIGNAL */
// Address bits 1:0 are ignored (every register is a whole word).
wire [1:0] unused_addr_lsbs = s_axil_awaddr[1:0] ^ s_axil_araddr[1:0];
/* verilator lint_on UNUSEDSIGNAL */
function [31:0] wmerge(input [31:0] old);
    wmerge = {{s_axil_wstrb[3] ? s_axil_wdata[31:24] : old[31:24],
              s_axil_wstrb[2] ? s_axil_wdata[23:16] : old[23:16],
              s_axil_wstrb[1] ? s_axil_wdata[15:8] : old[15:8],
              s_axil_wstrb[0] ? s_axil_wdata[7:0] : old[7:0]}};
endfunction
always @(*) begin
    s_axil_awready = wr_fire;
    s_axil_wready = wr_fire;
    s_axil_arready = ~rvalid_q & ~rd_pend;
    s_axil_bvalid = bvalid_q;
    s_axil_bresp = bresp_q;
    s_axil_rvalid = rvalid_q;
    s_axil_rresp = rresp_q;
    s_axil_rdata = rdata_q;
    ctrl_we = ctrl_q_pulse;
    wdata_q = wdata_hold;
{comb_other}
    halted = |err_q;
    irq = (irq_en_q[{irq_done}] & done_q) | (irq_en_q[{irq_err}] & (|err_q));
end
reg ctrl_q_pulse;
reg [31:0] wdata_hold;
always @(*) begin
    wr_ok = 1'b0;
    ctrl_hit = 1'b0;
    case (wr_word)
{writes}            default: wr_ok = 1'b0;
    endcase
end
always @(*) begin
{read_defaults}
{grp_comb}end
always @(*) begin
    rd2_val = 32'd0;
    rd2_ok = 1'b0;
    case (grp_q)
{grp_sel}        default: begin rd2_val = 32'd0; rd2_ok = 1'b0; end
    endcase
end
// The first stage loads every cycle (no enable, no reset): in the cycle after rd_fire it holds
// the groups of the address that rd_fire took.
always @(posedge clk) begin
    grp_q <= rd_word[{wh}:3];
{grp_seq}end
always @(posedge clk) begin
    if (!resetn) begin
        bvalid_q <= 1'b0;
        bresp_q <= 2'd0;
        rvalid_q <= 1'b0;
        rresp_q <= 2'd0;
        rdata_q <= 32'd0;
        rd_pend <= 1'b0;
        ctrl_q_pulse <= 1'b0;
        wdata_hold <= 32'd0;
{reset}    end else begin
        ctrl_q_pulse <= 1'b0;
        if (wr_fire) begin
            case (wr_word)
{writes_seq}                default: ;
            endcase
        end
        if (wr_fire) begin
            bvalid_q <= 1'b1;
            bresp_q <= wr_ok ? 2'd0 : 2'd{slverr};
            ctrl_q_pulse <= ctrl_hit;
            wdata_hold <= s_axil_wdata;
        end else if (s_axil_bready) begin
            bvalid_q <= 1'b0;
        end
        if (rd_fire) rd_pend <= 1'b1;
        if (rd_pend) begin
            rd_pend <= 1'b0;
            rvalid_q <= 1'b1;
            rdata_q <= rd2_val;
            rresp_q <= rd2_ok ? 2'd0 : 2'd{slverr};
        end else if (s_axil_rready) begin
            rvalid_q <= 1'b0;
        end
{seq}    end
end
"#,
        wh = wa - 1,
        gh = wa - 4,
        ah = aw - 1,
        irq_done = field_bit(&regs::IRQ_EN, "DONE")?,
        irq_err = field_bit(&regs::IRQ_EN, "ERROR")?,
        slverr = regs::RESP_SLVERR,
    ))
}

impl Logic for RegFile {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.s_axil_awready.connect();
        self.s_axil_wready.connect();
        self.s_axil_bresp.connect();
        self.s_axil_bvalid.connect();
        self.s_axil_arready.connect();
        self.s_axil_rdata.connect();
        self.s_axil_rresp.connect();
        self.s_axil_rvalid.connect();
        self.desc.connect();
        self.start.connect();
        self.soft_reset.connect();
        self.jobs.connect();
        self.halted.connect();
        self.irq.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(self._code.clone())
    }
}
