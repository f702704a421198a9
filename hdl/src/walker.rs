//! The weight walker: the job's state machine and the walk over its entries. One job =
//! `out_c` output channels x `ntiles` tiles of `S` grid positions; for each (channel, tile)
//! the walker issues the channel's weight entries one per cycle, so zero weights cost no
//! cycles. Per issued entry it gives the weight memory's read address and the tokens (valid,
//! a tile's first, a tile's last); per tile the mask memory's tile index, the tile's first
//! grid position `q0` and its output metadata (destination, offset in the job's output, tile
//! end, channel's last tile, job's last tile, the mid-window byte count); per channel the
//! bias and the channel table's read address.
//!
//! States: IDLE (the address registers load from the descriptor every cycle; a START whose
//! registered descriptor checks passed launches), CHAN and CHANW (the channel table's read,
//! two cycles), CHANR (the channel's word: entry count, its flags, the bias), RUN (entries
//! issue), DRAIN (all credits back and the output side idle, then DONE). START acts two
//! cycles late, beside the registered checks of its descriptor (the register file writes one
//! word per AXI transaction, so DESC is stable by then). Credits, one per output FIFO entry,
//! are taken when a tile's first entry issues, so the pipeline never stalls: only the issue
//! waits. The issue decision itself is [`IssueCtl`] (`issue`): registered, computed a cycle
//! ahead.
//!
//! Registered: the state, output channel, tiles left, entry pointers, entries left, the channel's
//! count and bias, the tile registers (tiles left, mask tile, q0, rel0; each loads on its own kept
//! enable pair from [`IssueCtl`]), credits, the cycles since the last tile's end, the destination
//! channel and its base (`dst_channel * plane_out` in a registered DSP), the channel table's
//! address, the condition flags, the output FIFO's pop, START and the two descriptor checks and
//! their launch, job constants (ntiles - 1, ntiles == 1), and the mid window's bytes left.
//! Combinational: the descriptor checks, the launch, the outputs.
//!
//! Ports: `clk`, `rst` (the engine's registered reset), `start`, `halted`; descriptor fields
//! `k`, `out_c`, `ntiles`, `m`, `shift`, `pool`, `src_mid`, `dst_mid`, `dst_base`,
//! `plane_out`, `bias_base`, `out_ch_offset`, `weight_base`, `mask_base`, `q_start`,
//! `wr_count`; `chan_word` (the channel table's read data), `out_pop`, `out_idle` (the output
//! controller). Out: `busy`, `start_pending` (a START on its way: the loader's gate),
//! `done_set`, `refused` (a descriptor refused: ERR bit 1), `issue`, `first`, `last`,
//! `entry_addr` (weight memory), `chan_raddr` (channel table), `mask_rtile` (mask memory),
//! `q0`, `bias`, `chan_dst`, `meta_rel`, `tile_end`, `chan_last`, `job_last`, `keep_count`.

use crate::dsp::DspMul;
use crate::issue::IssueCtl;
use crate::outctl::OUT_FIFO_DEPTH;
use rust_hdl::prelude::*;

pub(crate) const ST_IDLE: u64 = 0;
pub(crate) const ST_CHAN: u64 = 1;
pub(crate) const ST_CHANW: u64 = 2;
pub(crate) const ST_RUN: u64 = 3;
pub(crate) const ST_DRAIN: u64 = 4;
pub(crate) const ST_CHANR: u64 = 5;

