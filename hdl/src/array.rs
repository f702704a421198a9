//! The lane array: `S` [`Lane`]s sharing one weight per cycle (weight broadcast), each taking its
//! own byte of the `S`-byte activation word (pixel parallel), and `S/4` shared [`Requant`] units
//! that requantize a finished tile in four cycles (unit r serves lanes 4r..4r+3, one per cycle).
//!
//! Timing (T = `valid`/`first`/`last`/`bias` valid; `act_bus` and `weight` come
//! [`ACT_AHEAD`] cycle earlier, at T-1, into the lanes' activation registers and the weight's
//! group copies): L0 registers the operands at T, L1 the product at T+1, L2
//! copies it into the fabric at T+2, L3 accumulates at T+3; the tile's `last` entry makes `cap`
//! at T+4 (lanes hold their accumulators); chunks 0..3 enter the requantizers at T+5..T+8, their bytes are loaded into
//! the lanes [`REQUANT_LATENCY`] cycles later, and `y_bus` is valid at T+[`ARRAY_LATENCY`].
//! Tiles must end at least four cycles apart (the engine enforces it).
//!
//! Registered: the weight (a copy per group of four lanes, before L0, beside the lanes'
//! activation registers), the alignment of `valid`/`first`/`bias`/`last` with L3 and
//! `cap` (`valid`, `first` and `cap` through a copy per group of four lanes and then one per
//! lane, `bias` and `in_signed` through a copy per group, so no control net fans out to the
//! whole array), and
//! unit 0's one-hot chunk delayed (the lanes' load strobes).
//! Combinational: slicing the activation bus and the weight's sign extension; `y_bus` is the
//! lanes' bytes concatenated by a [`crate::mem::Concat`] leaf (rust-hdl cannot assign slices in
//! a loop).
//!
//! Ports: `clk`; `act_bus` (lane s = bits 8s+7..8s), `weight` (the decoded 16-bit weight,
//! `spec::numerics::LUT_BITS`, with `act_bus`),
//! `in_signed`, `valid`, `first`, `last`, `bias` ([`ACT_AHEAD`] cycle after `act_bus`); `m`,
//! `rnd`, `rnd_neg`, `ovf`, `shift` (job constants); `keep`
//! (output mask, aligned with `y_bus`); `y_bus`.

use crate::lane::Lane;
pub use crate::lane::ACT_AHEAD;
use crate::mem::{Concat, Pipe};
use crate::requant::{Requant, REQUANT_LATENCY};

/// Cycles from `act_bus` (with its `valid`/`first`/`last`/`bias`) to the tile's bytes on
/// `y_bus`: L0..L3 (4), `cap` (1), chunks 1..3 behind chunk 0 (3), a requantizer, the lanes'
/// output registers (1).
pub const ARRAY_LATENCY: usize = 4 + 1 + 3 + REQUANT_LATENCY + 1;
use rust_hdl::prelude::*;

// The weight port and its sign extension are written for 16-bit weights (`hdl_gen` takes bit
// positions only as literals).
const _: () = assert!(spec::numerics::LUT_BITS == 16);

#[derive(LogicBlock)]
pub struct LaneArray<const S: usize, const S8: usize, const R: usize> {
    pub clk: Signal<In, Clock>,
    pub act_bus: Signal<In, Bits<S8>>,
    pub weight: Signal<In, Bits<16>>,
    pub in_signed: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    pub first: Signal<In, Bit>,
    pub last: Signal<In, Bit>,
    pub bias: Signal<In, Bits<32>>,
    pub m: Signal<In, Bits<16>>,
    pub rnd: Signal<In, Bits<48>>,
    /// `rnd - (m << 32)`.
    pub rnd_neg: Signal<In, Bits<48>>,
    /// Ones at bit positions >= shift + 8 (the requantizers' clamp test).
    pub ovf: Signal<In, Bits<48>>,
    pub shift: Signal<In, Bits<6>>,
    pub keep: Signal<In, Bits<S>>,
    pub y_bus: Signal<Out, Bits<S8>>,
    pub lanes: [Lane; S],
    pub units: [Requant; R],
    cat: Concat<S, S8>,
    last0: DFF<Bit>,
    bias0: DFF<Bits<32>>,
    /// The controls a cycle later, for the lanes' fabric copy of the product (L2).
    valid1: DFF<Bit>,
    first1: DFF<Bit>,
    last1: DFF<Bit>,
    bias1: DFF<Bits<32>>,
    /// The weight, one register per requantizer group of four lanes (each lane registers it
    /// again beside its multiplier): a two-level tree instead of one net to every multiplier.
    w_g: [DFF<Bits<18>>; R],
    /// `valid` and `first` at L2, `bias` at L3, `cap` a cycle ahead and the requantizers'
    /// `cap`: one copy per group of four lanes (the place-and-route flow keeps them apart like
    /// `w_g`); the lanes register `valid`, `first` and `cap` again.
    valid_g: [DFF<Bit>; R],
    first_g: [DFF<Bit>; R],
    bias_g: [DFF<Bits<32>>; R],
    cap_g: [DFF<Bit>; R],
    cap_u: [DFF<Bit>; R],
    /// `in_signed` (a job constant, stable long before the first activation), one kept copy
    /// per group of four lanes: the job's flag reached every lane's sign extension, in front
    /// of the multipliers' A inputs, from one flip-flop.
    sgn_kc: [DFF<Bit>; R],
    load_d: Pipe<4>,
    w18: Signal<Local, Bits<18>>,
    hi2: Constant<Bits<18>>,
}

