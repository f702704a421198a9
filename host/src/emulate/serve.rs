//! The serving side of the emulated card ([`super::files::Emulator`]'s thread): each turn it
//! takes the host's register writes from the register file (pulses last), forwards them to the
//! [`CardModel`], clocks the model, moves H2C bytes from the pipe into the model and C2H beats
//! from the model into the pipe, applies the [`super::Faults`], and republishes the registers that
//! changed (STATUS last, so a host that sees DONE also sees the counters of that job).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use spec::regs::{self, Access};

use super::files::{model_err, open_pipe, EmulatorOptions, EmulatorStats};
use super::CardModel;
use crate::device::xdma::window_bytes;

/// Registers fixed at build time: published once (and after a host write to them).
const IDENTITY: [regs::Register; 5] = [
    regs::ID,
    regs::VERSION_REG,
    regs::CONFIG_HASH,
    regs::CAPS,
    regs::WEIGHT_CAP,
];

/// Bytes of C2H output the emulator buffers before it stops taking beats from the model.
const C2H_BUFFER: usize = 256 * 1024;
/// Cycles run after forwarding a pulse before the new state is published.
const PULSE_SETTLE_CYCLES: u64 = 16;
/// Cycles the card may take to accept queued H2C input before a pulse is forwarded anyway.
const H2C_DRAIN_CYCLES: u64 = 200_000_000;
/// H2C beats queued for the model before the emulator stops reading the pipe.
const H2C_QUEUE: usize = 64 * 1024;

/// The serving side: the model and the three files.
pub(super) struct Card {
    model: Box<dyn CardModel>,
    opts: EmulatorOptions,
    user: Option<File>,
    h2c: Option<File>,
    c2h: Option<File>,
    c2h_path: PathBuf,
    words: usize,
    published: Vec<u32>,
    pulse_words: Vec<usize>,
    data_words: Vec<usize>,
    /// Registers that change without a host write (STATUS, ERR, PERF_*).
    live_words: Vec<usize>,
    h2c_partial: Vec<u8>,
    h2c_queue: VecDeque<u64>,
    c2h_beats: VecDeque<u64>,
    c2h_out: VecDeque<u8>,
    /// Output bytes of the current job seen so far (for `truncate_c2h`).
    job_bytes: usize,
    /// Jobs started since the emulator started (`corrupt_c2h_byte` spoils the first).
    jobs_started: u64,
    /// After a truncation, close C2H once the kept bytes are flushed.
    close_c2h: bool,
    /// When the last trickled C2H byte went out (`Faults::trickle_c2h`).
    last_trickle: Instant,
    injected_err: u32,
    stats: EmulatorStats,
}

impl Card {
    pub(super) fn new(
        model: Box<dyn CardModel>,
        opts: EmulatorOptions,
        user: Option<File>,
        h2c: Option<File>,
        c2h: Option<File>,
        c2h_path: PathBuf,
    ) -> Card {
        let words = window_bytes() / 4;
        let mut pulse_words = Vec::new();
        let mut data_words = Vec::new();
        let mut live_words = Vec::new();
        for w in 0..words {
            match regs::decode(4 * w as u32) {
                Some((r, _)) if r.access == Access::WO => pulse_words.push(w),
                Some((r, _)) => {
                    data_words.push(w);
                    // RO/W1C registers that are not build-time constants change on their own.
                    if r.access != Access::RW && !IDENTITY.iter().any(|f| f.name == r.name) {
                        live_words.push(w);
                    }
                }
                None => data_words.push(w),
            }
        }
        // STATUS first (see `publish_live`).
        let status = (regs::STATUS.offset / 4) as usize;
        live_words.sort_by_key(|&w| w != status);
        Card {
            model,
            opts,
            user,
            h2c,
            c2h,
            c2h_path,
            words,
            published: vec![0; words],
            pulse_words,
            data_words,
            live_words,
            h2c_partial: Vec::new(),
            h2c_queue: VecDeque::new(),
            c2h_beats: VecDeque::new(),
            c2h_out: VecDeque::new(),
            job_bytes: 0,
            jobs_started: 0,
            close_c2h: false,
            last_trickle: Instant::now(),
            injected_err: 0,
            stats: EmulatorStats::default(),
        }
    }

    fn read_word(&self, w: usize) -> io::Result<u32> {
        let mut b = [0u8; 4];
        if let Some(f) = &self.user {
            f.read_exact_at(&mut b, 4 * w as u64)?;
        }
        Ok(u32::from_le_bytes(b))
    }

    fn write_word(&mut self, w: usize, v: u32) -> io::Result<()> {
        if let Some(f) = &self.user {
            f.write_all_at(&v.to_le_bytes(), 4 * w as u64)?;
        }
        self.published[w] = v;
        Ok(())
    }