#[derive(LogicBlock)]
pub struct Walker<const S: usize> {
    pub clk: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub start: Signal<In, Bit>,
    pub halted: Signal<In, Bit>,
    pub k: Signal<In, Bits<3>>,
    pub out_c: Signal<In, Bits<16>>,
    pub ntiles: Signal<In, Bits<16>>,
    pub m: Signal<In, Bits<16>>,
    pub shift: Signal<In, Bits<6>>,
    pub pool: Signal<In, Bit>,
    pub src_mid: Signal<In, Bit>,
    pub dst_mid: Signal<In, Bit>,
    pub dst_base: Signal<In, Bits<24>>,
    pub plane_out: Signal<In, Bits<16>>,
    pub bias_base: Signal<In, Bits<16>>,
    pub out_ch_offset: Signal<In, Bits<16>>,
    pub weight_base: Signal<In, Bits<23>>,
    pub mask_base: Signal<In, Bits<16>>,
    pub q_start: Signal<In, Bits<24>>,
    pub wr_count: Signal<In, Bits<24>>,
    /// Per output channel: bias (bits 31..0), entry count (47..32), count == 0 (48), count ==
    /// 1 (49).
    pub chan_word: Signal<In, Bits<50>>,
    pub out_pop: Signal<In, Bit>,
    pub out_idle: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    pub start_pending: Signal<Out, Bit>,
    pub done_set: Signal<Out, Bit>,
    pub refused: Signal<Out, Bit>,
    pub issue: Signal<Out, Bit>,
    pub first: Signal<Out, Bit>,
    pub last: Signal<Out, Bit>,
    pub entry_addr: Signal<Out, Bits<24>>,
    pub chan_raddr: Signal<Out, Bits<24>>,
    pub mask_rtile: Signal<Out, Bits<16>>,
    pub q0: Signal<Out, Bits<24>>,
    pub bias: Signal<Out, Bits<32>>,
    /// The channel's destination base (the tile's destination is this + rel0).
    pub chan_dst: Signal<Out, Bits<24>>,
    /// The tile's first position in the job's output (rel0).
    pub meta_rel: Signal<Out, Bits<24>>,
    pub tile_end: Signal<Out, Bit>,
    pub chan_last: Signal<Out, Bit>,
    pub job_last: Signal<Out, Bit>,
    /// Bytes of the tile inside the mid window's write count (capped at S), from the
    /// registered `wr_left`.
    pub keep_count: Signal<Out, Bits<16>>,
    issue_ctl: IssueCtl,
    state: DFF<Bits<3>>,
    /// The job's output channel (0..out_c).
    out_ch: DFF<Bits<16>>,
    /// Tiles of the channel left after the current one (counts down to 0).
    tiles_left: DFF<Bits<16>>,
    /// The next entry to issue, and the channel's first entry (where each tile starts).
    entry: DFF<Bits<24>>,
    chan_entry: DFF<Bits<24>>,
    /// Entries of the tile's walk left, and `entries_left == 2` as a flag loaded wherever
    /// `entries_left` is (from the compare of the value it loads, which starts at registers):
    /// the next-issue logic reads a flip-flop, not a 16-bit compare.
    entries_left: DFF<Bits<16>>,
    two_left_f: DFF<Bit>,
    /// The channel's entry count and bias, from its table word.
    chan_count: DFF<Bits<16>>,
    chan_bias: DFF<Bits<32>>,
    /// The tile's first grid position in the input, and in the job's output.
    tile_q0: DFF<Bits<24>>,
    tile_rel0: DFF<Bits<24>>,
    credits: DFF<Bits<5>>,
    /// Cycles since the last tile's end (saturates at 7).
    since_last: DFF<Bits<3>>,
    /// The channel's destination base: dst_base + dst_channel * plane_out.
    dst_chan_base: DFF<Bits<24>>,
    /// Destination channel (out_ch_offset + out_ch), counted rather than added.
    dst_channel: DFF<Bits<16>>,
    /// `dst_channel * plane_out` in a registered DSP (operands `dst_channel`'s next value and
    /// `plane_out`): the product of the channel entered in CHAN, ready by CHANR.
    dst_plane_mul: DspMul<32>,
    /// The channel table's read address (bias_base + out_ch), counted rather than added.
    chan_addr: DFF<Bits<24>>,
    /// The mask memory's tile index (mask_base + tile), counted rather than added.
    mask_tile: DFF<Bits<16>>,
    // The walker's conditions as registered flags, so the issue is two LUT levels from
    // flip-flops: next entry is a tile's first / last, the tile is the channel's last, the
    // channel is the job's last, a 1-entry channel, an output credit is free, the tile gap is
    // met.
    first_f: DFF<Bit>,
    last_f: DFF<Bit>,
    last_tile_f: DFF<Bit>,
    last_chan_f: DFF<Bit>,
    one_entry_f: DFF<Bit>,
    credit_f: DFF<Bit>,
    gap_f: DFF<Bit>,
    /// The output FIFO's pop, registered: a credit comes back a cycle after its pop.
    pop_r: DFF<Bit>,
    /// Job constants: ntiles - 1, and ntiles == 1.
    ntiles_m1: DFF<Bits<16>>,
    one_tile_f: DFF<Bit>,
    /// START, one and two cycles late, and the descriptor's two checks, registered.
    start_d1: DFF<Bit>,
    start_d2: DFF<Bit>,
    bad_modes_r: DFF<Bit>,
    bad_sizes_r: DFF<Bit>,
    /// START accepted (descriptor good), registered; `halted` still gates it.
    launch_ok: DFF<Bit>,
    /// All credits back and the output side idle (sampled while draining).
    drained: DFF<Bit>,
    /// The mid window's bytes left from the tile's first position, registered: the
    /// subtract and the cap's compare do not meet in one cycle.
    wr_left: DFF<Bits<24>>,
    /// The descriptor's checks: sizes (K, out_c, ntiles, m) and modes (shift, pooling, the
    /// mid window's use and alignment).
    bad_sizes: Signal<Local, Bit>,
    bad_modes: Signal<Local, Bit>,
    /// This cycle launches a job (idle, START accepted, not halted).
    launch_go: Signal<Local, Bit>,
    credit_take: Signal<Local, Bit>,
    count_zero: Signal<Local, Bit>,
    count_one: Signal<Local, Bit>,
    st_idle: Constant<Bits<3>>,
    st_chan: Constant<Bits<3>>,
    st_chanw: Constant<Bits<3>>,
    st_run: Constant<Bits<3>>,
    st_drain: Constant<Bits<3>>,
    st_chanr: Constant<Bits<3>>,
    tile_gap_m1: Constant<Bits<3>>,
    s24: Constant<Bits<24>>,
    s16: Constant<Bits<16>>,
    fifo_depth: Constant<Bits<5>>,
    lane_mask: Constant<Bits<24>>,
}

