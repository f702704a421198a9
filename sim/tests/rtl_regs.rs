//! The register file of the Verilated `sqz_top` (tiny preset) through its AXI4-Lite port:
//! identification values, the reset value of every register word in `spec::regs::REGISTERS`,
//! RW/RO/WO/W1C semantics, SLVERR on every unmapped word without hanging, and the same checks
//! under random bus delays; and the H2C loader's weight rate, which the host plans with. Every
//! offset and value comes from `spec`.

use sim::rtl::{self, Backpressure, Rtl, RtlError};
use spec::packet::{PacketType, HDR_LEN_LSB, HDR_TYPE_LSB};
use spec::regs::{self, Access, REGISTERS, RESP_SLVERR};
use spec::AccelConfig;

fn tiny() -> Rtl {
    Rtl::new(&AccelConfig::tiny()).expect("the tiny preset is always built")
}

/// Bits a RW register really stores: its fields, or all 32 bits when it has none.
fn rw_mask(r: &regs::Register) -> u32 {
    if r.fields.is_empty() {
        u32::MAX
    } else {
        r.fields.iter().fold(0, |m, f| m | f.mask())
    }
}

#[test]
fn identification_registers() {
    let cfg = AccelConfig::tiny();
    let mut dut = tiny();
    assert_eq!(dut.preset(), "tiny");
    assert_eq!(dut.read_reg(regs::ID.offset).unwrap(), regs::ID_VALUE);
    assert_eq!(
        dut.read_reg(regs::VERSION_REG.offset).unwrap(),
        regs::VERSION_REG.reset
    );
    let v = dut.read_reg(regs::VERSION_REG.offset).unwrap();
    assert_eq!(regs::VERSION_FIELDS[2].get(v), regs::VERSION.0 as u32);
    assert_eq!(regs::VERSION_FIELDS[1].get(v), regs::VERSION.1 as u32);
    assert_eq!(
        dut.read_reg(regs::CONFIG_HASH.offset).unwrap(),
        cfg.config_hash()
    );
    let caps = dut.read_reg(regs::CAPS.offset).unwrap();
    assert_eq!(regs::CAPS_FIELDS[0].get(caps), cfg.pe_groups);
    assert_eq!(regs::CAPS_FIELDS[1].get(caps), cfg.pixel_lanes);
    assert_eq!(
        dut.read_reg(regs::WEIGHT_CAP.offset).unwrap(),
        cfg.weight_entries
    );
}

#[test]
fn every_register_word_has_its_reset_value() {
    let cfg = AccelConfig::tiny();
    let mut dut = tiny();
    let mut words = 0;
    for r in REGISTERS {
        for i in 0..r.count {
            let want = if r.count == 1 {
                regs::fixed_value(r, &cfg)
            } else {
                r.reset
            };
            let (got, resp) = dut.read_reg_resp(r.at(i)).unwrap();
            assert_eq!(
                resp,
                0,
                "{}[{i}] at 0x{:03X} answered {resp}",
                r.name,
                r.at(i)
            );
            assert_eq!(got, want, "{}[{i}] at 0x{:03X}", r.name, r.at(i));
            words += 1;
        }
    }
    assert!(words >= REGISTERS.len());
}

#[test]
fn scratch_and_rw_registers_hold_what_is_written() {
    let mut dut = tiny();
    for v in [0u32, u32::MAX, 0xA5A5_5A5A, 0x1234_5678, 1, 0x8000_0000] {
        dut.write_reg(regs::SCRATCH.offset, v).unwrap();
        assert_eq!(dut.read_reg(regs::SCRATCH.offset).unwrap(), v);
    }
    // Every RW word gets a distinct value first, then all are read back (catches aliasing).
    let rw: Vec<(&regs::Register, u32)> = REGISTERS
        .iter()
        .filter(|r| r.access == Access::RW)
        .flat_map(|r| (0..r.count).map(move |i| (r, i)))
        .collect();
    assert!(rw.len() >= 3, "IRQ_EN, SCRATCH and DESC at least");
    let val = |k: usize, r: &regs::Register| {
        (0x9E37_79B9u32.wrapping_mul(k as u32 + 1) ^ 0x5A5A_0F0F) & rw_mask(r)
    };
    for (k, (r, i)) in rw.iter().enumerate() {
        dut.write_reg(r.at(*i), val(k, r)).unwrap();
    }
    for (k, (r, i)) in rw.iter().enumerate() {
        assert_eq!(
            dut.read_reg(r.at(*i)).unwrap(),
            val(k, r),
            "{}[{i}]",
            r.name
        );
    }
}

