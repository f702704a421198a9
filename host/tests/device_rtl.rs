//! The `sim` backend: the network sequencer over the Verilated RTL in process
//! (`ModelDevice<RtlCard>`, preset `tiny`). Real layers of the real network, fed their reference
//! inputs, come back from the RTL bit-exact to the int8 reference, with the card's own counters.
#![cfg(feature = "rtl")]

use std::time::{Duration, Instant};

use host::device::model::ModelDevice;
use host::device::{self, Timeouts};
use host::emulate::rtl::RtlCard;
use host::sequencer::{self, Sequencer, Step};
use reference::int8;
use spec::AccelConfig;
use weights::quant::QuantModel;

const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images");

fn model() -> QuantModel {
    let path = weights::default_model_path(None).expect("model file");
    let m = weights::Model::load(&path).expect("load model");
    QuantModel::from_model_committed(&m).expect("quantize")
}

fn sim_device(cfg: &AccelConfig) -> ModelDevice<RtlCard> {
    ModelDevice::new(
        RtlCard::new(cfg).expect("tiny is verilated"),
        Timeouts::uniform(Duration::from_secs(600)),
    )
}

/// What the int8 reference gives for `step` (a Fire module: both expands concatenated).
fn reference_output(step: Step, reference: &int8::Int8Output) -> int8::QTensor {
    match step {
        Step::Conv(i) => reference.layers[i].clone(),
        Step::Fire {
            expand1x1,
            expand3x3,
            ..
        } => int8::QTensor::concat(&[&reference.layers[expand1x1], &reference.layers[expand3x3]])
            .unwrap(),
    }
}

#[test]
fn rtl_layers_match_int8_reference() {
    let q = model();
    let cfg = AccelConfig::tiny();
    let input = host::image::load_preprocessed(format!("{IMAGES}/chelsea.png")).unwrap();
    let reference = int8::try_forward(&q, &input).unwrap();
    let mut dev = sim_device(&cfg);
    device::check_identity(&mut dev, &cfg).unwrap();
    let mut seq = Sequencer::new(&cfg, &q).unwrap();
    let all = sequencer::steps();
    // The last Fire module (13x13) and the classifier (1000 x 15x15, pad 1): the cheapest real
    // layers to simulate, and every kind of job but the stride-2 conv1. Run as a chain: fire9's
    // output streams back as conv_final's input while fire9's expands still compute.
    let t0 = Instant::now();
    let (outs, reports) = seq
        .run_from(&mut dev, all[8], &reference.layer_input(all[8].layers()[0]))
        .unwrap();
    assert_eq!(reports.len(), 2);
    let fire9_hidden: u64 = reports[0].layers.iter().map(|l| l.perf.h2c_hidden).sum();
    let beat = spec::STREAM_BYTES as u64;
    let input_beats = (512 * 15 * 15u64).div_ceil(beat);
    // All of the input but the last channel's piece goes in under compute (counted by the
    // RTL), and so do the conv_final weights that miss fire9's (they are counted too).
    let early_weight_beats = reports[0].h2c.weights / beat;
    assert!(
        fire9_hidden * 10 > input_beats * 9
            && fire9_hidden > input_beats
            && fire9_hidden <= input_beats + early_weight_beats,
        "beats loaded during fire9's jobs: {fire9_hidden}, conv_final's input is {input_beats}"
    );
    // conv_final's own H2C is only what was not streamed (mask and the input's tail).
    assert!(
        reports[1].h2c.activations < input_beats * beat / 2,
        "{:?}",
        reports[1].h2c
    );
    eprintln!(
        "fire9 -> conv_final: {fire9_hidden} beats loaded under fire9's compute (conv_final's input is {input_beats}, the rest its weights), {:.1} s wall",
        t0.elapsed().as_secs_f64()
    );
    for (step, r) in [all[8], all[9]].into_iter().zip(&reports) {
        let layers = &r.layers;
        let y = match step {
            Step::Conv(i) => outs[i].clone().unwrap(),
            Step::Fire {
                expand1x1,
                expand3x3,
                ..
            } => int8::QTensor::concat(&[
                outs[expand1x1].as_ref().unwrap(),
                outs[expand3x3].as_ref().unwrap(),
            ])
            .unwrap(),
        };
        let want = reference_output(step, &reference);
        assert_eq!(y, want, "{} differs from the int8 reference", step.name());
        for l in layers {
            assert_eq!(l.perf.jobs, 1, "{l:?}");
            assert!(l.perf.busy > 0 && l.perf.macs > 0, "{l:?}");
        }
        eprintln!(
            "{}: {} cycles {:?}",
            step.name(),
            layers.iter().map(|l| l.perf.busy).sum::<u64>(),
            layers
                .iter()
                .map(|l| (l.layer, l.perf.busy))
                .collect::<Vec<_>>(),
        );
    }
    // Fire 9 again on a card with random stalls on both streams and the register bus.
    let bp = sim::rtl::Backpressure::random(7, 0.6, 0.5);
    let card = RtlCard::new(&cfg).unwrap().with_backpressure(bp);
    let mut dev = ModelDevice::new(card, Timeouts::uniform(Duration::from_secs(600)));
    let mut seq = Sequencer::new(&cfg, &q).unwrap();
    let step = all[8];
    let (y, layers) = seq
        .run_step(&mut dev, step, &reference.layer_input(step.layers()[0]))
        .unwrap();
    assert_eq!(
        y,
        reference_output(step, &reference),
        "fire9 under back-pressure"
    );
    assert!(
        layers
            .iter()
            .any(|l| l.perf.stall_out > 0 || l.perf.stall_in > 0 || l.perf.stall > 0),
        "{layers:?}"
    );
}

