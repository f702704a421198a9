//! The card behind XDMA-like files: `DIR/xdma0_user` (a regular register file the driver maps),
//! `DIR/xdma0_h2c_0` and `DIR/xdma0_c2h_0` (named pipes), served by a thread that owns a
//! [`CardModel`]. The `xdma` backend opened with `--device DIR/xdma0` then runs its real code
//! path (open, mmap, volatile accesses, read, write) against the model.
//!
//! Registers: the emulator keeps the image it last published. Each turn it reads the file; a word
//! that differs from the published one was written by the host and is forwarded to the model as
//! an AXI4-Lite write. The write-only pulse words (`CTRL`) are read first and forwarded after the
//! data words of the same turn (a host always writes the descriptor before `START`), then reset to
//! 0 in the file, which is how the host knows the pulse was taken (`device::pulse`). Readable
//! registers are then republished from the model. A W1C write is seen only if it differs from the
//! published value; the driver clears errors with `SOFT_RESET` or writes all ones to `ERR`.
//!
//! The file is read and written with `pread`/`pwrite` (the page cache is shared with the
//! driver's `MAP_SHARED` mapping), so the emulator needs no `unsafe`. The pipes are opened
//! read-write and non-blocking: opening never waits for the driver, and the loop never blocks.
//!
//! [`Faults`] break the card on purpose for the driver's error tests.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::serve::Card;
use super::CardModel;
use crate::device::xdma::{window_bytes, XdmaPaths};

/// Ways to break the emulated card.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Discard every C2H byte (the host's read times out).
    pub drop_c2h: bool,
    /// Send only this many bytes of each job's output, then close the C2H stream (a short read)
    /// until the next `SOFT_RESET`.
    pub truncate_c2h: Option<usize>,
    /// Report this `ID` instead of the model's.
    pub id: Option<u32>,
    /// Report this `CONFIG_HASH` instead of the model's.
    pub config_hash: Option<u32>,
    /// Refuse `START` and raise these `ERR` bits instead (cleared by `SOFT_RESET`).
    pub error_on_start: Option<u32>,
    /// Never read H2C (the host's writes block once the pipe is full).
    pub stall_h2c: bool,
    /// Send C2H one byte per this interval (a card that keeps the host waiting byte by byte).
    pub trickle_c2h: Option<Duration>,
    /// Do not create these files (suffixes: "_user", "_h2c_0", "_c2h_0").
    pub omit: Vec<String>,
    /// Flip the low bit of this byte of the first job's C2H output (a corrupted transfer).
    pub corrupt_c2h_byte: Option<usize>,
    /// Send zeros in place of every C2H byte (a card that sends nothing meaningful).
    pub zero_c2h: bool,
    /// Put these bytes on C2H at the first START, ahead of the job's own output (bytes left
    /// over from an earlier run).
    pub stray_c2h: Vec<u8>,
    /// STATUS.DONE always reads as set and START is ignored (a card that takes no job but
    /// says it is done).
    pub stuck_done: bool,
    /// Every performance counter (PERF_*, both words) reads as this value.
    pub perf_value: Option<u32>,
}

/// How to run the emulator.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// File name prefix inside the directory (`xdma0` -> `xdma0_user`, ...).
    pub name: String,
    pub faults: Faults,
    /// Model cycles per turn while the card has work.
    pub cycles_per_turn: u64,
    /// Sleep between turns while the card is idle.
    pub idle_sleep: Duration,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            name: "xdma0".into(),
            faults: Faults::default(),
            cycles_per_turn: 20_000,
            idle_sleep: Duration::from_micros(100),
        }
    }
}

/// What the emulator did, returned by [`Emulator::stop`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmulatorStats {
    pub cycles: u64,
    pub reg_writes: u64,
    pub h2c_bytes: u64,
    pub c2h_bytes: u64,
    /// Turns of the serving loop, and those that found nothing to do (and slept).
    pub turns: u64,
    pub idle_turns: u64,
    /// Wall time spent clocking the model.
    pub model_time: Duration,
}

/// A running emulated card. Dropping it stops the card and removes its files.
pub struct Emulator {
    prefix: String,
    paths: XdmaPaths,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<EmulatorStats, String>>>,
    /// The liveness file, locked while the card is served.
    alive: Option<File>,
}

