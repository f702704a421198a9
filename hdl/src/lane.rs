//! One pixel lane: a 16x8 multiply-accumulate (the decoded weight times the activation) into a
//! 32-bit accumulator, the accumulator held
//! for its shared requantizer ([`crate::requant`]), and the lane's output byte.
//!
//! Registered: the extended activation in the fabric (`a_r`, a cycle before L0: the activation
//! bus comes from the activation buffer's rotation, across the chip, and the sign extension
//! sits before this register, so only a route is left in front of the multiplier); the
//! activation and the weight again (stage L0) and the product (L1), both inside the lane's
//! [`DspMul`]; the product again in the fabric (`p_r`, L2: the multiplier
//! sits in a DSP row, the accumulator's carry chain need not sit beside it); the lane's own
//! copies of `mac_en`, `first` and `cap` (a cycle after the ports, so each drives only this
//! lane's 32 bits); `acc` (L3, a [`MacAcc`]); `held` (the accumulator of the last finished tile,
//! loaded by `cap`) and `yr` (the requantized byte, loaded when `y_load` names this lane's
//! chunk). Combinational: the activation's extension to 18 bits, the accumulator's operand
//! select and sum (inside [`MacAcc`]), and `y` (`yr`, or 0 when the position is masked).
//!
//! The 16-bit weight x (u)int8 product fits 25 bits signed (`spec::numerics::PRODUCT_BITS`), so
//! the low 25 bits of the multiplier's product of the sign/zero-extended 18-bit operands,
//! sign-extended, are the exact product.
//!
//! Ports: `clk`; `act` (this lane's byte, [`ACT_AHEAD`] cycle before the weight), `weight` (the
//! shared 16-bit weight sign-extended to 18 bits), `in_signed`; `mac_en`, `first` (aligned with
//! stage L2), `bias` (aligned with stage L3: `first` loads `bias + prod`); `cap` (hold the
//! accumulator, a cycle ahead like `first`); `held`; `yin` (its requantizer's output) and
//! `y_load` (one-hot chunk being loaded); `keep` (mask bit); `y`.

use crate::acc::MacAcc;
use crate::dsp::DspMul;
use rust_hdl::prelude::*;

// The product register and its sign extension are written for 25-bit products (`hdl_gen`
// takes bit positions only as literals).
const _: () = assert!(spec::numerics::PRODUCT_BITS == 25);

/// Cycles the activation byte arrives before the weight and the controls (its fabric register).
pub const ACT_AHEAD: usize = 1;

#[derive(LogicBlock)]
pub struct Lane {
    pub clk: Signal<In, Clock>,
    pub act: Signal<In, Bits<8>>,
    pub weight: Signal<In, Bits<18>>,
    pub in_signed: Signal<In, Bit>,
    pub mac_en: Signal<In, Bit>,
    pub first: Signal<In, Bit>,
    pub bias: Signal<In, Bits<32>>,
    pub cap: Signal<In, Bit>,
    pub held: Signal<Out, Bits<32>>,
    pub yin: Signal<In, Bits<8>>,
    pub y_load: Signal<In, Bits<4>>,
    pub keep: Signal<In, Bit>,
    pub y: Signal<Out, Bits<8>>,
    a18: Signal<Local, Bits<18>>,
    a_r: DFF<Bits<18>>,
    mul: DspMul<25>,
    p_r: DFF<Bits<25>>,
    p25: Signal<Local, Bits<25>>,
    prod: Signal<Local, Bits<32>>,
    acc: MacAcc,
    held_r: DFF<Bits<32>>,
    mac_l: DFF<Bit>,
    first_l: DFF<Bit>,
    cap_l: DFF<Bit>,
    yr: DFF<Bits<8>>,
    hi10: Constant<Bits<18>>,
    hi7c: Constant<Bits<32>>,
    chunk: Constant<Bits<4>>,
}

impl Lane {
    /// Lane number `index`: requantizer `index / 4`, chunk `index % 4`.
    pub fn new(index: usize) -> Self {
        Lane {
            clk: Default::default(),
            act: Default::default(),
            weight: Default::default(),
            in_signed: Default::default(),
            mac_en: Default::default(),
            first: Default::default(),
            bias: Default::default(),
            cap: Default::default(),
            held: Default::default(),
            yin: Default::default(),
            y_load: Default::default(),
            keep: Default::default(),
            y: Default::default(),
            a18: Default::default(),
            a_r: Default::default(),
            mul: Default::default(),
            p_r: Default::default(),
            p25: Default::default(),
            prod: Default::default(),
            acc: Default::default(),
            held_r: Default::default(),
            mac_l: Default::default(),
            first_l: Default::default(),
            cap_l: Default::default(),
            yr: Default::default(),
            hi10: Constant::new(0x3FF00u64.to_bits()),
            hi7c: Constant::new(0xFE00_0000u64.to_bits()),
            chunk: Constant::new((1u64 << (index % 4)).to_bits()),
        }
    }
}

impl Logic for Lane {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clk, a_r, p_r, held_r, yr, mac_l, first_l, cap_l);
        self.mac_l.d.next = self.mac_en.val();
        self.first_l.d.next = self.first.val();
        self.cap_l.d.next = self.cap.val();
        // Extend the activation (int8 or uint8) to 18 bits into `a_r`; L0, L1: the multiplier
        // registers both operands, multiplies and registers the product.
        self.a18.next = bit_cast::<18, 8>(self.act.val());
        if self.in_signed.val() & self.act.val().get_bit(7) {
            self.a18.next = bit_cast::<18, 8>(self.act.val()) | self.hi10.val();
        }
        self.mul.clk.next = self.clk.val();
        self.a_r.d.next = self.a18.val();
        self.mul.a.next = self.a_r.q.val();
        self.mul.b.next = self.weight.val();
        // Only the product's 25 significant bits leave the multiplier (fewer nets out of the
        // DSP block); the sign extension is wiring. L2: the fabric's copy.
        self.p_r.d.next = self.mul.p.val();
        self.p25.next = self.p_r.q.val();
        self.prod.next = bit_cast::<32, 25>(self.p25.val());
        if self.p25.val().get_bit(24) {
            self.prod.next = bit_cast::<32, 25>(self.p25.val()) | self.hi7c.val();
        }
        // L3: accumulate (a tile's first entry loads the bias), in a [`MacAcc`] (on ECP5 the
        // operand select sits inside the carry chain's LUTs).
        self.acc.clk.next = self.clk.val();
        self.acc.en.next = self.mac_l.q.val();
        self.acc.first.next = self.first_l.q.val();
        self.acc.prod.next = self.prod.val();
        self.acc.bias.next = self.bias.val();
        // Hold the finished accumulator for the shared requantizer.
        if self.cap_l.q.val() {
            self.held_r.d.next = self.acc.q.val();
        }
        self.held.next = self.held_r.q.val();
        // Take this lane's byte from its requantizer when our chunk is loaded.
        if (self.y_load.val() & self.chunk.val()).any() {
            self.yr.d.next = self.yin.val();
        }
        self.y.next = 0.into();
        if self.keep.val() {
            self.y.next = self.yr.q.val();
        }
    }
}
