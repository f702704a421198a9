//! The `xdma` backend: the card through the Xilinx XDMA driver's character devices.
//!
//! `<prefix>_user` (default prefix `/dev/xdma0`) is the AXI4-Lite register window: it is mapped
//! once with memmap2 (`MAP_SHARED`) and accessed with volatile 32-bit loads and stores, the only
//! `unsafe` of the driver. `<prefix>_h2c_0` is written and `<prefix>_c2h_0` read for the two
//! AXI4-Stream directions. The same code runs against the emulated card of `host::emulate`, whose
//! files are a regular register file and two named pipes.
//!
//! Blocking reads and writes of the stream files happen on one worker thread per direction
//! (`xdma/stream.rs`), so the caller waits on a channel with a deadline and a stuck DMA becomes [`DeviceError::DmaTimeout`]
//! instead of a hang. A stream whose transfer timed out is marked broken (its worker may still be
//! blocked in the kernel); registers stay usable so `info` and error decoding still work.
//!
//! Read semantics follow the file type: the XDMA character device's C2H file is opened with
//! `O_TRUNC`, which tells the XDMA driver to end a read at the card's end of packet (`tlast`,
//! its `eop_flush`); without it a read waits until the whole request is filled. So one `read(2)`
//! is one C2H transfer, and a short count is a [`DeviceError::ShortRead`]. On a pipe the bytes
//! are accumulated until the request is filled, and end-of-file (the emulated card closed the
//! stream) is the short read.
//!
//! Writes are whole stream beats: an H2C write whose length is not a multiple of
//! `spec::board::H2C_TRANSFER_MULTIPLE` is refused (the packet format is whole beats, so such a
//! write is a host bug; `tkeep` stays all ones on every H2C beat).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use memmap2::{MmapMut, MmapOptions};
use spec::regs;

use super::{Device, DeviceError, Dir, Result, Timeouts};

mod stream;
pub use stream::check_h2c_len;
use stream::Stream;

/// Default device prefix of the first XDMA card.
pub const DEFAULT_PREFIX: &str = "/dev/xdma0";

/// Bytes of the register window the driver maps: the register map rounded up to a page.
pub fn window_bytes() -> usize {
    let end = regs::REGISTERS.iter().map(|r| r.end()).max().unwrap_or(4) as usize;
    end.div_ceil(4096) * 4096
}

/// The three files of a device prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdmaPaths {
    pub user: PathBuf,
    pub h2c: PathBuf,
    pub c2h: PathBuf,
    /// An emulated card's liveness file: its emulator holds an exclusive `flock` on it while it
    /// serves the card (the kernel drops the lock when the emulator dies, however it dies).
    pub alive: PathBuf,
}

impl XdmaPaths {
    /// `<prefix>_user`, `<prefix>_h2c_0`, `<prefix>_c2h_0` (and `<prefix>_alive`).
    pub fn new(prefix: &str) -> XdmaPaths {
        XdmaPaths {
            user: PathBuf::from(format!("{prefix}_user")),
            h2c: PathBuf::from(format!("{prefix}_h2c_0")),
            c2h: PathBuf::from(format!("{prefix}_c2h_0")),
            alive: PathBuf::from(format!("{prefix}_alive")),
        }
    }

    /// For an emulated card: whether its emulator still serves it (holds the liveness lock).
    /// `Err` says why not.
    pub fn check_served(&self) -> std::result::Result<(), String> {
        let f = File::open(&self.alive).map_err(|e| {
            format!(
                "{} cannot be opened ({e}): the files are left from an emulator that is gone",
                self.alive.display()
            )
        })?;
        // A shared lock is granted only if no emulator holds its exclusive one.
        match f.try_lock_shared() {
            Ok(()) => Err("its emulator is gone (nothing holds the card's liveness lock)".into()),
            Err(std::fs::TryLockError::WouldBlock) => Ok(()),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(format!("cannot check {}: {e}", self.alive.display()))
            }
        }
    }

    /// Whether these are an emulated card's files: its C2H stream is a named pipe, where the
    /// XDMA driver's is a character device.
    pub fn is_emulated(&self) -> bool {
        std::fs::metadata(&self.c2h).is_ok_and(|m| m.file_type().is_fifo())
    }
}

/// How long the C2H pipe must stay empty before a drain ends.
const DRAIN_QUIET: Duration = Duration::from_millis(30);
/// Most bytes a drain throws away before it calls the card broken (more than any job's output).
const DRAIN_LIMIT: usize = 64 << 20;

/// The pid holding a `flock` on `file`, from `/proc/locks` (None when it cannot be told).
fn lock_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let ino = file.metadata().ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|l| {
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
        let f: Vec<&str> = l.split_whitespace().collect();
        let (kind, pid, dev) = (f.get(1)?, f.get(4)?, f.get(5)?);
        (*kind == "FLOCK" && dev.rsplit(':').next()?.parse::<u64>().ok()? == ino)
            .then(|| pid.parse().ok())
            .flatten()
    })
}

