//! The `xdma` backend against the emulated card (software card model behind XDMA-like files):
//! register and stream round trips through the real open/mmap/read/write path, and every fault
//! the driver must report (missing files, wrong ID, wrong config hash, lost or truncated C2H data,
//! stalled H2C, a card error bit, an unserved stream) as the right error within a bounded time.

use spec::protocol::ProtocolError;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use host::device::xdma::XdmaDevice;
use host::device::{self, Device, DeviceError, Timeouts};
use host::emulate::soft::SoftCard;
use host::emulate::{CardModel, Emulator, EmulatorOptions, Faults};
use host::sequencer;
use spec::descriptor::Descriptor;
use spec::packet::{header, Packet, PacketType};
use spec::trailer::TRAILER_BYTES;
use spec::{regs, AccelConfig};

/// A scratch directory unique to this test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sqz-emu-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SHORT: Timeouts = Timeouts {
    open: Duration::from_millis(300),
    dma: Duration::from_millis(400),
    done: Duration::from_millis(400),
};

/// For the steps that must succeed: generous, so a loaded CI machine does not fail them.
fn normal() -> Timeouts {
    Timeouts::uniform(Duration::from_secs(10))
}

fn card(dir: &TempDir, faults: Faults) -> Emulator {
    let opts = EmulatorOptions {
        faults,
        ..Default::default()
    };
    Emulator::start(&dir.0, opts, || {
        Ok(Box::new(SoftCard::loopback(AccelConfig::tiny())) as Box<dyn CardModel>)
    })
    .expect("start emulated card")
}

/// A loopback job: `n` bytes into the input buffer at 8, sent back by the soft card.
fn loopback_job(dev: &mut dyn Device, n: usize) -> device::Result<(Vec<u8>, Vec<u8>)> {
    let cfg = AccelConfig::tiny();
    let lanes = cfg.pixel_lanes as usize;
    let data: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
    sequencer::send_packets(dev, &[Packet::act(false, 8, &data).unwrap()])?;
    let d = Descriptor {
        out_c: 1,
        ntiles: (n / lanes) as u32,
        src_base: 8,
        ..Default::default()
    };
    let out = sequencer::run_job(dev, &cfg, &d)?;
    Ok((data, out))
}

/// Run `f` and check it ends within `limit`.
fn bounded<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let r = f();
    assert!(
        t0.elapsed() < limit,
        "took {:?}, limit {limit:?}",
        t0.elapsed()
    );
    r
}

#[test]
fn registers_and_streams_round_trip() {
    let dir = TempDir::new("roundtrip");
    let emu = card(&dir, Faults::default());
    let mut dev = XdmaDevice::open(emu.prefix(), normal()).unwrap();
    let info = device::check_identity(&mut dev, &AccelConfig::tiny()).unwrap();
    assert_eq!(info.preset.as_deref(), Some("tiny"));
    assert_eq!(info.pixel_lanes, AccelConfig::tiny().pixel_lanes);
    // RW registers keep what was written once the emulator has forwarded it (the pulse below
    // is acknowledged only after the turn that forwarded the write). That writes reach the
    // model is shown by the loopback jobs: their descriptor selects the bytes sent back.
    for v in [0xDEAD_BEEF, 0, 0x1234_5678] {
        dev.write_reg(regs::SCRATCH.offset, v).unwrap();
        device::pulse(&mut dev, &[regs::CTRL_CLEAR_PERF]).unwrap();
        assert_eq!(dev.read_reg(regs::SCRATCH.offset).unwrap(), v);
    }
    // Writes to read-only registers do not stick.
    dev.write_reg(regs::ID.offset, 0).unwrap();
    device::pulse(&mut dev, &[regs::CTRL_CLEAR_PERF]).unwrap();
    assert_eq!(dev.read_reg(regs::ID.offset).unwrap(), regs::ID_VALUE);
    assert!(matches!(
        dev.read_reg(0x2),
        Err(DeviceError::BadOffset { .. })
    ));
    // Several jobs in a row, larger than the pipe buffer.
    for n in [256usize, 4096, 200 * 1024] {
        let (sent, got) = loopback_job(&mut dev, n).unwrap();
        assert_eq!(got, sent, "{n} bytes");
    }
    let perf = device::read_perf(&mut dev).unwrap();
    assert_eq!(perf.jobs, 3);
    let stats = emu.stop().unwrap();
    assert!(
        stats.h2c_bytes > 200 * 1024 && stats.c2h_bytes >= 200 * 1024,
        "{stats:?}"
    );
}

