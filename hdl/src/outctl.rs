//! The output side of the engine: a FIFO of finished tiles (`S` requantized bytes plus where they
//! go), drained to one of three sinks chosen by the descriptor:
//! * C2H: each tile is serialized into `S/8` beats of the AXI4-Stream master (`tlast` on the
//!   job's final beat);
//! * mid buffer (Fire squeeze): the tile is written in one cycle into the banked mid memory at
//!   its grid address, lanes past the descriptor's `wr_count` masked off (`pkeep`);
//! * fused 3x3/2 max-pool: tiles of one channel fill the pool plane buffer; after the channel's
//!   last tile the pool FSM reads three rows per chunk (`S`-byte reads at any alignment), runs
//!   them through [`PoolMax`] and sends `S/2` bytes (`S/16` beats) per chunk on C2H.
//!
//! Registered: FIFO contents and pointers (in [`Fifo`]; a third FIFO carries each tile's
//! mid-window lane enables, computed as the tile enters), the data FIFO's head (a copy of
//! its output a cycle later, with a flag that it still is the head), the serializer's holding
//! register (loaded from that copy whenever the serializer is idle, never shifted: the beat
//! index picks the 64 bits offered), beat counter, index, busy and idle flags and `tlast`
//! flag, the pool FSM (state counter, `pc_out` flag, the pool max's load copies, row/chunk
//! counters, address bases and the read address, all chosen a cycle ahead), the pool buffer's
//! read word beside the pool max, the pool buffer, and the mid-buffer and pool-buffer write
//! ports (one cycle after the pop). Combinational: FIFO pop and the stream outputs (driven
//! from the holding register).
//!
//! Ports: `clk`, `rst`; job constants (`dst_mid`, `pool`, `grid_w`, `pool_oh`,
//! `pool_chunks`, `pool_col0`); the tile input (`push`, `pdata`, `pdst` mid address, `prel`
//! position relative to `q_start`, `pchan_last`, `pjob_last`, `pkeep`); `pop` (one credit back to the
//! engine), `idle`; the mid write port; the C2H stream; `stall_out` (a beat waits for tready).

use crate::mem::{
    BankedMem, Fifo, PoolMax, PIPELINED_READ_LATENCY, POOL_LOAD_COPIES, POOL_MAX_LATENCY,
};
use rust_hdl::prelude::*;
use spec::AccelConfig;

// `hdl_gen` builds the pool max's load bus from its four copies by name.
const _: () = assert!(POOL_LOAD_COPIES == 4);

/// Cycles from the pool FSM's read address to the pool max's input: the pool buffer's read,
/// then a register beside the pool max (`pm_d`; the buffer's banks are spread over the chip).
const POOL_READ_LATENCY: usize = PIPELINED_READ_LATENCY + 1;
// The pool FSM's counter `pc` is 4 bits and counts to pc_out (below).
const _: () = assert!(3 + POOL_READ_LATENCY + POOL_MAX_LATENCY < 16);

/// Entries of the output FIFO (= the engine's credits).
pub const OUT_FIFO_DEPTH: usize = 8;

