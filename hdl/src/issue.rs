//! The walker's issue decision, registered a cycle ahead. An entry issues when the job runs, a
//! tile's first entry has an output credit, and a tile's last entry comes at least
//! `spec::job::MIN_TILE_CYCLES` after the previous tile's last (the shared requantizers take
//! that long per tile): `issue = run & (!first | credit) & (!last | gap)`. Rather than derive it
//! from the walker's flags in the cycle it is needed (a chain of LUTs in front of ~250
//! enables), this block computes it from the flags' next values and registers it, so `issue`
//! hangs off a flip-flop. With it: `tile_end` (the issued entry is a tile's last) and `chan_end`
//! (the channel's last), and the enable pairs of the walker's tile registers.
//!
//! The flags' next values (`next_*`) are written out flat, the same function as the
//! walker's updates wherever the next state is RUN (from RUN or CHANR), rather than read back
//! through the walker's state chain. They read kept copies (`*_kc`) of `issue`, `tile_end`,
//! `chan_end` and of the walker's state, so the originals drive only the walker's enables.
//!
//! Registered: `issue_r`, `tile_end_r`, `chan_end_r`, their kept copies and the state's
//! (`state_kc`, loaded from the walker's next state), and for each tile register (tiles left,
//! mask tile, q0, rel0) a kept pair: load enable (`*_en_kc`: a launch or a tile's end) and
//! channel-start select (`*_init_kc`: a launch or a channel's end), set a cycle ahead so no
//! one LUT drives all their enables. Combinational: the `next_*` values.
//!
//! Ports: `clk`, `rst` (the engine's registered reset); from the walker: `state_next` (its
//! state register's next value), `launch_go`, the flags `first_f` (next entry is a tile's
//! first), `last_f` (a tile's last), `two_left_f` (two entries left in the walk of the tile),
//! `one_entry_f` (a 1-entry channel), `credit_f` (an output credit is free), `last_tile_f` (the
//! tile is the channel's last), `one_tile_f` (the job has one tile per channel), and
//! `credits`, `pop_r` (the output FIFO's registered pop), `since_last` (cycles since the last
//! tile's end), `tiles_left`, `count_zero` / `count_one` (the channel table's word: the channel
//! has 0 / 1 entries); out: `issue`, `tile_end`, `chan_end`, `tiles_left_en`,
//! `tiles_left_init`, `mask_tile_en`, `mask_tile_init`, `q0_en`, `q0_init`, `rel_en`,
//! `rel_init`.

