//! The loader's gate (`spec::descriptor::Descriptor::loads_while_running`): may the packet
//! waiting at the gate be written now? With no job running or starting (`enable`) every packet
//! passes; while a job runs (`busy`) only a packet that cannot touch what the job uses: an
//! `ACT_IN` packet whose bytes end at or below the job's `src_base` (if the job does not write
//! the activation buffer), weight entries outside the job's `weight_beats` beats from
//! `weight_base`, bias words outside its `out_c` words from `bias_base`, a codebook for another
//! slot. Masks and `ACT_MID` never pass while a job runs.
//!
//! Registered: the job's weight and bias ranges (the descriptor is stable while it runs), the
//! packet's end (the header's address plus its length in units, one copy per compare that reads
//! it, each driving one carry chain), whether the length alone reaches 2^25 (`len_big`: the end
//! is then past every job range, which lie below 2^24), and the four compares. The end follows
//! the latched header a cycle later and the compares another cycle later, so the loader reads
//! `pass` only once a packet has waited two cycles at the gate. Combinational: the length in
//! units, the end's sum, and `pass` (the compare of the packet's type, with this cycle's `busy`
//! and `enable`).
//!
//! Ports: `clk`; `enable` (no job is running or starting), `busy` (a job runs); the running
//! job's descriptor fields `job_dst_mid`, `job_src_base`, `job_w_base`, `job_w_beats`,
//! `job_b_base`, `job_out_c`, `job_slot`; the latched header's `hdr_addr` and `hdr_len` and its
//! type flags `ty_act` (`ACT_IN`), `ty_act_any` (`ACT_IN` or `ACT_MID`: 8-byte units), `ty_w`
//! (4 entries per beat), `ty_b`, `ty_cb`; out: `pass`.

use rust_hdl::prelude::*;

// The length's unit shifts are literals: four weight entries (<< 2) and eight bytes (<< 3)
// per beat.
const _: () = assert!(spec::packet::WEIGHTS_PER_BEAT == 4 && spec::STREAM_BYTES == 8);

#[derive(LogicBlock, Default)]
pub struct LoaderGate {
    pub clk: Signal<In, Clock>,
    pub enable: Signal<In, Bit>,
    pub busy: Signal<In, Bit>,
    pub job_dst_mid: Signal<In, Bit>,
    pub job_src_base: Signal<In, Bits<24>>,
    pub job_w_base: Signal<In, Bits<23>>,
    pub job_w_beats: Signal<In, Bits<16>>,
    pub job_b_base: Signal<In, Bits<16>>,
    pub job_out_c: Signal<In, Bits<16>>,
    pub job_slot: Signal<In, Bits<6>>,
    pub hdr_addr: Signal<In, Bits<24>>,
    pub hdr_len: Signal<In, Bits<32>>,
    pub ty_act: Signal<In, Bit>,
    pub ty_act_any: Signal<In, Bit>,
    pub ty_w: Signal<In, Bit>,
    pub ty_b: Signal<In, Bit>,
    pub ty_cb: Signal<In, Bit>,
    pub pass: Signal<Out, Bit>,
    /// The header's length in destination units (bytes, entries or words), its low 25 bits
    /// (the end's width less one): the length shifted by the beat's unit, from the type flags.
    len_sh: Signal<Local, Bits<25>>,
    end_sum: Signal<Local, Bits<26>>,
    /// One past the packet's last destination unit, one copy per compare that reads it. Only
    /// addresses below 2^24 matter: `len_big` says the length alone reaches 2^25, and the
    /// copies hold the exact end otherwise.
    end_a_kc: DFF<Bits<26>>,
    end_w_kc: DFF<Bits<26>>,
    end_b_kc: DFF<Bits<26>>,
    len_big: DFF<Bit>,
    /// The running job's weight and bias ranges.
    w_lo: DFF<Bits<26>>,
    w_hi: DFF<Bits<26>>,
    b_lo: DFF<Bits<26>>,
    b_hi: DFF<Bits<26>>,
    /// The compares: the packet misses the job's input, weights, biases, codebook slot.
    g_act: DFF<Bit>,
    g_w: DFF<Bit>,
    g_b: DFF<Bit>,
    g_cb: DFF<Bit>,
}

impl Logic for LoaderGate {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clk, end_a_kc, end_w_kc, end_b_kc, len_big, w_lo, w_hi, b_lo, b_hi, g_act, g_w,
            g_b, g_cb
        );
        self.w_lo.d.next = bit_cast::<26, 23>(self.job_w_base.val());
        self.w_hi.d.next = bit_cast::<26, 23>(self.job_w_base.val())
            + (bit_cast::<26, 16>(self.job_w_beats.val()) << 2);
        self.b_lo.d.next = bit_cast::<26, 16>(self.job_b_base.val());
        self.b_hi.d.next =
            bit_cast::<26, 16>(self.job_b_base.val()) + bit_cast::<26, 16>(self.job_out_c.val());
        // The packet's end, from the latched header and its type flags (the registers follow
        // the header; they matter only from the gate's second cycle on).
        self.len_sh.next = self.hdr_len.val().get_bits::<25>(0);
        self.len_big.d.next = self.hdr_len.val().get_bits::<7>(25).any();
        if self.ty_act_any.val() {
            self.len_sh.next = bit_cast::<25, 22>(self.hdr_len.val().get_bits::<22>(0)) << 3;
            self.len_big.d.next = self.hdr_len.val().get_bits::<10>(22).any();
        }
        if self.ty_w.val() {
            self.len_sh.next = bit_cast::<25, 23>(self.hdr_len.val().get_bits::<23>(0)) << 2;
            self.len_big.d.next = self.hdr_len.val().get_bits::<9>(23).any();
        }
        self.end_sum.next =
            bit_cast::<26, 24>(self.hdr_addr.val()) + bit_cast::<26, 25>(self.len_sh.val());
        self.end_a_kc.d.next = self.end_sum.val();
        self.end_w_kc.d.next = self.end_sum.val();
        self.end_b_kc.d.next = self.end_sum.val();
        // The compares, registered (the header and the job's ranges are stable while a packet
        // waits), then combined with this cycle's busy/enable and the packet's type.
        self.g_act.d.next = !self.job_dst_mid.val()
            & !self.len_big.q.val()
            & (self.end_a_kc.q.val() <= bit_cast::<26, 24>(self.job_src_base.val()));
        self.g_w.d.next = (!self.len_big.q.val() & (self.end_w_kc.q.val() <= self.w_lo.q.val()))
            | (bit_cast::<26, 24>(self.hdr_addr.val()) >= self.w_hi.q.val());
        self.g_b.d.next = (!self.len_big.q.val() & (self.end_b_kc.q.val() <= self.b_lo.q.val()))
            | (bit_cast::<26, 24>(self.hdr_addr.val()) >= self.b_hi.q.val());
        self.g_cb.d.next = self.hdr_addr.val() != bit_cast::<24, 6>(self.job_slot.val());
        self.pass.next = self.enable.val();
        if self.busy.val() {
            if self.ty_act.val() {
                self.pass.next = self.g_act.q.val();
            }
            if self.ty_w.val() {
                self.pass.next = self.g_w.q.val();
            }
            if self.ty_b.val() {
                self.pass.next = self.g_b.q.val();
            }
            if self.ty_cb.val() {
                self.pass.next = self.g_cb.q.val();
            }
        }
    }
}
