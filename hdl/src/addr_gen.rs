//! The activation address of each weight entry, from its relative tap index. An entry's
//! `rel` (4 bits) counts the taps it steps over since the previous nonzero weight of the
//! channel's walk, across input channels: the tap index recurrence `t1 = (first ? 0 : t + 1) +
//! rel`, wrapped into [0, K*K) by a table ([`TapWrap`]), gives the tap and the input channels
//! stepped over (`wraps`); the input channel `c` accumulates them; the address is
//! `src_base + c * plane_in + (kh * grid_w + kw) + q0`.
//!
//! Stages (relative to the entry's arrival from the weight memory at [`ENTRY_STAGE`]):
//! * `ENTRY_STAGE`: `t1` from the registered `t + 1` and `rel` through two tables, one for a
//!   tile's first entry (t1 = rel) and one for the others, chosen after both lookups; the new
//!   `t + 1`, the tap's row/column and `wraps` are registered (`tap_next`, `tap_rc`, `wraps_r`
//!   with the entry's valid and first).
//! * [`TAP_STAGE`]: the input channel `c += wraps` (or `c = wraps` on a tile's first entry),
//!   registered, and its next value into the `c * plane_in` DSP's operand registers; the tap
//!   offset `kh * grid_w + kw` from registered multiples of `grid_w`, registered twice.
//! * [`ADDR_STAGE`] (the DSP's product, [`DSP_LATENCY`] later): the sum with `src_base` and the
//!   tile's `q0`, registered: `act_addr` is the activation buffer's read address a cycle later.
//!
//! Registered: `tap_next`, `tap_rc`, `wraps_r`, `valid_t`, `first_t`, `in_chan`, the row
//! offsets (job constants), `tap_off`, `tap_off_r`, the DSP, `act_addr_r`. Combinational: the
//! two table lookups and their select, the tap offset's select, the address sum.
//!
//! Ports: `clk`; `valid`, `first` (the entry's tokens) and `rel` (the weight-memory word's
//! bits 11..8) at `ENTRY_STAGE`; `q0` (the tile's first grid position) at `ADDR_STAGE`;
//! descriptor fields `k`, `grid_w`, `plane_in`, `src_base`; out: `act_addr`.
//!
//! [`ENTRY_STAGE`]: crate::engine::ENTRY_STAGE
//! [`TAP_STAGE`]: crate::engine::TAP_STAGE
//! [`ADDR_STAGE`]: crate::engine::ADDR_STAGE
//! [`DSP_LATENCY`]: crate::dsp::DSP_LATENCY

use crate::dsp::DspMul;
use crate::tapwrap::TapWrap;
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct AddrGen {
    pub clk: Signal<In, Clock>,
    pub valid: Signal<In, Bit>,
    pub first: Signal<In, Bit>,
    pub rel: Signal<In, Bits<4>>,
    pub q0: Signal<In, Bits<24>>,
    pub k: Signal<In, Bits<3>>,
    pub grid_w: Signal<In, Bits<16>>,
    pub plane_in: Signal<In, Bits<16>>,
    pub src_base: Signal<In, Bits<24>>,
    pub act_addr: Signal<Out, Bits<24>>,
    tapwrap: TapWrap,
    /// The same table for a tile's first entry (t1 = rel), beside it.
    tapwrap_first: TapWrap,
    rel5: Signal<Local, Bits<5>>,
    /// t + 1 + rel, before the wrap.
    tap_sum: Signal<Local, Bits<5>>,
    wraps: Signal<Local, Bits<8>>,
    /// The new `t + 1` and the tap's row and column (kh << 2 | kw), from the chosen table.
    tap_next_new: Signal<Local, Bits<5>>,
    tap_rc_new: Signal<Local, Bits<4>>,
    tap_row: Signal<Local, Bits<2>>,
    tap_col: Signal<Local, Bits<2>>,
    grid_w24: Signal<Local, Bits<24>>,
    /// t + 1 of the last valid entry (computed beside t from the same t1, so the recurrence
    /// is one 5-bit add and a table).
    tap_next: DFF<Bits<5>>,
    tap_rc: DFF<Bits<4>>,
    wraps_r: DFF<Bits<8>>,
    /// The entry's valid and first, at `TAP_STAGE`.
    valid_t: DFF<Bit>,
    first_t: DFF<Bit>,
    /// The input channel.
    in_chan: DFF<Bits<16>>,
    /// Job constants: grid_w, 2 grid_w and 3 grid_w (the tap rows' offsets).
    row1_off: DFF<Bits<24>>,
    row2_off: DFF<Bits<24>>,
    row3_off: DFF<Bits<24>>,
    /// The tap offset kh * grid_w + kw, and its copy a stage later (beside the DSP's product).
    tap_off: DFF<Bits<24>>,
    tap_off_r: DFF<Bits<24>>,
    /// The input channel's plane offset `c * plane_in`: the multiplier's operand registers
    /// take `in_chan`'s next value and `plane_in`, its product register is the offset.
    plane_mul: DspMul<32>,
    act_addr_r: DFF<Bits<24>>,
}

