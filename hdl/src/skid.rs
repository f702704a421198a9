//! A two-entry AXI4-Stream register slice (a skid buffer) in front of the loader: the H2C
//! stream's beat reaches the loader from a register, and the loader's `tready` reaches only
//! this block's enables, so the port's `tvalid` (from the XDMA IP, or a pin on the open flow)
//! and the engine's reset never sit on the loader's handshake (the critical path of the
//! 105.71 MHz ECP5 run, docs/ARCHITECTURE.md). Full rate: one beat in and one out per cycle.
//!
//! Registered: `out_valid`/`out_data` (the beat the loader sees), the skid beat (`sv`/`sd`,
//! taken when a beat arrives while the loader stalls), `in_ready` (= the skid is empty).
//! Combinational: the two enables and the output mux's select.
//!
//! Ports: `clk`; `clear` (synchronous: both beats are dropped at this edge; the engine passes
//! its reset's next value, so nothing is held while the reset is high); `in_data`,
//! `in_valid`, `in_ready` (the port side); `out_data`, `out_valid`, `out_ready` (the loader).

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct AxisSkid<const W: usize> {
    pub clk: Signal<In, Clock>,
    pub clear: Signal<In, Bit>,
    pub in_data: Signal<In, Bits<W>>,
    pub in_valid: Signal<In, Bit>,
    pub in_ready: Signal<Out, Bit>,
    pub out_data: Signal<Out, Bits<W>>,
    pub out_valid: Signal<Out, Bit>,
    pub out_ready: Signal<In, Bit>,
    ov: DFF<Bit>,
    od: DFF<Bits<W>>,
    sv: DFF<Bit>,
    sd: DFF<Bits<W>>,
    in_fire: Signal<Local, Bit>,
    out_free: Signal<Local, Bit>,
}

impl<const W: usize> Logic for AxisSkid<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clk, ov, od, sv, sd);
        self.in_ready.next = !self.sv.q.val();
        self.in_fire.next = self.in_valid.val() & !self.sv.q.val();
        // The output register is free when empty or being taken this cycle.
        self.out_free.next = !self.ov.q.val() | self.out_ready.val();
        // The skid register follows the port while empty (it matters only once `sv` is set).
        if !self.sv.q.val() {
            self.sd.d.next = self.in_data.val();
        }
        if self.out_free.val() {
            // The skid beat first (no beat arrives while it is held), else the port's.
            if self.sv.q.val() {
                self.od.d.next = self.sd.q.val();
            } else {
                self.od.d.next = self.in_data.val();
            }
            self.ov.d.next = self.sv.q.val() | self.in_fire.val();
            self.sv.d.next = false;
        } else if self.in_fire.val() {
            self.sv.d.next = true;
        }
        if self.clear.val() {
            self.ov.d.next = false;
            self.sv.d.next = false;
        }
        self.out_valid.next = self.ov.q.val();
        self.out_data.next = self.od.q.val();
    }
}
