//! The H2C packet parser (`spec::packet`): latches the header beat, waits at a gate until the
//! packet may be written, checks type, length and destination range, and turns payload beats
//! into memory writes (weights: 4 entries per beat over 4 cycles; codebook, bias, mask: one word
//! per beat; activations: 8 bytes per beat). Bad packets and out-of-range writes raise one-cycle
//! error pulses and the rest of the packet is consumed without writing, so the stream never
//! stalls forever.
//!
//! The gate ([`LoaderGate`], `spec::descriptor::Descriptor::loads_while_running`): with no job
//! running every packet passes; while a job runs only packets that cannot touch what the job
//! uses. So the next layer's input and weights stream in under compute; masks and `ACT_MID`
//! wait for the job to finish.
//!
//! Weight beats go back to back: the next beat is taken in the cycle the last entry of the
//! current one is written, so a weight beat costs `WEIGHTS_PER_BEAT` cycles
//! (`spec::packet::WEIGHT_BEAT_CYCLES`).
//!
//! Registered: the FSM state, the header beat, its decoded type, the address
//! pointer and its range check, remaining beat count (and whether it is 1), the latched weight
//! beat and its sub-entry counter, `tready` (computed from the next state, split on whether
//! this cycle takes a beat) and the whole write port (every write leaves a cycle after its
//! beat). Combinational: the handshake `fire` and the write strobes before their registers.
//! A header takes `spec::packet::HEADER_CYCLES` cycles (taken, its end computed, judged,
//! passed); the gate's decision combines its registered compares with this cycle's
//! `busy`/`enable` (the engine drops `enable` with the START pulse).
//!
//! Ports: `clk`, `rst` (synchronous, active high), `enable` (no job is running or starting),
//! `busy` (a job runs) and the running job's `job_*` descriptor fields, `halted` (accept and
//! drop everything), the H2C `tdata/tvalid/tready` (and `tdata_hi_zero`, a flag of the beat),
//! per-memory write ports, `pay_beat` (a payload beat was taken, for the hidden-load counter)
//! and the `err_*` pulses.

use crate::loader_gate::LoaderGate;
use rust_hdl::prelude::*;
use spec::packet::PacketType;

// The sub-entry counter `sub` and `three2` are 2 bits wide: four weight entries per beat.
// The codebook slot's word address is the slot shifted by 6: one word per codebook beat.
const _: () = assert!(spec::packet::CODEBOOK_BEATS == 64);
const _: () = assert!(spec::packet::WEIGHTS_PER_BEAT == 4 && spec::STREAM_BYTES == 8);

// `hdl_gen` takes bit positions only as literals: the header layout used below, checked
// against spec::packet at compile time.
const _: () = assert!(
    spec::packet::HDR_TYPE_LSB == 0
        && spec::packet::HDR_TYPE_BITS == 8
        && spec::packet::HDR_ADDR_LSB == 8
        && spec::packet::HDR_ADDR_BITS == 24
        && spec::packet::HDR_LEN_LSB == 32
        && spec::packet::HDR_LEN_BITS == 32
);
use spec::AccelConfig;