#[derive(LogicBlock)]
pub struct OutCtl<const S: usize, const S8: usize> {
    pub clk: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub dst_mid: Signal<In, Bit>,
    pub pool: Signal<In, Bit>,
    pub grid_w: Signal<In, Bits<16>>,
    pub pool_oh: Signal<In, Bits<12>>,
    pub pool_chunks: Signal<In, Bits<8>>,
    pub pool_col0: Signal<In, Bits<4>>,
    pub push: Signal<In, Bit>,
    pub pdata: Signal<In, Bits<S8>>,
    pub pdst: Signal<In, Bits<24>>,
    pub prel: Signal<In, Bits<24>>,
    pub pchan_last: Signal<In, Bit>,
    pub pjob_last: Signal<In, Bit>,
    /// Bytes of the tile the mid window keeps (`min(wr_count - rel, S)`).
    pub pkeep: Signal<In, Bits<S>>,
    pub pop: Signal<Out, Bit>,
    pub idle: Signal<Out, Bit>,
    pub mid_we: Signal<Out, Bit>,
    /// A kept copy of `mid_we` for the write data's multiplexer (S*8 loads).
    pub mid_sel: Signal<Out, Bit>,
    pub mid_waddr: Signal<Out, Bits<24>>,
    pub mid_wdata: Signal<Out, Bits<S8>>,
    pub mid_wlanes: Signal<Out, Bits<S>>,
    pub tdata: Signal<Out, Bits<64>>,
    pub tkeep: Signal<Out, Bits<8>>,
    pub tlast: Signal<Out, Bit>,
    pub tvalid: Signal<Out, Bit>,
    pub tready: Signal<In, Bit>,
    pub stall_out: Signal<Out, Bit>,
    fifo_data: Fifo<S8>,
    fifo_meta: Fifo<50>,
    /// The mid window's lane enables of each tile (`pkeep`, a thermometer the engine computes
    /// a stage ahead), so the write port's register loads straight from the FIFO.
    fifo_lanes: Fifo<S>,
    /// A kept copy of `pooling` for the holding register's input select (S*8 loads).
    pooling_kc: DFF<Bit>,
    hi_half: Constant<Bits<S8>>,
    mid_sel_kc: DFF<Bit>,
    poolbuf: BankedMem<S, S8>,
    poolmax: PoolMax<S8>,
    /// The pool buffer's read word, registered beside the pool max.
    pm_d: DFF<Bits<S8>>,
    hold: DFF<Bits<S8>>,
    /// The data FIFO's head, registered every cycle, and whether it is the head now (the FIFO
    /// was not empty and did not pop a cycle ago): the holding register loads from this
    /// flip-flop, not through the FIFO's LUT RAM read, and the serializer pops only when it
    /// is good.
    head_q: DFF<Bits<S8>>,
    head_ok: DFF<Bit>,
    beats: DFF<Bits<8>>,
    /// The beat being offered (the holding register is not shifted: it loads only).
    bi: DFF<Bits<8>>,
    /// beats != 0, registered (so the FIFO's pop decision starts at flip-flops).
    ser_busy: DFF<Bit>,
    /// !ser_busy as its own register: the holding register's load enable (256+ flip-flops)
    /// straight from a flip-flop.
    ser_idle: DFF<Bit>,
    /// The pool FSM is at `pc_out` (waiting to hand its chunk to the serializer), registered.
    at_out: DFF<Bit>,
    /// The pool max's load (the chunk's third row), computed a cycle ahead (pc's next value
    /// is pc + 1 while pooling short of `pc_out`) and registered in kept copies, one per part
    /// of the pool max's `v` (S*8 enables).
    pm_load: Signal<Local, Bit>,
    pm_load_kc: [DFF<Bit>; POOL_LOAD_COPIES],
    pc_load_m1: Constant<Bits<4>>,
    pc_out_m1: Constant<Bits<4>>,
    ser_ld: Signal<Local, Bit>,
    hold_sh: Signal<Local, Bits<S8>>,
    slast: DFF<Bit>,
    pc: DFF<Bits<4>>,
    // Rows 1 and 2 of the next chunk's reads (row 0 is rowbase + chunkoff itself), and the
    // pool buffer's read address.
    ra1: DFF<Bits<24>>,
    ra2: DFF<Bits<24>>,
    pr_addr: DFF<Bits<24>>,
    pooling: DFF<Bit>,
    plast: DFF<Bit>,
    py: DFF<Bits<12>>,
    pk: DFF<Bits<8>>,
    rowbase: DFF<Bits<24>>,
    chunkoff: DFF<Bits<24>>,
    // The mid write port and the pool buffer's write port, registered.
    mid_we_r: DFF<Bit>,
    mid_waddr_r: DFF<Bits<24>>,
    mid_wdata_r: DFF<Bits<S8>>,
    mid_wlanes_r: DFF<Bits<S>>,
    pw_we: DFF<Bit>,
    pw_addr: DFF<Bits<24>>,
    pw_data: DFF<Bits<S8>>,
    m_dst: Signal<Local, Bits<24>>,
    m_rel: Signal<Local, Bits<24>>,
    m_chan_last: Signal<Local, Bit>,
    m_job_last: Signal<Local, Bit>,
    ser_free: Signal<Local, Bit>,
    wg24: Signal<Local, Bits<24>>,
    rd_off: Signal<Local, Bits<24>>,
    last_chunk: Signal<Local, Bit>,
    last_row: Signal<Local, Bit>,
    // Registered "last chunk" / "last row" (pk and py change at a chunk's end; the flags are
    // read at the next chunk's end, POOL_READ_LATENCY + 5 cycles later).
    lc_f: DFF<Bit>,
    lr_f: DFF<Bit>,
    ones: Constant<Bits<S>>,
    s2m24: Constant<Bits<24>>,
    beats_full: Constant<Bits<8>>,
    beats_half: Constant<Bits<8>>,
    keep_all: Constant<Bits<8>>,
}

