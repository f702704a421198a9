//! The whole network through the `xdma` backend against the emulated card (files in a temp
//! directory, the functional software engine behind them): identity check, weights, descriptors,
//! streams and counters all go through the driver's real open/mmap/read/write path, and every
//! layer read back equals the int8 reference bit for bit on all four shared images.

use std::path::PathBuf;
use std::time::Duration;

use host::device::xdma::XdmaDevice;
use host::device::Timeouts;
use host::emulate::soft::SoftCard;
use host::emulate::{CardModel, Emulator, EmulatorOptions, Faults};
use host::sequencer::{self, SeqError};
use reference::int8;
use spec::AccelConfig;
use weights::quant::QuantModel;

const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images");

struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sqz-emunet-{}-{test}", std::process::id()));
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

fn model() -> QuantModel {
    let path = weights::default_model_path(None).expect("model file");
    let m = weights::Model::load(&path).expect("load model");
    QuantModel::from_model_committed(&m).expect("quantize")
}

fn start(dir: &TempDir, cfg: &AccelConfig, faults: Faults) -> Emulator {
    let cfg = cfg.clone();
    let opts = EmulatorOptions {
        faults,
        ..Default::default()
    };
    Emulator::start(&dir.0, opts, move || {
        Ok(Box::new(SoftCard::engine(cfg)) as Box<dyn CardModel>)
    })
    .unwrap()
}

#[test]
fn xdma_backend_matches_int8_reference_on_all_images() {
    let q = model();
    let cfg = AccelConfig::tiny();
    let dir = TempDir::new("all");
    let emu = start(&dir, &cfg, Faults::default());
    let mut dev =
        XdmaDevice::open(emu.prefix(), Timeouts::uniform(Duration::from_secs(30))).unwrap();
    for name in ["astronaut", "chelsea", "coffee", "motorcycle_left"] {
        let input = host::image::load_preprocessed(format!("{IMAGES}/{name}.png")).unwrap();
        let reference = int8::try_forward(&q, &input).unwrap();
        let out = sequencer::run_network(&mut dev, &cfg, &q, &input, &mut |_| {}).unwrap();
        for (i, got) in out.layers.iter().enumerate() {
            if let Some(got) = got {
                assert_eq!(
                    got,
                    &reference.layers[i],
                    "{name}: layer {}",
                    weights::topology::LAYERS[i].name
                );
            }
        }
        assert_eq!(out.logits, reference.logits, "{name}");
        assert_eq!(out.probabilities, reference.probs, "{name}");
        // Each job's counters are its own: DONE and PERF are never read stale after START.
        let jobs: Vec<_> = out.steps.iter().flat_map(|s| &s.layers).collect();
        assert_eq!(jobs.len(), 26);
        assert!(
            jobs.iter().all(|l| l.perf.jobs == 1 && l.perf.busy > 0),
            "{name}: {jobs:?}"
        );
    }
    let stats = emu.stop().unwrap();
    assert!(
        stats.c2h_bytes > 0 && stats.h2c_bytes > stats.c2h_bytes,
        "{stats:?}"
    );
}

#[test]
fn network_refuses_a_card_of_another_preset() {
    let q = model();
    let dir = TempDir::new("preset");
    // The card is an ecp5 build; the host expects tiny.
    let emu = start(&dir, &AccelConfig::ecp5(), Faults::default());
    let mut dev =
        XdmaDevice::open(emu.prefix(), Timeouts::uniform(Duration::from_secs(5))).unwrap();
    let input = vec![0.0f32; weights::topology::INPUT_LEN];
    let e = sequencer::run_network(&mut dev, &AccelConfig::tiny(), &q, &input, &mut |_| {})
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            SeqError::Device(host::device::DeviceError::ConfigMismatch { .. })
        ),
        "{msg}"
    );
    assert!(
        msg.contains("preset `ecp5`") && msg.contains("`tiny`"),
        "{msg}"
    );
}

#[test]
fn network_reports_a_lost_output_within_the_timeout() {
    let q = model();
    let cfg = AccelConfig::tiny();
    let dir = TempDir::new("lost");
    let emu = start(
        &dir,
        &cfg,
        Faults {
            drop_c2h: true,
            ..Default::default()
        },
    );
    let mut dev =
        XdmaDevice::open(emu.prefix(), Timeouts::uniform(Duration::from_millis(500))).unwrap();
    let input = vec![0.0f32; weights::topology::INPUT_LEN];
    let t0 = std::time::Instant::now();
    let e = sequencer::run_network(&mut dev, &cfg, &q, &input, &mut |_| {}).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(
        e.to_string().contains("C2H DMA") && e.to_string().contains("timed out"),
        "{e}"
    );
}
