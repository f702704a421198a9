//! One AXI4-Stream direction of the `xdma` backend ([`Stream`]): the stream file is opened and
//! served by a worker thread of its own, so the caller waits on a channel with a deadline and a
//! stuck DMA becomes [`DeviceError::DmaTimeout`] instead of a hang; the read and write semantics
//! of an XDMA character device (one call = one transfer) and of a pipe (accumulate until filled);
//! and the whole-beat rule of H2C writes ([`check_h2c_len`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use super::open_error;
use crate::device::{DeviceError, Dir, Result};

/// How one stream file transfers data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// XDMA character device: one read or write call is one DMA transfer.
    CharDevice,
    /// A pipe or anything else: accumulate until the request is filled.
    Pipe,
}

enum Job {
    Write(Vec<u8>),
    Read(usize),
}

enum Reply {
    Opened(io::Result<()>),
    Wrote(io::Result<()>),
    Read(io::Result<Vec<u8>>),
}

/// One stream direction served by its worker thread.
pub(super) struct Stream {
    pub(super) dir: Dir,
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    replies: mpsc::Receiver<Reply>,
    /// Bytes moved by the current job so far (for timeout messages and progress-based deadlines).
    progress: Arc<AtomicUsize>,
    broken: Option<String>,
}

impl Stream {
    pub(super) fn open(dir: Dir, path: &Path, timeout: Duration) -> Result<Stream> {
        let kind = match std::fs::metadata(path) {
            Ok(m) if m.file_type().is_char_device() => Kind::CharDevice,
            Ok(_) => Kind::Pipe,
            Err(e) => return Err(open_error(path, e)),
        };
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (reply_tx, replies) = mpsc::channel::<Reply>();
        let progress = Arc::new(AtomicUsize::new(0));
        let worker_path = path.to_path_buf();
        let worker_progress = progress.clone();
        thread::Builder::new()
            .name(format!("sqz-{dir}"))
            .spawn(move || worker(dir, kind, worker_path, job_rx, reply_tx, worker_progress))
            .map_err(|e| DeviceError::Open {
                path: path.to_path_buf(),
                hint: "",
                source: e,
            })?;
        match replies.recv_timeout(timeout) {
            Ok(Reply::Opened(Ok(()))) => {}
            Ok(Reply::Opened(Err(e))) => return Err(open_error(path, e)),
            Ok(_) => unreachable!("the worker answers the open first"),
            Err(_) => {
                return Err(DeviceError::OpenTimeout {
                    path: path.to_path_buf(),
                    waited: timeout,
                })
            }
        }
        Ok(Stream {
            dir,
            path: path.to_path_buf(),
            jobs,
            replies,
            progress,
            broken: None,
        })
    }

    fn check(&self) -> Result<()> {
        match &self.broken {
            Some(why) => Err(DeviceError::Broken(why.clone())),
            None => Ok(()),
        }
    }

    /// Wait for the worker's reply until the absolute deadline `timeout` after the start: a card
    /// that trickles bytes cannot stretch it. `check` runs between slices (the card's error bit
    /// ends the wait early).
    fn wait(
        &mut self,
        bytes: usize,
        timeout: Duration,
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Reply> {
        let t0 = Instant::now();
        loop {
            let left = timeout.saturating_sub(t0.elapsed());
            let slice = left.min(Duration::from_millis(50));
            match self.replies.recv_timeout(slice) {
                Ok(r) => return Ok(r),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.broken = Some(format!("the {} worker thread ended", self.dir));
                    return Err(DeviceError::Broken(self.broken.clone().unwrap_or_default()));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = check() {
                        // The transfer is still outstanding in the worker: the stream is lost.
                        self.broken = Some(e.to_string());
                        return Err(e);
                    }
                    if t0.elapsed() >= timeout {
                        let e = DeviceError::DmaTimeout {
                            dir: self.dir,
                            path: self.path.clone(),
                            bytes,
                            done: self.progress.load(Ordering::Relaxed),
                            waited: t0.elapsed(),
                        };
                        self.broken = Some(e.to_string());
                        return Err(e);
                    }
                }
            }
        }
    }

    pub(super) fn write(
        &mut self,
        data: &[u8],
        timeout: Duration,
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        self.start_write(data)?;
        self.finish_write(data.len(), timeout, check)
    }

    /// Hand `data` to the worker; the transfer runs while the caller does something else.
    pub(super) fn start_write(&mut self, data: &[u8]) -> Result<()> {
        self.check()?;
        self.progress.store(0, Ordering::Relaxed);
        if self.jobs.send(Job::Write(data.to_vec())).is_err() {
            self.broken = Some("the H2C worker thread ended".into());
            return self.check();
        }
        Ok(())
    }

