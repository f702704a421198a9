//! The device boundary: the small [`Device`] trait every card backend implements (32-bit register
//! read/write at a byte offset, write a buffer to the H2C stream, read a buffer from the C2H
//! stream, wait for the job to finish), the one error type [`DeviceError`] with actionable
//! messages, and the helpers built only on the trait (identity check, control pulses, error-bit
//! decoding, performance counters). Register offsets and bit fields come from `spec::regs`.
//!
//! Backends: [`xdma`] (the XDMA driver's files, real or emulated) and [`model`] (a card model in
//! process: the Verilated RTL for `--backend sim`, or the software card of `host::emulate`).
//!
//! The card backends of the command line, which run the network sequencer and the performance
//! report over this boundary, are [`crate::card`]; nothing here depends on them.
//!
//! Every wait is bounded: each stream transfer and each wait for `DONE` has a deadline from
//! [`Timeouts`], and running past it is an error, never a hang.

pub mod model;
pub mod xdma;

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use spec::regs::{self, Field};
use spec::AccelConfig;

/// How long a backend may wait for the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a stream endpoint (a FIFO of an emulated card blocks until the card serves it).
    pub open: Duration,
    /// One H2C write or one C2H read, start to end.
    pub dma: Duration,
    /// A job's `STATUS.DONE` after its output has been read.
    pub done: Duration,
}

impl Timeouts {
    /// A board: every job of the real network takes milliseconds. The DMA wait outlasts the
    /// XDMA driver's own per-transfer timeout (`spec::board::Xdma::driver_timeout_s`, 10 s), so
    /// the driver gives up on a stuck transfer (and cleans it up) before the host stops waiting.
    pub const HARDWARE: Timeouts = Timeouts {
        open: Duration::from_secs(2),
        dma: Duration::from_secs(spec::board::XDMA_GEN2_X4.driver_timeout_s as u64 + 5),
        done: Duration::from_secs(10),
    };
    /// All three set to `t`, except `open`, which stays short (a missing peer does not get
    /// faster by waiting).
    pub fn uniform(t: Duration) -> Timeouts {
        Timeouts {
            open: Timeouts::HARDWARE.open.min(t),
            dma: t,
            done: t,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::HARDWARE
    }
}

/// Which stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    H2c,
    C2h,
}

impl std::fmt::Display for Dir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dir::H2c => "H2C",
            Dir::C2h => "C2H",
        })
    }
}

/// One set bit of the `ERR` register, named from `spec::regs::ERR_FIELDS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrBit {
    pub name: &'static str,
    pub description: &'static str,
}

/// Names of the `ERR` bits set in `err` (bits outside the known fields are reported as such).
pub fn err_bits(err: u32) -> Vec<ErrBit> {
    let mut v: Vec<ErrBit> = regs::ERR_FIELDS
        .iter()
        .filter(|f| f.get(err) != 0)
        .map(|f| ErrBit {
            name: f.name,
            description: f.description,
        })
        .collect();
    let known = regs::ERR_FIELDS.iter().fold(0u32, |m, f| m | f.mask());
    if err & !known != 0 {
        v.push(ErrBit {
            name: "UNKNOWN",
            description: "a bit this driver's spec does not define (newer bitstream?)",
        });
    }
    v
}