impl<const S: usize> Default for Walker<S> {
    fn default() -> Self {
        Walker {
            clk: Default::default(),
            rst: Default::default(),
            start: Default::default(),
            halted: Default::default(),
            k: Default::default(),
            out_c: Default::default(),
            ntiles: Default::default(),
            m: Default::default(),
            shift: Default::default(),
            pool: Default::default(),
            src_mid: Default::default(),
            dst_mid: Default::default(),
            dst_base: Default::default(),
            plane_out: Default::default(),
            bias_base: Default::default(),
            out_ch_offset: Default::default(),
            weight_base: Default::default(),
            mask_base: Default::default(),
            q_start: Default::default(),
            wr_count: Default::default(),
            chan_word: Default::default(),
            out_pop: Default::default(),
            out_idle: Default::default(),
            busy: Default::default(),
            start_pending: Default::default(),
            done_set: Default::default(),
            refused: Default::default(),
            issue: Default::default(),
            first: Default::default(),
            last: Default::default(),
            entry_addr: Default::default(),
            chan_raddr: Default::default(),
            mask_rtile: Default::default(),
            q0: Default::default(),
            bias: Default::default(),
            chan_dst: Default::default(),
            meta_rel: Default::default(),
            tile_end: Default::default(),
            chan_last: Default::default(),
            job_last: Default::default(),
            keep_count: Default::default(),
            issue_ctl: Default::default(),
            state: Default::default(),
            out_ch: Default::default(),
            tiles_left: Default::default(),
            entry: Default::default(),
            chan_entry: Default::default(),
            entries_left: Default::default(),
            two_left_f: Default::default(),
            chan_count: Default::default(),
            chan_bias: Default::default(),
            tile_q0: Default::default(),
            tile_rel0: Default::default(),
            credits: Default::default(),
            since_last: Default::default(),
            dst_chan_base: Default::default(),
            dst_channel: Default::default(),
            dst_plane_mul: Default::default(),
            chan_addr: Default::default(),
            mask_tile: Default::default(),
            first_f: Default::default(),
            last_f: Default::default(),
            last_tile_f: Default::default(),
            last_chan_f: Default::default(),
            one_entry_f: Default::default(),
            credit_f: Default::default(),
            gap_f: Default::default(),
            pop_r: Default::default(),
            ntiles_m1: Default::default(),
            one_tile_f: Default::default(),
            start_d1: Default::default(),
            start_d2: Default::default(),
            bad_modes_r: Default::default(),
            bad_sizes_r: Default::default(),
            launch_ok: Default::default(),
            drained: Default::default(),
            wr_left: Default::default(),
            bad_sizes: Default::default(),
            bad_modes: Default::default(),
            launch_go: Default::default(),
            credit_take: Default::default(),
            count_zero: Default::default(),
            count_one: Default::default(),
            st_idle: Constant::new(ST_IDLE.to_bits()),
            st_chan: Constant::new(ST_CHAN.to_bits()),
            st_chanw: Constant::new(ST_CHANW.to_bits()),
            st_run: Constant::new(ST_RUN.to_bits()),
            st_drain: Constant::new(ST_DRAIN.to_bits()),
            st_chanr: Constant::new(ST_CHANR.to_bits()),
            // Tiles end spec::job::MIN_TILE_CYCLES apart: since_last counts from 0 after a
            // tile's last, and gap_f (since_last >= MIN - 1) is registered a cycle ahead.
            tile_gap_m1: Constant::new(((spec::job::MIN_TILE_CYCLES - 2) as u64).to_bits()),
            s24: Constant::new((S as u64).to_bits()),
            s16: Constant::new((S as u64).to_bits()),
            fifo_depth: Constant::new((OUT_FIFO_DEPTH as u64).to_bits()),
            lane_mask: Constant::new(((S - 1) as u64).to_bits()),
        }
    }
}

