//! A card model in process behind the [`Device`] trait: the `sim` backend (the Verilated RTL) and
//! the software card of the driver's tests. Time is the model's clock: each call runs the model
//! until its work is done (input taken, output produced, `DONE` set), checking the wall clock
//! between slices so a stuck model still ends in a timeout error.
//!
//! [`CardModel`], the interface of such a model (the card at its pins), is defined here so the
//! device boundary depends on nothing above it; the models themselves live in `crate::emulate`,
//! which re-exports the trait.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use spec::regs;

use super::{card_error, Device, DeviceError, Dir, Result, Timeouts};

/// Cycles run between wall-clock and status checks.
const SLICE: u64 = 4096;
/// Cycles per step of an [`Device::exchange`]: short, so the host sees each direction's progress
/// about when a DMA engine would.
const EXCHANGE_SLICE: u64 = 256;
/// C2H bytes the device buffers while the host is not reading (a DMA engine's FIFO would
/// back-pressure the card instead; a larger buffer only avoids needless stalls in process).
const C2H_BUFFER: usize = 4 << 20;
/// Bytes per stream beat (a model's H2C/C2H queues hold one `u64` beat each).
const BEAT: usize = spec::STREAM_BYTES as usize;
/// Pause when the model had nothing to do (a model that is not clocked, like the soft card).
const IDLE: Duration = Duration::from_micros(50);

/// A card at its pins. Times are in clock cycles of the card.
pub trait CardModel {
    /// Short description ("soft tiny", "rtl tiny").
    fn name(&self) -> String;
    /// One AXI4-Lite write (an unmapped address is answered and dropped, as on the card).
    /// `Err` only when the model itself fails (a bus that never answers).
    fn write_reg(&mut self, off: u32, value: u32) -> Result<(), String>;
    /// One AXI4-Lite read (an unmapped address reads 0).
    fn read_reg(&mut self, off: u32) -> Result<u32, String>;
    /// Advance up to `cycles` clocks. H2C beats are offered from the front of `h2c` (the ones the
    /// card accepts are popped); C2H beats the card emits are appended to `c2h`, at most
    /// `c2h_room` of them (the sink is not ready beyond that). Returns the cycles run; a model
    /// may stop early when it has nothing to do (an idle card with no input pending).
    fn run(
        &mut self,
        cycles: u64,
        h2c: &mut VecDeque<u64>,
        c2h: &mut VecDeque<u64>,
        c2h_room: usize,
    ) -> u64;
    /// Cycles run since the model was made.
    fn cycles(&mut self) -> u64;
}

/// A boxed model is a model (so tests and the emulator can pick one at run time).
impl<M: CardModel + ?Sized> CardModel for Box<M> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn write_reg(&mut self, off: u32, value: u32) -> Result<(), String> {
        (**self).write_reg(off, value)
    }
    fn read_reg(&mut self, off: u32) -> Result<u32, String> {
        (**self).read_reg(off)
    }
    fn run(
        &mut self,
        cycles: u64,
        h2c: &mut VecDeque<u64>,
        c2h: &mut VecDeque<u64>,
        c2h_room: usize,
    ) -> u64 {
        (**self).run(cycles, h2c, c2h, c2h_room)
    }
    fn cycles(&mut self) -> u64 {
        (**self).cycles()
    }
}

/// A [`CardModel`] used directly as a device.
pub struct ModelDevice<M: CardModel> {
    model: M,
    h2c: VecDeque<u64>,
    c2h: VecDeque<u64>,
    /// Bytes of a partly consumed C2H beat.
    c2h_bytes: VecDeque<u8>,
    timeouts: Timeouts,
}

impl<M: CardModel> ModelDevice<M> {
    pub fn new(model: M, timeouts: Timeouts) -> ModelDevice<M> {
        ModelDevice {
            model,
            h2c: VecDeque::new(),
            c2h: VecDeque::new(),
            c2h_bytes: VecDeque::new(),
            timeouts,
        }
    }

    pub fn model(&mut self) -> &mut M {
        &mut self.model
    }

    /// Cycles the model has run.
    pub fn cycles(&mut self) -> u64 {
        self.model.cycles()
    }

    fn step(&mut self) -> u64 {
        self.step_for(SLICE)
    }

    fn step_for(&mut self, cycles: u64) -> u64 {
        // At most one beat per cycle: a larger room only costs the model an allocation.
        let room = (C2H_BUFFER.saturating_sub(self.c2h.len() * BEAT) / BEAT).min(cycles as usize);
        self.model.run(cycles, &mut self.h2c, &mut self.c2h, room)
    }

    /// Move buffered C2H bytes into `buf[*filled..]`.
    fn drain_c2h(&mut self, buf: &mut [u8], filled: &mut usize) {
        while *filled < buf.len() {
            if let Some(b) = self.c2h_bytes.pop_front() {
                buf[*filled] = b;
                *filled += 1;
            } else if let Some(beat) = self.c2h.pop_front() {
                self.c2h_bytes.extend(beat.to_le_bytes());
            } else {
                break;
            }
        }
    }