fn fmt_err_bits(bits: &[ErrBit]) -> String {
    if bits.is_empty() {
        return "none (ERR = 0)".into();
    }
    bits.iter()
        .map(|b| format!("{} ({})", b.name, b.description.trim_end_matches('.')))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything that can go wrong between the driver and the card.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(
        "device file {} does not exist: load the XDMA driver (xdma.ko, so that {}_user, _h2c_0 and _c2h_0 appear), \
         or point --device at another prefix (e.g. DIR/xdma0 for a card started with `sqz-host emulate --dir DIR`)",
        path.display(), prefix
    )]
    NoDevice { path: PathBuf, prefix: String },
    #[error("cannot open {}: {source}{hint}", path.display())]
    Open {
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "opening {} did not finish within {waited:?}: nothing serves this stream \
         (is the card, or `sqz-host emulate`, running?)",
        path.display()
    )]
    OpenTimeout { path: PathBuf, waited: Duration },
    #[error(
        "card busy: {} is held by {} (one process at a time; pass --wait to wait for it)",
        path.display(),
        holder.map(|p| format!("pid {p}")).unwrap_or_else(|| "another process".into())
    )]
    Busy { path: PathBuf, holder: Option<u32> },
    #[error(
        "the emulated card at {prefix} is not served: {reason}; start it again with `sqz-host emulate`"
    )]
    NotServed { prefix: String, reason: String },
    #[error("cannot map the register file {}: {reason}", path.display())]
    Map { path: PathBuf, reason: String },
    #[error(
        "register offset 0x{off:X} is outside the {len}-byte register window or not 32-bit aligned"
    )]
    BadOffset { off: u32, len: usize },
    #[error(
        "the card's ID register reads 0x{found:08X}, expected 0x{expected:08X} (\"SQZ1\"): the FPGA is not \
         programmed with an sqz bitstream, or {device} is not its register window"
    )]
    WrongId {
        device: String,
        found: u32,
        expected: u32,
    },
    #[error(
        "the card was built for {found_preset} (config hash 0x{found:08X}) but the driver expects preset `{expected_preset}` \
         (0x{expected:08X}): program the FPGA with a bitstream from `cargo run -p hdl -- emit --preset {expected_preset}`, \
         or run the host with the card's preset{preset_flag}"
    )]
    ConfigMismatch {
        found: u32,
        /// "preset `ecp5`" or "an unknown configuration".
        found_preset: String,
        expected: u32,
        expected_preset: String,
        /// " (--preset NAME)" when the card's preset is known.
        preset_flag: String,
    },
    #[error(
        "{dir} DMA on {} timed out after {waited:?} with {done} of {bytes} bytes transferred: the card stopped \
         {}; try `sqz-host info`, then reset the card (reload the bitstream) if it persists",
        path.display(),
        if *dir == Dir::C2h { "sending output (job stalled or output lost)" } else { "accepting input (stream back-pressure)" }
    )]
    DmaTimeout {
        dir: Dir,
        path: PathBuf,
        bytes: usize,
        done: usize,
        waited: Duration,
    },
    #[error(
        "short C2H read on {}: expected {expected} bytes, the card ended the transfer after {got}: the job's output \
         size disagrees with the descriptor (bitstream and driver from different versions?)",
        path.display()
    )]
    ShortRead {
        path: PathBuf,
        expected: usize,
        got: usize,
    },
    #[error("{dir} stream I/O on {} failed: {source}", path.display())]
    Io {
        dir: Dir,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the card reports an error (STATUS = 0x{status:08X}, ERR = 0x{err:08X}): {}",
        fmt_err_bits(bits)
    )]
    CardError {
        status: u32,
        err: u32,
        bits: Vec<ErrBit>,
    },
    #[error(
        "the job did not finish within {waited:?} (STATUS = 0x{status:08X}: {}): the engine is stuck or the \
         timeout is too short for this backend (see --timeout)",
        describe_status(*status)
    )]
    DoneTimeout { status: u32, waited: Duration },
    #[error("the device is unusable after an earlier failure ({0}); reopen it")]
    Broken(String),
    #[error("card model: {0}")]
    Model(String),
    /// The job protocol's checks (`spec::protocol`): output trailer, job count, stale DONE.
    #[error(transparent)]
    Protocol(#[from] spec::protocol::ProtocolError),
}

/// A [`Device`] as the job protocol's port (`spec::protocol`): control pulses through
/// [`pulse`], DONE within the device's own `done` timeout.
pub struct JobPort<'a>(pub &'a mut dyn Device);

impl spec::protocol::JobPort for JobPort<'_> {
    type Error = DeviceError;
    fn read_reg(&mut self, off: u32) -> Result<u32> {
        self.0.read_reg(off)
    }
    fn write_reg(&mut self, off: u32, value: u32) -> Result<()> {
        self.0.write_reg(off, value)
    }
    fn pulse(&mut self, ctrl: u32) -> Result<()> {
        self.0.pulse_ctrl(ctrl)
    }
    fn wait_done(&mut self) -> Result<()> {
        let t = self.0.timeouts().done;
        self.0.wait_done(t)
    }
}

/// Bring the card to a known state before a run: `SOFT_RESET` (abort any job, clear ERR and
/// the stream parser), `CLEAR_PERF`, and drop whatever an abandoned run left in the C2H stream.
pub fn reset_card(dev: &mut dyn Device) -> Result<usize> {
    pulse(dev, &[regs::CTRL_SOFT_RESET, regs::CTRL_CLEAR_PERF])?;
    dev.drain_c2h()
}

pub type Result<T, E = DeviceError> = std::result::Result<T, E>;

