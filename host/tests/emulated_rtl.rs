//! The acceptance test of the `xdma` backend: the driver's real open/mmap/read/write path against
//! an emulated card with the Verilated RTL behind its files (`Emulator` + `RtlCard`, preset
//! `tiny`). Every layer the card sends back equals the int8 reference bit for bit on two shared
//! images (`device_rtl` runs the other two through the same RTL in process), and the card's counters
//! give the cycles per image. A corrupted transfer from the RTL card is refused by its trailer's
//! CRC, and the next run is right.
#![cfg(feature = "rtl")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use host::card::CycleReport;
use host::device::xdma::XdmaDevice;
use host::device::Timeouts;
use host::emulate::rtl::RtlCard;
use host::emulate::{CardModel, Emulator, EmulatorOptions, Faults};
use host::sequencer::Sequencer;
use reference::int8;
use spec::AccelConfig;
use weights::quant::QuantModel;

const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images");

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn xdma_backend_on_emulated_rtl_matches_int8_reference_on_two_images() {
    let path = weights::default_model_path(None).expect("model file");
    let q = QuantModel::from_model_committed(&weights::Model::load(&path).unwrap()).unwrap();
    let cfg = AccelConfig::tiny();
    let dir = TempDir(std::env::temp_dir().join(format!("sqz-emurtl-{}", std::process::id())));
    let model_cfg = cfg.clone();
    // The first job's output arrives with a flipped bit: the run must fail on the RTL's own
    // trailer, and the next run (after the driver's reset) be right.
    let opts = EmulatorOptions {
        faults: Faults {
            corrupt_c2h_byte: Some(1000),
            ..Default::default()
        },
        ..Default::default()
    };
    let emu = Emulator::start(&dir.0, opts, move || {
        RtlCard::new(&model_cfg)
            .map(|c| Box::new(c) as Box<dyn CardModel>)
            .map_err(|e| e.to_string())
    })
    .unwrap();
    let mut dev =
        XdmaDevice::open(emu.prefix(), Timeouts::uniform(Duration::from_secs(300))).unwrap();
    let mut seq = Sequencer::new(&cfg, &q).unwrap();
    let input = host::image::load_preprocessed(format!("{IMAGES}/chelsea.png")).unwrap();
    let e = seq.run(&mut dev, &input, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("CRC-32 mismatch"), "{e}");
    // Two images here; `device_rtl` runs the other two on the same RTL in process.
    for name in ["chelsea", "astronaut"] {
        let t0 = Instant::now();
        let input = host::image::load_preprocessed(format!("{IMAGES}/{name}.png")).unwrap();
        let reference = int8::try_forward(&q, &input).unwrap();
        let out = seq.run(&mut dev, &input, &mut |_| {}).unwrap();
        for (i, got) in out.layers.iter().enumerate() {
            if let Some(got) = got {
                assert_eq!(
                    got,
                    &reference.layers[i],
                    "{name}: {}",
                    weights::topology::LAYERS[i].name
                );
            }
        }
        assert_eq!(out.logits, reference.logits, "{name}");
        assert_eq!(out.probabilities, reference.probs, "{name}");
        let r = CycleReport::of(&out, &cfg);
        let odd: Vec<_> = r
            .layers
            .iter()
            .filter(|l| l.perf.jobs != 1 || l.perf.busy == 0)
            .collect();
        assert!(odd.is_empty(), "{name}: {odd:?}");
        eprintln!(
            "{name}: top-1 {}, {} cycles, efficiency {:.3}, {:.1} s wall, host {:.1} ms",
            reference::top_k(&out.probabilities, 1)[0],
            r.cycles,
            r.efficiency,
            t0.elapsed().as_secs_f64(),
            r.host_ms
        );
    }
    let stats = emu.stop().unwrap();
    eprintln!("emulator: {stats:?}");
    assert!(stats.cycles > 2 * 28_000_000, "{stats:?}");
}
