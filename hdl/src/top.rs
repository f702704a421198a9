//! `sqz_top`: the top level with a fixed port list (plain scalar AXI names).
//! It only wires blocks: the register file ([`crate::regfile`]), the engine
//! ([`crate::engine`]) and the C2H framer ([`crate::framer`]) between the engine's output and
//! the C2H port. No logic of its own; everything registered lives in the children.

use crate::engine::Engine;
use crate::framer::C2hFramer;
use crate::regfile::{RegFile, AXIL_AW};
use rust_hdl::prelude::*;
use spec::AccelConfig;

#[derive(LogicBlock)]
pub struct SqzTop<const S: usize, const S8: usize, const R: usize> {
    pub clk: Signal<In, Clock>,
    pub resetn: Signal<In, Bit>,
    pub s_axil_awaddr: Signal<In, Bits<AXIL_AW>>,
    pub s_axil_awvalid: Signal<In, Bit>,
    pub s_axil_awready: Signal<Out, Bit>,
    pub s_axil_wdata: Signal<In, Bits<32>>,
    pub s_axil_wstrb: Signal<In, Bits<4>>,
    pub s_axil_wvalid: Signal<In, Bit>,
    pub s_axil_wready: Signal<Out, Bit>,
    pub s_axil_bresp: Signal<Out, Bits<2>>,
    pub s_axil_bvalid: Signal<Out, Bit>,
    pub s_axil_bready: Signal<In, Bit>,
    pub s_axil_araddr: Signal<In, Bits<AXIL_AW>>,
    pub s_axil_arvalid: Signal<In, Bit>,
    pub s_axil_arready: Signal<Out, Bit>,
    pub s_axil_rdata: Signal<Out, Bits<32>>,
    pub s_axil_rresp: Signal<Out, Bits<2>>,
    pub s_axil_rvalid: Signal<Out, Bit>,
    pub s_axil_rready: Signal<In, Bit>,
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
    pub irq: Signal<Out, Bit>,
    regs: RegFile,
    engine: Engine<S, S8, R>,
    framer: C2hFramer,
}

impl<const S: usize, const S8: usize, const R: usize> SqzTop<S, S8, R> {
    pub fn new(cfg: &AccelConfig) -> anyhow::Result<Self> {
        Ok(SqzTop {
            clk: Default::default(),
            resetn: Default::default(),
            s_axil_awaddr: Default::default(),
            s_axil_awvalid: Default::default(),
            s_axil_awready: Default::default(),
            s_axil_wdata: Default::default(),
            s_axil_wstrb: Default::default(),
            s_axil_wvalid: Default::default(),
            s_axil_wready: Default::default(),
            s_axil_bresp: Default::default(),
            s_axil_bvalid: Default::default(),
            s_axil_bready: Default::default(),
            s_axil_araddr: Default::default(),
            s_axil_arvalid: Default::default(),
            s_axil_arready: Default::default(),
            s_axil_rdata: Default::default(),
            s_axil_rresp: Default::default(),
            s_axil_rvalid: Default::default(),
            s_axil_rready: Default::default(),
            s_axis_tdata: Default::default(),
            s_axis_tkeep: Default::default(),
            s_axis_tlast: Default::default(),
            s_axis_tvalid: Default::default(),
            s_axis_tready: Default::default(),
            m_axis_tdata: Default::default(),
            m_axis_tkeep: Default::default(),
            m_axis_tlast: Default::default(),
            m_axis_tvalid: Default::default(),
            m_axis_tready: Default::default(),
            irq: Default::default(),
            regs: RegFile::new(cfg)?,
            engine: Engine::new(cfg)?,
            framer: C2hFramer::default(),
        })
    }
}