/// Human text for a STATUS value.
pub fn describe_status(status: u32) -> String {
    let set = regs::STATUS.set_fields(status);
    if set.is_empty() {
        "idle, no job finished".into()
    } else {
        set.join(" ")
    }
}

/// The device boundary. Offsets are byte addresses on the AXI4-Lite bus (from `spec::regs`).
pub trait Device {
    /// Short name for messages ("xdma /dev/xdma0", "sim tiny").
    fn name(&self) -> String;
    /// Read a 32-bit register.
    fn read_reg(&mut self, off: u32) -> Result<u32>;
    /// Write a 32-bit register.
    fn write_reg(&mut self, off: u32, value: u32) -> Result<()>;
    /// Send `data` on the H2C stream (whole 64-bit beats: `data.len()` is a multiple of 8).
    fn write_h2c(&mut self, data: &[u8]) -> Result<()>;
    /// Fill `buf` from the C2H stream: exactly `buf.len()` bytes, or an error (timeout, short read).
    fn read_c2h(&mut self, buf: &mut [u8]) -> Result<()>;
    /// Both directions at once: send `h2c` while filling `c2h` (the two DMA engines run in
    /// parallel, so the card's output keeps draining while the host's data goes in). The default
    /// does one after the other, which is correct but lets the card's output wait.
    fn exchange(&mut self, h2c: &[u8], c2h: &mut [u8]) -> Result<()> {
        if !h2c.is_empty() {
            self.write_h2c(h2c)?;
        }
        if !c2h.is_empty() {
            self.read_c2h(c2h)?;
        }
        Ok(())
    }
    /// The deadlines this backend applies.
    fn timeouts(&self) -> Timeouts;

    /// Throw away whatever the C2H stream still holds from an earlier, abandoned job (a killed or
    /// timed-out run), after a `SOFT_RESET`, so the next job's read gets only its own bytes.
    /// Returns the bytes dropped. Backends whose stream cannot hold stale bytes keep the default.
    fn drain_c2h(&mut self) -> Result<usize> {
        Ok(0)
    }

    /// Write control pulse bits (the whole `CTRL` word) and wait until the write has been
    /// taken: see [`pulse`].
    fn pulse_ctrl(&mut self, v: u32) -> Result<()> {
        self.write_reg(regs::CTRL.offset, v)?;
        let t0 = Instant::now();
        let limit = self.timeouts().done;
        let mut nap = Duration::from_micros(2);
        loop {
            let r = self.read_reg(regs::CTRL.offset)?;
            if r == 0 {
                return Ok(());
            }
            if t0.elapsed() >= limit {
                return Err(DeviceError::Model(format!(
                    "CTRL still reads 0x{r:08X} {:?} after the write: nothing takes control pulses \
                     (an emulated card that stopped, or a register window that is not the sqz engine's)",
                    t0.elapsed()
                )));
            }
            thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(1));
        }
    }

    /// Wait until `STATUS.DONE`; `STATUS.ERROR` becomes [`DeviceError::CardError`] naming the
    /// `ERR` bits. Backends with their own notion of time (an in-process model) override it.
    fn wait_done(&mut self, timeout: Duration) -> Result<()> {
        let t0 = Instant::now();
        let mut nap = Duration::from_micros(5);
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
            thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(2));
        }
    }
}

/// [`DeviceError::CardError`] with the `ERR` bits read from the card.
pub fn card_error<D: Device + ?Sized>(dev: &mut D, status: u32) -> DeviceError {
    match dev.read_reg(regs::ERR.offset) {
        Ok(err) => DeviceError::CardError {
            status,
            err,
            bits: err_bits(err),
        },
        Err(e) => e,
    }
}

/// Check `STATUS.ERROR` now (e.g. after a C2H timeout, the error bit is the better explanation).
pub fn check_error<D: Device + ?Sized>(dev: &mut D) -> Result<()> {
    let status = dev.read_reg(regs::STATUS.offset)?;
    if regs::STATUS_ERROR.get(status) != 0 {
        return Err(card_error(dev, status));
    }
    Ok(())
}

/// What the identification registers say.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CardInfo {
    pub id: u32,
    pub version: (u32, u32, u32),
    pub config_hash: u32,
    /// Preset whose configuration hashes to `config_hash`, if any.
    pub preset: Option<String>,
    pub pe_groups: u32,
    pub pixel_lanes: u32,
    pub weight_entries: u32,
}