#[derive(LogicBlock)]
pub struct Loader {
    pub clk: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub enable: Signal<In, Bit>,
    pub busy: Signal<In, Bit>,
    pub job_dst_mid: Signal<In, Bit>,
    pub job_src_base: Signal<In, Bits<24>>,
    pub job_w_base: Signal<In, Bits<23>>,
    pub job_w_beats: Signal<In, Bits<16>>,
    pub job_b_base: Signal<In, Bits<16>>,
    pub job_out_c: Signal<In, Bits<16>>,
    pub job_slot: Signal<In, Bits<6>>,
    pub pay_beat: Signal<Out, Bit>,
    pub halted: Signal<In, Bit>,
    pub tdata: Signal<In, Bits<64>>,
    /// `tdata`'s upper 32 bits are all zero (a header's length field), computed before the
    /// register slice and registered with the beat: the header's zero-length test then starts
    /// at a flip-flop, not a 32-bit compare, on the way to the state's and `tready`'s enables.
    pub tdata_hi_zero: Signal<In, Bit>,
    pub tvalid: Signal<In, Bit>,
    pub tready: Signal<Out, Bit>,
    pub w_we: Signal<Out, Bit>,
    pub w_addr: Signal<Out, Bits<24>>,
    pub w_data: Signal<Out, Bits<12>>,
    pub cb_we: Signal<Out, Bit>,
    pub cb_addr: Signal<Out, Bits<24>>,
    pub bias_we: Signal<Out, Bit>,
    pub mask_we: Signal<Out, Bit>,
    pub act_we: Signal<Out, Bit>,
    /// Word/byte address of the current payload beat (bias, mask, activations).
    pub addr: Signal<Out, Bits<24>>,
    /// The current payload beat (codebook, bias, mask, activations).
    pub data: Signal<Out, Bits<64>>,
    pub err_bad_packet: Signal<Out, Bit>,
    pub err_w_overflow: Signal<Out, Bit>,
    pub err_act_overflow: Signal<Out, Bit>,
    state: DFF<Bits<3>>,
    hdr: DFF<Bits<64>>,
    /// The gate: may the packet at the gate be written now.
    gate: LoaderGate,
    go: Signal<Local, Bit>,
    /// The gate's decision (`gate.pass`) is used only once the packet has waited two cycles at
    /// the gate (`at_gate2`): its compares are registered two cycles behind the header.
    at_gate: DFF<Bit>,
    at_gate2: DFF<Bit>,
    /// The payload's type as flags (loaded at the gate): the payload states test a flip-flop,
    /// not an 8-bit compare.
    pt_w: DFF<Bit>,
    pt_act: DFF<Bit>,
    pt_cb: DFF<Bit>,
    pt_b: DFF<Bit>,
    pt_mask: DFF<Bit>,
    ptr: DFF<Bits<24>>,
    remaining: DFF<Bits<32>>,
    /// remaining == 1, registered beside it.
    rem1: DFF<Bit>,
    /// `tready` as a register, computed from the next state (and this cycle's `halted`), so a
    /// beat's acceptance and every enable it drives start at a flip-flop.
    tready_r: DFF<Bit>,
    /// A kept copy of `tready_r` for the loader's own `fire` (the port keeps the original), so
    /// neither drives every enable.
    tready_kc: DFF<Bit>,
    /// The header's type decoded as it is latched (for the gate).
    ty_act: DFF<Bit>,
    /// ACT_IN or ACT_MID (8-byte units).
    ty_act_any: DFF<Bit>,
    ty_w: DFF<Bit>,
    ty_b: DFF<Bit>,
    ty_cb: DFF<Bit>,
    beat: DFF<Bits<64>>,
    sub: DFF<Bits<2>>,
    fire: Signal<Local, Bit>,
    /// Next cycle's tready if this cycle takes no beat / takes one.
    tready_n0: Signal<Local, Bit>,
    tready_n1: Signal<Local, Bit>,
    hdr_type: Signal<Local, Bits<8>>,
    hdr_addr: Signal<Local, Bits<24>>,
    hdr_len: Signal<Local, Bits<32>>,
    hdr_bad: Signal<Local, Bit>,
    hdr_range: Signal<Local, Bit>,
    in_range: Signal<Local, Bit>,
    in_range_r: DFF<Bit>,
    lt_hdr: Signal<Local, Bit>,
    lt_next: Signal<Local, Bit>,
    /// The pointer loads from the header / steps this cycle.
    ptr_load: Signal<Local, Bit>,
    ptr_step: Signal<Local, Bit>,
    weight_cap_m1: Constant<Bits<24>>,
    bias_cap_m1: Constant<Bits<24>>,
    mask_cap_m1: Constant<Bits<24>>,
    act_in_cap_m8: Constant<Bits<24>>,
    // The write port, registered: every memory write leaves the loader one cycle after its beat
    // (the strobes reach block RAMs spread over the chip from flip-flops).
    w_we_c: Signal<Local, Bit>,
    w_we_r: DFF<Bit>,
    w_addr_c: Signal<Local, Bits<24>>,
    w_addr_r: DFF<Bits<24>>,
    w_data_c: Signal<Local, Bits<12>>,
    w_data_r: DFF<Bits<12>>,
    cb_we_c: Signal<Local, Bit>,
    cb_we_r: DFF<Bit>,
    cb_addr_c: Signal<Local, Bits<24>>,
    cb_addr_r: DFF<Bits<24>>,
    bias_we_c: Signal<Local, Bit>,
    bias_we_r: DFF<Bit>,
    mask_we_c: Signal<Local, Bit>,
    mask_we_r: DFF<Bit>,
    act_we_c: Signal<Local, Bit>,
    act_we_r: DFF<Bit>,
    addr_c: Signal<Local, Bits<24>>,
    addr_r: DFF<Bits<24>>,
    data_c: Signal<Local, Bits<64>>,
    data_r: DFF<Bits<64>>,
    // Constants from spec and the config.
    st_hdr: Constant<Bits<3>>,
    st_pay: Constant<Bits<3>>,
    st_split: Constant<Bits<3>>,
    st_drop: Constant<Bits<3>>,
    st_gate: Constant<Bits<3>>,
    t_weights: Constant<Bits<8>>,
    t_codebook: Constant<Bits<8>>,
    t_bias: Constant<Bits<8>>,
    t_act_in: Constant<Bits<8>>,
    t_mask: Constant<Bits<8>>,
    t_act_mid: Constant<Bits<8>>,
    codebook_beats: Constant<Bits<32>>,
    weight_cap: Constant<Bits<24>>,
    slot_cap: Constant<Bits<24>>,
    bias_cap: Constant<Bits<24>>,
    act_in_cap: Constant<Bits<24>>,
    mask_cap: Constant<Bits<24>>,
    one24: Constant<Bits<24>>,
    eight24: Constant<Bits<24>>,
    one32: Constant<Bits<32>>,
    two32: Constant<Bits<32>>,
    seven24: Constant<Bits<24>>,
    zero24: Constant<Bits<24>>,
    three2: Constant<Bits<2>>,
    two2: Constant<Bits<2>>,
    one2: Constant<Bits<2>>,
    zero2: Constant<Bits<2>>,
}

