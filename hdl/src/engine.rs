//! The engine: the top of the data path. It wires the H2C register slice and the packet
//! loader, the memories (weights, codebook, channel table, masks, activations), the weight
//! walker ([`Walker`]: job control and the issue of weight entries), the address generator
//! ([`AddrGen`]), the weight decode ([`WeightDecode`]), the requantizers' job constants
//! ([`RequantConsts`]), the delay lines between them, the lane array and the output
//! controller. One job = `out_c` output channels x `ntiles` tiles of `S` grid positions; for
//! each (channel, tile) the walker issues the channel's weight entries (code + relative index)
//! one per cycle, so zero weights cost no cycles.
//!
//! Pipeline: the cycle of an entry counted from its issue (`ISSUE_STAGE`, 0); each stage is a
//! named constant derived from the latencies below (the cycle figures in brackets are pinned
//! by the test `stage_indices`):
//! * `ISSUE_STAGE` (T0): the walker's registered issue; the weight memory's read (entry
//!   pointer), the mask memory's read (tile index), the tokens into the pipes.
//! * [`ENTRY_STAGE`] (T5, [`DEEP_RAM_LATENCY`] later): the weight-memory word (code, rel)
//!   arrives: the address generator's tap-index lookup, the codebook read address.
//! * [`TAP_STAGE`] (T6): input channel `c += wraps`, the tap offset; `c` into the DSP.
//! * [`WEIGHT_STAGE`] (T7, [`REGISTERED_RAM_LATENCY`] after `ENTRY_STAGE`): the codebook word;
//!   the weight selected from it enters `p_weight`.
//! * [`ADDR_STAGE`] (T8, [`DSP_LATENCY`] after `TAP_STAGE`): `src_base + c*plane + tap + q0`,
//!   registered.
//! * [`ACT_READ_STAGE`] (T9): the activation buffer's banked read, [`PIPELINED_READ_LATENCY`]
//!   cycles (row registers, each group of 8 banks' row registers, each bank's row register,
//!   bank read, bank output register and its fabric copy, two rotation steps); the
//!   activation word and the weight reach the lanes' registers at `LANE_STAGE - ACT_AHEAD`.
//! * [`LANE_STAGE`] (T18): the tokens and bias reach the lane array (latency
//!   [`ARRAY_LATENCY`]: operand registers, multiply, the product's fabric copy, accumulate,
//!   hold, the shared requantizers over four chunks).
//! * [`OUT_STAGE`] (T35): the tile's `S` bytes (masked) enter the output FIFO with its
//!   metadata (`p_meta`), lane enables (`p_keep`, [`KeepLanes`]) and mask (`p_mask`).
//!
//! The H2C stream reaches the loader through a register slice ([`AxisSkid`]), with a flag of
//! each beat (its upper word is zero) computed before the slice.
//!
//! Registered here: the reset (`rst`, one cycle late to every child) and the lane enables'
//! copy on their way to the output FIFO (`keep_out`); everything else is inside the children.
//! Combinational: the memories' write ports (the loader's, or a squeeze job's output into the
//! mid window), the channel table's count flags (computed as it is written), the tokens and
//! metadata packed into the pipes, ERR, status and performance outputs.
//!
//! Ports: `clk`, `resetn`; from the register file `desc`, `start`, `soft_reset`, `halted`; to it
//! `busy`, `done_set`, `err_set`, `inc_*`; the H2C slave and C2H master streams.

use crate::addr_gen::AddrGen;
use crate::array::{LaneArray, ACT_AHEAD, ARRAY_LATENCY};
use crate::dsp::DSP_LATENCY;
use crate::keep::{KeepLanes, KEEP_LATENCY};
use crate::loader::Loader;
use crate::mem::{
    BankedMem, DescDecode, MaskMem, Pipe, Ram, Replicate, DEEP_RAM_LATENCY, MASK_READ_LATENCY,
    PIPELINED_READ_LATENCY, REGISTERED_RAM_LATENCY,
};
use crate::outctl::OutCtl;
use crate::requant_consts::RequantConsts;
use crate::skid::AxisSkid;
use crate::walker::Walker;
use crate::weight_decode::WeightDecode;
pub use crate::weight_decode::CODEBOOK_WORDS;
use rust_hdl::prelude::*;
use spec::AccelConfig;

