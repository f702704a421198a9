//! The engine: job control, the weight walk, the address pipeline, the memories, the lane
//! array and the output controller. One job = `out_c` output channels x `ntiles` tiles of `S`
//! grid positions; for each (channel, tile) the walker issues the channel's weight entries
//! (code + relative index) one per cycle, so zero weights cost no cycles.
//!
//! Pipeline (cycle of an entry, T0 = issue):
//! T0 weight-memory read (entry `e`; 5 cycles: per-bank address copies, block RAM, bank
//!    register, gated bank word, OR of the banks), mask read (tile), tokens into pipes;
//! T5 entry arrives: tap index t1 = (first ? 0 : t + 1) + rel, wrapped at K*K by a table
//!    ([`TapWrap`]: wraps, t + 1 and the tap's row/column, registered), codebook read for the
//!    code (2 cycles);
//! T6 input channel c += wraps (registered), tap offset kh*Wg + kw (registered);
//! T7 c*plane (registered), the 16-bit weight from the LUT word;
//! T8 address = src_base + c*plane (a registered DSP) + tap + q0 (registered); T9..T16 banked
//!    activation read
//!    (8 cycles: row registers, each group of 8 banks' row registers, each bank's row
//!    register, bank read, bank output register and its fabric copy, two rotation steps);
//!    T17 the activation word and the weight reach the lanes (the lanes' activation
//!    registers); T18 the lane array (`LANE_STAGE`; its latency `ARRAY_LATENCY`: operand registers,
//!    multiply, the product's fabric copy, accumulate, hold, the shared requantizers over four
//!    chunks); the tile's `S` bytes (masked) enter the output FIFO at `OUT_STAGE` (T35).
//! The H2C stream reaches the loader through a register slice ([`AxisSkid`]), with a flag of
//! each beat (its upper word is zero) computed before the slice.
//! Credits (one per output FIFO entry) are taken when a tile's first entry issues, so the
//! pipeline never needs to stall: only the issue stage waits. `issue` is a register, computed a
//! cycle ahead from the next values of the walker's flags (`n_*`), with the tile end
//! (`adv_tile`) and channel end (`adv_chan`) beside it; a credit returns a cycle after its pop.
//!
//! Registered: the control FSM (state, channel, tiles left, entry pointers, counts, bias, tile
//! base, credits, destination base, the walker's condition flags, `issue` and the tile/channel
//! ends with kept copies for the next-issue logic, the tile registers' enable pairs, START's
//! launch from the registered descriptor checks), the T4..T7 stage registers, job constants
//! (ntiles - 1, multiples of the grid width, local copies of the shift and multiplier and the
//! requantizers' rounding constants decoded from them), and everything inside the children.
//! Combinational: read addresses, the flags' next values, the tokens, stream handshakes.
//!
//! Ports: `clk`, `resetn`; from the register file `desc`, `start`, `soft_reset`, `halted`; to it
//! `busy`, `done_set`, `err_set`, `inc_*`; the H2C slave and C2H master streams.

use crate::array::LaneArray;
use crate::dsp::DspMul;
use crate::keep::{KeepLanes, KEEP_LATENCY};
use crate::loader::Loader;
use crate::mem::{
    BankedMem, DescDecode, MaskMem, Pipe, Ram, Replicate, DEEP_RAM_LATENCY, PIPELINED_READ_LATENCY,
};
use crate::outctl::{OutCtl, OUT_FIFO_DEPTH};
use crate::skid::AxisSkid;
use crate::tapwrap::TapWrap;
use rust_hdl::prelude::*;
use spec::AccelConfig;

// `hdl_gen` takes bit positions only as literals: the H2C slice's zero-length flag reads the
// header's length field at bits 32..63, checked against spec::packet at compile time.
const _: () = assert!(spec::packet::HDR_LEN_LSB == 32 && spec::packet::HDR_LEN_BITS == 32);

// The codebook memory holds each slot's LUT as 64-bit words of 16-bit entries; `hdl_gen` takes
// bit positions only as literals (the entry select, the slot's address shift by 6).
const _: () = assert!(spec::numerics::LUT_BITS == 16 && spec::STREAM_BITS == 64);
/// Codebook-memory words per slot (one stream beat each).
pub const CODEBOOK_WORDS: usize = spec::packet::CODEBOOK_BEATS as usize;
const _: () = assert!(CODEBOOK_WORDS == 64);

/// Cycle (after issue at T0) at which an entry's controls reach the lane array: the weight
/// memory, the recurrence, the tap/plane offsets, the address sum, the activation buffer's
/// read, then the lanes' activation registers (the activation word and the weight arrive
/// `ACT_AHEAD` cycle earlier).
const LANE_STAGE: usize = DEEP_RAM_LATENCY + 4 + PIPELINED_READ_LATENCY + crate::array::ACT_AHEAD;
/// Cycle at which a tile's bytes enter the output FIFO: the lane array's latency.
const OUT_STAGE: usize = LANE_STAGE + crate::array::ARRAY_LATENCY;