impl Loader {
    pub fn new(cfg: &AccelConfig) -> Self {
        let c24 = |v: u32| Constant::new((v as u64).to_bits());
        let c8 = |t: PacketType| Constant::new((t as u8 as u64).to_bits());
        Loader {
            clk: Default::default(),
            rst: Default::default(),
            enable: Default::default(),
            busy: Default::default(),
            job_dst_mid: Default::default(),
            job_src_base: Default::default(),
            job_w_base: Default::default(),
            job_w_beats: Default::default(),
            job_b_base: Default::default(),
            job_out_c: Default::default(),
            job_slot: Default::default(),
            pay_beat: Default::default(),
            halted: Default::default(),
            tdata: Default::default(),
            tdata_hi_zero: Default::default(),
            tvalid: Default::default(),
            tready: Default::default(),
            w_we: Default::default(),
            w_addr: Default::default(),
            w_data: Default::default(),
            cb_we: Default::default(),
            cb_addr: Default::default(),
            bias_we: Default::default(),
            mask_we: Default::default(),
            act_we: Default::default(),
            addr: Default::default(),
            data: Default::default(),
            err_bad_packet: Default::default(),
            err_w_overflow: Default::default(),
            err_act_overflow: Default::default(),
            state: Default::default(),
            hdr: Default::default(),
            gate: Default::default(),
            go: Default::default(),
            at_gate: Default::default(),
            at_gate2: Default::default(),
            pt_w: Default::default(),
            pt_act: Default::default(),
            pt_cb: Default::default(),
            pt_b: Default::default(),
            pt_mask: Default::default(),
            ptr: Default::default(),
            remaining: Default::default(),
            rem1: Default::default(),
            tready_r: Default::default(),
            tready_kc: Default::default(),
            ty_act: Default::default(),
            ty_act_any: Default::default(),
            ty_w: Default::default(),
            ty_b: Default::default(),
            ty_cb: Default::default(),
            beat: Default::default(),
            sub: Default::default(),
            fire: Default::default(),
            tready_n0: Default::default(),
            tready_n1: Default::default(),
            hdr_type: Default::default(),
            hdr_addr: Default::default(),
            hdr_len: Default::default(),
            hdr_bad: Default::default(),
            hdr_range: Default::default(),
            in_range: Default::default(),
            in_range_r: Default::default(),
            lt_hdr: Default::default(),
            lt_next: Default::default(),
            ptr_load: Default::default(),
            ptr_step: Default::default(),
            weight_cap_m1: c24(cfg.weight_entries - 1),
            bias_cap_m1: c24(cfg.bias_words - 1),
            mask_cap_m1: c24(cfg.mask_bits / 64 - 1),
            act_in_cap_m8: c24(cfg.act_in_bytes - spec::STREAM_BYTES),
            w_we_c: Default::default(),
            w_we_r: Default::default(),
            w_addr_c: Default::default(),
            w_addr_r: Default::default(),
            w_data_c: Default::default(),
            w_data_r: Default::default(),
            cb_we_c: Default::default(),
            cb_we_r: Default::default(),
            cb_addr_c: Default::default(),
            cb_addr_r: Default::default(),
            bias_we_c: Default::default(),
            bias_we_r: Default::default(),
            mask_we_c: Default::default(),
            mask_we_r: Default::default(),
            act_we_c: Default::default(),
            act_we_r: Default::default(),
            addr_c: Default::default(),
            addr_r: Default::default(),
            data_c: Default::default(),
            data_r: Default::default(),
            st_hdr: Constant::new(0u64.to_bits()),
            st_pay: Constant::new(1u64.to_bits()),
            st_split: Constant::new(2u64.to_bits()),
            st_drop: Constant::new(3u64.to_bits()),
            st_gate: Constant::new(4u64.to_bits()),
            t_weights: c8(PacketType::Weights),
            t_codebook: c8(PacketType::Codebook),
            t_bias: c8(PacketType::Bias),
            t_act_in: c8(PacketType::ActIn),
            t_mask: c8(PacketType::Mask),
            t_act_mid: c8(PacketType::ActMid),
            codebook_beats: Constant::new((spec::packet::CODEBOOK_BEATS as u64).to_bits()),
            weight_cap: c24(cfg.weight_entries),
            slot_cap: c24(cfg.codebook_slots),
            bias_cap: c24(cfg.bias_words),
            act_in_cap: c24(cfg.act_in_bytes),
            mask_cap: c24(cfg.mask_bits / 64),
            one24: c24(1),
            eight24: c24(spec::STREAM_BYTES),
            one32: Constant::new(1u64.to_bits()),
            two32: Constant::new(2u64.to_bits()),
            seven24: c24(spec::STREAM_BYTES - 1),
            zero24: c24(0),
            three2: Constant::new(((spec::packet::WEIGHTS_PER_BEAT - 1) as u64).to_bits()),
            two2: Constant::new(((spec::packet::WEIGHTS_PER_BEAT - 2) as u64).to_bits()),
            one2: Constant::new(1u64.to_bits()),
            zero2: Constant::new(0u64.to_bits()),
        }
    }
}

