//! A software card: the register file of `spec::regs`, the H2C packet loader of `spec::packet`
//! and a pluggable job executor, all in plain Rust. It has no timing (a job finishes as soon as
//! its output has been taken), so driver tests run in microseconds and are deterministic.
//!
//! The executor decides what a job computes: [`super::engine::Engine`] computes it as the
//! engine does (a functional model written from `spec`), [`Loopback`] sends back the
//! input-buffer bytes the descriptor points at (`src_base`, `Descriptor::output_bytes` of them),
//! enough to prove that registers, descriptors and both streams round-trip through a backend.
//! Neither is evidence about the RTL: that is compared with the Verilated model itself.

use std::collections::VecDeque;

use spec::descriptor::{Descriptor, DESC_WORDS};
use spec::packet::{parse_header, Packet, PacketType, CODEBOOK_BEATS, WEIGHTS_PER_BEAT};
use spec::regs::{self, Access};
use spec::AccelConfig;

use super::CardModel;

/// The card's on-chip memories, sized by the config.
pub struct Memories {
    /// (code, relative index) per weight entry.
    pub weights: Vec<(u8, u8)>,
    /// `codebook_slots` LUTs of 256 `spec::numerics::LUT_BITS`-bit values.
    pub luts: Vec<[i16; 256]>,
    /// (bias, entry count) per output channel.
    pub bias: Vec<(i32, u16)>,
    /// The activation buffer; a Fire module's squeeze output (the mid window) lives in it too.
    pub act_in: Vec<u8>,
    pub mask: Vec<bool>,
}

impl Memories {
    fn new(cfg: &AccelConfig) -> Memories {
        Memories {
            weights: vec![(0, 0); cfg.weight_entries as usize],
            luts: vec![[0; 256]; cfg.codebook_slots as usize],
            bias: vec![(0, 0); cfg.bias_words as usize],
            act_in: vec![0; cfg.act_in_bytes as usize],
            mask: vec![false; cfg.mask_bits as usize],
        }
    }
}

/// What a job produced.
#[derive(Clone, Debug, Default)]
pub struct JobOutput {
    /// The C2H bytes (a whole number of 64-bit beats).
    pub c2h: Vec<u8>,
    /// MACs the job issued (reported in PERF_MACS).
    pub macs: u64,
    /// Busy cycles to report in PERF_BUSY (a model estimate; the soft card has no timing).
    pub busy_cycles: u64,
}

/// Computes a job from the descriptor and the memories; `Err` carries `ERR` bits.
pub trait JobExecutor: Send {
    fn execute(
        &mut self,
        cfg: &AccelConfig,
        desc: &Descriptor,
        mem: &mut Memories,
    ) -> Result<JobOutput, u32>;
}

/// Sends back `Descriptor::output_bytes` input-buffer bytes from `src_base` (or the mid buffer
/// with `src_mid`): a stream and descriptor round trip, not a convolution.
pub struct Loopback;

impl JobExecutor for Loopback {
    fn execute(
        &mut self,
        cfg: &AccelConfig,
        d: &Descriptor,
        mem: &mut Memories,
    ) -> Result<JobOutput, u32> {
        let n = d.output_bytes(cfg.pixel_lanes) as usize;
        let src = &mem.act_in;
        let start = d.src_base as usize;
        let bytes = src.get(start..start + n).ok_or(regs::ERR_BAD_DESC.val(1))?;
        let mut c2h = bytes.to_vec();
        c2h.resize(n.div_ceil(8) * 8, 0);
        Ok(JobOutput {
            c2h,
            macs: 0,
            busy_cycles: n.div_ceil(8) as u64,
        })
    }
}

/// Where the H2C packet parser is.
enum Rx {
    Header,
    Payload {
        ty: Option<PacketType>,
        addr: u32,
        left: u32,
        index: u32,
        bad: bool,
    },
}

/// The software card.
pub struct SoftCard {
    cfg: AccelConfig,
    exec: Box<dyn JobExecutor>,
    pub mem: Memories,
    rw: Vec<u32>,
    err: u32,
    busy: bool,
    /// The running job (what the loader's gate compares against while `busy`).
    job: Descriptor,
    done: bool,
    out: VecDeque<u64>,
    rx: Rx,
    perf: [u64; 6],
    jobs: u32,
    cycles: u64,
    /// Latched HI halves of the 64-bit counters (reading LO latches HI).
    hi_latch: [u32; 6],
}