#[test]
fn missing_device_files_are_named() {
    let dir = TempDir::new("missing");
    let prefix = dir.0.join("xdma0").to_string_lossy().into_owned();
    let e = bounded(Duration::from_secs(1), || {
        XdmaDevice::open(&prefix, SHORT).err().unwrap()
    });
    let msg = e.to_string();
    assert!(matches!(e, DeviceError::NoDevice { .. }), "{msg}");
    assert!(
        msg.contains("xdma0_user") && msg.contains("XDMA driver") && msg.contains("--device"),
        "{msg}"
    );
    // Only the C2H endpoint missing.
    let emu = card(
        &dir,
        Faults {
            omit: vec!["_c2h_0".into()],
            ..Default::default()
        },
    );
    let e = XdmaDevice::open(emu.prefix(), SHORT).err().unwrap();
    assert!(e.to_string().contains("xdma0_c2h_0"), "{e}");
}

#[test]
fn unserved_stream_times_out_on_open() {
    // Files left by an emulator that is no longer running: the FIFOs have no peer.
    let dir = TempDir::new("stale");
    let emu = card(&dir, Faults::default());
    let prefix = emu.prefix().to_string();
    let paths = emu.paths().clone();
    drop(emu);
    std::fs::write(&paths.user, vec![0u8; 4096]).unwrap();
    for p in [&paths.h2c, &paths.c2h] {
        let ok = std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    // Nothing holds the liveness lock: the driver says so at once, before touching a register.
    let e = bounded(Duration::from_secs(1), || {
        XdmaDevice::open(&prefix, SHORT).err().unwrap()
    });
    assert!(matches!(e, DeviceError::NotServed { .. }), "{e}");
    assert!(e.to_string().contains("sqz-host emulate"), "{e}");
    // A liveness lock held but nobody on the streams: the stream's open times out.
    let alive = std::fs::File::create(&paths.alive).unwrap();
    alive.try_lock().unwrap();
    let mut dev = XdmaDevice::open(&prefix, SHORT).unwrap();
    let e = bounded(Duration::from_secs(2), || {
        loopback_job(&mut dev, 64).unwrap_err()
    });
    assert!(matches!(e, DeviceError::OpenTimeout { .. }), "{e}");
    assert!(e.to_string().contains("sqz-host emulate"), "{e}");
    // The identity check fails clearly on the blank register file too.
    let e = device::check_identity(&mut dev, &AccelConfig::tiny()).unwrap_err();
    assert!(matches!(e, DeviceError::WrongId { found: 0, .. }), "{e}");
    // Wake the worker blocked in open(2) so the test process does not keep it.
    let _ = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&paths.h2c);
}

#[test]
fn wrong_id_is_refused() {
    let dir = TempDir::new("id");
    let emu = card(
        &dir,
        Faults {
            id: Some(0x1234_5678),
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), SHORT).unwrap();
    let e = device::check_identity(&mut dev, &AccelConfig::tiny()).unwrap_err();
    assert!(
        matches!(
            e,
            DeviceError::WrongId {
                found: 0x1234_5678,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("not programmed with an sqz bitstream"),
        "{e}"
    );
}

#[test]
fn wrong_config_hash_names_both_presets() {
    let dir = TempDir::new("hash");
    let ecp5 = AccelConfig::ecp5().config_hash();
    let emu = card(
        &dir,
        Faults {
            config_hash: Some(ecp5),
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), SHORT).unwrap();
    let e = device::check_identity(&mut dev, &AccelConfig::tiny()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DeviceError::ConfigMismatch { .. }), "{msg}");
    assert!(
        msg.contains("preset `ecp5`") && msg.contains("`tiny`"),
        "{msg}"
    );
    drop(emu);
    let emu = card(
        &dir,
        Faults {
            config_hash: Some(0xABCD_0123),
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), SHORT).unwrap();
    let msg = device::check_identity(&mut dev, &AccelConfig::tiny())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("unknown configuration") && msg.contains("0xABCD0123"),
        "{msg}"
    );
}