impl Logic for Loader {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clk, state, hdr, ptr, remaining, beat, sub, at_gate, at_gate2, pt_w, pt_act,
            pt_cb, pt_b, pt_mask, rem1, tready_r, tready_kc, ty_act, ty_act_any, ty_w, ty_b, ty_cb,
            in_range_r, w_we_r, w_addr_r, w_data_r, cb_we_r, cb_addr_r, bias_we_r, mask_we_r,
            act_we_r, addr_r, data_r
        );
        self.hdr_type.next = self.hdr.q.val().get_bits::<8>(0);
        self.hdr_addr.next = self.hdr.q.val().get_bits::<24>(8);
        self.hdr_len.next = self.hdr.q.val().get_bits::<32>(32);
        // The gate (Descriptor::loads_while_running): idle, or a packet outside what the
        // running job uses.
        self.gate.clk.next = self.clk.val();
        self.gate.enable.next = self.enable.val();
        self.gate.busy.next = self.busy.val();
        self.gate.job_dst_mid.next = self.job_dst_mid.val();
        self.gate.job_src_base.next = self.job_src_base.val();
        self.gate.job_w_base.next = self.job_w_base.val();
        self.gate.job_w_beats.next = self.job_w_beats.val();
        self.gate.job_b_base.next = self.job_b_base.val();
        self.gate.job_out_c.next = self.job_out_c.val();
        self.gate.job_slot.next = self.job_slot.val();
        self.gate.hdr_addr.next = self.hdr_addr.val();
        self.gate.hdr_len.next = self.hdr_len.val();
        self.gate.ty_act.next = self.ty_act.q.val();
        self.gate.ty_act_any.next = self.ty_act_any.q.val();
        self.gate.ty_w.next = self.ty_w.q.val();
        self.gate.ty_b.next = self.ty_b.q.val();
        self.gate.ty_cb.next = self.ty_cb.q.val();
        self.go.next = self.gate.pass.val();
        self.at_gate.d.next = self.state.q.val() == self.st_gate.val();
        self.at_gate2.d.next = self.at_gate.q.val() & (self.state.q.val() == self.st_gate.val());
        // Header checks: known type, codebook length, act alignment.
        self.hdr_bad.next = true;
        if (self.hdr_type.val() == self.t_weights.val())
            | (self.hdr_type.val() == self.t_bias.val())
            | (self.hdr_type.val() == self.t_mask.val())
        {
            self.hdr_bad.next = false;
        }
        if (self.hdr_type.val() == self.t_codebook.val())
            & (self.hdr_len.val() == self.codebook_beats.val())
        {
            self.hdr_bad.next = false;
        }
        if ((self.hdr_type.val() == self.t_act_in.val())
            | (self.hdr_type.val() == self.t_act_mid.val()))
            & ((self.hdr_addr.val() & self.seven24.val()) == self.zero24.val())
        {
            self.hdr_bad.next = false;
        }
        // A codebook slot out of range is a weight overflow found at the header.
        self.hdr_range.next = !((self.hdr_type.val() == self.t_codebook.val())
            & (self.hdr_addr.val() >= self.slot_cap.val()));
        // Range check of the current payload write: a register beside `ptr` (computed at the
        // end of this block from the header at the gate, from the pointer as it steps).
        self.in_range.next = self.in_range_r.q.val();

        self.tready.next = self.tready_r.q.val();
        self.fire.next = self.tready_kc.q.val() & self.tvalid.val();
        self.pay_beat.next = self.fire.val()
            & ((self.state.q.val() == self.st_pay.val())
                | (self.state.q.val() == self.st_split.val()));

        self.w_we_c.next = false;
        self.w_addr_c.next = self.ptr.q.val();
        self.w_data_c.next = self.beat.q.val().get_bits::<12>(0);
        self.cb_we_c.next = false;
        self.cb_addr_c.next = self.ptr.q.val();
        self.bias_we_c.next = false;
        self.mask_we_c.next = false;
        self.act_we_c.next = false;
        self.addr_c.next = self.ptr.q.val();
        self.data_c.next = self.tdata.val();
        self.err_bad_packet.next = false;
        self.err_w_overflow.next = false;
        self.err_act_overflow.next = false;

        self.ptr_load.next = false;
        self.ptr_step.next = false;
        if self.halted.val() {
            self.state.d.next = self.st_hdr.val();
        } else if self.state.q.val() == self.st_hdr.val() {
            // The header registers follow the stream while waiting for a header (they matter
            // only once the state leaves HDR), so their enable is the state alone.
            self.hdr.d.next = self.tdata.val();
            self.ty_act.d.next = self.tdata.val().get_bits::<8>(0) == self.t_act_in.val();
            self.ty_act_any.d.next = (self.tdata.val().get_bits::<8>(0) == self.t_act_in.val())
                | (self.tdata.val().get_bits::<8>(0) == self.t_act_mid.val());
            self.ty_w.d.next = self.tdata.val().get_bits::<8>(0) == self.t_weights.val();
            self.ty_b.d.next = self.tdata.val().get_bits::<8>(0) == self.t_bias.val();
            self.ty_cb.d.next = self.tdata.val().get_bits::<8>(0) == self.t_codebook.val();
            // A zero-length packet is consumed and ignored.
            if self.fire.val() & !self.tdata_hi_zero.val() {
                self.state.d.next = self.st_gate.val();
            }
        } else if self.state.q.val() == self.st_gate.val() {
            // The payload's registers load from the header in every gate cycle (their enable
            // is the state alone; they matter only once the packet passes).
            self.pt_w.d.next = self.ty_w.q.val();
            self.pt_act.d.next = self.ty_act_any.q.val();
            self.pt_cb.d.next = self.ty_cb.q.val();
            self.pt_b.d.next = self.ty_b.q.val();
            self.pt_mask.d.next = self.hdr_type.val() == self.t_mask.val();
            self.ptr.d.next = self.hdr_addr.val();
            self.ptr_load.next = true;
            self.remaining.d.next = self.hdr_len.val();
            self.rem1.d.next = self.hdr_len.val() == self.one32.val();
            if self.ty_cb.q.val() {
                // Word address of the slot: 64 words (one per codebook beat) of four 16-bit
                // LUT entries each.
                self.ptr.d.next = self.hdr_addr.val() << 6;
            }
            if self.go.val() & self.at_gate2.q.val() {
                if self.hdr_bad.val() {
                    self.err_bad_packet.next = true;
                    self.state.d.next = self.st_drop.val();
                } else if !self.hdr_range.val() {
                    self.err_w_overflow.next = true;
                    self.state.d.next = self.st_drop.val();
                } else {
                    self.state.d.next = self.st_pay.val();
                }
            }
        } else if self.state.q.val() == self.st_pay.val() {
            if self.fire.val() {
                if self.pt_w.q.val() {
                    self.beat.d.next = self.tdata.val();
                    self.sub.d.next = self.zero2.val();
                    self.state.d.next = self.st_split.val();
                } else {
                    if self.in_range.val() {
                        self.cb_we_c.next = self.pt_cb.q.val();
                        self.bias_we_c.next = self.pt_b.q.val();
                        self.mask_we_c.next = self.pt_mask.q.val();
                        // ACT_MID addresses the same buffer (the mid window shares it).
                        self.act_we_c.next = self.pt_act.q.val();
                    } else {
                        self.err_w_overflow.next = self.pt_b.q.val() | self.pt_mask.q.val();
                        self.err_act_overflow.next = self.pt_act.q.val();
                    }
                    if self.pt_act.q.val() {
                        self.ptr.d.next = self.ptr.q.val() + self.eight24.val();
                        self.ptr_step.next = true;
                    } else {
                        self.ptr.d.next = self.ptr.q.val() + self.one24.val();
                        self.ptr_step.next = true;
                    }
                    self.remaining.d.next = self.remaining.q.val() - self.one32.val();
                    self.rem1.d.next = self.remaining.q.val() == self.two32.val();
                    if self.rem1.q.val() {
                        self.state.d.next = self.st_hdr.val();
                    }
                }
            }
        } else if self.state.q.val() == self.st_split.val() {
            // One weight entry per cycle from the latched beat (16-bit slots, 12 bits used).
            if self.in_range.val() {
                self.w_we_c.next = true;
            } else {
                self.err_w_overflow.next = true;
            }
            self.ptr.d.next = self.ptr.q.val() + self.one24.val();
            self.ptr_step.next = true;
            self.beat.d.next = self.beat.q.val() >> 16;
            self.sub.d.next = self.sub.q.val() + self.one2.val();
            if self.sub.q.val() == self.three2.val() {
                self.remaining.d.next = self.remaining.q.val() - self.one32.val();
                self.rem1.d.next = self.remaining.q.val() == self.two32.val();
                if self.rem1.q.val() {
                    self.state.d.next = self.st_hdr.val();
                } else if self.fire.val() {
                    // Back to back: WEIGHT_BEAT_CYCLES per beat.
                    self.beat.d.next = self.tdata.val();
                } else {
                    self.state.d.next = self.st_pay.val();
                }
            }
        } else {
            // Drop the rest of a bad packet.
            if self.fire.val() {
                self.remaining.d.next = self.remaining.q.val() - self.one32.val();
                self.rem1.d.next = self.remaining.q.val() == self.two32.val();
                if self.rem1.q.val() {
                    self.state.d.next = self.st_hdr.val();
                }
            }
        }
        if self.rst.val() {
            self.state.d.next = self.st_hdr.val();
        }
        // Next cycle's tready, per state and split on whether this cycle takes a beat (so the
        // beat's handshake passes one multiplexer, not the next-state logic): drop everything
        // while halted; a header: wait at the gate if it opens a packet; the gate: pass when
        // it opens; a payload beat: a weight beat starts its four entries; a weight beat's
        // entries: take the next beat with the last entry, unless the packet ends there (a
        // taken beat starts four more entries); dropping: take beats.
        self.tready_n0.next = true;
        self.tready_n1.next = true;
        if self.state.q.val() == self.st_hdr.val() {
            self.tready_n1.next = self.tdata_hi_zero.val();
        } else if self.state.q.val() == self.st_gate.val() {
            self.tready_n0.next = self.go.val() & self.at_gate2.q.val();
            self.tready_n1.next = self.tready_n0.val();
        } else if self.state.q.val() == self.st_pay.val() {
            self.tready_n1.next = !self.pt_w.q.val();
        } else if self.state.q.val() == self.st_split.val() {
            if self.sub.q.val() == self.three2.val() {
                self.tready_n1.next = false;
            } else {
                self.tready_n0.next = (self.sub.q.val() == self.two2.val()) & !self.rem1.q.val();
                self.tready_n1.next = self.tready_n0.val();
            }
        }
        self.tready_r.d.next = self.tready_n0.val();
        if self.fire.val() {
            self.tready_r.d.next = self.tready_n1.val();
        }
        if self.halted.val() | self.rst.val() {
            self.tready_r.d.next = true;
        }
        self.tready_kc.d.next = self.tready_r.d.val();
        self.w_we_r.d.next = self.w_we_c.val();
        self.w_we.next = self.w_we_r.q.val();
        self.w_addr_r.d.next = self.w_addr_c.val();
        self.w_addr.next = self.w_addr_r.q.val();
        self.w_data_r.d.next = self.w_data_c.val();
        self.w_data.next = self.w_data_r.q.val();
        self.cb_we_r.d.next = self.cb_we_c.val();
        self.cb_we.next = self.cb_we_r.q.val();
        self.cb_addr_r.d.next = self.cb_addr_c.val();
        self.cb_addr.next = self.cb_addr_r.q.val();
        self.bias_we_r.d.next = self.bias_we_c.val();
        self.bias_we.next = self.bias_we_r.q.val();
        self.mask_we_r.d.next = self.mask_we_c.val();
        self.mask_we.next = self.mask_we_r.q.val();
        self.act_we_r.d.next = self.act_we_c.val();
        self.act_we.next = self.act_we_r.q.val();
        self.addr_r.d.next = self.addr_c.val();
        self.addr.next = self.addr_r.q.val();
        self.data_r.d.next = self.data_c.val();
        self.data.next = self.data_r.q.val();
        // ptr < cap for the next pointer, from registers: at a packet's start the header's
        // address against its type's capacity; when the pointer steps (by 1, or 8 for
        // activations) the current pointer against the capacity minus the step.
        self.lt_hdr.next = true;
        if self.ty_w.q.val() {
            self.lt_hdr.next = self.hdr_addr.val() < self.weight_cap.val();
        }
        if self.hdr_type.val() == self.t_bias.val() {
            self.lt_hdr.next = self.hdr_addr.val() < self.bias_cap.val();
        }
        if self.hdr_type.val() == self.t_mask.val() {
            self.lt_hdr.next = self.hdr_addr.val() < self.mask_cap.val();
        }
        if (self.hdr_type.val() == self.t_act_in.val())
            | (self.hdr_type.val() == self.t_act_mid.val())
        {
            self.lt_hdr.next = self.hdr_addr.val() < self.act_in_cap.val();
        }
        self.lt_next.next = true;
        if self.pt_w.q.val() {
            self.lt_next.next = self.ptr.q.val() < self.weight_cap_m1.val();
        }
        if self.pt_b.q.val() {
            self.lt_next.next = self.ptr.q.val() < self.bias_cap_m1.val();
        }
        if self.pt_mask.q.val() {
            self.lt_next.next = self.ptr.q.val() < self.mask_cap_m1.val();
        }
        if self.pt_act.q.val() {
            self.lt_next.next = self.ptr.q.val() < self.act_in_cap_m8.val();
        }
        if self.ptr_load.val() {
            self.in_range_r.d.next = self.lt_hdr.val();
        } else if self.ptr_step.val() {
            self.in_range_r.d.next = self.lt_next.val();
        }
    }
}
