//! The shared requantizer: `y = clamp((acc * m + rnd) >> shift, 0, 255)` (the numerics of `weights::quant`;
//! rnd = 1 << (shift - 1)), one result per cycle. The lane array has `S/4` of them; unit `r`
//! serves lanes `4r .. 4r+3` in the four cycles after `cap` (its own chunk counter `sel`),
//! which is why a tile lasts at least four cycles.
//!
//! Registered: the chunk counter and copies of the job constants (`m`, `shift`, `rnd`,
//! `rnd_neg`, `ovf`); R0 the selected accumulator (`acc_r`,
//! beside the lanes: the multipliers sit in a DSP row); R1 its halves (the two [`DspMul`]s'
//! operand registers) and its sign; R2 the partial products `lo_m`, `hi_m` (the multipliers'
//! product registers); R3 the products again in the fabric (`lo_mr`, `hi_mr`) and the addend
//! `adj` (`rnd`, or `rnd_neg` = rnd - m << 32 when acc < 0); R4 `lo_m + adj` and `hi_m` again;
//! R5 the 48-bit rounded product `p`; R6 the byte-shifted 16-bit window, the sign and the clamp
//! test; R7 the output byte `y`.
//! Combinational: the 4:1 input select, one two-input sum per stage, the two shift steps and
//! the clamp select.
//!
//! Arithmetic is on unsigned bit patterns (the halves enter the signed multipliers
//! zero-extended, and rust-hdl's literals are unsigned): with hi/lo the upper/lower 16-bit halves of acc read as unsigned and m < 2^15,
//! acc * m = (hi * m << 16) + lo * m - (acc < 0 ? m << 32 : 0); it fits 48 bits signed.
//!
//! Ports: `clk`; `a0..a3` (the held accumulators of its four lanes), `cap`; `m`, `rnd`, `rnd_neg`, `ovf`,
//! `shift`; `y`.

use crate::dsp::DspMul;
use rust_hdl::prelude::*;

/// Cycles from the input select (`sel`, `a0..a3`) to `y`: R0 .. R7.
pub const REQUANT_LATENCY: usize = 8;

#[derive(LogicBlock)]
pub struct Requant {
    pub clk: Signal<In, Clock>,
    pub a0: Signal<In, Bits<32>>,
    pub a1: Signal<In, Bits<32>>,
    pub a2: Signal<In, Bits<32>>,
    pub a3: Signal<In, Bits<32>>,
    /// The lanes just captured a tile: chunks 0..3 follow, one per cycle.
    pub cap: Signal<In, Bit>,
    /// The chunk entering this unit, one-hot (0 when idle): the lanes' load strobes, delayed.
    pub chunk: Signal<Out, Bits<4>>,
    pub m: Signal<In, Bits<16>>,
    pub rnd: Signal<In, Bits<48>>,
    /// Job constant: `rnd - (m << 32)` (the addend for a negative accumulator).
    pub rnd_neg: Signal<In, Bits<48>>,
    pub shift: Signal<In, Bits<6>>,
    /// Job constant: ones at bit positions >= shift + 8.
    pub ovf: Signal<In, Bits<48>>,
    pub y: Signal<Out, Bits<8>>,
    acc: Signal<Local, Bits<32>>,
    acc_r: DFF<Bits<32>>,
    /// The accumulator's sign at R1 (its halves are in the multipliers' operand registers).
    neg0: DFF<Bit>,
    /// The sign again at R2, for the addend `adj` at R3.
    neg1: DFF<Bit>,
    mul_lo: DspMul<32>,
    mul_hi: DspMul<32>,
    m18: Signal<Local, Bits<18>>,
    // This unit's own chunk counter (the same sequence as the array's: a copy per unit keeps
    // the select nets local).
    sel: DFF<Bits<2>>,
    run: DFF<Bit>,
    sum: Signal<Local, Bits<48>>,
    shifted: Signal<Local, Bits<48>>,
    win: DFF<Bits<16>>,
    neg: DFF<Bit>,
    big: DFF<Bit>,
    sh_r: DFF<Bits<6>>,
    /// A local copy of the job's multiplier for this unit's two DSPs (the shared register sat
    /// up to 9.4 ns of routing from the DSP rows).
    m_kc: DFF<Bits<16>>,
    /// Local copies of the job's rounding constants and clamp mask (kept apart from the other
    /// units' by the P&R synthesis, `*_kc`): one register per unit, not one net to all units.
    rnd_kc: DFF<Bits<48>>,
    rnd_neg_kc: DFF<Bits<48>>,
    ovf_kc: DFF<Bits<48>>,
    fine: Signal<Local, Bits<16>>,
    lo_m: Signal<Local, Bits<32>>,
    hi_m: Signal<Local, Bits<32>>,
    adj: DFF<Bits<48>>,
    /// The products again in the fabric (R3): the DSP row lies apart from the carry chains.
    lo_mr: DFF<Bits<32>>,
    hi_mr: DFF<Bits<32>>,
    lo_adj: DFF<Bits<48>>,
    hi_r: DFF<Bits<32>>,
    p: DFF<Bits<48>>,
    yq: DFF<Bits<8>>,
}