use crate::walker::{ST_CHANR, ST_RUN};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct IssueCtl {
    pub clk: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub state_next: Signal<In, Bits<3>>,
    pub launch_go: Signal<In, Bit>,
    pub first_f: Signal<In, Bit>,
    pub last_f: Signal<In, Bit>,
    pub two_left_f: Signal<In, Bit>,
    pub one_entry_f: Signal<In, Bit>,
    pub credit_f: Signal<In, Bit>,
    pub last_tile_f: Signal<In, Bit>,
    pub one_tile_f: Signal<In, Bit>,
    pub credits: Signal<In, Bits<5>>,
    pub pop_r: Signal<In, Bit>,
    pub since_last: Signal<In, Bits<3>>,
    pub tiles_left: Signal<In, Bits<16>>,
    pub count_zero: Signal<In, Bit>,
    pub count_one: Signal<In, Bit>,
    pub issue: Signal<Out, Bit>,
    pub tile_end: Signal<Out, Bit>,
    pub chan_end: Signal<Out, Bit>,
    pub tiles_left_en: Signal<Out, Bit>,
    pub tiles_left_init: Signal<Out, Bit>,
    pub mask_tile_en: Signal<Out, Bit>,
    pub mask_tile_init: Signal<Out, Bit>,
    pub q0_en: Signal<Out, Bit>,
    pub q0_init: Signal<Out, Bit>,
    pub rel_en: Signal<Out, Bit>,
    pub rel_init: Signal<Out, Bit>,
    /// The issue itself and the tile / channel ends it makes; these drive the walker's enables.
    issue_r: DFF<Bit>,
    tile_end_r: DFF<Bit>,
    chan_end_r: DFF<Bit>,
    /// Kept copies of the three and of the walker's state, for the next-issue logic alone.
    issue_kc: DFF<Bit>,
    tile_end_kc: DFF<Bit>,
    chan_end_kc: DFF<Bit>,
    state_kc: DFF<Bits<3>>,
    /// The tile registers' enable / channel-start pairs, one pair per register.
    tiles_left_en_kc: DFF<Bit>,
    tiles_left_init_kc: DFF<Bit>,
    mask_tile_en_kc: DFF<Bit>,
    mask_tile_init_kc: DFF<Bit>,
    q0_en_kc: DFF<Bit>,
    q0_init_kc: DFF<Bit>,
    rel_en_kc: DFF<Bit>,
    rel_init_kc: DFF<Bit>,
    /// The next values of the walker's run state and flags (as they stand when the next state
    /// is RUN).
    next_run: Signal<Local, Bit>,
    next_first: Signal<Local, Bit>,
    next_last: Signal<Local, Bit>,
    next_credit: Signal<Local, Bit>,
    next_gap: Signal<Local, Bit>,
    next_last_tile: Signal<Local, Bit>,
    /// The walker is in CHANR (a channel's first tile starts next).
    in_chanr: Signal<Local, Bit>,
    /// A tile's end that is not the channel's: the next tile re-walks the channel.
    reload: Signal<Local, Bit>,
    /// An output credit is taken (a tile's first entry issues).
    take_credit: Signal<Local, Bit>,
    st_run: Constant<Bits<3>>,
    st_chanr: Constant<Bits<3>>,
    tile_gap_m1: Constant<Bits<3>>,
}

impl Default for IssueCtl {
    fn default() -> Self {
        IssueCtl {
            clk: Default::default(),
            rst: Default::default(),
            state_next: Default::default(),
            launch_go: Default::default(),
            first_f: Default::default(),
            last_f: Default::default(),
            two_left_f: Default::default(),
            one_entry_f: Default::default(),
            credit_f: Default::default(),
            last_tile_f: Default::default(),
            one_tile_f: Default::default(),
            credits: Default::default(),
            pop_r: Default::default(),
            since_last: Default::default(),
            tiles_left: Default::default(),
            count_zero: Default::default(),
            count_one: Default::default(),
            issue: Default::default(),
            tile_end: Default::default(),
            chan_end: Default::default(),
            tiles_left_en: Default::default(),
            tiles_left_init: Default::default(),
            mask_tile_en: Default::default(),
            mask_tile_init: Default::default(),
            q0_en: Default::default(),
            q0_init: Default::default(),
            rel_en: Default::default(),
            rel_init: Default::default(),
            issue_r: Default::default(),
            tile_end_r: Default::default(),
            chan_end_r: Default::default(),
            issue_kc: Default::default(),
            tile_end_kc: Default::default(),
            chan_end_kc: Default::default(),
            state_kc: Default::default(),
            tiles_left_en_kc: Default::default(),
            tiles_left_init_kc: Default::default(),
            mask_tile_en_kc: Default::default(),
            mask_tile_init_kc: Default::default(),
            q0_en_kc: Default::default(),
            q0_init_kc: Default::default(),
            rel_en_kc: Default::default(),
            rel_init_kc: Default::default(),
            next_run: Default::default(),
            next_first: Default::default(),
            next_last: Default::default(),
            next_credit: Default::default(),
            next_gap: Default::default(),
            next_last_tile: Default::default(),
            in_chanr: Default::default(),
            reload: Default::default(),
            take_credit: Default::default(),
            st_run: Constant::new(ST_RUN.to_bits()),
            st_chanr: Constant::new(ST_CHANR.to_bits()),
            // The walker's `gap_f` rule, a cycle ahead: since_last >= MIN_TILE_CYCLES - 2.
            tile_gap_m1: Constant::new(((spec::job::MIN_TILE_CYCLES - 2) as u64).to_bits()),
        }
    }
}