#[test]
fn lost_c2h_data_is_a_timeout() {
    let dir = TempDir::new("drop");
    let emu = card(
        &dir,
        Faults {
            drop_c2h: true,
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), SHORT).unwrap();
    let e = bounded(Duration::from_secs(3), || {
        loopback_job(&mut dev, 1024).unwrap_err()
    });
    assert!(
        matches!(
            e,
            DeviceError::DmaTimeout {
                dir: device::Dir::C2h,
                done: 0,
                bytes,
                ..
            } if bytes == 1024 + TRAILER_BYTES
        ),
        "{e}"
    );
    // The stream is now unusable, and says so at once.
    let e = bounded(Duration::from_secs(1), || {
        loopback_job(&mut dev, 64).unwrap_err()
    });
    assert!(matches!(e, DeviceError::Broken(_)), "{e}");
    // Registers still work.
    assert_eq!(dev.read_reg(regs::ID.offset).unwrap(), regs::ID_VALUE);
}

#[test]
fn truncated_c2h_is_a_short_read() {
    let dir = TempDir::new("short");
    let emu = card(
        &dir,
        Faults {
            truncate_c2h: Some(100),
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), SHORT).unwrap();
    let e = bounded(Duration::from_secs(3), || {
        loopback_job(&mut dev, 1024).unwrap_err()
    });
    assert!(
        matches!(
            e,
            DeviceError::ShortRead {
                expected,
                got: 100,
                ..
            } if expected == 1024 + TRAILER_BYTES
        ),
        "{e}"
    );
}

#[test]
fn stalled_h2c_is_a_timeout() {
    let dir = TempDir::new("stall");
    let emu = card(
        &dir,
        Faults {
            stall_h2c: true,
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), SHORT).unwrap();
    // More than a pipe holds.
    let e = bounded(Duration::from_secs(3), || {
        loopback_job(&mut dev, 1 << 20).unwrap_err()
    });
    assert!(
        matches!(
            e,
            DeviceError::DmaTimeout {
                dir: device::Dir::H2c,
                ..
            }
        ),
        "{e}"
    );
    drop(emu);
}