const PERF_REGS: [regs::Register; 6] = [
    regs::PERF_BUSY,
    regs::PERF_MACS,
    regs::PERF_STALL,
    regs::PERF_STALL_IN,
    regs::PERF_STALL_OUT,
    regs::PERF_H2C_HIDDEN,
];
const HIDDEN: usize = 5;

impl SoftCard {
    pub fn new(cfg: AccelConfig, exec: Box<dyn JobExecutor>) -> SoftCard {
        let words = (cfg.axil_bytes() / 4) as usize;
        SoftCard {
            mem: Memories::new(&cfg),
            cfg,
            exec,
            rw: vec![0; words],
            err: 0,
            busy: false,
            job: Descriptor::default(),
            done: false,
            out: VecDeque::new(),
            rx: Rx::Header,
            perf: [0; 6],
            jobs: 0,
            cycles: 0,
            hi_latch: [0; 6],
        }
    }

    /// A card that computes jobs like the engine (see [`super::engine::Engine`]).
    pub fn engine(cfg: AccelConfig) -> SoftCard {
        SoftCard::new(cfg, Box::new(super::engine::Engine))
    }

    /// A loopback card (see [`Loopback`]).
    pub fn loopback(cfg: AccelConfig) -> SoftCard {
        SoftCard::new(cfg, Box::new(Loopback))
    }

    fn status(&self) -> u32 {
        regs::STATUS_BUSY.val(self.busy as u32)
            | regs::STATUS_DONE.val(self.done as u32)
            | regs::STATUS_ERROR.val((self.err != 0) as u32)
    }

    fn soft_reset(&mut self) {
        self.err = 0;
        self.busy = false;
        self.done = false;
        self.out.clear();
        self.rx = Rx::Header;
    }

    fn start(&mut self) {
        if self.busy || self.err != 0 {
            // The engine ignores START while busy or in error (it waits for SOFT_RESET).
            return;
        }
        self.done = false;
        let mut w = [0u32; DESC_WORDS];
        for (i, v) in w.iter_mut().enumerate() {
            *v = self.rw[(regs::DESC.at(i as u32) / 4) as usize];
        }
        let d = Descriptor::unpack(&w);
        match self.exec.execute(&self.cfg, &d, &mut self.mem) {
            Ok(o) => {
                // The payload, then the trailer the framer appends (spec::trailer).
                let beats = spec::packet::bytes_to_beats(&o.c2h);
                let payload = spec::packet::beats_to_bytes(&beats);
                let trailer =
                    spec::trailer::Trailer::of_payload(self.jobs.wrapping_add(1), &payload);
                self.out.extend(beats);
                self.out.extend(trailer.to_beats());
                self.perf[0] += o.busy_cycles;
                self.perf[1] += o.macs;
                self.busy = true;
                self.job = d;
            }
            Err(bits) => self.err |= bits,
        }
    }

    /// One payload beat of the current packet.
    fn store(&mut self, ty: PacketType, addr: u32, index: u32, beat: u64) -> Result<(), u32> {
        let weight_ovf = regs::ERR_WEIGHT_OVERFLOW.val(1);
        let act_ovf = regs::ERR_ACT_OVERFLOW.val(1);
        let i = index as usize;
        let a = addr as usize;
        match ty {
            PacketType::Weights => {
                for j in 0..WEIGHTS_PER_BEAT {
                    let e = (beat >> (16 * j)) as u16;
                    let slot = self
                        .mem
                        .weights
                        .get_mut(a + i * WEIGHTS_PER_BEAT + j)
                        .ok_or(weight_ovf)?;
                    *slot = (e as u8, ((e >> 8) & 0xF) as u8);
                }
            }
            PacketType::Codebook => {
                let lut = self.mem.luts.get_mut(a).ok_or(weight_ovf)?;
                let per_beat = spec::STREAM_BITS as usize / spec::numerics::LUT_BITS as usize;
                for (j, v) in Packet::codebook_entries(&[beat]).into_iter().enumerate() {
                    lut[i * per_beat + j] = v;
                }
            }
            PacketType::Bias => {
                *self.mem.bias.get_mut(a + i).ok_or(weight_ovf)? =
                    (beat as u32 as i32, (beat >> 32) as u16);
            }
            PacketType::ActIn | PacketType::ActMid => {
                // Both address the one activation buffer (the mid window shares it).
                let dst = self
                    .mem
                    .act_in
                    .get_mut(a + i * 8..a + i * 8 + 8)
                    .ok_or(act_ovf)?;
                dst.copy_from_slice(&beat.to_le_bytes());
            }
            PacketType::Mask => {
                for j in 0..64 {
                    *self.mem.mask.get_mut((a + i) * 64 + j).ok_or(act_ovf)? = (beat >> j) & 1 == 1;
                }
            }
        }
        Ok(())
    }