#[derive(LogicBlock)]
pub struct Engine<const S: usize, const S8: usize, const R: usize> {
    pub clk: Signal<In, Clock>,
    pub resetn: Signal<In, Bit>,
    pub desc: Signal<In, Bits<{ crate::regfile::DESC_BITS }>>,
    pub start: Signal<In, Bit>,
    pub soft_reset: Signal<In, Bit>,
    pub halted: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    pub done_set: Signal<Out, Bit>,
    pub err_set: Signal<Out, Bits<4>>,
    pub inc_busy: Signal<Out, Bit>,
    pub inc_macs: Signal<Out, Bits<16>>,
    pub inc_stall: Signal<Out, Bit>,
    pub inc_stall_in: Signal<Out, Bit>,
    pub inc_stall_out: Signal<Out, Bit>,
    pub inc_h2c_hidden: Signal<Out, Bit>,
    pub s_axis_tdata: Signal<In, Bits<64>>,
    pub s_axis_tkeep: Signal<In, Bits<8>>,
    pub s_axis_tlast: Signal<In, Bit>,
    pub s_axis_tvalid: Signal<In, Bit>,
    pub s_axis_tready: Signal<Out, Bit>,
    pub m_axis_tdata: Signal<Out, Bits<64>>,
    pub m_axis_tkeep: Signal<Out, Bits<8>>,
    pub m_axis_tlast: Signal<Out, Bit>,
    pub m_axis_tvalid: Signal<Out, Bit>,
    pub m_axis_tready: Signal<In, Bit>,
    dd: DescDecode,
    tapwrap: TapWrap,
    /// The same table for a channel's first entry (t1 = rel), beside it.
    tapwrap_f: TapWrap,
    /// The H2C stream's register slice in front of the loader.
    /// The H2C beat and its `tdata_hi_zero` flag (bit 64) through the register slice.
    h2c_skid: AxisSkid<65>,
    loader: Loader,
    wmem: Ram<12>,
    cbmem: Ram<64>,
    /// Per output channel: bias (bits 31..0), entry count (47..32), and the count's two flags,
    /// computed as the table is written: count == 0 (bit 48), count == 1 (bit 49).
    chanmem: Ram<50>,
    chan_wd: Signal<Local, Bits<50>>,
    c_cnt0: Constant<Bits<50>>,
    c_cnt1: Constant<Bits<50>>,
    maskmem: MaskMem<S>,
    actmem: BankedMem<S, S8>,
    beat_rep: Replicate<S8>,
    array: LaneArray<S, S8, R>,
    outctl: OutCtl<S, S8>,
    p_tok: Pipe<3>,
    p_bias: Pipe<32>,
    p_w: Pipe<16>,
    p_q0: Pipe<24>,
    p_mask: Pipe<S>,
    p_meta: Pipe<51>,
    /// The tile's mid-window byte count (`wr_keep`, from the registered `wr_left`), four
    /// stages short of `p_meta`: then `keep_lanes`, its thermometer of lane enables (two
    /// registered stages), and `keep_out`, a copy of it on its way to the output FIFO's LUT RAM.
    p_keep: Pipe<16>,
    keep_lanes: KeepLanes<S>,
    keep_out: DFF<Bits<S>>,
    /// (valid, first) of an issued entry, until its weight-memory word arrives.
    p_vf: Pipe<2>,
    // Control registers.
    st: DFF<Bits<3>>,
    o: DFF<Bits<16>>,
    /// Tiles of the channel left after the current one (counts down to 0).
    tl: DFF<Bits<16>>,
    e: DFF<Bits<24>>,
    e_chan: DFF<Bits<24>>,
    n_left: DFF<Bits<16>>,
    /// `n_left == 2`, a register loaded wherever `n_left` is (from the compare of the value
    /// it loads, which starts at registers): the next-issue logic reads a flip-flop, not a
    /// 16-bit compare.
    nl2_f: DFF<Bit>,
    cnt: DFF<Bits<16>>,
    bias_r: DFF<Bits<32>>,
    q0: DFF<Bits<24>>,
    rel0: DFF<Bits<24>>,
    credits: DFF<Bits<5>>,
    since_last: DFF<Bits<3>>,
    dst_chan: DFF<Bits<24>>,
    // Pipeline registers.
    v1: Signal<Local, Bit>,
    first1: Signal<Local, Bit>,
    code_lo: DFF<Bits<2>>,
    code_lo2: DFF<Bits<2>>,
    /// The channel table's read address (bias_base + o), counted rather than added.
    chan_addr: DFF<Bits<24>>,
    /// The mask memory's tile index (mask_base + t), counted rather than added.
    mtile: DFF<Bits<16>>,
    // The walker's conditions as registered flags, so `issue` is two LUT levels from flip-flops:
    // next entry is a tile's first / last, the tile is the channel's last, the channel is the
    // job's last, a 1-entry channel, an output credit is free, the tile gap is met.
    first_f: DFF<Bit>,
    last_f: DFF<Bit>,
    chanl_f: DFF<Bit>,
    ol_f: DFF<Bit>,
    cnt1_f: DFF<Bit>,
    cred_f: DFF<Bit>,
    gap_f: DFF<Bit>,
    /// `issue` itself, registered: computed a cycle ahead from the next values of the flags
    /// above, so the ~250 enables it drives hang off a flip-flop, not a chain of LUTs. With it,
    /// `adv_tile` (issue of a tile's last entry) and `adv_chan` (of a channel's last entry).
    iss: DFF<Bit>,
    // The flags' next values as the issue logic sees them (RUN and CHANR only), written out
    // flat rather than read back through the FSM's priority chain.
    n_run: Signal<Local, Bit>,
    n_first: Signal<Local, Bit>,
    n_last: Signal<Local, Bit>,
    n_cred: Signal<Local, Bit>,
    n_gap: Signal<Local, Bit>,
    n_chanl: Signal<Local, Bit>,
    reload: Signal<Local, Bit>,
    in_chanr: Signal<Local, Bit>,
    cnt_zero: Signal<Local, Bit>,
    cnt_one: Signal<Local, Bit>,
    /// Kept copies of `iss`, `adv_tile` and `adv_chan` for the next-issue logic alone (the
    /// originals drive the walker's ~250 enables).
    iss_kc: DFF<Bit>,
    /// A kept copy of the state for the next-issue logic.
    st_kc: DFF<Bits<3>>,
    adv_tile_kc: DFF<Bit>,
    adv_chan_kc: DFF<Bit>,
    /// The walker's tile registers (`tl`, `mtile`, `q0`, `rel0`) load when their `en_*` copy is
    /// set, their channel-start value when their `in_*` copy is set too (the cycle after a
    /// launch, or a channel's end) and the next tile's otherwise (a tile's end): each register
    /// has its own pair of flip-flops, set a cycle ahead, instead of one LUT driving all their
    /// enables.
    en_tl_kc: DFF<Bit>,
    in_tl_kc: DFF<Bit>,
    en_mt_kc: DFF<Bit>,
    in_mt_kc: DFF<Bit>,
    en_q0_kc: DFF<Bit>,
    in_q0_kc: DFF<Bit>,
    en_rel_kc: DFF<Bit>,
    in_rel_kc: DFF<Bit>,
    /// This cycle launches a job (idle, START accepted, not halted).
    launch_go: Signal<Local, Bit>,
    take_k: Signal<Local, Bit>,
    /// START accepted (idle, descriptor good), registered; `halted` still gates it.
    launch_r: DFF<Bit>,
    adv_tile: DFF<Bit>,
    adv_chan: DFF<Bit>,
    /// The output FIFO's pop, registered: a credit comes back a cycle after its pop.
    pop_r: DFF<Bit>,
    /// Job constants: ntiles - 1, and ntiles == 1.
    ntm1: DFF<Bits<16>>,
    nt1_f: DFF<Bit>,
    tile_gap_m1: Constant<Bits<3>>,
    c_reg: DFF<Bits<16>>,
    /// The tap's row and column (kh << 2 | kw), registered with the tap index.
    khw_r: DFF<Bits<4>>,
    /// Job constants: grid_w, 2 grid_w and 3 grid_w (the tap rows' offsets).
    wg1: DFF<Bits<24>>,
    wg2: DFF<Bits<24>>,
    wg3: DFF<Bits<24>>,
    tap_r: DFF<Bits<24>>,
    tap_r2: DFF<Bits<24>>,
    tp1: DFF<Bits<5>>,
    tn1: Signal<Local, Bits<5>>,
    wraps_r: DFF<Bits<8>>,
    vw: DFF<Bit>,
    fw: DFF<Bit>,
    /// The input channel's plane offset `c * plane_in`: the multiplier's operand registers
    /// take `c_reg`'s next value and `plane_in`, its product register is the offset (the same
    /// cycle the fabric register behind an unregistered multiplier gave it).
    cpl_mul: DspMul<32>,
    addr_r: DFF<Bits<24>>,
    // Combinational helpers.
    rst: DFF<Bit>,
    bad_desc: Signal<Local, Bit>,
    first0: Signal<Local, Bit>,
    last0: Signal<Local, Bit>,
    issue: Signal<Local, Bit>,
    chan_last: Signal<Local, Bit>,
    job_last: Signal<Local, Bit>,
    code: Signal<Local, Bits<8>>,
    rel: Signal<Local, Bits<5>>,
    base_t: Signal<Local, Bits<5>>,
    t1: Signal<Local, Bits<5>>,
    wraps: Signal<Local, Bits<8>>,
    khw: Signal<Local, Bits<4>>,
    kh: Signal<Local, Bits<2>>,
    kw: Signal<Local, Bits<2>>,
    wg24: Signal<Local, Bits<24>>,
    /// Destination channel (out_ch_offset + o), counted rather than added.
    dst_ch: DFF<Bits<16>>,
    /// The mid window's bytes left from the tile's first position, registered (T1): the
    /// subtract and the cap's compare do not meet in one cycle.
    wr_left: DFF<Bits<24>>,
    wr_keep: Signal<Local, Bits<16>>,
    /// `dst_ch * plane_out` in a registered DSP (operands `dst_ch`'s next value and
    /// `plane_out`): the product of the channel entered in CHAN, ready by CHANR.
    dst_mul: DspMul<32>,
    // Job constants of the requantizers, registered (shifts and a subtract of descriptor fields),
    // from local copies of the descriptor's shift and multiplier: the descriptor's bits reach
    // the whole chip, so the decode starts at registers of its own.
    sh_c: DFF<Bits<6>>,
    shm1_c: DFF<Bits<6>>,
    m_c: DFF<Bits<16>>,
    rnd: DFF<Bits<48>>,
    rnd_neg: DFF<Bits<48>>,
    ovf: DFF<Bits<48>>,
    /// START and the descriptor check, one cycle later, both registered.
    start_r: DFF<Bit>,
    start_r2: DFF<Bit>,
    drained: DFF<Bit>,
    bad_r: DFF<Bit>,
    bad_r2: DFF<Bit>,
    bad_a: Signal<Local, Bit>,
    ones48: Constant<Bits<48>>,
    credit_take: Signal<Local, Bit>,
    tok6: Signal<Local, Bits<3>>,
    st_idle: Constant<Bits<3>>,
    st_chan: Constant<Bits<3>>,
    st_chanw: Constant<Bits<3>>,
    st_run: Constant<Bits<3>>,
    st_drain: Constant<Bits<3>>,
    st_chanr: Constant<Bits<3>>,
    s24: Constant<Bits<24>>,
    s16: Constant<Bits<16>>,
    fifo_depth: Constant<Bits<5>>,
    one48: Constant<Bits<48>>,
    lanes8: Constant<Bits<S>>,
    lane_mask: Constant<Bits<24>>,
}