#[test]
fn read_only_and_write_only_semantics() {
    let cfg = AccelConfig::tiny();
    let mut dut = tiny();
    for r in REGISTERS.iter().filter(|r| r.access == Access::RO) {
        for i in 0..r.count {
            let before = dut.read_reg(r.at(i)).unwrap();
            // The write is answered (OKAY or SLVERR, never a hang) and changes nothing.
            let resp = dut.write_reg_resp(r.at(i), !before).unwrap();
            assert!(
                resp == 0 || resp == RESP_SLVERR,
                "{} write answered {resp}",
                r.name
            );
            assert_eq!(
                dut.read_reg(r.at(i)).unwrap(),
                before,
                "{}[{i}] is read-only",
                r.name
            );
        }
    }
    assert_eq!(
        dut.read_reg(regs::CONFIG_HASH.offset).unwrap(),
        cfg.config_hash()
    );
    // WO pulse bits read as 0, also right after a write (CLEAR_PERF is harmless when idle).
    assert_eq!(dut.read_reg(regs::CTRL.offset).unwrap(), 0);
    dut.write_reg(regs::CTRL.offset, regs::CTRL_CLEAR_PERF.val(1))
        .unwrap();
    assert_eq!(dut.read_reg(regs::CTRL.offset).unwrap(), 0);
    assert_eq!(dut.read_counter(&regs::PERF_BUSY).unwrap(), 0);
}

/// A header beat whose type is no `PacketType`: the engine must flag ERR.BAD_PACKET.
fn bad_packet() -> u64 {
    let ty = (0u8..=255)
        .rev()
        .find(|v| PacketType::from_u8(*v).is_none())
        .unwrap();
    ((ty as u64) << HDR_TYPE_LSB) | (1u64 << HDR_LEN_LSB)
}

#[test]
fn err_is_write_one_to_clear_and_drives_irq() {
    let mut dut = tiny();
    let bad = regs::ERR_BAD_PACKET.mask();
    assert_eq!(dut.read_reg(regs::ERR.offset).unwrap(), 0);
    assert!(!dut.irq());
    // Writing 1s while nothing is set must not set anything.
    dut.write_reg(regs::ERR.offset, u32::MAX).unwrap();
    assert_eq!(
        dut.read_reg(regs::ERR.offset).unwrap(),
        0,
        "W1C bits cannot be set by the host"
    );

    dut.set_stream_timeout(2_000);
    let _ = dut.stream_in(&[bad_packet(), 0]); // the payload beat may be refused once halted
    dut.run(16);
    let err = dut.read_reg(regs::ERR.offset).unwrap();
    assert_ne!(
        err & bad,
        0,
        "ERR = 0x{err:X} after an unknown packet type ({})",
        rtl::err_names(err)
    );
    let status = dut.read_reg(regs::STATUS.offset).unwrap();
    assert_eq!(regs::STATUS_ERROR.get(status), 1, "STATUS = 0x{status:X}");
    assert!(matches!(dut.wait_done(1_000), Err(RtlError::Device { .. })));

    // irq is a level gated by IRQ_EN.
    assert!(!dut.irq(), "irq with IRQ_EN = 0");
    dut.write_reg(regs::IRQ_EN.offset, regs::IRQ_EN_ERROR.val(1))
        .unwrap();
    assert!(dut.irq(), "irq with IRQ_EN.ERROR and an error pending");
    assert_eq!(
        dut.run_until_irq(10).unwrap(),
        1,
        "the pump stops on the first cycle with irq high"
    );

    // Writing 0 changes nothing; writing the bit clears it (W1C).
    dut.write_reg(regs::ERR.offset, 0).unwrap();
    assert_eq!(dut.read_reg(regs::ERR.offset).unwrap() & bad, bad);
    dut.write_reg(regs::ERR.offset, bad).unwrap();
    assert_eq!(dut.read_reg(regs::ERR.offset).unwrap(), 0);
    let status = dut.read_reg(regs::STATUS.offset).unwrap();
    assert_eq!(
        regs::STATUS_ERROR.get(status),
        0,
        "STATUS = 0x{status:X} after clearing ERR"
    );
    assert!(!dut.irq());

    // SOFT_RESET clears ERR too.
    let _ = dut.stream_in(&[bad_packet(), 0]);
    dut.run(16);
    assert_ne!(dut.read_reg(regs::ERR.offset).unwrap(), 0);
    dut.write_reg(regs::CTRL.offset, regs::CTRL_SOFT_RESET.val(1))
        .unwrap();
    dut.run(16);
    assert_eq!(dut.read_reg(regs::ERR.offset).unwrap(), 0);
}

