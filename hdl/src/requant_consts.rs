//! The requantizers' job constants, decoded from the descriptor's shift and multiplier: the
//! rounding constant `rnd = 1 << (shift - 1)`, its form for a negative accumulator
//! `rnd_neg = rnd - (m << 32)`, and the clamp's overflow mask `ovf = !0 << shift << 8` (48
//! bits each; see [`crate::requant`]). The descriptor's bits reach the whole chip, so the
//! decode starts at local copies of the shift and multiplier, registered; the constants are
//! registered again (a shift and a subtract each). Stable long before a job's first tile.
//!
//! Registered: `shift_c`, `mult_c` (the copies), `shift_m1`, `rnd_r`, `rnd_neg_r`, `ovf_r`.
//! Combinational: nothing but wiring.
//!
//! Ports: `clk`; `desc_shift`, `desc_m` (the descriptor's); out: `shift`, `m`, `rnd`,
//! `rnd_neg`, `ovf` (the lane array's requantizer inputs).

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct RequantConsts {
    pub clk: Signal<In, Clock>,
    pub desc_shift: Signal<In, Bits<6>>,
    pub desc_m: Signal<In, Bits<16>>,
    pub shift: Signal<Out, Bits<6>>,
    pub m: Signal<Out, Bits<16>>,
    pub rnd: Signal<Out, Bits<48>>,
    pub rnd_neg: Signal<Out, Bits<48>>,
    pub ovf: Signal<Out, Bits<48>>,
    shift_c: DFF<Bits<6>>,
    shift_m1: DFF<Bits<6>>,
    mult_c: DFF<Bits<16>>,
    rnd_r: DFF<Bits<48>>,
    rnd_neg_r: DFF<Bits<48>>,
    ovf_r: DFF<Bits<48>>,
    one48: Constant<Bits<48>>,
    ones48: Constant<Bits<48>>,
}

impl Default for RequantConsts {
    fn default() -> Self {
        RequantConsts {
            clk: Default::default(),
            desc_shift: Default::default(),
            desc_m: Default::default(),
            shift: Default::default(),
            m: Default::default(),
            rnd: Default::default(),
            rnd_neg: Default::default(),
            ovf: Default::default(),
            shift_c: Default::default(),
            shift_m1: Default::default(),
            mult_c: Default::default(),
            rnd_r: Default::default(),
            rnd_neg_r: Default::default(),
            ovf_r: Default::default(),
            one48: Constant::new(1u64.to_bits()),
            ones48: Constant::new(0xFFFF_FFFF_FFFFu64.to_bits()),
        }
    }
}

impl Logic for RequantConsts {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clk, shift_c, shift_m1, mult_c, rnd_r, rnd_neg_r, ovf_r);
        self.shift_c.d.next = self.desc_shift.val();
        self.mult_c.d.next = self.desc_m.val();
        // From the local copy (a cycle later: the descriptor register sits in the register
        // file, the subtract beside its consumers).
        self.shift_m1.d.next = self.shift_c.q.val() - 1;
        self.rnd_r.d.next = self.one48.val() << self.shift_m1.q.val();
        self.rnd_neg_r.d.next =
            self.rnd_r.q.val() - (bit_cast::<48, 16>(self.mult_c.q.val()) << 32);
        self.ovf_r.d.next = (self.ones48.val() << self.shift_c.q.val()) << 8;
        self.shift.next = self.shift_c.q.val();
        self.m.next = self.mult_c.q.val();
        self.rnd.next = self.rnd_r.q.val();
        self.rnd_neg.next = self.rnd_neg_r.q.val();
        self.ovf.next = self.ovf_r.q.val();
    }
}