const ST_IDLE: u64 = 0;
const ST_CHAN: u64 = 1;
const ST_CHANW: u64 = 2;
const ST_RUN: u64 = 3;
const ST_DRAIN: u64 = 4;
const ST_CHANR: u64 = 5;

impl<const S: usize, const S8: usize, const R: usize> Engine<S, S8, R> {
    pub fn new(cfg: &AccelConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(
            cfg.pixel_lanes as usize == S,
            "engine built for {S} lanes, config has {}",
            cfg.pixel_lanes
        );
        Ok(Engine {
            clk: Default::default(),
            resetn: Default::default(),
            desc: Default::default(),
            start: Default::default(),
            soft_reset: Default::default(),
            halted: Default::default(),
            busy: Default::default(),
            done_set: Default::default(),
            err_set: Default::default(),
            inc_busy: Default::default(),
            inc_macs: Default::default(),
            inc_stall: Default::default(),
            inc_stall_in: Default::default(),
            inc_stall_out: Default::default(),
            inc_h2c_hidden: Default::default(),
            s_axis_tdata: Default::default(),
            s_axis_tkeep: Default::default(),
            s_axis_tlast: Default::default(),
            s_axis_tvalid: Default::default(),
            s_axis_tready: Default::default(),
            m_axis_tdata: Default::default(),
            m_axis_tkeep: Default::default(),
            m_axis_tlast: Default::default(),
            m_axis_tvalid: Default::default(),
            m_axis_tready: Default::default(),
            dd: DescDecode::new(),
            tapwrap: Default::default(),
            tapwrap_f: Default::default(),
            h2c_skid: Default::default(),
            loader: Loader::new(cfg),
            wmem: Ram::deep(cfg.weight_entries as usize),
            cbmem: Ram::registered(cfg.codebook_slots as usize * CODEBOOK_WORDS),
            chanmem: Ram::registered(cfg.bias_words as usize),
            maskmem: MaskMem::new(cfg.mask_bits as usize),
            actmem: BankedMem::pipelined(cfg.act_in_bytes as usize),
            beat_rep: Default::default(),
            array: LaneArray::new(),
            outctl: OutCtl::new(cfg),
            p_tok: Pipe::new(LANE_STAGE),
            p_bias: Pipe::new(LANE_STAGE),
            // From the codebook's read data (two cycles after the entry) to the lane array, which
            // takes the weight one cycle ahead of the activations.
            p_w: Pipe::new(LANE_STAGE - DEEP_RAM_LATENCY - 3),
            // To the address sum, three cycles after the entry.
            p_q0: Pipe::new(DEEP_RAM_LATENCY + 3),
            // From the mask memory's read data (T1) to the output stage.
            p_mask: Pipe::new(OUT_STAGE - 1),
            p_meta: Pipe::new(OUT_STAGE),
            p_keep: Pipe::new(OUT_STAGE - 2 - KEEP_LATENCY),
            keep_lanes: Default::default(),
            keep_out: Default::default(),
            p_vf: Pipe::new(DEEP_RAM_LATENCY),
            st: Default::default(),
            o: Default::default(),
            tl: Default::default(),
            e: Default::default(),
            e_chan: Default::default(),
            n_left: Default::default(),
            cnt: Default::default(),
            bias_r: Default::default(),
            q0: Default::default(),
            rel0: Default::default(),
            credits: Default::default(),
            since_last: Default::default(),
            nl2_f: Default::default(),
            dst_chan: Default::default(),
            v1: Default::default(),
            first1: Default::default(),
            code_lo: Default::default(),
            code_lo2: Default::default(),
            chan_addr: Default::default(),
            mtile: Default::default(),
            first_f: Default::default(),
            last_f: Default::default(),
            chanl_f: Default::default(),
            ol_f: Default::default(),
            cnt1_f: Default::default(),
            cred_f: Default::default(),
            gap_f: Default::default(),
            iss: Default::default(),
            n_run: Default::default(),
            n_first: Default::default(),
            n_last: Default::default(),
            n_cred: Default::default(),
            n_gap: Default::default(),
            n_chanl: Default::default(),
            reload: Default::default(),
            in_chanr: Default::default(),
            cnt_zero: Default::default(),
            cnt_one: Default::default(),
            chan_wd: Default::default(),
            c_cnt0: Constant::new((1u64 << 48).to_bits()),
            c_cnt1: Constant::new((1u64 << 49).to_bits()),
            launch_r: Default::default(),
            iss_kc: Default::default(),
            st_kc: Default::default(),
            adv_tile_kc: Default::default(),
            adv_chan_kc: Default::default(),
            en_tl_kc: Default::default(),
            in_tl_kc: Default::default(),
            en_mt_kc: Default::default(),
            in_mt_kc: Default::default(),
            en_q0_kc: Default::default(),
            in_q0_kc: Default::default(),
            en_rel_kc: Default::default(),
            in_rel_kc: Default::default(),
            launch_go: Default::default(),
            take_k: Default::default(),
            adv_tile: Default::default(),
            adv_chan: Default::default(),
            pop_r: Default::default(),
            ntm1: Default::default(),
            nt1_f: Default::default(),
            // Tiles end spec::job::MIN_TILE_CYCLES apart: since_last counts from 0 after a tile's
            // last, and gap_f (since_last >= MIN - 1) is registered a cycle ahead.
            tile_gap_m1: Constant::new(((spec::job::MIN_TILE_CYCLES - 2) as u64).to_bits()),
            c_reg: Default::default(),
            khw_r: Default::default(),
            wg1: Default::default(),
            wg2: Default::default(),
            wg3: Default::default(),
            tap_r: Default::default(),
            tap_r2: Default::default(),
            tp1: Default::default(),
            tn1: Default::default(),
            wraps_r: Default::default(),
            vw: Default::default(),
            fw: Default::default(),
            cpl_mul: Default::default(),
            addr_r: Default::default(),
            rst: Default::default(),
            bad_desc: Default::default(),
            first0: Default::default(),
            last0: Default::default(),
            issue: Default::default(),
            chan_last: Default::default(),
            job_last: Default::default(),
            code: Default::default(),
            rel: Default::default(),
            base_t: Default::default(),
            t1: Default::default(),
            wraps: Default::default(),
            khw: Default::default(),
            kh: Default::default(),
            kw: Default::default(),
            wg24: Default::default(),
            dst_ch: Default::default(),
            wr_left: Default::default(),
            wr_keep: Default::default(),
            dst_mul: Default::default(),
            sh_c: Default::default(),
            shm1_c: Default::default(),
            m_c: Default::default(),
            rnd: Default::default(),
            rnd_neg: Default::default(),
            ovf: Default::default(),
            start_r: Default::default(),
            start_r2: Default::default(),
            drained: Default::default(),
            bad_r: Default::default(),
            bad_r2: Default::default(),
            bad_a: Default::default(),
            ones48: Constant::new(0xFFFF_FFFF_FFFFu64.to_bits()),
            credit_take: Default::default(),
            tok6: Default::default(),
            st_idle: Constant::new(ST_IDLE.to_bits()),
            st_chan: Constant::new(ST_CHAN.to_bits()),
            st_chanw: Constant::new(ST_CHANW.to_bits()),
            st_run: Constant::new(ST_RUN.to_bits()),
            st_drain: Constant::new(ST_DRAIN.to_bits()),
            st_chanr: Constant::new(ST_CHANR.to_bits()),
            s24: Constant::new((S as u64).to_bits()),
            s16: Constant::new((S as u64).to_bits()),
            fifo_depth: Constant::new((OUT_FIFO_DEPTH as u64).to_bits()),
            one48: Constant::new(1u64.to_bits()),
            lanes8: Constant::new(0xFFu64.to_bits()),
            lane_mask: Constant::new(((S - 1) as u64).to_bits()),
        })
    }
}