/// Tiles on the RTL: steps planned for an engine with less than a third of tiny's activation
/// buffer and a quarter of its weight memory (the tiny RTL runs those descriptors as they are:
/// the same lanes, addresses in range). fire5 runs in bands of rows, conv_final in groups of
/// output channels. Both come back bit-exact.
#[test]
fn tiled_steps_match_int8_reference() {
    let q = model();
    let hw = AccelConfig::tiny();
    let small = AccelConfig {
        act_in_bytes: 160 * 1024,
        act_mid_bytes: 32 * 1024,
        weight_entries: 32 * 1024,
        ..AccelConfig::tiny()
    };
    let input = host::image::load_preprocessed(format!("{IMAGES}/chelsea.png")).unwrap();
    let reference = int8::try_forward(&q, &input).unwrap();
    let mut dev = sim_device(&hw);
    let mut seq = Sequencer::new(&small, &q).unwrap();
    let all = sequencer::steps();
    for si in [4, 9] {
        assert!(seq.tiled(si), "{} runs in tiles", all[si].name());
        let step = all[si];
        let t0 = Instant::now();
        let (y, layers) = seq
            .run_step(&mut dev, step, &reference.layer_input(step.layers()[0]))
            .unwrap();
        let want = reference_output(step, &reference);
        assert_eq!(
            y,
            want,
            "{} in tiles differs from the int8 reference",
            step.name()
        );
        let jobs: Vec<u32> = layers.iter().map(|l| l.perf.jobs).collect();
        eprintln!(
            "{} in tiles: jobs per layer {jobs:?}, {} cycles, {:.1} s wall",
            step.name(),
            layers.iter().map(|l| l.perf.busy).sum::<u64>(),
            t0.elapsed().as_secs_f64()
        );
        assert!(
            jobs.iter().all(|&j| j > 1),
            "every layer runs in several tiles: {jobs:?}"
        );
    }
}

