//! The C2H framer: between the engine's output stream and the card's C2H port, it appends to
//! every job's output the two-beat trailer of [`spec::trailer`] (magic, job sequence number,
//! payload byte count, CRC-32 of the payload), and holds the job's DONE until the trailer has
//! left. A job with no C2H payload (its output went to the mid buffer) sends the trailer alone.
//!
//! Payload beats pass through (data, keep and valid combinational, a 2:1 select on the data);
//! the engine's `tlast` is not forwarded: the trailer's second beat carries `tlast`.
//!
//! Registered: each accepted payload beat and its valid flag (folded into the CRC a cycle later
//! by [`Crc64Step`]), the CRC register, the byte count, "payload ended" (the engine's `tlast`
//! was accepted), "job done" pending, the trailer's two words and the beat being sent, and the
//! reset (`resetn` low or SOFT_RESET, a cycle late, as in the engine).
//! Combinational: the stream handshakes, the output select, `busy` and `done_set`.
//!
//! The trailer starts once the engine has reported the job done (`job_done`, which it does only
//! after its last beat was accepted), the last beat is in the CRC and, if the job sent a
//! payload, its `tlast` was seen; while it is sent the engine's stream is held (`s_tready` low).
//!
//! Ports: `clk`, `resetn`, `soft_reset`; `job_done` (the engine's done pulse), `engine_busy`,
//! `jobs` (PERF_JOBS: the trailer's sequence number is one more); `done_set` (pulse: the
//! trailer's last beat left), `busy` (engine busy or trailer pending); the engine's stream
//! `s_t*`; the card's C2H stream `m_t*`.

use rust_hdl::prelude::*;
use spec::trailer::{crc32_beat_masks, CRC32_INIT, TRAILER_MAGIC};

// The trailer's layout is written with literal bit positions below (`hdl_gen` takes no
// others): two 64-bit beats of two 32-bit words.
const _: () = assert!(spec::trailer::TRAILER_BEATS == 2 && spec::STREAM_BITS == 64);

/// One CRC-32 step over a 64-bit beat: `next = crc32_update(state, beat as LE bytes)`, as a
/// generated XOR network (each output bit is the parity of masked state and data bits, the
/// masks from [`spec::trailer::crc32_beat_masks`]). Purely combinational.
///
/// Ports: `state`, `data`; `stepped` (the register after the beat).
#[derive(LogicBlock, Default)]
pub struct Crc64Step {
    pub state: Signal<In, Bits<32>>,
    pub data: Signal<In, Bits<64>>,
    pub stepped: Signal<Out, Bits<32>>,
}

impl Logic for Crc64Step {
    fn update(&mut self) {
        let s = self.state.val().index() as u32;
        let d = self.data.val().to_u64();
        self.stepped.next = (spec::trailer::crc32_update(s, &d.to_le_bytes()) as u64).to_bits();
    }
    fn connect(&mut self) {
        self.stepped.connect();
    }
    fn hdl(&self) -> Verilog {
        let mut s = String::from("always @(*) begin\n");
        for (i, (ms, md)) in crc32_beat_masks().iter().enumerate() {
            s.push_str(&format!(
                "    stepped[{i}] = (^(state & 32'h{ms:08X})) ^ (^(data & 64'h{md:016X}));\n"
            ));
        }
        s.push_str("end\n");
        Verilog::Custom(s)
    }
}

#[derive(LogicBlock)]
pub struct C2hFramer {
    pub clk: Signal<In, Clock>,
    pub resetn: Signal<In, Bit>,
    pub soft_reset: Signal<In, Bit>,
    pub job_done: Signal<In, Bit>,
    pub engine_busy: Signal<In, Bit>,
    pub jobs: Signal<In, Bits<32>>,
    pub done_set: Signal<Out, Bit>,
    pub busy: Signal<Out, Bit>,
    pub s_tdata: Signal<In, Bits<64>>,
    pub s_tkeep: Signal<In, Bits<8>>,
    pub s_tlast: Signal<In, Bit>,
    pub s_tvalid: Signal<In, Bit>,
    pub s_tready: Signal<Out, Bit>,
    pub m_tdata: Signal<Out, Bits<64>>,
    pub m_tkeep: Signal<Out, Bits<8>>,
    pub m_tlast: Signal<Out, Bit>,
    pub m_tvalid: Signal<Out, Bit>,
    pub m_tready: Signal<In, Bit>,
    crc_step: Crc64Step,
    rst: DFF<Bit>,
    /// The last accepted payload beat and whether it is still to be folded into the CRC.
    beat_d: DFF<Bits<64>>,
    beat_v: DFF<Bit>,
    crc: DFF<Bits<32>>,
    nbytes: DFF<Bits<32>>,
    /// The job sent payload beats, and its `tlast` beat was accepted.
    any_beat: DFF<Bit>,
    ended: DFF<Bit>,
    /// The engine reported the job done; the trailer is still to go.
    pend: DFF<Bit>,
    /// Sending the trailer, and on its second beat.
    send: DFF<Bit>,
    second: DFF<Bit>,
    w0: DFF<Bits<64>>,
    w1: DFF<Bits<64>>,
    fire: Signal<Local, Bit>,
    magic: Constant<Bits<64>>,
    crc_init: Constant<Bits<32>>,
    keep_all: Constant<Bits<8>>,
}