#[test]
fn unmapped_addresses_answer_slverr_without_hanging() {
    let cfg = AccelConfig::tiny();
    let mut dut = tiny();
    dut.set_bus_timeout(200);
    let mut holes = 0;
    for addr in (0..cfg.axil_bytes()).step_by(4) {
        if regs::decode(addr).is_some() {
            continue;
        }
        holes += 1;
        let (data, resp) = dut.read_reg_resp(addr).unwrap();
        assert_eq!((data, resp), (0, RESP_SLVERR), "read 0x{addr:03X}");
        assert_eq!(
            dut.write_reg_resp(addr, 0xDEAD_BEEF).unwrap(),
            RESP_SLVERR,
            "write 0x{addr:03X}"
        );
        assert!(matches!(
            dut.read_reg(addr),
            Err(RtlError::BusResp {
                resp: RESP_SLVERR,
                ..
            })
        ));
    }
    assert!(holes > 100);
    // The bus still works and the stray writes landed nowhere.
    dut.write_reg(regs::SCRATCH.offset, 0x0BAD_F00D).unwrap();
    assert_eq!(dut.read_reg(regs::SCRATCH.offset).unwrap(), 0x0BAD_F00D);
    assert_eq!(dut.read_reg(regs::ID.offset).unwrap(), regs::ID_VALUE);
}

#[test]
fn registers_survive_random_bus_delays() {
    for seed in 1..=4u64 {
        let mut dut = tiny();
        dut.set_backpressure(Backpressure {
            axil: 0.3,
            ..Backpressure::random(seed, 0.5, 0.5)
        });
        let t0 = dut.cycles();
        for k in 0..regs::DESC.count {
            dut.write_reg(regs::DESC.at(k), seed as u32 * 1000 + k)
                .unwrap();
        }
        for k in 0..regs::DESC.count {
            assert_eq!(
                dut.read_reg(regs::DESC.at(k)).unwrap(),
                seed as u32 * 1000 + k
            );
        }
        assert_eq!(
            dut.read_reg(regs::CONFIG_HASH.offset).unwrap(),
            AccelConfig::tiny().config_hash()
        );
        // Delays really happened: 2 * 16 transactions take well over 3 cycles each.
        assert!(
            dut.cycles() - t0 > 32 * 4,
            "seed {seed}: {} cycles",
            dut.cycles() - t0
        );
    }
}

#[test]
fn waiting_without_a_job_times_out_instead_of_hanging() {
    let mut dut = tiny();
    let t0 = dut.cycles();
    match dut.wait_done(500) {
        Err(RtlError::JobTimeout { cycles, status }) => {
            assert!(cycles >= 500);
            assert_eq!(regs::STATUS_DONE.get(status), 0);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(dut.cycles() - t0 < 2_000);
    // Nothing was started, so nothing may come out on C2H.
    dut.set_stream_timeout(500);
    assert!(matches!(
        dut.stream_out(4),
        Err(RtlError::StreamOutTimeout { got: 0, .. })
    ));
}

#[test]
fn presets_not_built_are_refused_and_tracing_follows_the_build() {
    for p in spec::PRESETS {
        let cfg = AccelConfig::preset(p).unwrap();
        match Rtl::new(&cfg) {
            Ok(dut) => assert!(rtl::built_presets().contains(&dut.preset())),
            Err(e) => {
                assert!(!rtl::is_built(&cfg));
                assert!(matches!(e, RtlError::NotBuilt { .. }), "{e}");
                assert!(e.to_string().contains("SQZ_RTL_PRESETS"), "{e}");
            }
        }
    }
    let bad = AccelConfig {
        pixel_lanes: 3,
        ..AccelConfig::tiny()
    };
    assert!(matches!(Rtl::new(&bad), Err(RtlError::Config(_))));

    let mut dut = tiny();
    let path = std::env::temp_dir().join(format!("sqz_rtl_regs_{}.wave", std::process::id()));
    match rtl::trace_kind() {
        None => assert!(matches!(dut.trace(&path), Err(RtlError::NoTrace))),
        Some(_) => {
            dut.trace(&path).unwrap();
            dut.write_reg(regs::SCRATCH.offset, 7).unwrap();
            dut.run(10);
            dut.trace_close().unwrap();
            let len = std::fs::metadata(&path).unwrap().len();
            let _ = std::fs::remove_file(&path);
            assert!(len > 100, "trace file has {len} bytes");
        }
    }
}

#[test]
fn weight_beats_are_taken_back_to_back() {
    // The host sizes what it streams under compute by the loader's rate
    // (`spec::packet::loader_cycles`): a weight beat every WEIGHT_BEAT_CYCLES cycles.
    let mut dut = tiny();
    let n = 64usize;
    let p = spec::packet::Packet::weights(0, &vec![(3u8, 1u8); n * 4]).unwrap();
    let beats = p.to_beats();
    let budget = spec::packet::loader_cycles(p.ty, n) + 1;
    let (taken, _) = dut.pump_streams(&beats, 0, budget);
    assert_eq!(taken, beats.len(), "{n} weight beats in {budget} cycles");
    // And no faster: the entries are written one per cycle.
    let mut dut = tiny();
    let (taken, _) = dut.pump_streams(&beats, 0, budget / 2);
    assert!(
        taken < beats.len(),
        "took {taken} beats in {} cycles",
        budget / 2
    );
}