impl Default for Requant {
    fn default() -> Self {
        Requant {
            clk: Default::default(),
            a0: Default::default(),
            a1: Default::default(),
            a2: Default::default(),
            a3: Default::default(),
            cap: Default::default(),
            chunk: Default::default(),
            sel: Default::default(),
            run: Default::default(),
            m: Default::default(),
            rnd: Default::default(),
            rnd_neg: Default::default(),
            shift: Default::default(),
            ovf: Default::default(),
            y: Default::default(),
            acc: Default::default(),
            acc_r: Default::default(),
            neg0: Default::default(),
            neg1: Default::default(),
            mul_lo: Default::default(),
            mul_hi: Default::default(),
            m18: Default::default(),
            sum: Default::default(),
            shifted: Default::default(),
            win: Default::default(),
            neg: Default::default(),
            big: Default::default(),
            sh_r: Default::default(),
            m_kc: Default::default(),
            rnd_kc: Default::default(),
            rnd_neg_kc: Default::default(),
            ovf_kc: Default::default(),
            fine: Default::default(),
            lo_m: Default::default(),
            hi_m: Default::default(),
            adj: Default::default(),
            lo_mr: Default::default(),
            hi_mr: Default::default(),
            lo_adj: Default::default(),
            hi_r: Default::default(),
            p: Default::default(),
            yq: Default::default(),
        }
    }
}

impl Logic for Requant {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clk, acc_r, neg0, neg1, sel, run, adj, lo_mr, hi_mr, lo_adj, hi_r, p, win, neg,
            big, sh_r, m_kc, rnd_kc, rnd_neg_kc, ovf_kc, yq
        );
        self.rnd_kc.d.next = self.rnd.val();
        self.rnd_neg_kc.d.next = self.rnd_neg.val();
        self.ovf_kc.d.next = self.ovf.val();
        // Chunk counter: starts the cycle after cap, runs 4 cycles.
        if self.cap.val() {
            self.run.d.next = true;
            self.sel.d.next = 0.into();
        } else if self.run.q.val() {
            self.sel.d.next = self.sel.q.val() + 1;
            if self.sel.q.val() == 3 {
                self.run.d.next = false;
            }
        }
        self.chunk.next = 0.into();
        if self.run.q.val() {
            self.chunk.next = bit_cast::<4, 1>(true.into()) << self.sel.q.val();
        }
        // Input select: the chunk's lane.
        match self.sel.q.val().index() {
            0 => {
                self.acc.next = self.a0.val();
            }
            1 => {
                self.acc.next = self.a1.val();
            }
            2 => {
                self.acc.next = self.a2.val();
            }
            _ => {
                self.acc.next = self.a3.val();
            }
        }
        // R0: the chosen accumulator, registered. R1: its halves into the multipliers (lo
        // unsigned, hi as its unsigned bit pattern: the sign is corrected through `adj`), R2:
        // their products.
        self.acc_r.d.next = self.acc.val();
        self.neg0.d.next = self.acc_r.q.val().get_bit(31);
        self.m_kc.d.next = self.m.val();
        self.m18.next = bit_cast::<18, 16>(self.m_kc.q.val());
        self.mul_lo.clk.next = self.clk.val();
        self.mul_hi.clk.next = self.clk.val();
        self.mul_lo.a.next = bit_cast::<18, 16>(self.acc_r.q.val().get_bits::<16>(0));
        self.mul_hi.a.next = bit_cast::<18, 16>(self.acc_r.q.val().get_bits::<16>(16));
        self.mul_lo.b.next = self.m18.val();
        self.mul_hi.b.next = self.m18.val();
        self.lo_m.next = self.mul_lo.p.val();
        self.hi_m.next = self.mul_hi.p.val();
        // R3: the products in fabric registers, and the rounding constant and the sign
        // correction as one registered addend beside them.
        self.neg1.d.next = self.neg0.q.val();
        self.lo_mr.d.next = self.lo_m.val();
        self.hi_mr.d.next = self.hi_m.val();
        if self.neg1.q.val() {
            self.adj.d.next = self.rnd_neg_kc.q.val();
        } else {
            self.adj.d.next = self.rnd_kc.q.val();
        }
        // R4: lo * m + adj; R5: + hi * m << 16, acc * m + rnd as a 48-bit two's complement
        // pattern (two two-input sums: one three-input sum was two carry chains in a cycle).
        self.lo_adj.d.next = bit_cast::<48, 32>(self.lo_mr.q.val()) + self.adj.q.val();
        self.hi_r.d.next = self.hi_mr.q.val();
        self.sum.next = (bit_cast::<48, 32>(self.hi_r.q.val()) << 16) + self.lo_adj.q.val();
        self.p.d.next = self.sum.val();
        // A local copy of the job's shift (one register per unit, not one net to all of them).
        self.sh_r.d.next = self.shift.val();
        // R6: the shift by whole bytes (shift & !7) into a 16-bit window, the sign, and the
        // clamp test: p >> shift > 255 exactly when p has a bit at shift + 8 or above (a mask
        // test on p instead of a compare on the shifted word).
        self.shifted.next =
            self.p.q.val() >> (bit_cast::<6, 3>(self.sh_r.q.val().get_bits::<3>(3)) << 3);
        self.win.d.next = self.shifted.val().get_bits::<16>(0);
        self.neg.d.next = self.p.q.val().get_bit(47);
        self.big.d.next = (self.p.q.val() & self.ovf_kc.q.val()).any();
        // R7: the shift by the remaining 0..7 bits, ReLU, clamp to 255.
        self.fine.next = self.win.q.val() >> self.sh_r.q.val().get_bits::<3>(0);
        if self.neg.q.val() {
            self.yq.d.next = 0.into();
        } else if self.big.q.val() {
            self.yq.d.next = 255.into();
        } else {
            self.yq.d.next = self.fine.val().get_bits::<8>(0);
        }
        self.y.next = self.yq.q.val();
    }
}
