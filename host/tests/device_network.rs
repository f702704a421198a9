//! The network sequencer over an in-process card model (the software card computing jobs with the
//! functional engine of `host::emulate::engine`): every layer's output read back from the card
//! equals the bit-exact int8 reference, and so do the logits and classes.

use std::time::Duration;

use host::device::model::ModelDevice;
use host::device::Timeouts;
use host::emulate::soft::SoftCard;
use host::sequencer::{self, NetOutput};
use reference::int8;
use spec::AccelConfig;
use weights::quant::QuantModel;

const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images");

fn model() -> QuantModel {
    let path = weights::default_model_path(None).expect("model file");
    let m = weights::Model::load(&path).expect("load model");
    QuantModel::from_model_committed(&m).expect("quantize")
}

/// Check every layer the card sent back, and the logits, against the reference.
pub fn assert_matches_reference(out: &NetOutput, reference: &int8::Int8Output) {
    assert_eq!(out.input, reference.input);
    let mut compared = 0;
    for (i, got) in out.layers.iter().enumerate() {
        if let Some(got) = got {
            assert_eq!(
                got,
                &reference.layers[i],
                "layer {} differs",
                weights::topology::LAYERS[i].name
            );
            compared += 1;
        }
    }
    assert_eq!(
        compared,
        26 - 8,
        "every layer but the 8 squeezes is read back"
    );
    assert_eq!(out.logits, reference.logits);
    assert_eq!(out.probabilities, reference.probs);
}

#[test]
fn soft_engine_card_matches_int8_reference_on_chelsea() {
    let q = model();
    let input = host::image::load_preprocessed(format!("{IMAGES}/chelsea.png")).unwrap();
    let reference = int8::try_forward(&q, &input).unwrap();
    let cfg = AccelConfig::tiny();
    let mut dev = ModelDevice::new(
        SoftCard::engine(cfg.clone()),
        Timeouts::uniform(Duration::from_secs(30)),
    );
    let mut steps = 0;
    let out = sequencer::run_network(&mut dev, &cfg, &q, &input, &mut |_| steps += 1).unwrap();
    assert_eq!(steps, 10);
    assert_matches_reference(&out, &reference);
    assert_eq!(reference::top_k(&out.probabilities, 1), [285]);
    // Counters: one job per layer, and the estimate of busy cycles is positive everywhere.
    let jobs: Vec<_> = out.steps.iter().flat_map(|s| &s.layers).collect();
    assert_eq!(jobs.len(), 26);
    assert!(
        jobs.iter().all(|l| l.perf.jobs == 1 && l.perf.busy > 0),
        "{jobs:?}"
    );
}

/// Without reading the layers back (what classifying does) the run sends the same bytes and
/// gives the same logits; only the last layer is returned.
#[test]
fn classifying_reads_back_the_last_layer_only() {
    let q = model();
    let input = host::image::load_preprocessed(format!("{IMAGES}/coffee.png")).unwrap();
    let reference = int8::try_forward(&q, &input).unwrap();
    let cfg = AccelConfig::tiny();
    let mut dev = ModelDevice::new(
        SoftCard::engine(cfg.clone()),
        Timeouts::uniform(Duration::from_secs(30)),
    );
    let mut seq = sequencer::Sequencer::new(&cfg, &q).unwrap();
    let all = seq.run(&mut dev, &input, &mut |_| {}).unwrap();
    assert_matches_reference(&all, &reference);
    seq.read_layers(false);
    let last = seq.run(&mut dev, &input, &mut |_| {}).unwrap();
    assert_eq!(last.logits, reference.logits);
    assert_eq!(last.probabilities, reference.probs);
    let n = last.layers.len();
    assert!(last.layers[..n - 1].iter().all(Option::is_none));
    assert_eq!(last.layers[n - 1].as_ref(), Some(&reference.layers[n - 1]));
    let bytes = |o: &NetOutput| o.steps.iter().map(|s| s.h2c_bytes).collect::<Vec<_>>();
    assert_eq!(bytes(&all), bytes(&last));
}

#[test]
fn resident_weights_are_sent_once_when_they_fit() {
    let q = model();
    let tiny = AccelConfig::tiny();
    assert!(
        !sequencer::Sequencer::new(&tiny, &q).unwrap().resident(),
        "tiny reloads per layer"
    );
    assert!(
        !sequencer::Sequencer::new(&AccelConfig::nitefury(), &q)
            .unwrap()
            .resident(),
        "nitefury streams weights per layer"
    );
    // A variant with every weight on chip.
    let cfg = AccelConfig {
        weight_entries: 448 * 1024,
        ..AccelConfig::nitefury()
    };
    let mut seq = sequencer::Sequencer::new(&cfg, &q).unwrap();
    assert!(seq.resident(), "448 K entries hold every weight");
    let mut dev = ModelDevice::new(
        SoftCard::engine(cfg.clone()),
        Timeouts::uniform(Duration::from_secs(60)),
    );
    let mut h2c = Vec::new();
    for name in ["coffee", "chelsea", "coffee"] {
        let input = host::image::load_preprocessed(format!("{IMAGES}/{name}.png")).unwrap();
        let reference = int8::try_forward(&q, &input).unwrap();
        let out = seq.run(&mut dev, &input, &mut |_| {}).unwrap();
        assert_matches_reference(&out, &reference);
        h2c.push(out.steps.iter().map(|s| s.h2c_bytes).sum::<u64>());
    }
    // The first image carries ~0.8 MB of weights; the next ones only masks and activations.
    assert!(h2c[0] > h2c[1] + 500_000, "{h2c:?}");
    assert_eq!(h2c[1], h2c[2]);
}

#[test]
fn litefury_runs_the_network_in_tiles_bit_exact() {
    let q = model();
    let cfg = AccelConfig::litefury();
    let seq = sequencer::Sequencer::new(&cfg, &q).unwrap();
    // What does not fit the XC7A100T's buffers at once runs in tiles: fire2..fire4 in bands of
    // rows (their input and squeeze output exceed the activation buffer), conv10 in groups of
    // output channels (its weights exceed the weight memory); fire6..fire9 in groups of expand
    // channels.
    let tiled: Vec<&str> = sequencer::steps()
        .iter()
        .enumerate()
        .filter(|&(si, _)| seq.tiled(si))
        .map(|(_, s)| s.name())
        .collect();
    assert!(
        tiled.contains(&"fire2") && tiled.contains(&"conv_final"),
        "{tiled:?}"
    );
    let mut dev = ModelDevice::new(
        SoftCard::engine(cfg.clone()),
        Timeouts::uniform(Duration::from_secs(60)),
    );
    let input = host::image::load_preprocessed(format!("{IMAGES}/chelsea.png")).unwrap();
    let reference = int8::try_forward(&q, &input).unwrap();
    let out = sequencer::run_network(&mut dev, &cfg, &q, &input, &mut |_| {}).unwrap();
    assert_matches_reference(&out, &reference);
    // One report per layer, its counters summed over the layer's tiles.
    let jobs: Vec<_> = out.steps.iter().flat_map(|s| &s.layers).collect();
    assert_eq!(jobs.len(), 26);
    for (si, s) in out.steps.iter().enumerate() {
        assert!(
            s.layers.iter().all(|l| l.perf.jobs >= 1 && l.perf.busy > 0),
            "{s:?}"
        );
        let jobs: u32 = s.layers.iter().map(|l| l.perf.jobs).sum();
        assert_eq!(
            seq.tiled(si),
            jobs as usize > s.layers.len(),
            "{}: {jobs} jobs",
            s.step
        );
    }
}
