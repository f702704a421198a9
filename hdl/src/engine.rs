//! The engine (placeholder while the data path is built): accepts and drops H2C beats, sends
//! nothing on C2H, never busy.

use rust_hdl::prelude::*;
use spec::AccelConfig;

#[derive(LogicBlock, Default)]
pub struct Engine {
    pub clk: Signal<In, Clock>,
    pub resetn: Signal<In, Bit>,
    pub desc: Signal<In, Bits<{ crate::regfile::DESC_BITS }>>,
    pub start: Signal<In, Bit>,
    pub soft_reset: Signal<In, Bit>,
    pub halted: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    pub done_set: Signal<Out, Bit>,
    pub err_set: Signal<Out, Bits<4>>,
    pub inc_busy: Signal<Out, Bit>,
    pub inc_macs: Signal<Out, Bits<16>>,
    pub inc_stall: Signal<Out, Bit>,
    pub inc_stall_in: Signal<Out, Bit>,
    pub inc_stall_out: Signal<Out, Bit>,
    pub s_axis_tdata: Signal<In, Bits<64>>,
    pub s_axis_tkeep: Signal<In, Bits<8>>,
    pub s_axis_tlast: Signal<In, Bit>,
    pub s_axis_tvalid: Signal<In, Bit>,
    pub s_axis_tready: Signal<Out, Bit>,
    pub m_axis_tdata: Signal<Out, Bits<64>>,
    pub m_axis_tkeep: Signal<Out, Bits<8>>,
    pub m_axis_tlast: Signal<Out, Bit>,
    pub m_axis_tvalid: Signal<Out, Bit>,
    pub m_axis_tready: Signal<In, Bit>,
}

impl Engine {
    pub fn new(_cfg: &AccelConfig) -> anyhow::Result<Self> {
        Ok(Engine::default())
    }
}

impl Logic for Engine {
    #[hdl_gen]
    fn update(&mut self) {
        self.busy.next = false;
        self.done_set.next = false;
        self.err_set.next = 0.into();
        self.inc_busy.next = false;
        self.inc_macs.next = 0.into();
        self.inc_stall.next = false;
        self.inc_stall_in.next = false;
        self.inc_stall_out.next = false;
        self.s_axis_tready.next = true;
        self.m_axis_tdata.next = 0.into();
        self.m_axis_tkeep.next = 0.into();
        self.m_axis_tlast.next = false;
        self.m_axis_tvalid.next = false;
    }
}
