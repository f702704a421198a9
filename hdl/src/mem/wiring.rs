//! [`Concat`] and [`Replicate`]: byte concatenation and beat replication, the two wiring
//! leaves rust-hdl cannot express with loop-selected slices. Purely combinational.

use rust_hdl::prelude::*;

/// Concatenation of `S` bytes into one bus (`out` byte i = `ins[i]`): rust-hdl cannot assign a
/// slice selected by a loop variable, so this leaf does it. Purely combinational.
#[derive(LogicBlock)]
pub struct Concat<const S: usize, const S8: usize> {
    pub ins: [Signal<In, Bits<8>>; S],
    pub out: Signal<Out, Bits<S8>>,
}

impl<const S: usize, const S8: usize> Default for Concat<S, S8> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const S: usize, const S8: usize> Concat<S, S8> {
    pub fn new() -> Self {
        assert_eq!(S * 8, S8);
        Concat {
            ins: std::array::from_fn(|_| Default::default()),
            out: Default::default(),
        }
    }
}

impl<const S: usize, const S8: usize> Logic for Concat<S, S8> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.out.connect();
    }
    fn hdl(&self) -> Verilog {
        let parts: Vec<String> = (0..S).rev().map(|i| format!("ins${i}")).collect();
        Verilog::Custom(format!("always @(*) out = {{{}}};\n", parts.join(", ")))
    }
}

/// One 64-bit H2C beat copied into every 8-byte group of an `S`-byte word (`out` = `{S/8{din}}`):
/// with lane enables picking one group, the loader writes the activation buffer without a
/// rotator. Purely combinational.
#[derive(LogicBlock, Default)]
pub struct Replicate<const S8: usize> {
    pub din: Signal<In, Bits<64>>,
    pub out: Signal<Out, Bits<S8>>,
}

impl<const S8: usize> Logic for Replicate<S8> {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.out.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!("always @(*) out = {{{}{{din}}}};\n", S8 / 64))
    }
}