impl<const S: usize, const S8: usize> OutCtl<S, S8> {
    pub fn new(cfg: &AccelConfig) -> Self {
        assert_eq!(S * 8, S8);
        OutCtl {
            clk: Default::default(),
            rst: Default::default(),
            dst_mid: Default::default(),
            pool: Default::default(),
            grid_w: Default::default(),
            pool_oh: Default::default(),
            pool_chunks: Default::default(),
            pool_col0: Default::default(),
            push: Default::default(),
            pdata: Default::default(),
            pdst: Default::default(),
            prel: Default::default(),
            pchan_last: Default::default(),
            pjob_last: Default::default(),
            pkeep: Default::default(),
            pop: Default::default(),
            idle: Default::default(),
            mid_we: Default::default(),
            mid_sel: Default::default(),
            mid_waddr: Default::default(),
            mid_wdata: Default::default(),
            mid_wlanes: Default::default(),
            tdata: Default::default(),
            tkeep: Default::default(),
            tlast: Default::default(),
            tvalid: Default::default(),
            tready: Default::default(),
            stall_out: Default::default(),
            fifo_data: Fifo::new(OUT_FIFO_DEPTH),
            fifo_meta: Fifo::new(OUT_FIFO_DEPTH),
            fifo_lanes: Fifo::new(OUT_FIFO_DEPTH),
            pooling_kc: Default::default(),
            hi_half: Constant::new(Bits::<S8>::mask() << Bits::<16>::from((S8 / 2) as u64)),
            mid_sel_kc: Default::default(),
            poolbuf: BankedMem::pool_buffer(cfg.pool_bytes as usize),
            poolmax: PoolMax::default(),
            pm_d: Default::default(),
            hold: Default::default(),
            head_q: Default::default(),
            head_ok: Default::default(),
            beats: Default::default(),
            bi: Default::default(),
            ser_busy: Default::default(),
            ser_idle: Default::default(),
            at_out: Default::default(),
            pm_load: Default::default(),
            pm_load_kc: std::array::from_fn(|_| Default::default()),
            pooling: Default::default(),
            plast: Default::default(),
            py: Default::default(),
            pk: Default::default(),
            rowbase: Default::default(),
            chunkoff: Default::default(),
            mid_we_r: Default::default(),
            mid_waddr_r: Default::default(),
            mid_wdata_r: Default::default(),
            mid_wlanes_r: Default::default(),
            pw_we: Default::default(),
            pw_addr: Default::default(),
            pw_data: Default::default(),
            // Rows are read at pc 1, 2, 3 and reach the pool max POOL_READ_LATENCY cycles later
            // (it loads its vertical max at the third, pc 3+L); the chunk leaves at
            // pc_out = 3+L+POOL_MAX_LATENCY, when the pool max's output holds it. These are
            // those values minus one.
            pc_load_m1: Constant::new(((2 + POOL_READ_LATENCY) as u64).to_bits()),
            pc_out_m1: Constant::new(((2 + POOL_READ_LATENCY + POOL_MAX_LATENCY) as u64).to_bits()),
            ser_ld: Default::default(),
            hold_sh: Default::default(),
            slast: Default::default(),
            pc: Default::default(),
            ra1: Default::default(),
            ra2: Default::default(),
            pr_addr: Default::default(),
            m_dst: Default::default(),
            m_rel: Default::default(),
            m_chan_last: Default::default(),
            m_job_last: Default::default(),
            ser_free: Default::default(),
            wg24: Default::default(),
            rd_off: Default::default(),
            last_chunk: Default::default(),
            last_row: Default::default(),
            lc_f: Default::default(),
            lr_f: Default::default(),
            ones: Constant::new(Bits::<S>::mask()),
            s2m24: Constant::new(((S - 2) as u64).to_bits()),
            beats_full: Constant::new(((S / 8) as u64).to_bits()),
            beats_half: Constant::new(((S / 16) as u64).to_bits()),
            keep_all: Constant::new(0xFFu64.to_bits()),
        }
    }
}