    /// The value the host should see at word `w`: the model's, with the injected faults.
    fn visible(&mut self, w: usize) -> io::Result<u32> {
        let off = 4 * w as u32;
        let f = &self.opts.faults;
        if off == regs::ID.offset {
            if let Some(id) = f.id {
                return Ok(id);
            }
        }
        if off == regs::CONFIG_HASH.offset {
            if let Some(h) = f.config_hash {
                return Ok(h);
            }
        }
        if let (Some(v), Some((r, _))) = (f.perf_value, regs::decode(off)) {
            if r.name.starts_with("PERF_") {
                return Ok(v);
            }
        }
        let v = self.model.read_reg(off).map_err(model_err)?;
        if f.stuck_done && off == regs::STATUS.offset {
            return Ok(v | regs::STATUS_DONE.val(1));
        }
        if self.injected_err != 0 {
            if off == regs::STATUS.offset {
                return Ok(regs::STATUS_BUSY.set(v, 0) | regs::STATUS_ERROR.val(1));
            }
            if off == regs::ERR.offset {
                return Ok(v | self.injected_err);
            }
        }
        Ok(v)
    }

    pub(super) fn publish_all(&mut self) -> io::Result<()> {
        for w in 0..self.words {
            let v = match regs::decode(4 * w as u32) {
                Some((r, _)) if r.access != Access::WO => self.visible(w)?,
                _ => 0,
            };
            self.write_word(w, v)?;
        }
        Ok(())
    }