// `hdl_gen` takes bit positions only as literals: the H2C slice's zero-length flag reads the
// header's length field at bits 32..63, checked against spec::packet at compile time.
const _: () = assert!(spec::packet::HDR_LEN_LSB == 32 && spec::packet::HDR_LEN_BITS == 32);

/// The walker's registered issue: the weight and mask memories' reads start, the tokens enter
/// the pipes.
pub const ISSUE_STAGE: usize = 0;
/// The entry's weight-memory word arrives: tap-index lookup, codebook read address.
pub const ENTRY_STAGE: usize = ISSUE_STAGE + DEEP_RAM_LATENCY;
/// The tap index's results registered: input channel loop, tap offset.
pub const TAP_STAGE: usize = ENTRY_STAGE + 1;
/// The codebook word arrives: the weight select.
pub const WEIGHT_STAGE: usize = ENTRY_STAGE + REGISTERED_RAM_LATENCY;
/// The `c * plane` product arrives: the address sum.
pub const ADDR_STAGE: usize = TAP_STAGE + DSP_LATENCY;
/// The registered address starts the activation buffer's read.
pub const ACT_READ_STAGE: usize = ADDR_STAGE + 1;
/// An entry's controls reach the lane array (the activation word and the weight arrive
/// `ACT_AHEAD` cycle earlier).
pub const LANE_STAGE: usize = ACT_READ_STAGE + PIPELINED_READ_LATENCY + ACT_AHEAD;
/// A tile's bytes enter the output FIFO: the lane array's latency after `LANE_STAGE`.
pub const OUT_STAGE: usize = LANE_STAGE + ARRAY_LATENCY;
/// The tile's mask arrives from the mask memory.
pub const MASK_STAGE: usize = ISSUE_STAGE + MASK_READ_LATENCY;
/// The tile's mid-window byte count (the walker's registered `wr_left`) is ready.
pub const KEEP_COUNT_STAGE: usize = ISSUE_STAGE + 1;

// The weight waits in `p_weight` at least a cycle.
const _: () = assert!(WEIGHT_STAGE < LANE_STAGE - ACT_AHEAD);

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
    /// The descriptor's fields.
    desc_fields: DescDecode,
    walker: Walker<S>,
    addr_gen: AddrGen,
    weight_decode: WeightDecode,
    requant_consts: RequantConsts,
    /// The H2C beat and its `tdata_hi_zero` flag (bit 64) through the register slice in front
    /// of the loader.
    h2c_skid: AxisSkid<65>,
    loader: Loader,
    wmem: Ram<12>,
    cbmem: Ram<64>,
    /// Per output channel: bias (bits 31..0), entry count (47..32), and the count's two flags,
    /// computed as the table is written: count == 0 (bit 48), count == 1 (bit 49).
    chanmem: Ram<50>,
    chan_word: Signal<Local, Bits<50>>,
    count0_flag: Constant<Bits<50>>,
    count1_flag: Constant<Bits<50>>,
    maskmem: MaskMem<S>,
    actmem: BankedMem<S, S8>,
    beat_rep: Replicate<S8>,
    array: LaneArray<S, S8, R>,
    outctl: OutCtl<S, S8>,
    /// (valid, first, last) of an issued entry, to the lane array.
    p_tok: Pipe<3>,
    p_bias: Pipe<32>,
    p_weight: Pipe<16>,
    /// The tile's q0, to the address sum.
    p_q0: Pipe<24>,
    p_mask: Pipe<S>,
    /// The tile's output metadata: destination (23..0), rel0 (47..24), tile end (48), the
    /// channel's last tile (49), the job's last tile (50).
    p_meta: Pipe<51>,
    /// The tile's mid-window byte count (the walker's `keep_count`), short of `p_meta` by
    /// `keep_lanes`, its thermometer of lane enables, and `keep_out`, a copy of it on its way
    /// to the output FIFO's LUT RAM.
    p_keep: Pipe<16>,
    keep_lanes: KeepLanes<S>,
    keep_out: DFF<Bits<S>>,
    /// (valid, first) of an issued entry, until its weight-memory word arrives.
    p_valid_first: Pipe<2>,
    /// The reset (and SOFT_RESET), registered: the children see it a cycle late.
    rst: DFF<Bit>,
    /// The tokens at `LANE_STAGE`.
    lane_tok: Signal<Local, Bits<3>>,
    s16: Constant<Bits<16>>,
    lanes8: Constant<Bits<S>>,
    lane_mask: Constant<Bits<24>>,
}

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
            desc_fields: DescDecode::new(),
            walker: Default::default(),
            addr_gen: Default::default(),
            weight_decode: Default::default(),
            requant_consts: Default::default(),
            h2c_skid: Default::default(),
            loader: Loader::new(cfg),
            wmem: Ram::deep(cfg.weight_entries as usize),
            cbmem: Ram::registered(cfg.codebook_slots as usize * CODEBOOK_WORDS),
            chanmem: Ram::registered(cfg.bias_words as usize),
            chan_word: Default::default(),
            count0_flag: Constant::new((1u64 << 48).to_bits()),
            count1_flag: Constant::new((1u64 << 49).to_bits()),
            maskmem: MaskMem::new(cfg.mask_bits as usize),
            actmem: BankedMem::pipelined(cfg.act_in_bytes as usize),
            beat_rep: Default::default(),
            array: LaneArray::new(),
            outctl: OutCtl::new(cfg),
            p_tok: Pipe::new(LANE_STAGE - ISSUE_STAGE),
            p_bias: Pipe::new(LANE_STAGE - ISSUE_STAGE),
            // The lane array takes the weight `ACT_AHEAD` cycle ahead of the tokens.
            p_weight: Pipe::new(LANE_STAGE - ACT_AHEAD - WEIGHT_STAGE),
            p_q0: Pipe::new(ADDR_STAGE - ISSUE_STAGE),
            p_mask: Pipe::new(OUT_STAGE - MASK_STAGE),
            p_meta: Pipe::new(OUT_STAGE - ISSUE_STAGE),
            // Then `keep_lanes` and the `keep_out` register.
            p_keep: Pipe::new(OUT_STAGE - 1 - KEEP_LATENCY - KEEP_COUNT_STAGE),
            keep_lanes: Default::default(),
            keep_out: Default::default(),
            p_valid_first: Pipe::new(ENTRY_STAGE - ISSUE_STAGE),
            rst: Default::default(),
            lane_tok: Default::default(),
            s16: Constant::new((S as u64).to_bits()),
            lanes8: Constant::new(0xFFu64.to_bits()),
            lane_mask: Constant::new(((S - 1) as u64).to_bits()),
        })
    }
}