impl<const S: usize, const S8: usize, const R: usize> Logic for SqzTop<S, S8, R> {
    #[hdl_gen]
    fn update(&mut self) {
        self.regs.clk.next = self.clk.val();
        self.regs.resetn.next = self.resetn.val();
        self.regs.s_axil_awaddr.next = self.s_axil_awaddr.val();
        self.regs.s_axil_awvalid.next = self.s_axil_awvalid.val();
        self.s_axil_awready.next = self.regs.s_axil_awready.val();
        self.regs.s_axil_wdata.next = self.s_axil_wdata.val();
        self.regs.s_axil_wstrb.next = self.s_axil_wstrb.val();
        self.regs.s_axil_wvalid.next = self.s_axil_wvalid.val();
        self.s_axil_wready.next = self.regs.s_axil_wready.val();
        self.s_axil_bresp.next = self.regs.s_axil_bresp.val();
        self.s_axil_bvalid.next = self.regs.s_axil_bvalid.val();
        self.regs.s_axil_bready.next = self.s_axil_bready.val();
        self.regs.s_axil_araddr.next = self.s_axil_araddr.val();
        self.regs.s_axil_arvalid.next = self.s_axil_arvalid.val();
        self.s_axil_arready.next = self.regs.s_axil_arready.val();
        self.s_axil_rdata.next = self.regs.s_axil_rdata.val();
        self.s_axil_rresp.next = self.regs.s_axil_rresp.val();
        self.s_axil_rvalid.next = self.regs.s_axil_rvalid.val();
        self.regs.s_axil_rready.next = self.s_axil_rready.val();

        self.engine.clk.next = self.clk.val();
        self.engine.resetn.next = self.resetn.val();
        self.engine.desc.next = self.regs.desc.val();
        self.engine.start.next = self.regs.start.val();
        self.engine.soft_reset.next = self.regs.soft_reset.val();
        self.engine.halted.next = self.regs.halted.val();
        self.framer.clk.next = self.clk.val();
        self.framer.resetn.next = self.resetn.val();
        self.framer.soft_reset.next = self.regs.soft_reset.val();
        self.framer.job_done.next = self.engine.done_set.val();
        self.framer.engine_busy.next = self.engine.busy.val();
        self.framer.jobs.next = self.regs.jobs.val();
        self.regs.busy.next = self.framer.busy.val();
        self.regs.done_set.next = self.framer.done_set.val();
        self.regs.err_set.next = self.engine.err_set.val();
        self.regs.inc_busy.next = self.engine.inc_busy.val();
        self.regs.inc_macs.next = self.engine.inc_macs.val();
        self.regs.inc_stall.next = self.engine.inc_stall.val();
        self.regs.inc_stall_in.next = self.engine.inc_stall_in.val();
        self.regs.inc_stall_out.next = self.engine.inc_stall_out.val();
        self.regs.inc_h2c_hidden.next = self.engine.inc_h2c_hidden.val();
        self.irq.next = self.regs.irq.val();

        self.engine.s_axis_tdata.next = self.s_axis_tdata.val();
        self.engine.s_axis_tkeep.next = self.s_axis_tkeep.val();
        self.engine.s_axis_tlast.next = self.s_axis_tlast.val();
        self.engine.s_axis_tvalid.next = self.s_axis_tvalid.val();
        self.s_axis_tready.next = self.engine.s_axis_tready.val();
        self.framer.s_tdata.next = self.engine.m_axis_tdata.val();
        self.framer.s_tkeep.next = self.engine.m_axis_tkeep.val();
        self.framer.s_tlast.next = self.engine.m_axis_tlast.val();
        self.framer.s_tvalid.next = self.engine.m_axis_tvalid.val();
        self.engine.m_axis_tready.next = self.framer.s_tready.val();
        self.m_axis_tdata.next = self.framer.m_tdata.val();
        self.m_axis_tkeep.next = self.framer.m_tkeep.val();
        self.m_axis_tlast.next = self.framer.m_tlast.val();
        self.m_axis_tvalid.next = self.framer.m_tvalid.val();
        self.framer.m_tready.next = self.m_axis_tready.val();
    }
}