pub(super) fn model_err(e: String) -> io::Error {
    io::Error::other(format!("card model: {e}"))
}

fn mkfifo(path: &Path) -> io::Result<()> {
    // std has no mkfifo; the coreutils command avoids unsafe FFI here.
    let out = std::process::Command::new("mkfifo")
        .arg("-m")
        .arg("600")
        .arg(path)
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "mkfifo {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub(super) fn open_pipe(path: &Path) -> io::Result<File> {
    // Read-write: never waits for a peer, and the pipe never reports end-of-file to us.
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Create the liveness file and hold an exclusive `flock` on it for as long as the returned file
/// is open (see [`XdmaPaths::alive`]).
fn hold_alive(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    f.try_lock()
        .map_err(|e| io::Error::other(format!("locking {}: {e}", path.display())))?;
    Ok(f)
}

impl Emulator {
    /// Create the files in `dir` and start serving them with the model `make_model` builds (on the
    /// emulator's thread, so the model need not be `Send`). Stale files from an earlier run are
    /// replaced.
    pub fn start<F>(dir: &Path, opts: EmulatorOptions, make_model: F) -> io::Result<Emulator>
    where
        F: FnOnce() -> Result<Box<dyn CardModel>, String> + Send + 'static,
    {
        std::fs::create_dir_all(dir)?;
        let prefix = dir.join(&opts.name).to_string_lossy().into_owned();
        let paths = XdmaPaths::new(&prefix);
        for p in [&paths.user, &paths.h2c, &paths.c2h, &paths.alive] {
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let alive = hold_alive(&paths.alive)?;
        let omit = |suffix: &str| opts.faults.omit.iter().any(|o| o == suffix);
        let user = if omit("_user") {
            None
        } else {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&paths.user)?;
            f.set_len(window_bytes() as u64)?;
            Some(f)
        };
        let pipe = |p: &Path, suffix: &str| -> io::Result<Option<File>> {
            if omit(suffix) {
                return Ok(None);
            }
            mkfifo(p)?;
            open_pipe(p).map(Some)
        };
        let h2c = pipe(&paths.h2c, "_h2c_0")?;
        let c2h = pipe(&paths.c2h, "_c2h_0")?;
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread_stop = stop.clone();
        let c2h_path = paths.c2h.clone();
        let thread = thread::Builder::new()
            .name("sqz-emulator".into())
            .spawn(move || {
                let model = match make_model() {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                let mut card = Card::new(model, opts, user, h2c, c2h, c2h_path);
                if let Err(e) = card.publish_all() {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return Err(e.to_string());
                }
                let _ = ready_tx.send(Ok(()));
                card.serve(&thread_stop).map_err(|e| e.to_string())
            })?;
        let mut emu = Emulator {
            prefix,
            paths,
            stop,
            thread: Some(thread),
            alive: Some(alive),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(emu),
            Ok(Err(e)) => {
                let _ = emu.shutdown();
                Err(io::Error::other(format!(
                    "emulated card failed to start: {e}"
                )))
            }
            Err(_) => {
                let e = emu
                    .shutdown()
                    .err()
                    .unwrap_or_else(|| "emulator thread ended".into());
                Err(io::Error::other(format!(
                    "emulated card failed to start: {e}"
                )))
            }
        }
    }

    /// The device prefix to give the driver (`--device`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn paths(&self) -> &XdmaPaths {
        &self.paths
    }

    /// Whether the serving thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn shutdown(&mut self) -> Result<EmulatorStats, String> {
        self.stop.store(true, Ordering::SeqCst);
        let r = match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err("the emulator thread panicked".into())),
            None => Err("already stopped".into()),
        };
        for p in [&self.paths.user, &self.paths.h2c, &self.paths.c2h] {
            let _ = std::fs::remove_file(p);
        }
        // Last: the files are gone before the card says it is no longer served.
        let _ = std::fs::remove_file(&self.paths.alive);
        self.alive = None;
        r
    }

    /// Stop serving, remove the files, and report what was done (or why the card died).
    pub fn stop(mut self) -> Result<EmulatorStats, String> {
        self.shutdown()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shutdown();
        }
    }
}
