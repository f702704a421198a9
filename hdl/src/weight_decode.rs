//! The weight of an entry from its code: the codebook memory holds each slot's LUT as 64-bit
//! words of four 16-bit weights, so the code's high 6 bits (with the job's LUT slot) address
//! a word and its low 2 bits pick the weight in it. The codebook memory is outside
//! ([`Ram::registered`], [`REGISTERED_RAM_LATENCY`] cycles): this block gives its read address
//! at [`ENTRY_STAGE`] and selects the weight from its read data at [`WEIGHT_STAGE`].
//!
//! Registered: the code's low 2 bits, through two registers to meet the read data.
//! Combinational: the read address (`lut_slot << 6 | code >> 2`) and the 4:1 weight select.
//!
//! Ports: `clk`; `code` (the weight-memory word's bits 7..0) at `ENTRY_STAGE`, `lut_slot` (the
//! descriptor's), `lut_word` (the codebook memory's read data); out: `cb_raddr` (the codebook
//! memory's read address), `weight` (at `WEIGHT_STAGE`).
//!
//! [`Ram::registered`]: crate::mem::Ram::registered
//! [`REGISTERED_RAM_LATENCY`]: crate::mem::REGISTERED_RAM_LATENCY
//! [`ENTRY_STAGE`]: crate::engine::ENTRY_STAGE
//! [`WEIGHT_STAGE`]: crate::engine::WEIGHT_STAGE

use rust_hdl::prelude::*;

// `hdl_gen` takes bit positions only as literals (the weight select, the slot's address shift
// by 6): a LUT word is one stream beat of 16-bit entries.
const _: () = assert!(spec::numerics::LUT_BITS == 16 && spec::STREAM_BITS == 64);
/// Codebook-memory words per slot (one stream beat each).
pub const CODEBOOK_WORDS: usize = spec::packet::CODEBOOK_BEATS as usize;
const _: () = assert!(CODEBOOK_WORDS == 64);

#[derive(LogicBlock, Default)]
pub struct WeightDecode {
    pub clk: Signal<In, Clock>,
    pub code: Signal<In, Bits<8>>,
    pub lut_slot: Signal<In, Bits<6>>,
    pub lut_word: Signal<In, Bits<64>>,
    pub cb_raddr: Signal<Out, Bits<24>>,
    pub weight: Signal<Out, Bits<16>>,
    /// The code's low 2 bits (the weight's place in the LUT word), one and two cycles late.
    code_sel: DFF<Bits<2>>,
    code_sel_r: DFF<Bits<2>>,
}

impl Logic for WeightDecode {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clk, code_sel, code_sel_r);
        self.code_sel.d.next = self.code.val().get_bits::<2>(0);
        self.code_sel_r.d.next = self.code_sel.q.val();
        self.cb_raddr.next = (bit_cast::<24, 6>(self.lut_slot.val()) << 6)
            | bit_cast::<24, 6>(self.code.val().get_bits::<6>(2));
        // The LUT word holds 4 codebook entries of 16 bits; the code's low 2 bits pick one.
        match self.code_sel_r.q.val().index() {
            0 => {
                self.weight.next = self.lut_word.val().get_bits::<16>(0);
            }
            1 => {
                self.weight.next = self.lut_word.val().get_bits::<16>(16);
            }
            2 => {
                self.weight.next = self.lut_word.val().get_bits::<16>(32);
            }
            _ => {
                self.weight.next = self.lut_word.val().get_bits::<16>(48);
            }
        }
    }
}