#[test]
fn card_error_bit_is_reported_with_its_name() {
    let dir = TempDir::new("errbit");
    let bits = regs::ERR_BAD_DESC.val(1);
    let emu = card(
        &dir,
        Faults {
            error_on_start: Some(bits),
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(
        emu.prefix(),
        Timeouts {
            dma: Duration::from_secs(20),
            ..SHORT
        },
    )
    .unwrap();
    // Reported from the error bit while waiting for C2H, long before the 20 s DMA timeout.
    let e = bounded(Duration::from_secs(3), || {
        loopback_job(&mut dev, 1024).unwrap_err()
    });
    match &e {
        DeviceError::CardError {
            err, bits: names, ..
        } => {
            assert_eq!(*err, bits);
            assert_eq!(names[0].name, "BAD_DESC");
        }
        other => panic!("expected a card error, got {other}"),
    }
    assert!(e.to_string().contains("BAD_DESC"), "{e}");
}

#[test]
fn bad_packet_from_the_card_model() {
    // Not injected: the soft card itself flags an unknown packet type.
    let dir = TempDir::new("badpacket");
    let emu = card(&dir, Faults::default());
    let mut dev = XdmaDevice::open(emu.prefix(), normal()).unwrap();
    let bytes: Vec<u8> = [0x99u64 | (1 << 32), 0]
        .iter()
        .flat_map(|b| b.to_le_bytes())
        .collect();
    dev.write_h2c(&bytes).unwrap();
    // Reported as soon as the card has seen the packet.
    let e = bounded(Duration::from_secs(6), || {
        dev.wait_done(Duration::from_secs(5)).unwrap_err()
    });
    assert!(e.to_string().contains("BAD_PACKET"), "{e}");
    // SOFT_RESET clears it and the card works again.
    device::soft_reset(&mut dev).unwrap();
    assert_eq!(dev.read_reg(regs::ERR.offset).unwrap(), 0);
    let (sent, got) = loopback_job(&mut dev, 512).unwrap();
    assert_eq!(got, sent);
    // An activation load past the buffer: ACT_OVERFLOW.
    let cfg = AccelConfig::tiny();
    let beats = [header(PacketType::ActIn, cfg.act_in_bytes, 1), 0];
    let bytes: Vec<u8> = beats.iter().flat_map(|b| b.to_le_bytes()).collect();
    dev.write_h2c(&bytes).unwrap();
    // DONE is still set from the last job: wait for the error bit itself.
    let t0 = Instant::now();
    let e = loop {
        if let Err(e) = device::check_error(&mut dev) {
            break e;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "no error bit");
        std::thread::sleep(Duration::from_micros(100));
    };
    assert!(e.to_string().contains("ACT_OVERFLOW"), "{e}");
}

#[test]
fn a_card_that_stops_answering_is_an_error_not_a_hang() {
    let dir = TempDir::new("stopped");
    let emu = card(&dir, Faults::default());
    let mut dev = XdmaDevice::open(emu.prefix(), normal()).unwrap();
    let (sent, got) = loopback_job(&mut dev, 256).unwrap();
    assert_eq!(got, sent);
    emu.stop().unwrap();
    dev.set_timeouts(SHORT);
    // The mapping outlives the files; nothing serves it any more.
    let e = bounded(Duration::from_secs(2), || {
        device::pulse(&mut dev, &[regs::CTRL_START]).unwrap_err()
    });
    assert!(
        e.to_string().contains("nothing takes control pulses"),
        "{e}"
    );
    let e = bounded(Duration::from_secs(2), || {
        loopback_job(&mut dev, 256).unwrap_err()
    });
    assert!(
        matches!(
            e,
            DeviceError::Io { .. } | DeviceError::DmaTimeout { .. } | DeviceError::Model(_)
        ),
        "{e}"
    );
}

/// One user at a time: a second process (here a second open of the card) that locks the card
/// gets "card busy" naming the holder at once, or with a wait gets it when the holder lets go;
/// reading registers (`info`) needs no lock. A job on the locked card still runs.
#[test]
fn the_card_is_held_by_one_user_at_a_time() {
    let dir = TempDir::new("lock");
    let emu = card(&dir, Faults::default());
    let mut first = XdmaDevice::open(emu.prefix(), normal()).unwrap();
    first.lock(None).unwrap();
    let mut second = XdmaDevice::open(emu.prefix(), normal()).unwrap();
    let e = bounded(Duration::from_secs(2), || second.lock(None)).unwrap_err();
    assert!(matches!(e, DeviceError::Busy { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("card busy") && msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert_eq!(second.read_reg(regs::ID.offset).unwrap(), regs::ID_VALUE);
    let e = bounded(Duration::from_secs(3), || {
        second.lock(Some(Duration::from_millis(200)))
    })
    .unwrap_err();
    assert!(matches!(e, DeviceError::Busy { .. }), "{e}");
    let (data, out) = loopback_job(&mut first, 64).unwrap();
    assert_eq!(out, data);
    // The holder lets go while the second waits: the second gets the card.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        drop(first);
    });
    bounded(Duration::from_secs(5), || {
        second.lock(Some(Duration::from_secs(3)))
    })
    .unwrap();
    releaser.join().unwrap();
}

/// `--timeout` is an absolute deadline: a card that trickles one byte every 100 ms cannot keep a
/// 400 ms transfer waiting (it would take 6.4 s to send 64 bytes).
#[test]
fn a_trickling_card_cannot_stretch_the_deadline() {
    let dir = TempDir::new("trickle");
    let emu = card(
        &dir,
        Faults {
            trickle_c2h: Some(Duration::from_millis(100)),
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), SHORT).unwrap();
    let e = bounded(Duration::from_secs(2), || loopback_job(&mut dev, 64)).unwrap_err();
    assert!(matches!(e, DeviceError::DmaTimeout { .. }), "{e}");
}

/// What the card sends is checked, not believed: output with a flipped bit, stale bytes in
/// front of the job's own, or zeros in place of it is an error naming what differs (never a
/// result), and after the driver's reset the next job is right.
#[test]
fn output_that_is_not_the_jobs_own_is_refused_and_the_next_job_is_right() {
    let cases = [
        (
            "corrupt",
            Faults {
                corrupt_c2h_byte: Some(77),
                ..Default::default()
            },
            "CRC-32 mismatch",
        ),
        (
            "stray",
            Faults {
                stray_c2h: vec![0xA5; 24],
                ..Default::default()
            },
            "does not end with a trailer",
        ),
    ];
    for (name, faults, says) in cases {
        let dir = TempDir::new(name);
        let emu = card(&dir, faults);
        let mut dev = XdmaDevice::open(emu.prefix(), normal()).unwrap();
        let e = bounded(Duration::from_secs(10), || loopback_job(&mut dev, 256)).unwrap_err();
        assert!(
            matches!(
                e,
                DeviceError::Protocol(ProtocolError::BadOutput { seq: 1, .. })
            ),
            "{name}: {e}"
        );
        assert!(e.to_string().contains(says), "{name}: {e}");
        device::reset_card(&mut dev).unwrap();
        let (sent, got) = loopback_job(&mut dev, 256).unwrap();
        assert_eq!(got, sent, "{name}: the run after the reset");
    }
    // A card that sends zeros is refused on every job.
    let dir = TempDir::new("zeros");
    let emu = card(
        &dir,
        Faults {
            zero_c2h: true,
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), normal()).unwrap();
    for _ in 0..2 {
        let e = loopback_job(&mut dev, 64).unwrap_err();
        assert!(e.to_string().contains("magic 0x00000000"), "{e}");
        device::reset_card(&mut dev).unwrap();
    }
}

/// A card that says DONE without taking the job, or counters stuck at 0xFFFFFFFF, are errors:
/// the driver checks that START cleared DONE and that PERF_JOBS counted exactly the job it
/// started. (A loopback job costs the soft card no time, so DONE is read once it is set.)
#[test]
fn stale_done_and_stuck_counters_are_refused() {
    let dir = TempDir::new("stuck-done");
    let emu = card(
        &dir,
        Faults {
            stuck_done: true,
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), normal()).unwrap();
    let e = bounded(Duration::from_secs(10), || loopback_job(&mut dev, 64)).unwrap_err();
    assert!(
        matches!(
            e,
            DeviceError::Protocol(ProtocolError::DoneNotCleared {
                seq: 1,
                jobs: 0,
                ..
            })
        ),
        "{e}"
    );
    drop(dev);
    emu.stop().unwrap();

    let dir = TempDir::new("stuck-perf");
    let emu = card(
        &dir,
        Faults {
            perf_value: Some(u32::MAX),
            ..Default::default()
        },
    );
    let mut dev = XdmaDevice::open(emu.prefix(), normal()).unwrap();
    let e = bounded(Duration::from_secs(10), || loopback_job(&mut dev, 64)).unwrap_err();
    // The job is numbered from PERF_JOBS (0xFFFFFFFF + 1 = 0), which never counts it.
    assert!(
        matches!(
            e,
            DeviceError::Protocol(
                ProtocolError::DoneNotCleared { seq: 0, .. }
                    | ProtocolError::BadOutput { seq: 0, .. }
                    | ProtocolError::JobCount { want: 0, .. }
            )
        ),
        "{e}"
    );
}
