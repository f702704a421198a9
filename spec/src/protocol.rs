//! The job protocol, written once for every driver of the engine: the host's sequencer (over any
//! `Device`: a board, the emulated card, the Verilated RTL) and the Verilator harness's own
//! suites (`sim::rtl`).
//!
//! A job is: its descriptor words into `DESC`, a `START` pulse (which must clear `DONE`), the
//! job's C2H output read by the driver in whatever pieces it likes (payload, then the trailer of
//! [`crate::trailer`]), `DONE`, and `PERF_JOBS` having counted exactly this job. Each driver
//! brings its own register access, control pulse and wait for `DONE` through [`JobPort`].

use crate::descriptor::{DescError, Descriptor};
use crate::regs;
use crate::trailer::{check_job_output, TrailerError};

/// What the protocol found wrong with a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("descriptor does not encode: {0}")]
    Descriptor(#[from] DescError),
    #[error("the card's output for job {seq} cannot be trusted: {source}")]
    BadOutput { seq: u32, source: TrailerError },
    #[error(
        "PERF_JOBS = {got} after job {want} reported DONE: DONE was not cleared by START, or the card ran \
         jobs the host did not start"
    )]
    JobCount { got: u32, want: u32 },
    #[error(
        "STATUS.DONE is set after START of job {seq} but PERF_JOBS = {jobs} has not counted it \
         (STATUS = 0x{status:08X}): the card did not take the job, or its counters are wrong"
    )]
    DoneNotCleared { seq: u32, status: u32, jobs: u32 },
}

/// How one driver reaches the engine's registers and waits for a job.
pub trait JobPort {
    type Error: From<ProtocolError>;
    fn read_reg(&mut self, off: u32) -> Result<u32, Self::Error>;
    fn write_reg(&mut self, off: u32, value: u32) -> Result<(), Self::Error>;
    /// Write control pulse bits to `CTRL` (and wait until the card took them, where it must).
    fn pulse(&mut self, ctrl: u32) -> Result<(), Self::Error>;
    /// Wait until `STATUS.DONE`, within the driver's own bound; an error bit is an error.
    fn wait_done(&mut self) -> Result<(), Self::Error>;
}

/// Write `d` into `DESC` and start it. Returns the job's number: the value `PERF_JOBS` takes
/// once it is done, which its trailer carries. A `DONE` still set after `START` while
/// `PERF_JOBS` has not counted the job is refused (a stale `DONE`: the card did not take it).
pub fn start_job<P: JobPort + ?Sized>(port: &mut P, d: &Descriptor) -> Result<u32, P::Error> {
    let words = d.pack().map_err(ProtocolError::from)?;
    for (i, w) in words.iter().enumerate() {
        port.write_reg(regs::DESC.at(i as u32), *w)?;
    }
    let seq = port.read_reg(regs::PERF_JOBS.offset)?.wrapping_add(1);
    port.pulse(regs::CTRL_START.val(1))?;
    let status = port.read_reg(regs::STATUS.offset)?;
    if regs::STATUS_DONE.get(status) != 0 {
        let jobs = port.read_reg(regs::PERF_JOBS.offset)?;
        if jobs != seq {
            return Err(ProtocolError::DoneNotCleared { seq, status, jobs }.into());
        }
    }
    Ok(seq)
}

/// Finish job `seq` whose whole C2H `output` (payload and trailer) the driver has read: wait
/// for `DONE`, then check that the trailer is this job's and the payload whole and uncorrupted,
/// and that `PERF_JOBS` counted exactly this job. Returns the payload.
pub fn finish_job<'a, P: JobPort + ?Sized>(
    port: &mut P,
    output: &'a [u8],
    seq: u32,
) -> Result<&'a [u8], P::Error> {
    port.wait_done()?;
    let jobs = port.read_reg(regs::PERF_JOBS.offset)?;
    let payload =
        check_job_output(output, seq).map_err(|source| ProtocolError::BadOutput { seq, source })?;
    if jobs != seq {
        return Err(ProtocolError::JobCount {
            got: jobs,
            want: seq,
        }
        .into());
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trailer::Trailer;

    /// A register file that counts jobs when DONE is waited for (or never, when `stuck`).
    struct Card {
        regs: std::collections::HashMap<u32, u32>,
        stuck_done: bool,
    }

    impl JobPort for Card {
        type Error = ProtocolError;
        fn read_reg(&mut self, off: u32) -> Result<u32, ProtocolError> {
            Ok(*self.regs.get(&off).unwrap_or(&0))
        }
        fn write_reg(&mut self, off: u32, value: u32) -> Result<(), ProtocolError> {
            self.regs.insert(off, value);
            Ok(())
        }
        fn pulse(&mut self, _ctrl: u32) -> Result<(), ProtocolError> {
            if !self.stuck_done {
                self.regs.insert(regs::STATUS.offset, 0);
            }
            Ok(())
        }
        fn wait_done(&mut self) -> Result<(), ProtocolError> {
            if !self.stuck_done {
                *self.regs.entry(regs::PERF_JOBS.offset).or_default() += 1;
            }
            Ok(())
        }
    }

    fn output(payload: &[u8], seq: u32) -> Vec<u8> {
        let mut v = payload.to_vec();
        v.extend(Trailer::of_payload(seq, payload).to_bytes());
        v
    }

    #[test]
    fn a_job_is_numbered_checked_and_counted() {
        let mut card = Card {
            regs: [(regs::PERF_JOBS.offset, 6)].into(),
            stuck_done: false,
        };
        let seq = start_job(&mut card, &Descriptor::default()).unwrap();
        assert_eq!(seq, 7);
        let out = output(&[1, 2, 3, 4, 5, 6, 7, 8], seq);
        assert_eq!(finish_job(&mut card, &out, seq).unwrap(), &out[..8]);
        // Another job's trailer, a flipped byte: refused.
        let seq = start_job(&mut card, &Descriptor::default()).unwrap();
        let mut bad = output(&[9; 8], seq);
        bad[3] ^= 1;
        assert!(matches!(
            finish_job(&mut card, &bad, seq),
            Err(ProtocolError::BadOutput { seq: 8, .. })
        ));
    }

    #[test]
    fn a_stale_done_and_an_uncounted_job_are_refused() {
        let mut card = Card {
            regs: [(regs::STATUS.offset, regs::STATUS_DONE.val(1))].into(),
            stuck_done: true,
        };
        assert!(matches!(
            start_job(&mut card, &Descriptor::default()),
            Err(ProtocolError::DoneNotCleared {
                seq: 1,
                jobs: 0,
                ..
            })
        ));
        card.regs.insert(regs::STATUS.offset, 0);
        let seq = start_job(&mut card, &Descriptor::default()).unwrap();
        assert!(matches!(
            finish_job(&mut card, &output(&[], seq), seq),
            Err(ProtocolError::JobCount { got: 0, want: 1 })
        ));
    }
}