pub(super) fn open_error(path: &Path, e: io::Error) -> DeviceError {
    let path = path.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => {
            let s = path.to_string_lossy();
            let prefix = ["_user", "_h2c_0", "_c2h_0"]
                .iter()
                .find_map(|suf| s.strip_suffix(suf))
                .unwrap_or(&s)
                .to_string();
            DeviceError::NoDevice { path, prefix }
        }
        io::ErrorKind::PermissionDenied => DeviceError::Open {
            path,
            hint: " (run as root, or add a udev rule giving your user access to /dev/xdma*)",
            source: e,
        },
        _ => DeviceError::Open {
            path,
            hint: "",
            source: e,
        },
    }
}

/// A card behind XDMA device files (real or emulated).
pub struct XdmaDevice {
    prefix: String,
    paths: XdmaPaths,
    /// The register file, kept open: [`XdmaDevice::lock`] holds its `flock` while it is open.
    user: File,
    map: MmapMut,
    h2c: Option<Stream>,
    c2h: Option<Stream>,
    timeouts: Timeouts,
}

impl XdmaDevice {
    /// Map `<prefix>_user`; the stream files are checked now and opened at first use (so `info`
    /// needs only the register window).
    pub fn open(prefix: &str, timeouts: Timeouts) -> Result<XdmaDevice> {
        let paths = XdmaPaths::new(prefix);
        for p in [&paths.user, &paths.h2c, &paths.c2h] {
            if let Err(e) = std::fs::metadata(p) {
                return Err(open_error(p, e));
            }
        }
        if paths.is_emulated() {
            // Registers of a dead emulator's file would read as a live, busy card.
            paths
                .check_served()
                .map_err(|reason| DeviceError::NotServed {
                    prefix: prefix.to_string(),
                    reason,
                })?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&paths.user)
            .map_err(|e| open_error(&paths.user, e))?;
        let len = window_bytes();
        let meta = file.metadata().map_err(|e| open_error(&paths.user, e))?;
        // A regular file (the emulated card) must cover the window; the XDMA device reports 0.
        if meta.file_type().is_file() && (meta.len() as usize) < len {
            return Err(DeviceError::Map {
                path: paths.user.clone(),
                reason: format!(
                    "the file holds {} bytes, the register map needs {len}",
                    meta.len()
                ),
            });
        }
        // SAFETY: the mapping is MAP_SHARED on the card's register window (or the emulator's
        // register file). Other parties (the card, the emulator) change it underneath us, which is
        // why every access goes through `read_volatile`/`write_volatile` on aligned u32 slots
        // inside `len` (checked by `slot`) and no Rust reference into it is ever handed out.
        let map = unsafe { MmapOptions::new().len(len).map_mut(&file) }.map_err(|e| {
            DeviceError::Map {
                path: paths.user.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(XdmaDevice {
            prefix: prefix.to_string(),
            paths,
            user: file,
            map,
            h2c: None,
            c2h: None,
            timeouts,
        })
    }

    /// Take the card for this process alone: an exclusive `flock` on the register file, held
    /// until the device is dropped. Another holder makes this [`DeviceError::Busy`] at once, or,
    /// with `wait`, after waiting that long for it to let go. (`info` reads registers without
    /// the lock, so it works while a job runs.)
    pub fn lock(&mut self, wait: Option<Duration>) -> Result<()> {
        use std::os::fd::AsRawFd;
        let deadline = wait.map(|w| Instant::now() + w);
        loop {
            // SAFETY: flock on a file descriptor this struct owns and keeps open; no memory is
            // passed to the kernel.
            let r = unsafe { libc::flock(self.user.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(DeviceError::Open {
                    path: self.paths.user.clone(),
                    hint: " (locking the card)",
                    source: e,
                });
            }
            match deadline {
                Some(d) if Instant::now() < d => thread::sleep(Duration::from_millis(20)),
                _ => {
                    return Err(DeviceError::Busy {
                        path: self.paths.user.clone(),
                        holder: lock_holder(&self.user),
                    })
                }
            }
        }
    }

    pub fn paths(&self) -> &XdmaPaths {
        &self.paths
    }

    pub fn set_timeouts(&mut self, t: Timeouts) {
        self.timeouts = t;
    }

    fn slot(&self, off: u32) -> Result<usize> {
        let o = off as usize;
        if !off.is_multiple_of(4) || o + 4 > self.map.len() {
            return Err(DeviceError::BadOffset {
                off,
                len: self.map.len(),
            });
        }
        Ok(o)
    }

    /// Take the stream out of `self` (opening it at first use) so the transfer can read
    /// registers while it waits; [`XdmaDevice::put`] gives it back.
    /// Both directions are opened together at the first transfer, so the card's output stream
    /// is open before any job can produce output.
    fn take(&mut self, dir: Dir) -> Result<Stream> {
        if self.h2c.is_none() && self.c2h.is_none() {
            self.h2c = Some(Stream::open(Dir::H2c, &self.paths.h2c, self.timeouts.open)?);
            self.c2h = Some(Stream::open(Dir::C2h, &self.paths.c2h, self.timeouts.open)?);
        }
        let (slot, path) = match dir {
            Dir::H2c => (&mut self.h2c, &self.paths.h2c),
            Dir::C2h => (&mut self.c2h, &self.paths.c2h),
        };
        match slot.take() {
            Some(s) => Ok(s),
            None => Stream::open(dir, path, self.timeouts.open),
        }
    }

    fn put(&mut self, s: Stream) {
        match s.dir {
            Dir::H2c => self.h2c = Some(s),
            Dir::C2h => self.c2h = Some(s),
        }
    }

    /// `Err(CardError)` when the card's `STATUS.ERROR` is set.
    fn check_card(&mut self) -> Result<()> {
        super::check_error(self)
    }
}

impl Device for XdmaDevice {
    fn name(&self) -> String {
        format!("xdma {}", self.prefix)
    }

    fn read_reg(&mut self, off: u32) -> Result<u32> {
        let o = self.slot(off)?;
        fence(Ordering::SeqCst);
        // SAFETY: `o` is 4-byte aligned and `o + 4 <= len` (checked by `slot`); the mapping is
        // page aligned and lives as long as `self`.
        Ok(unsafe { std::ptr::read_volatile(self.map.as_ptr().add(o) as *const u32) })
    }

    fn write_reg(&mut self, off: u32, value: u32) -> Result<()> {
        let o = self.slot(off)?;
        // SAFETY: as in `read_reg`; we hold `&mut self`, so no other access of ours overlaps.
        unsafe { std::ptr::write_volatile(self.map.as_mut_ptr().add(o) as *mut u32, value) };
        // Stores reach the card (or the emulator watching the file) in program order.
        fence(Ordering::SeqCst);
        Ok(())
    }

    fn write_h2c(&mut self, data: &[u8]) -> Result<()> {
        check_h2c_len(&self.paths.h2c, data.len())?;
        let t = self.timeouts.dma;
        let mut s = self.take(Dir::H2c)?;
        let r = s.write(data, t, &mut || self.check_card());
        self.put(s);
        r
    }

    fn read_c2h(&mut self, buf: &mut [u8]) -> Result<()> {
        let t = self.timeouts.dma;
        let mut s = self.take(Dir::C2h)?;
        let r = s.read(buf, t, &mut || self.check_card());
        self.put(s);
        r
    }

    fn exchange(&mut self, h2c: &[u8], c2h: &mut [u8]) -> Result<()> {
        if h2c.is_empty() || c2h.is_empty() {
            if !h2c.is_empty() {
                self.write_h2c(h2c)?;
            }
            if !c2h.is_empty() {
                self.read_c2h(c2h)?;
            }
            return Ok(());
        }
        let t = self.timeouts.dma;
        let mut w = self.take(Dir::H2c)?;
        if let Err(e) = w.start_write(h2c) {
            self.put(w);
            return Err(e);
        }
        // The H2C worker writes while this thread reads; then collect the write's reply.
        let read = match self.take(Dir::C2h) {
            Ok(mut r) => {
                let res = r.read(c2h, t, &mut || self.check_card());
                self.put(r);
                res
            }
            Err(e) => Err(e),
        };
        let wrote = w.finish_write(h2c.len(), t, &mut || self.check_card());
        self.put(w);
        read.and(wrote)
    }

    /// On a named pipe (an emulated card), read without blocking until the pipe is empty; a
    /// card that keeps sending past `DRAIN_LIMIT` bytes is an error. On the XDMA character
    /// device a read is a whole DMA transfer that blocks until the card ends one, so nothing is
    /// drained there (the engine's `SOFT_RESET` empties its own output FIFO).
    fn drain_c2h(&mut self) -> Result<usize> {
        use std::os::unix::fs::OpenOptionsExt;
        if !self.paths.is_emulated() {
            return Ok(0);
        }
        let path = self.paths.c2h.clone();
        let mut f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| open_error(&path, e))?;
        // Let bytes the card had in flight arrive, then read until the pipe stays empty.
        let mut dropped = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < DRAIN_QUIET {
            match f.read(&mut buf) {
                Ok(0) => thread::sleep(Duration::from_millis(2)),
                Ok(n) => {
                    dropped += n;
                    quiet_since = Instant::now();
                    if dropped > DRAIN_LIMIT {
                        return Err(DeviceError::Broken(format!(
                            "{} kept sending after SOFT_RESET ({dropped} bytes drained): the card does not stop",
                            path.display()
                        )));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(2))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(DeviceError::Io {
                        dir: Dir::C2h,
                        path,
                        source: e,
                    })
                }
            }
        }
        Ok(dropped)
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }
}