impl Logic for AddrGen {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clk, tap_next, tap_rc, wraps_r, valid_t, first_t, in_chan, row1_off, row2_off,
            row3_off, tap_off, tap_off_r, act_addr_r
        );
        // ---- ENTRY_STAGE: the tap index ----
        self.rel5.next = bit_cast::<5, 4>(self.rel.val());
        self.tap_sum.next = self.tap_next.q.val() + self.rel5.val();
        self.tapwrap.k.next = self.k.val();
        self.tapwrap.t1.next = self.tap_sum.val();
        self.tapwrap_first.k.next = self.k.val();
        self.tapwrap_first.t1.next = self.rel5.val();
        if self.first.val() {
            self.wraps.next = bit_cast::<8, 5>(self.tapwrap_first.wraps.val());
            self.tap_next_new.next = self.tapwrap_first.tn1.val();
            self.tap_rc_new.next = (bit_cast::<4, 2>(self.tapwrap_first.kh.val()) << 2)
                | bit_cast::<4, 2>(self.tapwrap_first.kw.val());
        } else {
            self.wraps.next = bit_cast::<8, 5>(self.tapwrap.wraps.val());
            self.tap_next_new.next = self.tapwrap.tn1.val();
            self.tap_rc_new.next = (bit_cast::<4, 2>(self.tapwrap.kh.val()) << 2)
                | bit_cast::<4, 2>(self.tapwrap.kw.val());
        }
        if self.valid.val() {
            self.tap_rc.d.next = self.tap_rc_new.val();
            self.tap_next.d.next = self.tap_next_new.val();
        }
        self.wraps_r.d.next = self.wraps.val();
        self.valid_t.d.next = self.valid.val();
        self.first_t.d.next = self.first.val();

        // ---- TAP_STAGE: the input channel loop, one cycle behind the tap index ----
        if self.valid_t.q.val() {
            if self.first_t.q.val() {
                self.in_chan.d.next = bit_cast::<16, 8>(self.wraps_r.q.val());
            } else {
                self.in_chan.d.next =
                    self.in_chan.q.val() + bit_cast::<16, 8>(self.wraps_r.q.val());
            }
        }
        // The tap offset.
        self.grid_w24.next = bit_cast::<24, 16>(self.grid_w.val());
        self.row1_off.d.next = self.grid_w24.val();
        self.row2_off.d.next = self.grid_w24.val() << 1;
        self.row3_off.d.next = self.grid_w24.val() + (self.grid_w24.val() << 1);
        self.tap_row.next = self.tap_rc.q.val().get_bits::<2>(2);
        self.tap_col.next = self.tap_rc.q.val().get_bits::<2>(0);
        self.tap_off.d.next = bit_cast::<24, 2>(self.tap_col.val());
        if self.tap_row.val() == 1 {
            self.tap_off.d.next = self.row1_off.q.val() + bit_cast::<24, 2>(self.tap_col.val());
        }
        if self.tap_row.val() == 2 {
            self.tap_off.d.next = self.row2_off.q.val() + bit_cast::<24, 2>(self.tap_col.val());
        }
        if self.tap_row.val() == 3 {
            self.tap_off.d.next = self.row3_off.q.val() + bit_cast::<24, 2>(self.tap_col.val());
        }
        self.plane_mul.clk.next = self.clk.val();
        self.plane_mul.a.next = bit_cast::<18, 16>(self.in_chan.d.val());
        self.plane_mul.b.next = bit_cast::<18, 16>(self.plane_in.val());
        self.tap_off_r.d.next = self.tap_off.q.val();

        // ---- ADDR_STAGE: the address ----
        self.act_addr_r.d.next = self.src_base.val()
            + bit_cast::<24, 32>(self.plane_mul.p.val())
            + self.tap_off_r.q.val()
            + self.q0.val();
        self.act_addr.next = self.act_addr_r.q.val();
    }
}