impl Logic for IssueCtl {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clk,
            issue_r,
            tile_end_r,
            chan_end_r,
            issue_kc,
            tile_end_kc,
            chan_end_kc,
            state_kc,
            tiles_left_en_kc,
            tiles_left_init_kc,
            mask_tile_en_kc,
            mask_tile_init_kc,
            q0_en_kc,
            q0_init_kc,
            rel_en_kc,
            rel_init_kc
        );
        self.issue.next = self.issue_r.q.val();
        self.tile_end.next = self.tile_end_r.q.val();
        self.chan_end.next = self.chan_end_r.q.val();
        self.tiles_left_en.next = self.tiles_left_en_kc.q.val();
        self.tiles_left_init.next = self.tiles_left_init_kc.q.val();
        self.mask_tile_en.next = self.mask_tile_en_kc.q.val();
        self.mask_tile_init.next = self.mask_tile_init_kc.q.val();
        self.q0_en.next = self.q0_en_kc.q.val();
        self.q0_init.next = self.q0_init_kc.q.val();
        self.rel_en.next = self.rel_en_kc.q.val();
        self.rel_init.next = self.rel_init_kc.q.val();

        self.in_chanr.next = self.state_kc.q.val() == self.st_chanr.val();
        self.take_credit.next = self.issue_kc.q.val() & self.first_f.val();
        self.reload.next = self.tile_end_kc.q.val() & !self.chan_end_kc.q.val();
        self.next_run.next = !self.rst.val()
            & ((self.in_chanr.val() & !self.count_zero.val())
                | ((self.state_kc.q.val() == self.st_run.val()) & !self.chan_end_kc.q.val()));
        self.next_first.next = self.first_f.val() & !self.issue_kc.q.val();
        if self.in_chanr.val() | self.reload.val() {
            self.next_first.next = true;
        }
        self.next_last.next = self.last_f.val();
        if self.in_chanr.val() {
            self.next_last.next = self.count_one.val();
        } else if self.reload.val() {
            self.next_last.next = self.one_entry_f.val();
        } else if self.issue_kc.q.val() {
            self.next_last.next = self.two_left_f.val();
        }
        self.next_credit.next = self.credit_f.val();
        if self.take_credit.val() & !self.pop_r.val() {
            self.next_credit.next = self.credits.val() != 1;
        }
        if !self.take_credit.val() & self.pop_r.val() {
            self.next_credit.next = true;
        }
        self.next_gap.next =
            !self.tile_end_kc.q.val() & (self.since_last.val() >= self.tile_gap_m1.val());
        self.next_last_tile.next = self.last_tile_f.val();
        if self.in_chanr.val() {
            self.next_last_tile.next = self.one_tile_f.val();
        } else if self.reload.val() {
            self.next_last_tile.next = self.tiles_left.val() == 1;
        }
        self.issue_r.d.next = self.next_run.val()
            & (!self.next_first.val() | self.next_credit.val())
            & (!self.next_last.val() | self.next_gap.val());
        self.tile_end_r.d.next = self.issue_r.d.val() & self.next_last.val();
        self.chan_end_r.d.next = self.tile_end_r.d.val() & self.next_last_tile.val();
        self.issue_kc.d.next = self.issue_r.d.val();
        self.state_kc.d.next = self.state_next.val();
        self.tile_end_kc.d.next = self.tile_end_r.d.val();
        self.chan_end_kc.d.next = self.chan_end_r.d.val();
        // chan_end implies tile_end.
        self.tiles_left_en_kc.d.next = self.launch_go.val() | self.tile_end_r.d.val();
        self.tiles_left_init_kc.d.next = self.launch_go.val() | self.chan_end_r.d.val();
        self.mask_tile_en_kc.d.next = self.launch_go.val() | self.tile_end_r.d.val();
        self.mask_tile_init_kc.d.next = self.launch_go.val() | self.chan_end_r.d.val();
        self.q0_en_kc.d.next = self.launch_go.val() | self.tile_end_r.d.val();
        self.q0_init_kc.d.next = self.launch_go.val() | self.chan_end_r.d.val();
        self.rel_en_kc.d.next = self.launch_go.val() | self.tile_end_r.d.val();
        self.rel_init_kc.d.next = self.launch_go.val() | self.chan_end_r.d.val();
    }
}