impl<const S: usize, const S8: usize, const R: usize> LaneArray<S, S8, R> {
    pub fn new() -> Self {
        // Each requantizer serves S/R lanes, one per cycle: the contract's minimum tile length.
        assert!(S * 8 == S8 && R * spec::job::MIN_TILE_CYCLES as usize == S);
        LaneArray {
            clk: Default::default(),
            act_bus: Default::default(),
            weight: Default::default(),
            in_signed: Default::default(),
            valid: Default::default(),
            first: Default::default(),
            last: Default::default(),
            bias: Default::default(),
            m: Default::default(),
            rnd: Default::default(),
            rnd_neg: Default::default(),
            ovf: Default::default(),
            shift: Default::default(),
            keep: Default::default(),
            y_bus: Default::default(),
            lanes: std::array::from_fn(Lane::new),
            units: std::array::from_fn(|_| Requant::default()),
            cat: Concat::new(),
            last0: Default::default(),
            bias0: Default::default(),
            valid1: Default::default(),
            first1: Default::default(),
            last1: Default::default(),
            bias1: Default::default(),
            w_g: std::array::from_fn(|_| Default::default()),
            valid_g: std::array::from_fn(|_| Default::default()),
            first_g: std::array::from_fn(|_| Default::default()),
            bias_g: std::array::from_fn(|_| Default::default()),
            cap_g: std::array::from_fn(|_| Default::default()),
            cap_u: std::array::from_fn(|_| Default::default()),
            sgn_kc: std::array::from_fn(|_| Default::default()),
            load_d: Pipe::new(REQUANT_LATENCY),
            w18: Default::default(),
            hi2: Constant::new(0x30000u64.to_bits()),
        }
    }
}

impl<const S: usize, const S8: usize, const R: usize> Logic for LaneArray<S, S8, R> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clk, last0, bias0, valid1, first1, last1, bias1);
        self.load_d.clk.next = self.clk.val();
        // L0 (the lanes' multipliers register their operands): the controls too.
        self.last0.d.next = self.valid.val() & self.last.val();
        self.bias0.d.next = self.bias.val();
        self.valid1.d.next = self.valid.val();
        self.first1.d.next = self.first.val();
        self.last1.d.next = self.last0.q.val();
        self.bias1.d.next = self.bias0.q.val();
        for r in 0..R {
            self.valid_g[r].clock.next = self.clk.val();
            self.first_g[r].clock.next = self.clk.val();
            self.bias_g[r].clock.next = self.clk.val();
            self.cap_g[r].clock.next = self.clk.val();
            self.cap_u[r].clock.next = self.clk.val();
            self.sgn_kc[r].clock.next = self.clk.val();
            self.sgn_kc[r].d.next = self.in_signed.val();
            self.valid_g[r].d.next = self.valid1.q.val();
            self.first_g[r].d.next = self.first1.q.val();
            self.bias_g[r].d.next = self.bias1.q.val();
            self.cap_g[r].d.next = self.last1.q.val();
            self.cap_u[r].d.next = self.cap_g[r].q.val();
        }
        // The requantizers' results appear REQUANT_LATENCY cycles after their input select.
        // Every unit runs the same chunk sequence from `cap`; unit 0's one-hot chunk is the
        // lanes' load strobe, delayed by the requantizers' latency.
        self.load_d.din.next = self.units[0].chunk.val();
        self.w18.next = bit_cast::<18, 16>(self.weight.val());
        if self.weight.val().get_bit(15) {
            self.w18.next = bit_cast::<18, 16>(self.weight.val()) | self.hi2.val();
        }
        for r in 0..R {
            self.w_g[r].clock.next = self.clk.val();
            self.w_g[r].d.next = self.w18.val();
        }
        // Lane inputs; the lanes' bytes are concatenated into y_bus by a leaf.
        for i in 0..S {
            self.lanes[i].clk.next = self.clk.val();
            self.lanes[i].act.next = self.act_bus.val().get_bits::<8>(i * 8);
            self.lanes[i].weight.next = self.w_g[i / 4].q.val();
            self.lanes[i].in_signed.next = self.sgn_kc[i / 4].q.val();
            self.lanes[i].mac_en.next = self.valid_g[i / 4].q.val();
            self.lanes[i].first.next = self.first_g[i / 4].q.val();
            self.lanes[i].bias.next = self.bias_g[i / 4].q.val();
            self.lanes[i].cap.next = self.cap_g[i / 4].q.val();
            self.lanes[i].y_load.next = self.load_d.dout.val();
            self.lanes[i].keep.next = self.keep.val().get_bit(i);
            self.cat.ins[i].next = self.lanes[i].y.val();
        }
        // Requantizer r serves lanes 4r .. 4r+3.
        for r in 0..R {
            self.units[r].clk.next = self.clk.val();
            self.units[r].a0.next = self.lanes[r * 4].held.val();
            self.units[r].a1.next = self.lanes[r * 4 + 1].held.val();
            self.units[r].a2.next = self.lanes[r * 4 + 2].held.val();
            self.units[r].a3.next = self.lanes[r * 4 + 3].held.val();
            self.units[r].cap.next = self.cap_u[r].q.val();
            self.units[r].m.next = self.m.val();
            self.units[r].rnd.next = self.rnd.val();
            self.units[r].rnd_neg.next = self.rnd_neg.val();
            self.units[r].ovf.next = self.ovf.val();
            self.units[r].shift.next = self.shift.val();
            self.lanes[r * 4].yin.next = self.units[r].y.val();
            self.lanes[r * 4 + 1].yin.next = self.units[r].y.val();
            self.lanes[r * 4 + 2].yin.next = self.units[r].y.val();
            self.lanes[r * 4 + 3].yin.next = self.units[r].y.val();
        }
        self.y_bus.next = self.cat.out.val();
    }
}