    /// Whether the next beat may be taken while a job runs: payload of a packet already
    /// admitted, or a header that `Descriptor::loads_while_running` admits.
    fn takes_while_busy(&self, beat: u64) -> bool {
        match self.rx {
            Rx::Payload { .. } => true,
            Rx::Header => {
                let (t, addr, len) = parse_header(beat);
                match PacketType::from_u8(t) {
                    Some(ty) => self.job.loads_while_running(ty, addr, len),
                    None => len == 0,
                }
            }
        }
    }

    fn accept(&mut self, beat: u64) {
        match self.rx {
            Rx::Header => {
                let (t, addr, len) = parse_header(beat);
                let ty = PacketType::from_u8(t);
                let mut bad = false;
                if ty.is_none() || (ty == Some(PacketType::Codebook) && len != CODEBOOK_BEATS) {
                    self.err |= regs::ERR_BAD_PACKET.val(1);
                    bad = true;
                }
                if ty.is_some_and(|t| matches!(t, PacketType::ActIn | PacketType::ActMid))
                    && addr % 8 != 0
                {
                    self.err |= regs::ERR_BAD_PACKET.val(1);
                    bad = true;
                }
                if len > 0 {
                    self.rx = Rx::Payload {
                        ty,
                        addr,
                        left: len,
                        index: 0,
                        bad,
                    };
                }
            }
            Rx::Payload {
                ty,
                addr,
                left,
                index,
                bad,
            } => {
                let mut bad = bad;
                if let (Some(t), false) = (ty, bad) {
                    if self.busy {
                        self.perf[HIDDEN] += 1;
                    }
                    if let Err(bits) = self.store(t, addr, index, beat) {
                        self.err |= bits;
                        bad = true;
                    }
                }
                self.rx = if left > 1 {
                    Rx::Payload {
                        ty,
                        addr,
                        left: left - 1,
                        index: index + 1,
                        bad,
                    }
                } else {
                    Rx::Header
                };
            }
        }
    }
}

impl CardModel for SoftCard {
    fn name(&self) -> String {
        format!("soft {}", self.cfg.name)
    }

    fn write_reg(&mut self, off: u32, value: u32) -> Result<(), String> {
        self.write(off, value);
        Ok(())
    }

    fn read_reg(&mut self, off: u32) -> Result<u32, String> {
        Ok(self.read(off))
    }

    fn run(
        &mut self,
        cycles: u64,
        h2c: &mut VecDeque<u64>,
        c2h: &mut VecDeque<u64>,
        c2h_room: usize,
    ) -> u64 {
        self.step(cycles, h2c, c2h, c2h_room)
    }

    fn cycles(&mut self) -> u64 {
        self.cycles
    }
}

impl SoftCard {
    /// One register write (the bus side of [`CardModel::write_reg`]).
    pub fn write(&mut self, off: u32, value: u32) {
        let Some((r, _)) = regs::decode(off) else {
            return;
        };
        match r.access {
            Access::RO => {}
            Access::RW => self.rw[(off / 4) as usize] = value,
            Access::W1C => {
                if r.name == regs::ERR.name {
                    self.err &= !value;
                }
            }
            Access::WO => {
                if r.name == regs::CTRL.name {
                    if regs::CTRL_SOFT_RESET.get(value) != 0 {
                        self.soft_reset();
                    }
                    if regs::CTRL_CLEAR_PERF.get(value) != 0 {
                        self.perf = [0; 6];
                        self.jobs = 0;
                    }
                    if regs::CTRL_START.get(value) != 0 {
                        self.start();
                    }
                }
            }
        }
    }

    /// One register read.
    pub fn read(&mut self, off: u32) -> u32 {
        let Some((r, idx)) = regs::decode(off) else {
            return 0;
        };
        if let Some(k) = PERF_REGS.iter().position(|p| p.name == r.name) {
            let v = self.perf[k];
            return if idx == 0 {
                self.hi_latch[k] = (v >> 32) as u32;
                v as u32
            } else {
                self.hi_latch[k]
            };
        }
        match r.access {
            Access::WO => 0,
            Access::RW => self.rw[(off / 4) as usize],
            Access::W1C => self.err,
            Access::RO if r.name == regs::STATUS.name => self.status(),
            Access::RO if r.name == regs::PERF_JOBS.name => self.jobs,
            Access::RO => regs::fixed_value(r, &self.cfg),
        }
    }