impl Default for C2hFramer {
    fn default() -> Self {
        C2hFramer {
            clk: Default::default(),
            resetn: Default::default(),
            soft_reset: Default::default(),
            job_done: Default::default(),
            engine_busy: Default::default(),
            jobs: Default::default(),
            done_set: Default::default(),
            busy: Default::default(),
            s_tdata: Default::default(),
            s_tkeep: Default::default(),
            s_tlast: Default::default(),
            s_tvalid: Default::default(),
            s_tready: Default::default(),
            m_tdata: Default::default(),
            m_tkeep: Default::default(),
            m_tlast: Default::default(),
            m_tvalid: Default::default(),
            m_tready: Default::default(),
            crc_step: Default::default(),
            rst: Default::default(),
            beat_d: Default::default(),
            beat_v: Default::default(),
            crc: Default::default(),
            nbytes: Default::default(),
            any_beat: Default::default(),
            ended: Default::default(),
            pend: Default::default(),
            send: Default::default(),
            second: Default::default(),
            w0: Default::default(),
            w1: Default::default(),
            fire: Default::default(),
            magic: Constant::new((TRAILER_MAGIC as u64).to_bits()),
            crc_init: Constant::new((CRC32_INIT as u64).to_bits()),
            keep_all: Constant::new(0xFFu64.to_bits()),
        }
    }
}

impl Logic for C2hFramer {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clk, rst, beat_d, beat_v, crc, nbytes, any_beat, ended, pend, send, second, w0,
            w1
        );
        self.rst.d.next = !self.resetn.val() | self.soft_reset.val();

        // Pass-through of the payload; the trailer's beats while `send`.
        self.fire.next = self.s_tvalid.val() & self.m_tready.val() & !self.send.q.val();
        self.s_tready.next = self.m_tready.val() & !self.send.q.val();
        self.m_tvalid.next = self.send.q.val() | self.s_tvalid.val();
        self.m_tdata.next = self.s_tdata.val();
        self.m_tkeep.next = self.s_tkeep.val();
        if self.send.q.val() {
            self.m_tkeep.next = self.keep_all.val();
            if self.second.q.val() {
                self.m_tdata.next = self.w1.q.val();
            } else {
                self.m_tdata.next = self.w0.q.val();
            }
        }
        self.m_tlast.next = self.send.q.val() & self.second.q.val();

        // Each accepted beat is registered and folded into the CRC a cycle later.
        self.beat_v.d.next = self.fire.val();
        self.beat_d.d.next = self.s_tdata.val();
        self.crc_step.state.next = self.crc.q.val();
        self.crc_step.data.next = self.beat_d.q.val();
        if self.beat_v.q.val() {
            self.crc.d.next = self.crc_step.stepped.val();
            self.nbytes.d.next = self.nbytes.q.val() + 8;
        }
        if self.fire.val() {
            self.any_beat.d.next = true;
            if self.s_tlast.val() {
                self.ended.d.next = true;
            }
        }

        self.done_set.next = false;
        if self.job_done.val() {
            self.pend.d.next = true;
        }
        if self.pend.q.val()
            & !self.send.q.val()
            & !self.beat_v.q.val()
            & (self.ended.q.val() | !self.any_beat.q.val())
        {
            self.w0.d.next = self.magic.val() | (bit_cast::<64, 32>(self.jobs.val() + 1) << 32);
            self.w1.d.next = bit_cast::<64, 32>(self.nbytes.q.val())
                | (bit_cast::<64, 32>(!self.crc.q.val()) << 32);
            self.pend.d.next = false;
            self.send.d.next = true;
            self.second.d.next = false;
        }
        if self.send.q.val() & self.m_tready.val() {
            if self.second.q.val() {
                self.send.d.next = false;
                self.done_set.next = true;
                self.crc.d.next = self.crc_init.val();
                self.nbytes.d.next = 0.into();
                self.any_beat.d.next = false;
                self.ended.d.next = false;
            } else {
                self.second.d.next = true;
            }
        }
        self.busy.next = self.engine_busy.val() | self.pend.q.val() | self.send.q.val();

        if self.rst.q.val() {
            self.beat_v.d.next = false;
            self.crc.d.next = self.crc_init.val();
            self.nbytes.d.next = 0.into();
            self.any_beat.d.next = false;
            self.ended.d.next = false;
            self.pend.d.next = false;
            self.send.d.next = false;
            self.second.d.next = false;
        }
    }
}