impl<const S: usize, const S8: usize, const R: usize> Logic for Engine<S, S8, R> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clk,
            rst,
            wr_left,
            st,
            o,
            tl,
            e,
            e_chan,
            n_left,
            cnt,
            bias_r,
            q0,
            rel0,
            credits,
            since_last,
            nl2_f,
            dst_chan,
            dst_ch,
            code_lo,
            code_lo2,
            chan_addr,
            mtile,
            first_f,
            last_f,
            chanl_f,
            ol_f,
            cnt1_f,
            cred_f,
            gap_f,
            c_reg,
            khw_r,
            wg1,
            wg2,
            wg3,
            tap_r,
            tap_r2,
            sh_c,
            shm1_c,
            m_c,
            rnd,
            rnd_neg,
            ovf,
            start_r,
            start_r2,
            drained,
            bad_r,
            bad_r2,
            tp1,
            wraps_r,
            vw,
            fw,
            addr_r,
            iss,
            adv_tile,
            adv_chan,
            pop_r,
            launch_r,
            iss_kc,
            st_kc,
            adv_tile_kc,
            en_tl_kc,
            in_tl_kc,
            en_mt_kc,
            in_mt_kc,
            en_q0_kc,
            in_q0_kc,
            en_rel_kc,
            in_rel_kc,
            adv_chan_kc,
            ntm1,
            nt1_f,
            keep_out
        );
        self.dd.desc.next = self.desc.val();
        // Reset (and SOFT_RESET) reach the children one cycle later, from a register.
        self.rst.d.next = !self.resetn.val() | self.soft_reset.val();
        // Clocks of the children.
        self.loader.clk.next = self.clk.val();
        self.wmem.clk.next = self.clk.val();
        self.cbmem.clk.next = self.clk.val();
        self.chanmem.clk.next = self.clk.val();
        self.maskmem.clk.next = self.clk.val();
        self.actmem.clk.next = self.clk.val();
        self.array.clk.next = self.clk.val();
        self.outctl.clk.next = self.clk.val();
        self.p_tok.clk.next = self.clk.val();
        self.p_bias.clk.next = self.clk.val();
        self.p_w.clk.next = self.clk.val();
        self.p_q0.clk.next = self.clk.val();
        self.p_mask.clk.next = self.clk.val();
        self.p_meta.clk.next = self.clk.val();
        self.p_keep.clk.next = self.clk.val();
        self.p_vf.clk.next = self.clk.val();

        // ---- loader and memory write ports ----
        self.loader.rst.next = self.rst.q.val();
        // Idle and no START on its way: any packet. While a job runs: only ACT_IN bytes below
        // everything the job reads, and only if the job leaves the buffer's write port alone
        // (`Descriptor::loads_while_running`).
        // (`enable` falls with the START pulse itself: the loader's gate decides a cycle
        // ahead.)
        self.loader.enable.next = (self.st.q.val() == self.st_idle.val())
            & !self.start.val()
            & !self.start_r.q.val()
            & !self.start_r2.q.val();
        self.loader.busy.next = self.st.q.val() != self.st_idle.val();
        self.loader.job_dst_mid.next = self.dd.dst_mid.val();
        self.loader.job_src_base.next = self.dd.src_base.val();
        self.loader.job_w_base.next = self.dd.weight_base.val();
        self.loader.job_w_beats.next = self.dd.weight_beats.val();
        self.loader.job_b_base.next = self.dd.bias_base.val();
        self.loader.job_out_c.next = self.dd.out_c.val();
        self.loader.job_slot.next = self.dd.lut_slot.val();
        self.loader.halted.next = self.halted.val();
        // No beat is taken while reset is asserted or still reaching the children; the register
        // slice drops what it holds at the reset's edge.
        self.h2c_skid.clk.next = self.clk.val();
        self.h2c_skid.clear.next = self.rst.d.val();
        self.h2c_skid.in_data.next = bit_cast::<65, 64>(self.s_axis_tdata.val())
            | (bit_cast::<65, 1>((!self.s_axis_tdata.val().get_bits::<32>(32).any()).into()) << 64);
        self.h2c_skid.in_valid.next =
            self.s_axis_tvalid.val() & self.resetn.val() & !self.rst.q.val();
        self.s_axis_tready.next =
            self.h2c_skid.in_ready.val() & self.resetn.val() & !self.rst.q.val();
        self.loader.tdata.next = self.h2c_skid.out_data.val().get_bits::<64>(0);
        self.loader.tdata_hi_zero.next = self.h2c_skid.out_data.val().get_bit(64);
        self.loader.tvalid.next = self.h2c_skid.out_valid.val();
        self.h2c_skid.out_ready.next = self.loader.tready.val();
        self.wmem.we.next = self.loader.w_we.val();
        self.wmem.waddr.next = self.loader.w_addr.val();
        self.wmem.wdata.next = self.loader.w_data.val();
        self.cbmem.we.next = self.loader.cb_we.val();
        self.cbmem.waddr.next = self.loader.cb_addr.val();
        self.cbmem.wdata.next = self.loader.data.val();
        self.chanmem.we.next = self.loader.bias_we.val();
        self.chanmem.waddr.next = self.loader.addr.val();
        // The count's flags are stored beside it, so the walker's decisions at a channel's
        // start read one bit of the table, not a 16-bit compare.
        self.chan_wd.next = bit_cast::<50, 48>(self.loader.data.val().get_bits::<48>(0));
        if self.loader.data.val().get_bits::<16>(32) == 0 {
            self.chan_wd.next =
                bit_cast::<50, 48>(self.loader.data.val().get_bits::<48>(0)) | self.c_cnt0.val();
        }
        if self.loader.data.val().get_bits::<16>(32) == 1 {
            self.chan_wd.next =
                bit_cast::<50, 48>(self.loader.data.val().get_bits::<48>(0)) | self.c_cnt1.val();
        }
        self.chanmem.wdata.next = self.chan_wd.val();
        self.maskmem.we.next = self.loader.mask_we.val();
        self.maskmem.waddr.next = self.loader.addr.val();
        self.maskmem.wdata.next = self.loader.data.val();
        // The activation buffer is written by the loader (ACT_IN/ACT_MID; during a job only
        // ACT_IN below the job's input, and never during a squeeze, see the loader's gate) or
        // by a squeeze job's output into the mid window, while the same job reads its input
        // through the read port.
        if self.outctl.mid_we.val() {
            self.actmem.we.next = true;
            self.actmem.waddr.next = self.outctl.mid_waddr.val();
            self.actmem.wlanes.next = self.outctl.mid_wlanes.val();
        } else {
            // An 8-byte beat at an 8-aligned address: copied to every 8-byte group, and the
            // lane enables pick the group at address mod S.
            self.actmem.we.next = self.loader.act_we.val();
            self.actmem.waddr.next = self.loader.addr.val();
            self.actmem.wlanes.next =
                self.lanes8.val() << (self.loader.addr.val() & self.lane_mask.val());
        }
        // The data's select is a kept copy of mid_we (it drives every bank's byte).
        if self.outctl.mid_sel.val() {
            self.actmem.wdata.next = self.outctl.mid_wdata.val();
        } else {
            self.actmem.wdata.next = self.beat_rep.out.val();
        }
        self.beat_rep.din.next = self.loader.data.val();

        // ---- control FSM (T0) ----
        // The descriptor check in two registered halves.
        self.bad_a.next = (self.dd.k.val() == 0)
            | (self.dd.k.val() > 4)
            | (self.dd.out_c.val() == 0)
            | (self.dd.ntiles.val() == 0)
            | (self.dd.m.val() == 0);
        self.bad_desc.next = (self.dd.shift.val() == 0)
            | (self.dd.shift.val() > 46)
            | (self.dd.pool.val() & self.dd.dst_mid.val())
            // A squeeze output cannot be the input of the job writing it.
            | (self.dd.src_mid.val() & self.dd.dst_mid.val())
            // Mid-window writes are whole tiles at lane-aligned addresses (no write rotator).
            | (self.dd.dst_mid.val()
                & ((self.dd.dst_base.val() & self.lane_mask.val()).any()
                    | (bit_cast::<24, 16>(self.dd.plane_out.val()) & self.lane_mask.val())
                        .any()));
        // START acts two cycles later, with the check of the descriptor it starts (the register
        // file writes one word per AXI transaction, so DESC is stable by then).
        self.start_r.d.next = self.start.val();
        self.start_r2.d.next = self.start_r.q.val();
        self.bad_r.d.next = self.bad_desc.val();
        self.bad_r2.d.next = self.bad_a.val();
        self.first0.next = self.first_f.q.val();
        self.last0.next = self.last_f.q.val();
        // A tile's first entry needs an output credit; its last entry must come >= 4 cycles after
        // the previous tile's (the shared requantizers take 4 cycles per tile).
        // (st == RUN) & (!first_f | cred_f) & (!last_f | gap_f), registered: `iss` is computed
        // from the flags' next values at the end of this block.
        self.issue.next = self.iss.q.val();
        self.ntm1.d.next = self.dd.ntiles.val() - 1;
        self.nt1_f.d.next = self.dd.ntiles.val() == 1;
        self.pop_r.d.next = self.outctl.pop.val();
        // gap_f = (since_last >= MIN_TILE_CYCLES - 1), one cycle ahead.
        if self.adv_tile.q.val() {
            self.since_last.d.next = 0.into();
            self.gap_f.d.next = false;
        } else {
            if self.since_last.q.val() != 7 {
                self.since_last.d.next = self.since_last.q.val() + 1;
            }
            self.gap_f.d.next = self.since_last.q.val() >= self.tile_gap_m1.val();
        }
        self.chan_last.next = self.chanl_f.q.val();
        self.job_last.next = self.chan_last.val() & self.ol_f.q.val();
        self.credit_take.next = self.issue.val() & self.first0.val();
        self.done_set.next = false;
        self.err_set.next = 0.into();
        self.chanmem.raddr.next = self.chan_addr.q.val();
        self.cnt_zero.next = self.chanmem.rdata.val().get_bit(48);
        self.cnt_one.next = self.chanmem.rdata.val().get_bit(49);
        // dst_ch changes entering CHAN and is read in CHANR, two cycles later: the multiplier's
        // operand register holds it from CHANW, its product register in CHANR.
        self.dst_mul.clk.next = self.clk.val();
        self.dst_mul.a.next = bit_cast::<18, 16>(self.dst_ch.d.val());
        self.dst_mul.b.next = bit_cast::<18, 16>(self.dd.plane_out.val());
        self.wmem.raddr.next = self.e.q.val();
        self.maskmem.rtile.next = self.mtile.q.val();

        // start_r2 & !bad_r & !bad_r2 as one register (the launch enables hang off it).
        // The checks registered beside start_r (bad_r and bad_r2 judge the descriptor of the
        // cycle before; it is stable then, see above).
        self.launch_r.d.next = self.start_r.q.val() & !self.bad_r.q.val() & !self.bad_r2.q.val();
        self.launch_go.next =
            (self.st.q.val() == self.st_idle.val()) & self.launch_r.q.val() & !self.halted.val();
        if self.st.q.val() == self.st_idle.val() {
            if self.start_r2.q.val()
                & !self.halted.val()
                & (self.bad_r.q.val() | self.bad_r2.q.val())
            {
                self.err_set.next = 2.into();
            }
            // The walker's address registers load from the descriptor in every idle cycle
            // (their enable is the state alone, not the launch, which drove about a hundred of
            // them); the launch's cycle loads the values the job starts from. The credits still
            // load at the launch only: tiles of a refused job may still return credits.
            self.chan_addr.d.next = bit_cast::<24, 16>(self.dd.bias_base.val());
            self.dst_ch.d.next = self.dd.out_ch_offset.val();
            self.o.d.next = 0.into();
            self.e.d.next = bit_cast::<24, 23>(self.dd.weight_base.val());
            self.e_chan.d.next = bit_cast::<24, 23>(self.dd.weight_base.val());
            if self.launch_go.val() {
                self.st.d.next = self.st_chan.val();
                self.credits.d.next = self.fifo_depth.val();
                self.cred_f.d.next = true;
            }
        } else if self.st.q.val() == self.st_chan.val() {
            self.st.d.next = self.st_chanw.val();
        } else if self.st.q.val() == self.st_chanw.val() {
            // The channel table's read (two cycles, from ST_CHAN) lands in ST_CHANR.
            self.st.d.next = self.st_chanr.val();
        } else if self.st.q.val() == self.st_chanr.val() {
            self.cnt.d.next = self.chanmem.rdata.val().get_bits::<16>(32);
            self.n_left.d.next = self.chanmem.rdata.val().get_bits::<16>(32);
            self.nl2_f.d.next = self.chanmem.rdata.val().get_bits::<16>(32) == 2;
            self.bias_r.d.next = self.chanmem.rdata.val().get_bits::<32>(0);
            // The walker's flags for the channel's first tile.
            self.first_f.d.next = true;
            self.last_f.d.next = self.cnt_one.val();
            self.cnt1_f.d.next = self.cnt_one.val();
            self.chanl_f.d.next = self.nt1_f.q.val();
            self.ol_f.d.next = (self.o.q.val() + 1) == self.dd.out_c.val();
            self.dst_chan.d.next =
                self.dd.dst_base.val() + bit_cast::<24, 32>(self.dst_mul.p.val());
            if self.cnt_zero.val() {
                // A channel needs >= 1 entry (spec::job guarantees it): refuse, never hang.
                self.err_set.next = 2.into();
                self.st.d.next = self.st_idle.val();
            } else {
                self.st.d.next = self.st_run.val();
            }
        } else if self.st.q.val() == self.st_run.val() {
            // Everything RUN does hangs off the registered `issue`, `adv_tile` and `adv_chan`
            // (true only in RUN), below the state chain.
            self.done_set.next = false;
        } else if self.st.q.val() == self.st_drain.val() {
            // All credits back (no tile in flight) and the output side idle, seen a cycle ago:
            // nothing new can enter while draining, so it still holds.
            if self.drained.q.val() {
                self.done_set.next = true;
                self.st.d.next = self.st_idle.val();
            }
        } else {
            self.st.d.next = self.st_idle.val();
        }
        if self.issue.val() {
            self.e.d.next = self.e.q.val() + 1;
            self.n_left.d.next = self.n_left.q.val() - 1;
            self.nl2_f.d.next = self.n_left.q.val() == 3;
            self.first_f.d.next = false;
            self.last_f.d.next = self.nl2_f.q.val();
        }
        if self.adv_chan.q.val() {
            // The channel's last entry.
            self.o.d.next = self.o.q.val() + 1;
            self.chan_addr.d.next = self.chan_addr.q.val() + 1;
            self.dst_ch.d.next = self.dst_ch.q.val() + 1;
            self.e_chan.d.next = self.e.q.val() + 1;
            if self.ol_f.q.val() {
                self.st.d.next = self.st_drain.val();
            } else {
                self.st.d.next = self.st_chan.val();
            }
        } else if self.adv_tile.q.val() {
            // A tile's last entry, not the channel's: the next tile re-walks the channel.
            self.first_f.d.next = true;
            self.last_f.d.next = self.cnt1_f.q.val();
            self.chanl_f.d.next = self.tl.q.val() == 1;
            self.e.d.next = self.e_chan.q.val();
            self.n_left.d.next = self.cnt.q.val();
            self.nl2_f.d.next = self.cnt.q.val() == 2;
        }
        // The tile registers: a channel's start (the cycle after a launch, or after a channel's
        // last entry) or the next tile (after a tile's last entry). No entry issues in the
        // cycle after a launch (the FSM is in CHAN), so the two never meet.
        if self.en_tl_kc.q.val() {
            if self.in_tl_kc.q.val() {
                self.tl.d.next = self.ntm1.q.val();
            } else {
                self.tl.d.next = self.tl.q.val() - 1;
            }
        }
        if self.en_mt_kc.q.val() {
            if self.in_mt_kc.q.val() {
                self.mtile.d.next = self.dd.mask_base.val();
            } else {
                self.mtile.d.next = self.mtile.q.val() + 1;
            }
        }
        if self.en_q0_kc.q.val() {
            if self.in_q0_kc.q.val() {
                self.q0.d.next = self.dd.q_start.val();
            } else {
                self.q0.d.next = self.q0.q.val() + self.s24.val();
            }
        }
        if self.en_rel_kc.q.val() {
            if self.in_rel_kc.q.val() {
                self.rel0.d.next = 0.into();
            } else {
                self.rel0.d.next = self.rel0.q.val() + self.s24.val();
            }
        }
        // Sampled only while draining (the credit of a tile issued in the last RUN cycle shows
        // in the counter one cycle later).
        self.drained.d.next = (self.st.q.val() == self.st_drain.val())
            & (self.credits.q.val() == self.fifo_depth.val())
            & self.outctl.idle.val();
        // Credits: one per output FIFO entry; cred_f = (credits != 0), one cycle ahead.
        if self.credit_take.val() & !self.pop_r.q.val() {
            self.credits.d.next = self.credits.q.val() - 1;
            self.cred_f.d.next = self.credits.q.val() != 1;
        }
        if !self.credit_take.val() & self.pop_r.q.val() {
            self.credits.d.next = self.credits.q.val() + 1;
            self.cred_f.d.next = true;
        }
        if self.rst.q.val() {
            self.st.d.next = self.st_idle.val();
        }
        // Next cycle's issue from the flags' next values (the same function as above), and
        // the tile / channel ends it makes.
        // Each n_* equals the flag's d above wherever st.d is RUN (from RUN or CHANR).
        self.in_chanr.next = self.st_kc.q.val() == self.st_chanr.val();
        self.take_k.next = self.iss_kc.q.val() & self.first_f.q.val();
        self.reload.next = self.adv_tile_kc.q.val() & !self.adv_chan_kc.q.val();
        self.n_run.next = !self.rst.q.val()
            & ((self.in_chanr.val() & !self.cnt_zero.val())
                | ((self.st_kc.q.val() == self.st_run.val()) & !self.adv_chan_kc.q.val()));
        self.n_first.next = self.first_f.q.val() & !self.iss_kc.q.val();
        if self.in_chanr.val() | self.reload.val() {
            self.n_first.next = true;
        }
        self.n_last.next = self.last_f.q.val();
        if self.in_chanr.val() {
            self.n_last.next = self.cnt_one.val();
        } else if self.reload.val() {
            self.n_last.next = self.cnt1_f.q.val();
        } else if self.iss_kc.q.val() {
            self.n_last.next = self.nl2_f.q.val();
        }
        self.n_cred.next = self.cred_f.q.val();
        if self.take_k.val() & !self.pop_r.q.val() {
            self.n_cred.next = self.credits.q.val() != 1;
        }
        if !self.take_k.val() & self.pop_r.q.val() {
            self.n_cred.next = true;
        }
        self.n_gap.next =
            !self.adv_tile_kc.q.val() & (self.since_last.q.val() >= self.tile_gap_m1.val());
        self.n_chanl.next = self.chanl_f.q.val();
        if self.in_chanr.val() {
            self.n_chanl.next = self.nt1_f.q.val();
        } else if self.reload.val() {
            self.n_chanl.next = self.tl.q.val() == 1;
        }
        self.iss.d.next = self.n_run.val()
            & (!self.n_first.val() | self.n_cred.val())
            & (!self.n_last.val() | self.n_gap.val());
        self.adv_tile.d.next = self.iss.d.val() & self.n_last.val();
        self.adv_chan.d.next = self.adv_tile.d.val() & self.n_chanl.val();
        self.iss_kc.d.next = self.iss.d.val();
        self.st_kc.d.next = self.st.d.val();
        self.adv_tile_kc.d.next = self.adv_tile.d.val();
        self.adv_chan_kc.d.next = self.adv_chan.d.val();
        // adv_chan implies adv_tile.
        self.en_tl_kc.d.next = self.launch_go.val() | self.adv_tile.d.val();
        self.in_tl_kc.d.next = self.launch_go.val() | self.adv_chan.d.val();
        self.en_mt_kc.d.next = self.launch_go.val() | self.adv_tile.d.val();
        self.in_mt_kc.d.next = self.launch_go.val() | self.adv_chan.d.val();
        self.en_q0_kc.d.next = self.launch_go.val() | self.adv_tile.d.val();
        self.in_q0_kc.d.next = self.launch_go.val() | self.adv_chan.d.val();
        self.en_rel_kc.d.next = self.launch_go.val() | self.adv_tile.d.val();
        self.in_rel_kc.d.next = self.launch_go.val() | self.adv_chan.d.val();
        self.err_set.next = self.err_set.val()
            | bit_cast::<4, 1>(self.loader.err_bad_packet.val().into())
            | (bit_cast::<4, 1>(self.loader.err_w_overflow.val().into()) << 2)
            | (bit_cast::<4, 1>(self.loader.err_act_overflow.val().into()) << 3);

        // Tokens from T0.
        self.p_tok.din.next = bit_cast::<3, 1>(self.issue.val().into())
            | (bit_cast::<3, 1>(self.first0.val().into()) << 1)
            | (bit_cast::<3, 1>(self.last0.val().into()) << 2);
        self.p_bias.din.next = self.bias_r.q.val();
        self.p_q0.din.next = self.q0.q.val();
        // Bytes of the tile inside the mid window's write count (capped at S), computed here
        // from registers so the output controller's write port needs no subtractor.
        self.wr_left.d.next = self.dd.wr_count.val() - self.rel0.q.val();
        self.wr_keep.next = bit_cast::<16, 24>(self.wr_left.q.val());
        if self.wr_left.q.val() >= self.s24.val() {
            self.wr_keep.next = self.s16.val();
        }
        self.p_meta.din.next = bit_cast::<51, 24>(self.dst_chan.q.val() + self.rel0.q.val())
            | (bit_cast::<51, 24>(self.rel0.q.val()) << 24)
            | (bit_cast::<51, 1>(self.adv_tile.q.val().into()) << 48)
            | (bit_cast::<51, 1>(self.chan_last.val().into()) << 49)
            | (bit_cast::<51, 1>(self.job_last.val().into()) << 50);
        self.p_keep.din.next = self.wr_keep.val();
        // The count as lane enables (lanes below it), a stage before p_meta's output.
        self.keep_lanes.clk.next = self.clk.val();
        self.keep_lanes.count.next = self.p_keep.dout.val();
        // The weight memory's read takes DEEP_RAM_LATENCY cycles: T0 tokens reach T4 with it.
        self.p_vf.din.next = bit_cast::<2, 1>(self.issue.val().into())
            | (bit_cast::<2, 1>(self.first0.val().into()) << 1);
        self.v1.next = self.p_vf.dout.val().get_bit(0);
        self.first1.next = self.p_vf.dout.val().get_bit(1);

        // ---- T2: entry arrives; position recurrence ----
        self.code.next = self.wmem.rdata.val().get_bits::<8>(0);
        self.rel.next = bit_cast::<5, 4>(self.wmem.rdata.val().get_bits::<4>(8));
        self.code_lo.d.next = self.code.val().get_bits::<2>(0);
        self.code_lo2.d.next = self.code_lo.q.val();
        self.cbmem.raddr.next = (bit_cast::<24, 6>(self.dd.lut_slot.val()) << 6)
            | bit_cast::<24, 6>(self.code.val().get_bits::<6>(2));
        // The tap index loop: t1 = (first ? 0 : t + 1) + rel, wrapped into [0, K*K). `tp1` holds
        // t + 1 (computed beside t from the same t1), so the loop is one 5-bit add and a table.
        // A tile's first entry starts from tap 0 (t1 = rel): the second table, chosen after
        // both lookups rather than before the add.
        self.base_t.next = self.tp1.q.val();
        self.t1.next = self.base_t.val() + self.rel.val();
        self.tapwrap.k.next = self.dd.k.val();
        self.tapwrap.t1.next = self.t1.val();
        self.tapwrap_f.k.next = self.dd.k.val();
        self.tapwrap_f.t1.next = self.rel.val();
        if self.first1.val() {
            self.wraps.next = bit_cast::<8, 5>(self.tapwrap_f.wraps.val());
            self.tn1.next = self.tapwrap_f.tn1.val();
            self.khw.next = (bit_cast::<4, 2>(self.tapwrap_f.kh.val()) << 2)
                | bit_cast::<4, 2>(self.tapwrap_f.kw.val());
        } else {
            self.wraps.next = bit_cast::<8, 5>(self.tapwrap.wraps.val());
            self.tn1.next = self.tapwrap.tn1.val();
            self.khw.next = (bit_cast::<4, 2>(self.tapwrap.kh.val()) << 2)
                | bit_cast::<4, 2>(self.tapwrap.kw.val());
        }
        if self.v1.val() {
            self.khw_r.d.next = self.khw.val();
            self.tp1.d.next = self.tn1.val();
        }
        self.wraps_r.d.next = self.wraps.val();
        self.vw.d.next = self.v1.val();
        self.fw.d.next = self.first1.val();
        // T5: the input channel loop, one cycle behind the tap index.
        if self.vw.q.val() {
            if self.fw.q.val() {
                self.c_reg.d.next = bit_cast::<16, 8>(self.wraps_r.q.val());
            } else {
                self.c_reg.d.next = self.c_reg.q.val() + bit_cast::<16, 8>(self.wraps_r.q.val());
            }
        }

        // ---- T3: tap offset, channel plane offset, weight byte ----
        self.wg24.next = bit_cast::<24, 16>(self.dd.grid_w.val());
        self.wg1.d.next = self.wg24.val();
        self.wg2.d.next = self.wg24.val() << 1;
        self.wg3.d.next = self.wg24.val() + (self.wg24.val() << 1);
        self.kh.next = self.khw_r.q.val().get_bits::<2>(2);
        self.kw.next = self.khw_r.q.val().get_bits::<2>(0);
        self.tap_r.d.next = bit_cast::<24, 2>(self.kw.val());
        if self.kh.val() == 1 {
            self.tap_r.d.next = self.wg1.q.val() + bit_cast::<24, 2>(self.kw.val());
        }
        if self.kh.val() == 2 {
            self.tap_r.d.next = self.wg2.q.val() + bit_cast::<24, 2>(self.kw.val());
        }
        if self.kh.val() == 3 {
            self.tap_r.d.next = self.wg3.q.val() + bit_cast::<24, 2>(self.kw.val());
        }
        self.cpl_mul.clk.next = self.clk.val();
        self.cpl_mul.a.next = bit_cast::<18, 16>(self.c_reg.d.val());
        self.cpl_mul.b.next = bit_cast::<18, 16>(self.dd.plane_in.val());
        // The LUT word holds 4 codebook entries of 16 bits; the code's low 2 bits pick one.
        match self.code_lo2.q.val().index() {
            0 => {
                self.p_w.din.next = self.cbmem.rdata.val().get_bits::<16>(0);
            }
            1 => {
                self.p_w.din.next = self.cbmem.rdata.val().get_bits::<16>(16);
            }
            2 => {
                self.p_w.din.next = self.cbmem.rdata.val().get_bits::<16>(32);
            }
            _ => {
                self.p_w.din.next = self.cbmem.rdata.val().get_bits::<16>(48);
            }
        }

        // ---- T4: address ----
        self.tap_r2.d.next = self.tap_r.q.val();
        self.addr_r.d.next = self.dd.src_base.val()
            + bit_cast::<24, 32>(self.cpl_mul.p.val())
            + self.tap_r2.q.val()
            + self.p_q0.dout.val();
        // ---- T5..T8: banked read ----
        self.actmem.raddr.next = self.addr_r.q.val();

        // ---- T8: lanes ----
        self.tok6.next = self.p_tok.dout.val();
        self.array.act_bus.next = self.actmem.rdata.val();
        self.array.weight.next = self.p_w.dout.val();
        self.array.in_signed.next = self.dd.in_signed.val();
        self.array.valid.next = self.tok6.val().get_bit(0);
        self.array.first.next = self.tok6.val().get_bit(1);
        self.array.last.next = self.tok6.val().get_bit(2);
        self.array.bias.next = self.p_bias.dout.val();
        self.array.m.next = self.m_c.q.val();
        self.sh_c.d.next = self.dd.shift.val();
        // From the local copy (a cycle later: the descriptor register sits in the register
        // file, the subtract beside its consumers).
        self.shm1_c.d.next = self.sh_c.q.val() - 1;
        self.m_c.d.next = self.dd.m.val();
        self.rnd.d.next = self.one48.val() << self.shm1_c.q.val();
        self.rnd_neg.d.next = self.rnd.q.val() - (bit_cast::<48, 16>(self.m_c.q.val()) << 32);
        self.ovf.d.next = (self.ones48.val() << self.sh_c.q.val()) << 8;
        self.array.rnd.next = self.rnd.q.val();
        self.array.rnd_neg.next = self.rnd_neg.q.val();
        self.array.ovf.next = self.ovf.q.val();
        self.array.shift.next = self.sh_c.q.val();
        self.p_mask.din.next = self.maskmem.rdata.val();
        self.array.keep.next = self.p_mask.dout.val();
        self.inc_macs.next = 0.into();
        if self.tok6.val().get_bit(0) & self.p_w.dout.val().any() {
            self.inc_macs.next = self.s16.val();
        }

        // ---- T18: finished tiles to the output controller ----
        self.outctl.rst.next = self.rst.q.val();
        self.outctl.dst_mid.next = self.dd.dst_mid.val();
        self.outctl.pool.next = self.dd.pool.val();
        self.outctl.grid_w.next = self.dd.grid_w.val();
        self.outctl.pool_oh.next = self.dd.pool_oh.val();
        self.outctl.pool_chunks.next = self.dd.pool_chunks.val();
        self.outctl.pool_col0.next = self.dd.pool_col0.val();
        self.outctl.push.next = self.p_meta.dout.val().get_bit(48);
        self.outctl.pdata.next = self.array.y_bus.val();
        self.outctl.pdst.next = self.p_meta.dout.val().get_bits::<24>(0);
        self.outctl.prel.next = self.p_meta.dout.val().get_bits::<24>(24);
        self.outctl.pchan_last.next = self.p_meta.dout.val().get_bit(49);
        self.outctl.pjob_last.next = self.p_meta.dout.val().get_bit(50);
        self.keep_out.d.next = self.keep_lanes.lanes.val();
        self.outctl.pkeep.next = self.keep_out.q.val();
        self.m_axis_tdata.next = self.outctl.tdata.val();
        self.m_axis_tkeep.next = self.outctl.tkeep.val();
        self.m_axis_tlast.next = self.outctl.tlast.val();
        self.m_axis_tvalid.next = self.outctl.tvalid.val();
        self.outctl.tready.next = self.m_axis_tready.val();

        // ---- status and performance ----
        self.busy.next = self.st.q.val() != self.st_idle.val();
        self.inc_busy.next = self.st.q.val() != self.st_idle.val();
        self.inc_stall.next = (self.st.q.val() != self.st_idle.val()) & !self.issue.val();
        self.inc_stall_in.next = false;
        self.inc_stall_out.next = self.outctl.stall_out.val();
        // Payload beats the loader takes while a job runs: H2C hidden under compute.
        self.inc_h2c_hidden.next =
            self.loader.pay_beat.val() & (self.st.q.val() != self.st_idle.val());
    }
}