    fn step(
        &mut self,
        cycles: u64,
        h2c: &mut VecDeque<u64>,
        c2h: &mut VecDeque<u64>,
        c2h_room: usize,
    ) -> u64 {
        let mut work = 0u64;
        while let Some(&b) = h2c.front() {
            if self.busy && !self.takes_while_busy(b) {
                // The loader's gate holds the packet until the job is done.
                break;
            }
            h2c.pop_front();
            self.accept(b);
            work += 1;
        }
        let n = self.out.len().min(c2h_room);
        c2h.extend(self.out.drain(..n));
        work += n as u64;
        if self.busy && self.out.is_empty() {
            self.busy = false;
            self.done = true;
            self.jobs += 1;
        }
        let ran = work.min(cycles);
        self.cycles += ran;
        ran
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spec::packet::{header, Packet};

    fn run_all(card: &mut SoftCard, beats: Vec<u64>) -> Vec<u64> {
        let mut h2c: VecDeque<u64> = beats.into();
        let mut c2h = VecDeque::new();
        card.run(1 << 20, &mut h2c, &mut c2h, usize::MAX);
        card.run(1 << 20, &mut h2c, &mut c2h, usize::MAX);
        c2h.into()
    }

    #[test]
    fn identity_registers_come_from_spec() {
        let cfg = AccelConfig::tiny();
        let mut c = SoftCard::loopback(cfg.clone());
        assert_eq!(c.read(regs::ID.offset), regs::ID_VALUE);
        assert_eq!(c.read(regs::CONFIG_HASH.offset), cfg.config_hash());
        c.write(regs::ID.offset, 7);
        assert_eq!(c.read(regs::ID.offset), regs::ID_VALUE, "RO ignores writes");
        c.write(regs::SCRATCH.offset, 0xDEAD_BEEF);
        assert_eq!(c.read(regs::SCRATCH.offset), 0xDEAD_BEEF);
        c.write(regs::CTRL.offset, regs::CTRL_CLEAR_PERF.val(1));
        assert_eq!(c.read(regs::CTRL.offset), 0, "WO reads 0");
    }

    #[test]
    fn loopback_job_and_errors() {
        let cfg = AccelConfig::tiny();
        let mut c = SoftCard::loopback(cfg.clone());
        let data: Vec<u8> = (0..64u8).collect();
        run_all(&mut c, Packet::act(false, 8, &data).unwrap().to_beats());
        let d = Descriptor {
            out_c: 2,
            ntiles: 2,
            src_base: 8,
            ..Default::default()
        };
        for (i, w) in d.pack().unwrap().iter().enumerate() {
            c.write(regs::DESC.at(i as u32), *w);
        }
        c.write(regs::CTRL.offset, regs::CTRL_START.val(1));
        assert_eq!(regs::STATUS_BUSY.get(c.read(regs::STATUS.offset)), 1);
        let out = spec::packet::beats_to_bytes(&run_all(&mut c, vec![]));
        // The payload, then the trailer of job 1.
        assert_eq!(spec::trailer::check_job_output(&out, 1).unwrap(), data);
        assert_eq!(regs::STATUS_DONE.get(c.read(regs::STATUS.offset)), 1);
        assert_eq!(c.read(regs::PERF_JOBS.offset), 1);
        // An unknown packet type sets BAD_PACKET, and its payload is skipped.
        run_all(&mut c, vec![0x99 | (2u64 << 32), 1, 2]);
        assert_eq!(c.read(regs::ERR.offset), regs::ERR_BAD_PACKET.val(1));
        assert_eq!(regs::STATUS_ERROR.get(c.read(regs::STATUS.offset)), 1);
        c.write(regs::ERR.offset, u32::MAX);
        assert_eq!(c.read(regs::ERR.offset), 0);
        // A load past the input buffer is an overflow.
        run_all(
            &mut c,
            vec![header(PacketType::ActIn, cfg.act_in_bytes, 1), 5],
        );
        assert_eq!(c.read(regs::ERR.offset), regs::ERR_ACT_OVERFLOW.val(1));
    }
}