/// Read ID, VERSION, CONFIG_HASH, CAPS and WEIGHT_CAP (no checks).
pub fn read_info<D: Device + ?Sized>(dev: &mut D) -> Result<CardInfo> {
    let id = dev.read_reg(regs::ID.offset)?;
    let v = dev.read_reg(regs::VERSION_REG.offset)?;
    let config_hash = dev.read_reg(regs::CONFIG_HASH.offset)?;
    let caps = dev.read_reg(regs::CAPS.offset)?;
    let weight_entries = dev.read_reg(regs::WEIGHT_CAP.offset)?;
    let [patch, minor, major] = regs::VERSION_FIELDS;
    Ok(CardInfo {
        id,
        version: (major.get(v), minor.get(v), patch.get(v)),
        config_hash,
        preset: AccelConfig::preset_for_hash(config_hash).map(|c| c.name),
        pe_groups: regs::CAPS_FIELDS[0].get(caps),
        pixel_lanes: regs::CAPS_FIELDS[1].get(caps),
        weight_entries,
    })
}

/// Refuse a card that is not an sqz engine built from `expected`.
pub fn check_identity<D: Device + ?Sized>(dev: &mut D, expected: &AccelConfig) -> Result<CardInfo> {
    let info = read_info(dev)?;
    if info.id != regs::ID_VALUE {
        return Err(DeviceError::WrongId {
            device: dev.name(),
            found: info.id,
            expected: regs::ID_VALUE,
        });
    }
    if info.config_hash != expected.config_hash() {
        let (found_preset, preset_flag) = match &info.preset {
            Some(p) => (format!("preset `{p}`"), format!(" (--preset {p})")),
            None => ("an unknown configuration".into(), String::new()),
        };
        return Err(DeviceError::ConfigMismatch {
            found: info.config_hash,
            found_preset,
            expected: expected.config_hash(),
            expected_preset: expected.name.clone(),
            preset_flag,
        });
    }
    Ok(info)
}

/// Write control pulse bits to `CTRL` and wait until the write has been taken. On a board `CTRL`
/// reads 0 at once (write-only pulses); an emulated card clears the word when it has forwarded
/// the pulse, so two pulses in a row are never merged.
pub fn pulse<D: Device + ?Sized>(dev: &mut D, fields: &[Field]) -> Result<()> {
    dev.pulse_ctrl(fields.iter().fold(0u32, |a, f| a | f.val(1)))
}

/// Abort any job, flush the streams, clear STATUS and ERR.
pub fn soft_reset<D: Device + ?Sized>(dev: &mut D) -> Result<()> {
    pulse(dev, &[regs::CTRL_SOFT_RESET])
}

pub use spec::perf::Perf;

/// Read all performance counters.
pub fn read_perf<D: Device + ?Sized>(dev: &mut D) -> Result<Perf> {
    Perf::read(|off| dev.read_reg(off))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_bits_are_named_from_spec() {
        let e = regs::ERR_BAD_DESC.val(1) | regs::ERR_ACT_OVERFLOW.val(1);
        let names: Vec<_> = err_bits(e).iter().map(|b| b.name).collect();
        assert_eq!(names, ["BAD_DESC", "ACT_OVERFLOW"]);
        assert_eq!(err_bits(1 << 31).last().unwrap().name, "UNKNOWN");
        let msg = DeviceError::CardError {
            status: regs::STATUS_ERROR.val(1),
            err: e,
            bits: err_bits(e),
        }
        .to_string();
        assert!(
            msg.contains("BAD_DESC") && msg.contains("ACT_OVERFLOW"),
            "{msg}"
        );
    }

    #[test]
    fn mismatch_message_names_both_presets() {
        let tiny = AccelConfig::tiny();
        let e = DeviceError::ConfigMismatch {
            found: AccelConfig::ecp5().config_hash(),
            found_preset: "preset `ecp5`".into(),
            expected: tiny.config_hash(),
            expected_preset: "tiny".into(),
            preset_flag: " (--preset ecp5)".into(),
        }
        .to_string();
        assert!(
            e.contains("ecp5") && e.contains("`tiny`") && e.contains("--preset tiny"),
            "{e}"
        );
    }

    #[test]
    fn status_text() {
        assert_eq!(describe_status(0), "idle, no job finished");
        assert_eq!(
            describe_status(regs::STATUS_BUSY.val(1) | regs::STATUS_ERROR.val(1)),
            "BUSY ERROR"
        );
    }
}