impl<const S: usize> Logic for Walker<S> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clk,
            state,
            out_ch,
            tiles_left,
            entry,
            chan_entry,
            entries_left,
            two_left_f,
            chan_count,
            chan_bias,
            tile_q0,
            tile_rel0,
            credits,
            since_last,
            dst_chan_base,
            dst_channel,
            chan_addr,
            mask_tile,
            first_f,
            last_f,
            last_tile_f,
            last_chan_f,
            one_entry_f,
            credit_f,
            gap_f,
            pop_r,
            ntiles_m1,
            one_tile_f,
            start_d1,
            start_d2,
            bad_modes_r,
            bad_sizes_r,
            launch_ok,
            drained,
            wr_left
        );
        // ---- START and the descriptor check, in two registered halves ----
        self.bad_sizes.next = (self.k.val() == 0)
            | (self.k.val() > 4)
            | (self.out_c.val() == 0)
            | (self.ntiles.val() == 0)
            | (self.m.val() == 0);
        self.bad_modes.next = (self.shift.val() == 0)
            | (self.shift.val() > 46)
            | (self.pool.val() & self.dst_mid.val())
            // A squeeze output cannot be the input of the job writing it.
            | (self.src_mid.val() & self.dst_mid.val())
            // Mid-window writes are whole tiles at lane-aligned addresses (no write rotator).
            | (self.dst_mid.val()
                & ((self.dst_base.val() & self.lane_mask.val()).any()
                    | (bit_cast::<24, 16>(self.plane_out.val()) & self.lane_mask.val())
                        .any()));
        // START acts two cycles later, with the check of the descriptor it starts.
        self.start_d1.d.next = self.start.val();
        self.start_d2.d.next = self.start_d1.q.val();
        self.bad_modes_r.d.next = self.bad_modes.val();
        self.bad_sizes_r.d.next = self.bad_sizes.val();
        // start_d2 & !bad as one register (the launch enables hang off it). The checks are
        // registered beside start_d1 (they judge the descriptor of the cycle before; it is
        // stable then, see above).
        self.launch_ok.d.next =
            self.start_d1.q.val() & !self.bad_modes_r.q.val() & !self.bad_sizes_r.q.val();
        self.launch_go.next = (self.state.q.val() == self.st_idle.val())
            & self.launch_ok.q.val()
            & !self.halted.val();
        self.start_pending.next = self.start_d1.q.val() | self.start_d2.q.val();

        // ---- tokens and read addresses of the issue stage ----
        self.issue.next = self.issue_ctl.issue.val();
        self.first.next = self.first_f.q.val();
        self.last.next = self.last_f.q.val();
        self.entry_addr.next = self.entry.q.val();
        self.chan_raddr.next = self.chan_addr.q.val();
        self.mask_rtile.next = self.mask_tile.q.val();
        self.q0.next = self.tile_q0.q.val();
        self.bias.next = self.chan_bias.q.val();

        self.ntiles_m1.d.next = self.ntiles.val() - 1;
        self.one_tile_f.d.next = self.ntiles.val() == 1;
        self.pop_r.d.next = self.out_pop.val();
        // gap_f = (since_last >= MIN_TILE_CYCLES - 1), one cycle ahead.
        if self.issue_ctl.tile_end.val() {
            self.since_last.d.next = 0.into();
            self.gap_f.d.next = false;
        } else {
            if self.since_last.q.val() != 7 {
                self.since_last.d.next = self.since_last.q.val() + 1;
            }
            self.gap_f.d.next = self.since_last.q.val() >= self.tile_gap_m1.val();
        }
        self.chan_last.next = self.last_tile_f.q.val();
        self.job_last.next = self.last_tile_f.q.val() & self.last_chan_f.q.val();
        self.credit_take.next = self.issue_ctl.issue.val() & self.first_f.q.val();
        self.done_set.next = false;
        self.refused.next = false;
        self.count_zero.next = self.chan_word.val().get_bit(48);
        self.count_one.next = self.chan_word.val().get_bit(49);
        // dst_channel changes entering CHAN and is read in CHANR, two cycles later: the
        // multiplier's operand register holds it from CHANW, its product register in CHANR.
        self.dst_plane_mul.clk.next = self.clk.val();
        self.dst_plane_mul.a.next = bit_cast::<18, 16>(self.dst_channel.d.val());
        self.dst_plane_mul.b.next = bit_cast::<18, 16>(self.plane_out.val());

        // ---- the state machine ----
        if self.state.q.val() == self.st_idle.val() {
            if self.start_d2.q.val()
                & !self.halted.val()
                & (self.bad_modes_r.q.val() | self.bad_sizes_r.q.val())
            {
                self.refused.next = true;
            }
            // The walker's address registers load from the descriptor in every idle cycle
            // (their enable is the state alone, not the launch, which drove about a hundred of
            // them); the launch's cycle loads the values the job starts from. The credits still
            // load at the launch only: tiles of a refused job may still return credits.
            self.chan_addr.d.next = bit_cast::<24, 16>(self.bias_base.val());
            self.dst_channel.d.next = self.out_ch_offset.val();
            self.out_ch.d.next = 0.into();
            self.entry.d.next = bit_cast::<24, 23>(self.weight_base.val());
            self.chan_entry.d.next = bit_cast::<24, 23>(self.weight_base.val());
            if self.launch_go.val() {
                self.state.d.next = self.st_chan.val();
                self.credits.d.next = self.fifo_depth.val();
                self.credit_f.d.next = true;
            }
        } else if self.state.q.val() == self.st_chan.val() {
            self.state.d.next = self.st_chanw.val();
        } else if self.state.q.val() == self.st_chanw.val() {
            // The channel table's read (two cycles, from CHAN) lands in CHANR.
            self.state.d.next = self.st_chanr.val();
        } else if self.state.q.val() == self.st_chanr.val() {
            self.chan_count.d.next = self.chan_word.val().get_bits::<16>(32);
            self.entries_left.d.next = self.chan_word.val().get_bits::<16>(32);
            self.two_left_f.d.next = self.chan_word.val().get_bits::<16>(32) == 2;
            self.chan_bias.d.next = self.chan_word.val().get_bits::<32>(0);
            // The walker's flags for the channel's first tile.
            self.first_f.d.next = true;
            self.last_f.d.next = self.count_one.val();
            self.one_entry_f.d.next = self.count_one.val();
            self.last_tile_f.d.next = self.one_tile_f.q.val();
            self.last_chan_f.d.next = (self.out_ch.q.val() + 1) == self.out_c.val();
            self.dst_chan_base.d.next =
                self.dst_base.val() + bit_cast::<24, 32>(self.dst_plane_mul.p.val());
            if self.count_zero.val() {
                // A channel needs >= 1 entry (spec::job guarantees it): refuse, never hang.
                self.refused.next = true;
                self.state.d.next = self.st_idle.val();
            } else {
                self.state.d.next = self.st_run.val();
            }
        } else if self.state.q.val() == self.st_run.val() {
            // Everything RUN does hangs off the registered `issue`, `tile_end` and `chan_end`
            // (true only in RUN), below the state chain.
            self.done_set.next = false;
        } else if self.state.q.val() == self.st_drain.val() {
            // All credits back (no tile in flight) and the output side idle, seen a cycle ago:
            // nothing new can enter while draining, so it still holds.
            if self.drained.q.val() {
                self.done_set.next = true;
                self.state.d.next = self.st_idle.val();
            }
        } else {
            self.state.d.next = self.st_idle.val();
        }
        if self.issue_ctl.issue.val() {
            self.entry.d.next = self.entry.q.val() + 1;
            self.entries_left.d.next = self.entries_left.q.val() - 1;
            self.two_left_f.d.next = self.entries_left.q.val() == 3;
            self.first_f.d.next = false;
            self.last_f.d.next = self.two_left_f.q.val();
        }
        if self.issue_ctl.chan_end.val() {
            // The channel's last entry.
            self.out_ch.d.next = self.out_ch.q.val() + 1;
            self.chan_addr.d.next = self.chan_addr.q.val() + 1;
            self.dst_channel.d.next = self.dst_channel.q.val() + 1;
            self.chan_entry.d.next = self.entry.q.val() + 1;
            if self.last_chan_f.q.val() {
                self.state.d.next = self.st_drain.val();
            } else {
                self.state.d.next = self.st_chan.val();
            }
        } else if self.issue_ctl.tile_end.val() {
            // A tile's last entry, not the channel's: the next tile re-walks the channel.
            self.first_f.d.next = true;
            self.last_f.d.next = self.one_entry_f.q.val();
            self.last_tile_f.d.next = self.tiles_left.q.val() == 1;
            self.entry.d.next = self.chan_entry.q.val();
            self.entries_left.d.next = self.chan_count.q.val();
            self.two_left_f.d.next = self.chan_count.q.val() == 2;
        }
        // The tile registers: a channel's start (the cycle after a launch, or after a channel's
        // last entry) or the next tile (after a tile's last entry). No entry issues in the
        // cycle after a launch (the state is CHAN), so the two never meet.
        if self.issue_ctl.tiles_left_en.val() {
            if self.issue_ctl.tiles_left_init.val() {
                self.tiles_left.d.next = self.ntiles_m1.q.val();
            } else {
                self.tiles_left.d.next = self.tiles_left.q.val() - 1;
            }
        }
        if self.issue_ctl.mask_tile_en.val() {
            if self.issue_ctl.mask_tile_init.val() {
                self.mask_tile.d.next = self.mask_base.val();
            } else {
                self.mask_tile.d.next = self.mask_tile.q.val() + 1;
            }
        }
        if self.issue_ctl.q0_en.val() {
            if self.issue_ctl.q0_init.val() {
                self.tile_q0.d.next = self.q_start.val();
            } else {
                self.tile_q0.d.next = self.tile_q0.q.val() + self.s24.val();
            }
        }
        if self.issue_ctl.rel_en.val() {
            if self.issue_ctl.rel_init.val() {
                self.tile_rel0.d.next = 0.into();
            } else {
                self.tile_rel0.d.next = self.tile_rel0.q.val() + self.s24.val();
            }
        }
        // Sampled only while draining (the credit of a tile issued in the last RUN cycle shows
        // in the counter one cycle later).
        self.drained.d.next = (self.state.q.val() == self.st_drain.val())
            & (self.credits.q.val() == self.fifo_depth.val())
            & self.out_idle.val();
        // Credits: one per output FIFO entry; credit_f = (credits != 0), one cycle ahead.
        if self.credit_take.val() & !self.pop_r.q.val() {
            self.credits.d.next = self.credits.q.val() - 1;
            self.credit_f.d.next = self.credits.q.val() != 1;
        }
        if !self.credit_take.val() & self.pop_r.q.val() {
            self.credits.d.next = self.credits.q.val() + 1;
            self.credit_f.d.next = true;
        }
        if self.rst.val() {
            self.state.d.next = self.st_idle.val();
        }

        // ---- the next cycle's issue, from the flags' next values ----
        self.issue_ctl.clk.next = self.clk.val();
        self.issue_ctl.rst.next = self.rst.val();
        self.issue_ctl.state_next.next = self.state.d.val();
        self.issue_ctl.launch_go.next = self.launch_go.val();
        self.issue_ctl.first_f.next = self.first_f.q.val();
        self.issue_ctl.last_f.next = self.last_f.q.val();
        self.issue_ctl.two_left_f.next = self.two_left_f.q.val();
        self.issue_ctl.one_entry_f.next = self.one_entry_f.q.val();
        self.issue_ctl.credit_f.next = self.credit_f.q.val();
        self.issue_ctl.last_tile_f.next = self.last_tile_f.q.val();
        self.issue_ctl.one_tile_f.next = self.one_tile_f.q.val();
        self.issue_ctl.credits.next = self.credits.q.val();
        self.issue_ctl.pop_r.next = self.pop_r.q.val();
        self.issue_ctl.since_last.next = self.since_last.q.val();
        self.issue_ctl.tiles_left.next = self.tiles_left.q.val();
        self.issue_ctl.count_zero.next = self.count_zero.val();
        self.issue_ctl.count_one.next = self.count_one.val();

        // ---- the tile's output metadata ----
        // Bytes of the tile inside the mid window's write count (capped at S), computed here
        // from registers so the output controller's write port needs no subtractor.
        self.wr_left.d.next = self.wr_count.val() - self.tile_rel0.q.val();
        self.keep_count.next = bit_cast::<16, 24>(self.wr_left.q.val());
        if self.wr_left.q.val() >= self.s24.val() {
            self.keep_count.next = self.s16.val();
        }
        self.chan_dst.next = self.dst_chan_base.q.val();
        self.meta_rel.next = self.tile_rel0.q.val();
        self.tile_end.next = self.issue_ctl.tile_end.val();

        self.busy.next = self.state.q.val() != self.st_idle.val();
    }
}