    fn on_pulse(&mut self, v: u32) -> io::Result<bool> {
        if regs::CTRL_SOFT_RESET.get(v) != 0 {
            self.injected_err = 0;
            // Resynchronise the stream: a partial beat (stray bytes) is dropped, so the
            // loader's next beat is the next packet's header.
            self.h2c_partial.clear();
            self.h2c_queue.clear();
            self.c2h_beats.clear();
            self.c2h_out.clear();
            self.close_c2h = false;
            if self.c2h.is_none() && !self.opts.faults.omit.iter().any(|o| o == "_c2h_0") {
                // Reopened after a truncation: the stream works again.
                self.c2h = open_pipe(&self.c2h_path).ok();
            }
        }
        if regs::CTRL_START.get(v) != 0 {
            self.job_bytes = 0;
            self.jobs_started += 1;
            if self.jobs_started == 1 {
                let stray = self.opts.faults.stray_c2h.clone();
                self.c2h_out.extend(stray);
            }
            if let Some(bits) = self.opts.faults.error_on_start {
                self.injected_err |= bits;
            }
            if self.opts.faults.stuck_done || self.opts.faults.error_on_start.is_some() {
                // The card does not take the job: forward everything but START.
                let rest = regs::CTRL_START.set(v, 0);
                if rest != 0 {
                    self.model
                        .write_reg(regs::CTRL.offset, rest)
                        .map_err(model_err)?;
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Forward host register writes to the model: data words now, pulse words returned to
    /// the caller, which forwards them after the H2C bytes written before them.
    fn take_writes(&mut self) -> io::Result<Vec<(usize, u32)>> {
        if self.user.is_none() {
            return Ok(Vec::new());
        }
        // Pulses first: every data write the host made before a pulse is then visible below.
        let mut pulses = Vec::new();
        for &w in &self.pulse_words {
            let v = self.read_word(w)?;
            if v != 0 {
                pulses.push((w, v));
            }
        }
        let mut image = vec![0u8; self.words * 4];
        if let Some(f) = &self.user {
            f.read_exact_at(&mut image, 0)?;
        }
        let mut changed = Vec::new();
        for i in 0..self.data_words.len() {
            let w = self.data_words[i];
            let v = u32::from_le_bytes(image[4 * w..4 * w + 4].try_into().expect("4 bytes"));
            if v != self.published[w] {
                self.model.write_reg(4 * w as u32, v).map_err(model_err)?;
                self.stats.reg_writes += 1;
                changed.push(w);
            }
        }
        for w in changed {
            // Read back: RW keeps the value, RO/unmapped restore theirs, W1C shows what is left.
            let v = self.visible(w)?;
            self.write_word(w, v)?;
        }
        Ok(pulses)
    }

    fn forward_pulses(&mut self, pulses: &[(usize, u32)]) -> io::Result<()> {
        for &(w, v) in pulses {
            if self.on_pulse(v)? {
                self.model.write_reg(4 * w as u32, v).map_err(model_err)?;
            }
            self.stats.reg_writes += 1;
        }
        // Let the pulse take effect (START clears DONE a cycle later) and publish the new
        // state before acknowledging: a host that saw CTRL = 0 must never read a stale DONE.
        self.clock(PULSE_SETTLE_CYCLES);
        self.publish_live()?;
        for &(w, _) in pulses {
            // Reading 0 again tells the host the pulse was taken.
            self.write_word(w, 0)?;
        }
        Ok(())
    }

    /// Run the model for `cycles`, streams connected; C2H takes what the output buffer holds.
    fn clock(&mut self, cycles: u64) -> u64 {
        // At most one beat per cycle: a larger room only costs the model an allocation.
        let room = (C2H_BUFFER.saturating_sub(self.c2h_out.len()) / spec::STREAM_BYTES as usize)
            .min(cycles as usize);
        let t = std::time::Instant::now();
        let ran = self
            .model
            .run(cycles, &mut self.h2c_queue, &mut self.c2h_beats, room);
        self.stats.model_time += t.elapsed();
        ran
    }

    /// Republish the registers that change on their own. STATUS is read from the model first
    /// and written to the file last: once the host sees DONE (or ERROR), the counters and ERR
    /// it reads next are the ones of that moment, as on a card that answers each read at once.
    fn publish_live(&mut self) -> io::Result<()> {
        let mut values = Vec::with_capacity(self.live_words.len());
        for i in 0..self.live_words.len() {
            let w = self.live_words[i];
            values.push((w, self.visible(w)?));
        }
        for &(w, v) in values.iter().rev() {
            if v != self.published[w] {
                self.write_word(w, v)?;
            }
        }
        Ok(())
    }

    /// Before a pulse: the host's H2C write returned before it wrote the pulse, so its bytes
    /// are all in the pipe or queued; the card takes them first, as the DMA would have.
    fn drain_h2c(&mut self) -> io::Result<()> {
        let mut budget = H2C_DRAIN_CYCLES;
        loop {
            let got = self.pump_h2c()?;
            if self.h2c_queue.is_empty() && !got {
                return Ok(());
            }
            if budget == 0 || self.opts.faults.stall_h2c {
                return Ok(());
            }
            let ran = self.clock(self.opts.cycles_per_turn);
            budget = budget.saturating_sub(ran.max(1));
            self.pump_c2h()?;
        }
    }

    fn pump_h2c(&mut self) -> io::Result<bool> {
        if self.opts.faults.stall_h2c || self.h2c_queue.len() >= H2C_QUEUE {
            return Ok(false);
        }
        let Some(f) = self.h2c.as_mut() else {
            return Ok(false);
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut got_any = false;
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got_any = true;
                    self.stats.h2c_bytes += n as u64;
                    self.h2c_partial.extend_from_slice(&buf[..n]);
                    if self.h2c_queue.len() + self.h2c_partial.len() / 8 >= H2C_QUEUE {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let whole = self.h2c_partial.len() / 8 * 8;
        for c in self.h2c_partial[..whole].chunks_exact(8) {
            self.h2c_queue
                .push_back(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        self.h2c_partial.drain(..whole);
        Ok(got_any)
    }

    fn pump_c2h(&mut self) -> io::Result<bool> {
        let mut moved = false;
        while let Some(b) = self.c2h_beats.pop_front() {
            moved = true;
            if self.opts.faults.drop_c2h || self.close_c2h {
                continue;
            }
            let mut bytes = b.to_le_bytes();
            let f = &self.opts.faults;
            if f.zero_c2h {
                bytes = [0; 8];
            }
            if let Some(k) = f.corrupt_c2h_byte {
                if self.jobs_started == 1 && (self.job_bytes..self.job_bytes + 8).contains(&k) {
                    bytes[k - self.job_bytes] ^= 1;
                }
            }
            let keep = match self.opts.faults.truncate_c2h {
                Some(k) => k.saturating_sub(self.job_bytes).min(8),
                None => 8,
            };
            self.c2h_out.extend(&bytes[..keep]);
            self.job_bytes += 8;
            if keep < 8 {
                self.close_c2h = true;
            }
        }
        if let Some(f) = self.c2h.as_mut() {
            while !self.c2h_out.is_empty() {
                let (a, _) = self.c2h_out.as_slices();
                let a = match self.opts.faults.trickle_c2h {
                    Some(iv) if self.last_trickle.elapsed() < iv => break,
                    Some(_) => {
                        self.last_trickle = Instant::now();
                        &a[..1]
                    }
                    None => a,
                };
                match f.write(a) {
                    Ok(n) => {
                        moved = true;
                        self.stats.c2h_bytes += n as u64;
                        self.c2h_out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        if self.close_c2h && self.c2h_out.is_empty() && self.c2h.is_some() {
            // The host's read sees end-of-file after the kept bytes: a short read.
            self.c2h = None;
        }
        Ok(moved)
    }

    pub(super) fn serve(&mut self, stop: &AtomicBool) -> io::Result<EmulatorStats> {
        while !stop.load(Ordering::SeqCst) {
            let pulses = self.take_writes()?;
            let pulsed = !pulses.is_empty();
            if pulsed {
                self.drain_h2c()?;
                self.forward_pulses(&pulses)?;
            }
            let got = self.pump_h2c()?;
            let status = self
                .model
                .read_reg(regs::STATUS.offset)
                .map_err(model_err)?;
            let busy = regs::STATUS_BUSY.get(status) != 0;
            let active =
                pulsed || got || busy || !self.h2c_queue.is_empty() || !self.c2h_beats.is_empty();
            let cycles = if active {
                self.opts.cycles_per_turn
            } else {
                64
            };
            let ran = self.clock(cycles);
            self.stats.cycles += ran;
            let moved = self.pump_c2h()?;
            self.publish_live()?;
            self.stats.turns += 1;
            if !(active || moved) {
                self.stats.idle_turns += 1;
                thread::sleep(self.opts.idle_sleep);
            }
        }
        self.stats.cycles = self.model.cycles();
        Ok(self.stats.clone())
    }
}
