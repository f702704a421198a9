//! What the host itself spends on a step: the calling thread's CPU time, less the CPU time spent
//! inside the device's calls (transfers, register accesses, waiting for DONE). What remains is
//! the sequencer's own work: building packets and inputs, streaming the next input, parsing the
//! output, stitching tiles.

use std::time::Duration;

use crate::device::{Device, Result, Timeouts};

/// CPU time of the calling thread (what the host spends, whatever else the machine runs).
pub(super) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A device that counts the thread's CPU time spent inside its calls.
pub(super) struct Metered<'a> {
    dev: &'a mut dyn Device,
    inside: Duration,
}

impl<'a> Metered<'a> {
    pub(super) fn new(dev: &'a mut dyn Device) -> Metered<'a> {
        Metered {
            dev,
            inside: Duration::ZERO,
        }
    }

    /// CPU time spent inside the device's calls so far.
    pub(super) fn inside(&self) -> Duration {
        self.inside
    }

    fn timed<T>(&mut self, f: impl FnOnce(&mut dyn Device) -> T) -> T {
        let t0 = thread_cpu_time();
        let r = f(&mut *self.dev);
        self.inside += thread_cpu_time().saturating_sub(t0);
        r
    }
}

impl Device for Metered<'_> {
    fn name(&self) -> String {
        self.dev.name()
    }
    fn read_reg(&mut self, off: u32) -> Result<u32> {
        self.timed(|d| d.read_reg(off))
    }
    fn write_reg(&mut self, off: u32, value: u32) -> Result<()> {
        self.timed(|d| d.write_reg(off, value))
    }
    fn write_h2c(&mut self, data: &[u8]) -> Result<()> {
        self.timed(|d| d.write_h2c(data))
    }
    fn read_c2h(&mut self, buf: &mut [u8]) -> Result<()> {
        self.timed(|d| d.read_c2h(buf))
    }
    fn exchange(&mut self, h2c: &[u8], c2h: &mut [u8]) -> Result<()> {
        self.timed(|d| d.exchange(h2c, c2h))
    }
    fn timeouts(&self) -> Timeouts {
        self.dev.timeouts()
    }
    fn drain_c2h(&mut self) -> Result<usize> {
        self.timed(|d| d.drain_c2h())
    }
    fn pulse_ctrl(&mut self, v: u32) -> Result<()> {
        self.timed(|d| d.pulse_ctrl(v))
    }
    fn wait_done(&mut self, timeout: Duration) -> Result<()> {
        self.timed(|d| d.wait_done(timeout))
    }
}

/// The host's own CPU time over a stretch of work on `dev` (see the module's text).
pub(super) struct HostClock {
    cpu0: Duration,
    inside0: Duration,
}

impl HostClock {
    pub(super) fn start(dev: &Metered) -> HostClock {
        HostClock {
            cpu0: thread_cpu_time(),
            inside0: dev.inside(),
        }
    }

    pub(super) fn elapsed(&self, dev: &Metered) -> Duration {
        let cpu = thread_cpu_time().saturating_sub(self.cpu0);
        cpu.saturating_sub(dev.inside().saturating_sub(self.inside0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device whose H2C writes burn CPU time, and a host that burns some of its own.
    struct BusyDevice;

    fn burn(d: Duration) {
        let t0 = thread_cpu_time();
        let mut x = 0u64;
        while thread_cpu_time().saturating_sub(t0) < d {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }

    impl Device for BusyDevice {
        fn name(&self) -> String {
            "busy".into()
        }
        fn read_reg(&mut self, _: u32) -> Result<u32> {
            Ok(0)
        }
        fn write_reg(&mut self, _: u32, _: u32) -> Result<()> {
            Ok(())
        }
        fn write_h2c(&mut self, _: &[u8]) -> Result<()> {
            burn(Duration::from_millis(30));
            Ok(())
        }
        fn read_c2h(&mut self, _: &mut [u8]) -> Result<()> {
            Ok(())
        }
        fn timeouts(&self) -> Timeouts {
            Timeouts::default()
        }
    }

    #[test]
    fn the_host_clock_leaves_out_the_device_calls() {
        let mut busy = BusyDevice;
        let mut dev = Metered::new(&mut busy);
        let clock = HostClock::start(&dev);
        let cpu0 = thread_cpu_time();
        dev.write_h2c(&[0; 8]).unwrap();
        burn(Duration::from_millis(10));
        dev.write_h2c(&[0; 8]).unwrap();
        let host = clock.elapsed(&dev);
        let all = thread_cpu_time().saturating_sub(cpu0);
        assert!(
            dev.inside() >= Duration::from_millis(60),
            "{:?}",
            dev.inside()
        );
        assert!(all >= Duration::from_millis(70), "{all:?}");
        // The host's own 10 ms, give or take the clock reads.
        assert!(
            host >= Duration::from_millis(10) && host < Duration::from_millis(20),
            "{host:?} of {all:?}"
        );
    }
}
