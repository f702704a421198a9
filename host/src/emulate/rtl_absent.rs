//! [`RtlCard`] in a build without the `rtl` feature: there is no Verilated engine to run, so
//! making one is an error that says how to get it (the rest of the driver does not need it).

use std::collections::VecDeque;

use spec::AccelConfig;

use super::CardModel;

/// Why there is no Verilated engine in this build.
#[derive(Debug, thiserror::Error)]
#[error(
    "this sqz-host was built without the Verilated engine (`--backend sim`, `emulate --card rtl`): \
     rebuild it with the `rtl` feature on a machine with Verilator and a C++ compiler, e.g. \
     `sudo apt-get install verilator g++ && cargo install --path host --features rtl`"
)]
pub struct RtlAbsent;

/// No value of this type exists in a build without the `rtl` feature.
pub enum RtlCard {}

impl RtlCard {
    /// Always [`RtlAbsent`].
    pub fn new(_cfg: &AccelConfig) -> Result<RtlCard, RtlAbsent> {
        Err(RtlAbsent)
    }
}

impl CardModel for RtlCard {
    fn name(&self) -> String {
        match *self {}
    }
    fn write_reg(&mut self, _off: u32, _value: u32) -> Result<(), String> {
        match *self {}
    }
    fn read_reg(&mut self, _off: u32) -> Result<u32, String> {
        match *self {}
    }
    fn run(
        &mut self,
        _cycles: u64,
        _h2c: &mut VecDeque<u64>,
        _c2h: &mut VecDeque<u64>,
        _c2h_room: usize,
    ) -> u64 {
        match *self {}
    }
    fn cycles(&mut self) -> u64 {
        match *self {}
    }
}