    /// Wait for the write `start_write` began.
    pub(super) fn finish_write(
        &mut self,
        bytes: usize,
        timeout: Duration,
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        match self.wait(bytes, timeout, check)? {
            Reply::Wrote(Ok(())) => Ok(()),
            Reply::Wrote(Err(e)) => Err(self.io_error(e)),
            _ => unreachable!("a write job gets a write reply"),
        }
    }

    pub(super) fn read(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
        check: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        self.check()?;
        self.progress.store(0, Ordering::Relaxed);
        if self.jobs.send(Job::Read(buf.len())).is_err() {
            self.broken = Some("the C2H worker thread ended".into());
            return self.check();
        }
        match self.wait(buf.len(), timeout, check)? {
            Reply::Read(Ok(data)) if data.len() == buf.len() => {
                buf.copy_from_slice(&data);
                Ok(())
            }
            Reply::Read(Ok(data)) => {
                let e = DeviceError::ShortRead {
                    path: self.path.clone(),
                    expected: buf.len(),
                    got: data.len(),
                };
                // The stream position is lost: later jobs would read misaligned output.
                self.broken = Some(e.to_string());
                Err(e)
            }
            Reply::Read(Err(e)) => Err(self.io_error(e)),
            _ => unreachable!("a read job gets a read reply"),
        }
    }

    fn io_error(&mut self, e: io::Error) -> DeviceError {
        let e = DeviceError::Io {
            dir: self.dir,
            path: self.path.clone(),
            source: e,
        };
        self.broken = Some(e.to_string());
        e
    }
}

/// The worker: opens the file (which may block on a pipe without a peer), then serves jobs.
fn worker(
    dir: Dir,
    kind: Kind,
    path: PathBuf,
    jobs: mpsc::Receiver<Job>,
    replies: mpsc::Sender<Reply>,
    progress: Arc<AtomicUsize>,
) {
    let opened = match (dir, kind) {
        (Dir::H2c, _) => OpenOptions::new().write(true).open(&path),
        // The XDMA driver ends a C2H read at end of packet only when the file is opened with
        // O_TRUNC (`engine->eop_flush`, cdev_sgdma.c).
        (Dir::C2h, Kind::CharDevice) => {
            use std::os::unix::fs::OpenOptionsExt;
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_TRUNC)
                .open(&path)
        }
        (Dir::C2h, Kind::Pipe) => OpenOptions::new().read(true).open(&path),
    };
    let mut file: File = match opened {
        Ok(f) => {
            if replies.send(Reply::Opened(Ok(()))).is_err() {
                return;
            }
            f
        }
        Err(e) => {
            let _ = replies.send(Reply::Opened(Err(e)));
            return;
        }
    };
    for job in jobs {
        let reply = match job {
            Job::Write(data) => Reply::Wrote(write_all(&mut file, kind, &data, &progress)),
            Job::Read(n) => Reply::Read(read_n(&mut file, kind, n, &progress)),
        };
        if replies.send(reply).is_err() {
            return;
        }
    }
}

/// Refuse an H2C write that is not whole stream beats (`spec::board::H2C_TRANSFER_MULTIPLE`).
pub fn check_h2c_len(path: &Path, len: usize) -> Result<()> {
    if spec::board::h2c_padded_len(len) == len {
        return Ok(());
    }
    Err(DeviceError::Io {
        dir: Dir::H2c,
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "an H2C write of {len} bytes is not whole {}-byte beats",
                spec::board::H2C_TRANSFER_MULTIPLE
            ),
        ),
    })
}

/// Pipes take the data in pieces so progress is visible; the XDMA device takes one transfer.
fn write_all(file: &mut File, kind: Kind, data: &[u8], progress: &AtomicUsize) -> io::Result<()> {
    let piece = match kind {
        Kind::CharDevice => data.len().max(1),
        Kind::Pipe => 64 * 1024,
    };
    for chunk in data.chunks(piece) {
        file.write_all(chunk)?;
        progress.fetch_add(chunk.len(), Ordering::Relaxed);
    }
    file.flush()
}

fn read_n(file: &mut File, kind: Kind, n: usize, progress: &AtomicUsize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let k = match file.read(&mut buf[got..]) {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        got += k;
        progress.fetch_add(k, Ordering::Relaxed);
        // XDMA: a transfer ends at tlast; a pipe: 0 is end-of-file.
        if k == 0 || kind == Kind::CharDevice {
            break;
        }
    }
    buf.truncate(got);
    Ok(buf)
}