#[test]
fn sim_backend_whole_network_matches_int8_reference_on_two_images() {
    let q = model();
    let cfg = AccelConfig::tiny();
    let mut dev = sim_device(&cfg);
    let mut seq = Sequencer::new(&cfg, &q).unwrap();
    // chelsea and astronaut go through the same RTL behind the emulated XDMA files
    // (tests/emulated_rtl.rs): between the two suites every image runs on the RTL once.
    for name in ["coffee", "motorcycle_left"] {
        let t0 = Instant::now();
        let input = host::image::load_preprocessed(format!("{IMAGES}/{name}.png")).unwrap();
        let reference = int8::try_forward(&q, &input).unwrap();
        let out = seq.run(&mut dev, &input, &mut |_| {}).unwrap();
        let mut compared = 0;
        for (i, got) in out.layers.iter().enumerate() {
            if let Some(got) = got {
                assert_eq!(
                    got,
                    &reference.layers[i],
                    "{name}: {}",
                    weights::topology::LAYERS[i].name
                );
                compared += 1;
            }
        }
        assert_eq!(compared, 18, "every layer but the squeezes comes back");
        assert_eq!(out.logits, reference.logits, "{name}");
        assert_eq!(out.probabilities, reference.probs, "{name}");
        let report = host::card::CycleReport::of(&out, &cfg);
        assert_eq!(report.layers.len(), 26);
        assert!(report
            .layers
            .iter()
            .all(|l| l.perf.jobs == 1 && l.perf.busy > 0));
        eprintln!(
            "{name}: top-1 {}, {} cycles, efficiency {:.3}, {:.1} images/s at {} MHz, {:.1} s wall, host {:.1} ms",
            reference::top_k(&out.probabilities, 1)[0],
            report.cycles,
            report.efficiency,
            report.images_per_s_at_target,
            cfg.target_mhz,
            t0.elapsed().as_secs_f64(),
            report.host_ms
        );
    }
}

/// Chelsea through the whole network on `cfg`'s RTL, every layer read back bit-exact to the
/// int8 reference; prints the cycle report.
fn whole_network_on_chelsea(cfg: &AccelConfig) -> (Sequencer, host::card::CycleReport) {
    assert!(
        sim::rtl::is_built(cfg),
        "this build has only {:?}: set SQZ_RTL_PRESETS=tiny,{}",
        sim::rtl::built_presets(),
        cfg.name
    );
    let q = model();
    let input = host::image::load_preprocessed(format!("{IMAGES}/chelsea.png")).unwrap();
    let reference = int8::try_forward(&q, &input).unwrap();
    let mut dev = sim_device(cfg);
    let mut seq = Sequencer::new(cfg, &q).unwrap();
    assert!(!seq.resident(), "{} streams weights per layer", cfg.name);
    let t0 = Instant::now();
    let out = seq.run(&mut dev, &input, &mut |_| {}).unwrap();
    for (i, got) in out.layers.iter().enumerate() {
        if let Some(got) = got {
            assert_eq!(
                got,
                &reference.layers[i],
                "{}",
                weights::topology::LAYERS[i].name
            );
        }
    }
    assert_eq!(out.probabilities, reference.probs);
    let r = host::card::CycleReport::of(&out, cfg);
    r.print(&mut std::io::stderr()).unwrap();
    eprintln!(
        "{} chelsea: {} cycles, efficiency {:.3}, {:.0} images/s at {} MHz, {:.1} s wall",
        cfg.name,
        r.cycles,
        r.efficiency,
        r.images_per_s_at_target,
        cfg.target_mhz,
        t0.elapsed().as_secs_f64()
    );
    (seq, r)
}

/// The full-size preset on chelsea. Needs the nitefury RTL, which takes minutes to verilate:
/// `SQZ_RTL_PRESETS=tiny,nitefury cargo test -p host --release --features rtl --test device_rtl -- --ignored`.
#[test]
#[ignore = "needs the nitefury RTL (SQZ_RTL_PRESETS=tiny,nitefury)"]
fn nitefury_whole_network_on_chelsea() {
    let (_, r) = whole_network_on_chelsea(&AccelConfig::nitefury());
    // Each step's output streams back in under compute: most activation bytes load while a job
    // runs (the card's own counter), the rest is the image, masks and each input's tail.
    assert!(
        r.traffic.h2c_hidden_bytes * 10 > r.traffic.h2c.activations * 8,
        "{:?}",
        r.traffic
    );
}

/// The LiteFury preset (XC7A100T) on chelsea: fire2..fire4 run in bands of rows, fire6..fire9
/// and conv_final in groups of output channels (`spec::job::Tile`). Needs the litefury RTL:
/// `SQZ_RTL_PRESETS=tiny,litefury cargo test -p host --release --features rtl --test device_rtl -- --ignored`.
#[test]
#[ignore = "needs the litefury RTL (SQZ_RTL_PRESETS=tiny,litefury)"]
fn litefury_whole_network_on_chelsea() {
    let (seq, _) = whole_network_on_chelsea(&AccelConfig::litefury());
    assert!((0..sequencer::steps().len()).any(|si| seq.tiled(si)));
}