impl<const S: usize, const S8: usize, const R: usize> Logic for Engine<S, S8, R> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clk, rst, keep_out);
        self.desc_fields.desc.next = self.desc.val();
        // Reset (and SOFT_RESET) reach the children one cycle later, from a register.
        self.rst.d.next = !self.resetn.val() | self.soft_reset.val();
        // Clocks of the children.
        self.walker.clk.next = self.clk.val();
        self.addr_gen.clk.next = self.clk.val();
        self.weight_decode.clk.next = self.clk.val();
        self.requant_consts.clk.next = self.clk.val();
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
        self.p_weight.clk.next = self.clk.val();
        self.p_q0.clk.next = self.clk.val();
        self.p_mask.clk.next = self.clk.val();
        self.p_meta.clk.next = self.clk.val();
        self.p_keep.clk.next = self.clk.val();
        self.p_valid_first.clk.next = self.clk.val();

        // ---- loader and memory write ports ----
        self.loader.rst.next = self.rst.q.val();
        // Idle and no START on its way: any packet. While a job runs: only ACT_IN bytes below
        // everything the job reads, and only if the job leaves the buffer's write port alone
        // (`Descriptor::loads_while_running`).
        // (`enable` falls with the START pulse itself: the loader's gate decides a cycle
        // ahead.)
        self.loader.enable.next =
            !self.walker.busy.val() & !self.start.val() & !self.walker.start_pending.val();
        self.loader.busy.next = self.walker.busy.val();
        self.loader.job_dst_mid.next = self.desc_fields.dst_mid.val();
        self.loader.job_src_base.next = self.desc_fields.src_base.val();
        self.loader.job_w_base.next = self.desc_fields.weight_base.val();
        self.loader.job_w_beats.next = self.desc_fields.weight_beats.val();
        self.loader.job_b_base.next = self.desc_fields.bias_base.val();
        self.loader.job_out_c.next = self.desc_fields.out_c.val();
        self.loader.job_slot.next = self.desc_fields.lut_slot.val();
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
        self.chan_word.next = bit_cast::<50, 48>(self.loader.data.val().get_bits::<48>(0));
        if self.loader.data.val().get_bits::<16>(32) == 0 {
            self.chan_word.next = bit_cast::<50, 48>(self.loader.data.val().get_bits::<48>(0))
                | self.count0_flag.val();
        }
        if self.loader.data.val().get_bits::<16>(32) == 1 {
            self.chan_word.next = bit_cast::<50, 48>(self.loader.data.val().get_bits::<48>(0))
                | self.count1_flag.val();
        }
        self.chanmem.wdata.next = self.chan_word.val();
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

        // ---- ISSUE_STAGE: the walker ----
        self.walker.rst.next = self.rst.q.val();
        self.walker.start.next = self.start.val();
        self.walker.halted.next = self.halted.val();
        self.walker.k.next = self.desc_fields.k.val();
        self.walker.out_c.next = self.desc_fields.out_c.val();
        self.walker.ntiles.next = self.desc_fields.ntiles.val();
        self.walker.m.next = self.desc_fields.m.val();
        self.walker.shift.next = self.desc_fields.shift.val();
        self.walker.pool.next = self.desc_fields.pool.val();
        self.walker.src_mid.next = self.desc_fields.src_mid.val();
        self.walker.dst_mid.next = self.desc_fields.dst_mid.val();
        self.walker.dst_base.next = self.desc_fields.dst_base.val();
        self.walker.plane_out.next = self.desc_fields.plane_out.val();
        self.walker.bias_base.next = self.desc_fields.bias_base.val();
        self.walker.out_ch_offset.next = self.desc_fields.out_ch_offset.val();
        self.walker.weight_base.next = self.desc_fields.weight_base.val();
        self.walker.mask_base.next = self.desc_fields.mask_base.val();
        self.walker.q_start.next = self.desc_fields.q_start.val();
        self.walker.wr_count.next = self.desc_fields.wr_count.val();
        self.walker.chan_word.next = self.chanmem.rdata.val();
        self.walker.out_pop.next = self.outctl.pop.val();
        self.walker.out_idle.next = self.outctl.idle.val();
        self.chanmem.raddr.next = self.walker.chan_raddr.val();
        self.wmem.raddr.next = self.walker.entry_addr.val();
        self.maskmem.rtile.next = self.walker.mask_rtile.val();
        self.done_set.next = self.walker.done_set.val();
        self.err_set.next = (bit_cast::<4, 1>(self.walker.refused.val().into()) << 1)
            | bit_cast::<4, 1>(self.loader.err_bad_packet.val().into())
            | (bit_cast::<4, 1>(self.loader.err_w_overflow.val().into()) << 2)
            | (bit_cast::<4, 1>(self.loader.err_act_overflow.val().into()) << 3);
        // The tokens and the tile's values into the pipes.
        self.p_tok.din.next = bit_cast::<3, 1>(self.walker.issue.val().into())
            | (bit_cast::<3, 1>(self.walker.first.val().into()) << 1)
            | (bit_cast::<3, 1>(self.walker.last.val().into()) << 2);
        self.p_valid_first.din.next = bit_cast::<2, 1>(self.walker.issue.val().into())
            | (bit_cast::<2, 1>(self.walker.first.val().into()) << 1);
        self.p_bias.din.next = self.walker.bias.val();
        self.p_q0.din.next = self.walker.q0.val();
        // (The destination's sum is evaluated at the pipe's width in the emitted Verilog, as
        // it always was here; a destination stays below 2^24, so its carry is zero.)
        self.p_meta.din.next =
            bit_cast::<51, 24>(self.walker.chan_dst.val() + self.walker.meta_rel.val())
                | (bit_cast::<51, 24>(self.walker.meta_rel.val()) << 24)
                | (bit_cast::<51, 1>(self.walker.tile_end.val().into()) << 48)
                | (bit_cast::<51, 1>(self.walker.chan_last.val().into()) << 49)
                | (bit_cast::<51, 1>(self.walker.job_last.val().into()) << 50);
        // KEEP_COUNT_STAGE: the count as lane enables (lanes below it), a stage before
        // p_meta's output.
        self.p_keep.din.next = self.walker.keep_count.val();
        self.keep_lanes.clk.next = self.clk.val();
        self.keep_lanes.count.next = self.p_keep.dout.val();
        // MASK_STAGE.
        self.p_mask.din.next = self.maskmem.rdata.val();

        // ---- ENTRY_STAGE: the weight-memory word (code 7..0, rel 11..8) ----
        self.addr_gen.valid.next = self.p_valid_first.dout.val().get_bit(0);
        self.addr_gen.first.next = self.p_valid_first.dout.val().get_bit(1);
        self.addr_gen.rel.next = self.wmem.rdata.val().get_bits::<4>(8);
        self.addr_gen.k.next = self.desc_fields.k.val();
        self.addr_gen.grid_w.next = self.desc_fields.grid_w.val();
        self.addr_gen.plane_in.next = self.desc_fields.plane_in.val();
        self.addr_gen.src_base.next = self.desc_fields.src_base.val();
        self.weight_decode.code.next = self.wmem.rdata.val().get_bits::<8>(0);
        self.weight_decode.lut_slot.next = self.desc_fields.lut_slot.val();
        self.cbmem.raddr.next = self.weight_decode.cb_raddr.val();
        // ---- WEIGHT_STAGE ----
        self.weight_decode.lut_word.next = self.cbmem.rdata.val();
        self.p_weight.din.next = self.weight_decode.weight.val();
        // ---- ADDR_STAGE ----
        self.addr_gen.q0.next = self.p_q0.dout.val();
        // ---- ACT_READ_STAGE ----
        self.actmem.raddr.next = self.addr_gen.act_addr.val();

        // ---- LANE_STAGE ----
        self.lane_tok.next = self.p_tok.dout.val();
        self.array.act_bus.next = self.actmem.rdata.val();
        self.array.weight.next = self.p_weight.dout.val();
        self.array.in_signed.next = self.desc_fields.in_signed.val();
        self.array.valid.next = self.lane_tok.val().get_bit(0);
        self.array.first.next = self.lane_tok.val().get_bit(1);
        self.array.last.next = self.lane_tok.val().get_bit(2);
        self.array.bias.next = self.p_bias.dout.val();
        self.requant_consts.desc_shift.next = self.desc_fields.shift.val();
        self.requant_consts.desc_m.next = self.desc_fields.m.val();
        self.array.m.next = self.requant_consts.m.val();
        self.array.rnd.next = self.requant_consts.rnd.val();
        self.array.rnd_neg.next = self.requant_consts.rnd_neg.val();
        self.array.ovf.next = self.requant_consts.ovf.val();
        self.array.shift.next = self.requant_consts.shift.val();
        self.array.keep.next = self.p_mask.dout.val();
        self.inc_macs.next = 0.into();
        if self.lane_tok.val().get_bit(0) & self.p_weight.dout.val().any() {
            self.inc_macs.next = self.s16.val();
        }

        // ---- OUT_STAGE: finished tiles to the output controller ----
        self.outctl.rst.next = self.rst.q.val();
        self.outctl.dst_mid.next = self.desc_fields.dst_mid.val();
        self.outctl.pool.next = self.desc_fields.pool.val();
        self.outctl.grid_w.next = self.desc_fields.grid_w.val();
        self.outctl.pool_oh.next = self.desc_fields.pool_oh.val();
        self.outctl.pool_chunks.next = self.desc_fields.pool_chunks.val();
        self.outctl.pool_col0.next = self.desc_fields.pool_col0.val();
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
        self.busy.next = self.walker.busy.val();
        self.inc_busy.next = self.walker.busy.val();
        self.inc_stall.next = self.walker.busy.val() & !self.walker.issue.val();
        self.inc_stall_in.next = false;
        self.inc_stall_out.next = self.outctl.stall_out.val();
        // Payload beats the loader takes while a job runs: H2C hidden under compute.
        self.inc_h2c_hidden.next = self.loader.pay_beat.val() & self.walker.busy.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stage figures the module header quotes.
    #[test]
    fn stage_indices() {
        assert_eq!(
            (
                ENTRY_STAGE,
                TAP_STAGE,
                WEIGHT_STAGE,
                ADDR_STAGE,
                ACT_READ_STAGE
            ),
            (5, 6, 7, 8, 9)
        );
        assert_eq!((LANE_STAGE, OUT_STAGE), (18, 35));
    }
}