    /// The card's error, if its error bit is set (or reading STATUS failed).
    fn error_now(&mut self) -> Option<DeviceError> {
        match self.model.read_reg(regs::STATUS.offset) {
            Ok(status) => (regs::STATUS_ERROR.get(status) != 0).then(|| card_error(self, status)),
            Err(e) => Some(DeviceError::Model(e)),
        }
    }
}

impl<M: CardModel> Device for ModelDevice<M> {
    fn name(&self) -> String {
        self.model.name()
    }

    fn read_reg(&mut self, off: u32) -> Result<u32> {
        self.model.read_reg(off).map_err(DeviceError::Model)
    }

    fn write_reg(&mut self, off: u32, value: u32) -> Result<()> {
        self.model.write_reg(off, value).map_err(DeviceError::Model)
    }

    fn write_h2c(&mut self, data: &[u8]) -> Result<()> {
        if !data.len().is_multiple_of(BEAT) {
            return Err(DeviceError::Model(format!(
                "H2C writes are whole 64-bit beats; got {} bytes",
                data.len()
            )));
        }
        self.h2c.extend(spec::packet::bytes_to_beats(data));
        let t0 = Instant::now();
        let mut since = Instant::now();
        let mut left = self.h2c.len();
        while !self.h2c.is_empty() {
            if self.step() == 0 {
                std::thread::sleep(IDLE);
            }
            if self.h2c.len() < left {
                left = self.h2c.len();
                since = Instant::now();
            } else if since.elapsed() >= self.timeouts.dma {
                let done = data.len() - BEAT * self.h2c.len().min(data.len() / BEAT);
                self.h2c.clear();
                if let Some(e) = self.error_now() {
                    return Err(e);
                }
                return Err(DeviceError::DmaTimeout {
                    dir: Dir::H2c,
                    path: self.model.name().into(),
                    bytes: data.len(),
                    done,
                    waited: t0.elapsed(),
                });
            }
        }
        Ok(())
    }

    fn exchange(&mut self, h2c: &[u8], c2h: &mut [u8]) -> Result<()> {
        if !h2c.len().is_multiple_of(BEAT) {
            return Err(DeviceError::Model(format!(
                "H2C writes are whole 64-bit beats; got {} bytes",
                h2c.len()
            )));
        }
        self.h2c.extend(spec::packet::bytes_to_beats(h2c));
        let t0 = Instant::now();
        let mut since = Instant::now();
        let mut filled = 0;
        let mut seen = (self.h2c.len(), 0);
        loop {
            self.drain_c2h(c2h, &mut filled);
            if filled == c2h.len() && self.h2c.is_empty() {
                return Ok(());
            }
            if self.step_for(EXCHANGE_SLICE) == 0 {
                std::thread::sleep(IDLE);
            }
            self.drain_c2h(c2h, &mut filled);
            let now = (self.h2c.len(), filled + self.c2h.len());
            if now != seen {
                seen = now;
                since = Instant::now();
                continue;
            }
            if let Some(e) = self.error_now() {
                self.h2c.clear();
                return Err(e);
            }
            if since.elapsed() >= self.timeouts.dma {
                let (dir, bytes, done) = if self.h2c.is_empty() {
                    (Dir::C2h, c2h.len(), filled)
                } else {
                    (
                        Dir::H2c,
                        h2c.len(),
                        h2c.len() - BEAT * self.h2c.len().min(h2c.len() / BEAT),
                    )
                };
                self.h2c.clear();
                return Err(DeviceError::DmaTimeout {
                    dir,
                    path: self.model.name().into(),
                    bytes,
                    done,
                    waited: t0.elapsed(),
                });
            }
        }
    }

    fn read_c2h(&mut self, buf: &mut [u8]) -> Result<()> {
        let t0 = Instant::now();
        let mut since = Instant::now();
        let mut filled = 0;
        while filled < buf.len() {
            self.drain_c2h(buf, &mut filled);
            if filled == buf.len() {
                break;
            }
            let before = self.c2h.len();
            if self.step() == 0 {
                std::thread::sleep(IDLE);
            }
            if self.c2h.len() != before {
                since = Instant::now();
                continue;
            }
            // Nothing came: an error bit explains it better than a timeout.
            if let Some(e) = self.error_now() {
                return Err(e);
            }
            if since.elapsed() >= self.timeouts.dma {
                return Err(DeviceError::DmaTimeout {
                    dir: Dir::C2h,
                    path: self.model.name().into(),
                    bytes: buf.len(),
                    done: filled,
                    waited: t0.elapsed(),
                });
            }
        }
        Ok(())
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    fn wait_done(&mut self, timeout: Duration) -> Result<()> {
        let t0 = Instant::now();
        loop {
            let status = self.read_reg(regs::STATUS.offset)?;
            if regs::STATUS_ERROR.get(status) != 0 {
                return Err(card_error(self, status));
            }
            if regs::STATUS_DONE.get(status) != 0 {
                return Ok(());
            }
            if t0.elapsed() >= timeout {
                return Err(DeviceError::DoneTimeout {
                    status,
                    waited: t0.elapsed(),
                });
            }
            if self.step() == 0 {
                std::thread::sleep(IDLE);
            }
        }
    }
}