impl<const S: usize, const S8: usize> Logic for OutCtl<S, S8> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clk,
            hold,
            pm_d,
            head_q,
            head_ok,
            beats,
            bi,
            ser_busy,
            ser_idle,
            at_out,
            slast,
            pc,
            ra1,
            ra2,
            pr_addr,
            pooling,
            plast,
            py,
            pk,
            rowbase,
            chunkoff,
            mid_we_r,
            mid_waddr_r,
            mid_wdata_r,
            mid_wlanes_r,
            pooling_kc,
            mid_sel_kc,
            pw_we,
            pw_addr,
            pw_data,
            lc_f,
            lr_f
        );
        self.fifo_data.clk.next = self.clk.val();
        self.fifo_meta.clk.next = self.clk.val();
        self.fifo_lanes.clk.next = self.clk.val();
        self.fifo_lanes.rst.next = self.rst.val();
        self.fifo_lanes.push.next = self.push.val();
        self.fifo_lanes.din.next = self.pkeep.val();
        self.poolbuf.clk.next = self.clk.val();
        self.poolmax.clk.next = self.clk.val();
        self.fifo_data.rst.next = self.rst.val();
        self.fifo_meta.rst.next = self.rst.val();
        self.fifo_data.push.next = self.push.val();
        self.fifo_meta.push.next = self.push.val();
        self.fifo_data.din.next = self.pdata.val();
        self.fifo_meta.din.next = bit_cast::<50, 24>(self.pdst.val())
            | (bit_cast::<50, 24>(self.prel.val()) << 24)
            | (bit_cast::<50, 1>(self.pchan_last.val().into()) << 48)
            | (bit_cast::<50, 1>(self.pjob_last.val().into()) << 49);
        self.m_dst.next = self.fifo_meta.dout.val().get_bits::<24>(0);
        self.m_rel.next = self.fifo_meta.dout.val().get_bits::<24>(24);
        self.m_chan_last.next = self.fifo_meta.dout.val().get_bit(48);
        self.m_job_last.next = self.fifo_meta.dout.val().get_bit(49);

        // Serializer outputs.
        self.hold_sh.next = self.hold.q.val() >> (bit_cast::<16, 8>(self.bi.q.val()) << 6);
        self.tdata.next = self.hold_sh.val().get_bits::<64>(0);
        self.tkeep.next = self.keep_all.val();
        self.tvalid.next = self.beats.q.val().any();
        self.tlast.next = self.slast.q.val() & (self.beats.q.val() == 1);
        self.stall_out.next = self.beats.q.val().any() & !self.tready.val();
        self.ser_free.next = !self.ser_busy.q.val();
        self.ser_ld.next = false;
        if self.beats.q.val().any() & self.tready.val() {
            self.bi.d.next = self.bi.q.val() + 1;
            self.beats.d.next = self.beats.q.val() - 1;
        }

        // Mid write port: the tile from the FIFO, registered (lanes past the write count off).
        self.mid_waddr_r.d.next = self.m_dst.val();
        self.mid_wdata_r.d.next = self.fifo_data.dout.val();
        self.mid_wlanes_r.d.next = self.fifo_lanes.dout.val();
        self.mid_we_r.d.next = false;
        self.mid_we.next = self.mid_we_r.q.val();
        self.mid_sel.next = self.mid_sel_kc.q.val();
        self.mid_waddr.next = self.mid_waddr_r.q.val();
        self.mid_wdata.next = self.mid_wdata_r.q.val();
        self.mid_wlanes.next = self.mid_wlanes_r.q.val();
        self.pop.next = false;

        // Pool buffer: written from the FIFO (registered: a write lands one cycle after its
        // pop, still before the pool FSM's first bank read, two cycles after pooling starts),
        // read by the pool FSM.
        self.pw_addr.d.next = self.m_rel.val();
        self.pw_data.d.next = self.fifo_data.dout.val();
        self.pw_we.d.next = false;
        self.poolbuf.waddr.next = self.pw_addr.q.val();
        self.poolbuf.wdata.next = self.pw_data.q.val();
        self.poolbuf.wlanes.next = self.ones.val();
        self.poolbuf.we.next = self.pw_we.q.val();
        self.wg24.next = bit_cast::<24, 16>(self.grid_w.val());
        // Row addresses from registers (rowbase and chunkoff settle by pc 0).
        self.rd_off.next = self.rowbase.q.val() + self.chunkoff.q.val();
        self.ra1.d.next = self.rd_off.val() + self.wg24.val();
        self.ra2.d.next = self.rd_off.val() + (self.wg24.val() << 1);
        // The read address itself is a register (the pool buffer's banks are spread over the
        // chip): row 0 at pc 1, row 1 at pc 2, row 2 at pc 3, chosen a cycle ahead.
        self.pr_addr.d.next = self.rd_off.val();
        if self.pc.q.val() == 1 {
            self.pr_addr.d.next = self.ra1.q.val();
        }
        if self.pc.q.val() == 2 {
            self.pr_addr.d.next = self.ra2.q.val();
        }
        self.poolbuf.raddr.next = self.pr_addr.q.val();
        self.pm_d.d.next = self.poolbuf.rdata.val();
        self.poolmax.d.next = self.pm_d.q.val();
        // en = pooling & lo <= pc <= hi and clear = (pc == lo), from registers.
        self.pm_load.next = self.pooling.q.val()
            & !self.at_out.q.val()
            & (self.pc.q.val() == self.pc_load_m1.val());
        for k in 0..POOL_LOAD_COPIES {
            self.pm_load_kc[k].clock.next = self.clk.val();
            self.pm_load_kc[k].d.next = self.pm_load.val();
        }
        self.poolmax.load.next = bit_cast::<4, 1>(self.pm_load_kc[0].q.val().into())
            | (bit_cast::<4, 1>(self.pm_load_kc[1].q.val().into()) << 1)
            | (bit_cast::<4, 1>(self.pm_load_kc[2].q.val().into()) << 2)
            | (bit_cast::<4, 1>(self.pm_load_kc[3].q.val().into()) << 3);
        self.lc_f.d.next = (bit_cast::<8, 8>(self.pk.q.val()) + 1) == self.pool_chunks.val();
        self.lr_f.d.next = (self.py.q.val() + 1) == self.pool_oh.val();
        self.last_chunk.next = self.lc_f.q.val();
        self.last_row.next = self.lr_f.q.val();

        // The holding register loads whenever the serializer is idle (a load that is not a
        // pop or a pool chunk is never offered: `beats` stays 0).
        if self.ser_idle.q.val() {
            // A pool chunk fills only the low half (its upper half is 0 and never sent: a
            // chunk is S/16 beats), so the upper half always takes the FIFO's word and needs no
            // select.
            if self.pooling_kc.q.val() {
                self.hold.d.next =
                    self.poolmax.hout.val() | (self.head_q.q.val() & self.hi_half.val());
            } else {
                self.hold.d.next = self.head_q.q.val();
            }
        }
        self.head_q.d.next = self.fifo_data.dout.val();
        if !self.fifo_data.empty.val() & !self.pooling.q.val() {
            if self.pool.val() {
                self.pop.next = true;
                self.pw_we.d.next = true;
                if self.m_chan_last.val() {
                    self.pooling.d.next = true;
                    self.plast.d.next = self.m_job_last.val();
                    self.pc.d.next = 0.into();
                    self.py.d.next = 0.into();
                    self.pk.d.next = 0.into();
                    self.rowbase.d.next = 0.into();
                    self.chunkoff.d.next = bit_cast::<24, 4>(self.pool_col0.val());
                }
            } else if self.dst_mid.val() {
                self.pop.next = true;
                self.mid_we_r.d.next = true;
            } else if self.ser_free.val() & self.head_ok.q.val() {
                self.pop.next = true;
                self.beats.d.next = self.beats_full.val();
                self.bi.d.next = 0.into();
                self.ser_ld.next = true;
                self.slast.d.next = self.m_job_last.val();
            }
        }
        self.fifo_data.pop.next = self.pop.val();
        self.head_ok.d.next = !self.fifo_data.empty.val() & !self.pop.val() & !self.rst.val();
        self.fifo_meta.pop.next = self.pop.val();
        self.fifo_lanes.pop.next = self.pop.val();

        if self.pooling.q.val() & !self.at_out.q.val() {
            self.pc.d.next = self.pc.q.val() + 1;
        }
        // at_out implies pooling.
        if self.at_out.q.val() & self.ser_free.val() {
            self.beats.d.next = self.beats_half.val();
            self.bi.d.next = 0.into();
            self.ser_ld.next = true;
            self.slast.d.next = self.plast.q.val() & self.last_chunk.val() & self.last_row.val();
            self.pc.d.next = 0.into();
            if self.last_chunk.val() {
                self.pk.d.next = 0.into();
                self.chunkoff.d.next = bit_cast::<24, 4>(self.pool_col0.val());
                self.py.d.next = self.py.q.val() + 1;
                self.rowbase.d.next = self.rowbase.q.val() + (self.wg24.val() << 1);
                if self.last_row.val() {
                    self.pooling.d.next = false;
                }
            } else {
                self.pk.d.next = self.pk.q.val() + 1;
                self.chunkoff.d.next = self.chunkoff.q.val() + self.s2m24.val();
            }
        }
        self.idle.next = self.fifo_data.empty.val()
            & self.ser_free.val()
            & !self.pooling.q.val()
            & !self.mid_we_r.q.val();
        // ser_busy = (beats != 0) after this cycle.
        self.ser_busy.d.next = self.ser_ld.val()
            | (self.beats.q.val() > 1)
            | ((self.beats.q.val() == 1) & !self.tready.val());
        self.ser_idle.d.next = !self.ser_busy.d.val();
        if self.rst.val() {
            self.ser_busy.d.next = false;
            self.ser_idle.d.next = true;
            self.mid_we_r.d.next = false;
            self.pw_we.d.next = false;
            self.beats.d.next = 0.into();
            self.pooling.d.next = false;
        }
        self.pooling_kc.d.next = self.pooling.d.val();
        self.mid_sel_kc.d.next = self.mid_we_r.d.val();
        // at_out = (pc == pc_out) while pooling, one cycle ahead: pc counts up to pc_out and
        // waits there until the serializer takes the chunk (then pc = 0).
        if self.at_out.q.val() {
            self.at_out.d.next = !self.ser_free.val();
        } else {
            self.at_out.d.next = self.pooling.q.val() & (self.pc.q.val() == self.pc_out_m1.val());
        }
        if self.rst.val() {
            self.at_out.d.next = false;
        }
    }
}
