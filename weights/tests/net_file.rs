//! Tests of the `.net` reader on the real Deep Compression SqueezeNet file (exact per-layer counts
//! against the model README) and on malformed inputs: truncation at many offsets (inside the header,
//! codebooks, biases, codes and indices), altered counts, index overflow, NaN / non-zero codebook[0],
//! padding nibbles, trailing bytes and seeded random bytes. Every malformed input must give an error
//! naming the layer and the offset, never a panic.

use rand::{Rng, SeedableRng};
use weights::net::{layer_bytes, NetError, NetFile, HEADER_BYTES};
use weights::topology::{LAYERS, NUM_LAYERS};
use weights::Model;

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/models/squeezenet-v1.0-dc/compressed_SqueezeNet.net"
);

/// (entries, fillers, density to 3 decimals) per layer, from the model README table.
const README: [(usize, usize, f64); NUM_LAYERS] = [
    (13902, 0, 0.985),
    (1528, 0, 0.995),
    (1020, 0, 0.996),
    (3073, 34, 0.330),
    (2038, 0, 0.995),
    (1023, 0, 0.999),
    (3081, 42, 0.330),
    (4085, 0, 0.997),
    (4071, 0, 0.994),
    (12288, 132, 0.330),
    (8160, 0, 0.996),
    (4067, 0, 0.993),
    (12343, 196, 0.330),
    (12161, 0, 0.990),
    (4602, 0, 0.499),
    (27558, 233, 0.329),
    (9205, 0, 0.499),
    (9132, 3, 0.991),
    (27564, 228, 0.330),
    (24388, 0, 0.992),
    (8190, 3, 0.500),
    (44919, 775, 0.299),
    (16371, 1, 0.500),
    (16303, 0, 0.995),
    (45038, 865, 0.300),
    (105973, 3650, 0.200),
];

fn real() -> Vec<u8> {
    std::fs::read(MODEL).expect("the shared model file (see the README)")
}

/// Byte offset of each layer's codebook in the real file.
fn layer_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut off = HEADER_BYTES;
    let mut v = Vec::new();
    for (i, spec) in LAYERS.iter().enumerate() {
        v.push(off);
        let n = u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap()) as usize;
        off += layer_bytes(spec, n);
    }
    v
}

#[test]
fn real_file_parses_exactly_as_the_readme_says() {
    let bytes = real();
    assert_eq!(bytes.len(), 675_763);
    assert!(weights::sha256::sha256_hex(&bytes).starts_with("e4ab6960ae8cd815"));
    let net = NetFile::parse(&bytes).unwrap();
    assert_eq!(net.layers.len(), NUM_LAYERS);
    for (l, &(entries, fillers, density)) in net.layers.iter().zip(README.iter()) {
        assert_eq!(l.entries(), entries, "{}", l.spec.name);
        assert_eq!(l.fillers(), fillers, "{}", l.spec.name);
        let d = l.nonzeros() as f64 / l.spec.weight_count() as f64;
        assert!(
            (d - density).abs() <= 0.0005 + 1e-9,
            "{} density {d}",
            l.spec.name
        );
        assert_eq!(l.codebook[0], 0.0);
        assert_eq!(l.bias.len(), l.spec.out_c);
        // Dense decode: exactly the nonzero entries land, at distinct positions.
        let dense = l.decode_dense();
        assert_eq!(dense.iter().filter(|&&w| w != 0.0).count(), l.nonzeros());
        let pos = l.positions();
        assert!(pos.windows(2).all(|w| w[0] < w[1]));
        assert!(*pos.last().unwrap() < l.spec.weight_count());
    }
    assert_eq!(net.total_nonzeros(), 415_921);
    assert_eq!(net.total_fillers(), 6_162);
    // Serialising gives the file back byte for byte.
    assert_eq!(net.to_bytes(), bytes);
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.nonzeros(), 415_921);
    assert_eq!(model.file_bytes, 675_763);
}

fn expect_err(bytes: &[u8], what: &str) -> NetError {
    match NetFile::parse(bytes) {
        Ok(_) => panic!("{what}: malformed input parsed"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("offset"),
                "{what}: message without offset: {msg}"
            );
            e
        }
    }
}

#[test]
fn truncation_anywhere_is_an_error_with_layer_and_offset() {
    let bytes = real();
    let offs = layer_offsets(&bytes);
    let mut cuts = vec![
        0,
        1,
        3,
        4,
        50,
        HEADER_BYTES - 1,
        HEADER_BYTES,
        bytes.len() - 1,
    ];
    for (i, spec) in LAYERS.iter().enumerate() {
        let o = offs[i];
        let n = bytes[4 * i..4 * i + 4]
            .iter()
            .rev()
            .fold(0usize, |a, &b| a * 256 + b as usize);
        let codes = o + 1024 + 4 * spec.out_c;
        let ind = codes + n;
        // Mid-codebook, mid-bias, mid-codes, mid-indices, and the exact field boundaries.
        cuts.extend([
            o,
            o + 517,
            o + 1024,
            o + 1024 + 2 * spec.out_c + 1,
            codes,
            codes + n / 2,
            ind,
            ind + n / 4,
        ]);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_0001);
    for _ in 0..300 {
        cuts.push(rng.gen_range(0..bytes.len()));
    }
    for cut in cuts {
        let e = expect_err(&bytes[..cut], &format!("cut at {cut}"));
        match &e {
            NetError::Truncated { offset, layer, .. } => {
                assert!(*offset <= cut, "cut {cut}: offset {offset}");
                assert!(
                    LAYERS.iter().any(|l| l.name == layer),
                    "cut {cut}: layer {layer}"
                );
                assert!(e.to_string().contains(layer.as_str()));
            }
            other => panic!("cut at {cut}: expected Truncated, got {other}"),
        }
    }
}

#[test]
fn altered_counts_are_errors() {
    let bytes = real();
    for i in 0..NUM_LAYERS {
        let n = u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
        let size = LAYERS[i].weight_count() as u32;
        for new in [
            n + 1,
            n - 1,
            n + 2,
            n.saturating_sub(7),
            0,
            size,
            size + 1,
            u32::MAX,
        ] {
            let mut b = bytes.clone();
            b[4 * i..4 * i + 4].copy_from_slice(&new.to_le_bytes());
            let e = expect_err(&b, &format!("layer {i} count {n} -> {new}"));
            if new > size {
                match e {
                    NetError::BadCount { layer, offset, .. } => {
                        assert_eq!(layer, LAYERS[i].name);
                        assert_eq!(offset, 4 * i);
                    }
                    other => panic!("count {new} > {size}: got {other}"),
                }
            }
        }
    }
}

#[test]
fn index_running_past_the_layer_is_an_error() {
    let bytes = real();
    let offs = layer_offsets(&bytes);
    // conv1: every relative index 15 pushes the positions far past 96*3*7*7.
    let n = 13902;
    let ind = offs[0] + 1024 + 4 * 96 + n;
    let mut b = bytes.clone();
    for x in &mut b[ind..ind + n / 2] {
        *x = 0xff;
    }
    match expect_err(&b, "conv1 indices all 15") {
        NetError::IndexOverflow {
            layer,
            offset,
            size,
            ..
        } => {
            assert_eq!(layer, "conv1");
            assert!(offset >= ind && offset < ind + n / 2);
            assert_eq!(size, 96 * 3 * 7 * 7);
        }
        other => panic!("got {other}"),
    }
    // Bump only the very last index of a layer so its final position lands just past the end.
    let net = NetFile::parse(&bytes).unwrap();
    let mut tried = 0;
    for (l, layer) in net.layers.iter().enumerate() {
        let n = layer.entries();
        let pos = *layer.positions().last().unwrap();
        let room = LAYERS[l].weight_count() - 1 - pos; // zeros after the last entry
        let old = *layer.rel_idx.last().unwrap() as usize;
        if old + room + 1 > 15 {
            continue;
        }
        tried += 1;
        let li = offs[l] + 1024 + 4 * LAYERS[l].out_c + n + (n - 1) / 2;
        let new = (old + room + 1) as u8;
        let mut b = bytes.clone();
        b[li] = if n % 2 == 1 {
            (b[li] & 0xf0) | new
        } else {
            (b[li] & 0x0f) | (new << 4)
        };
        match expect_err(&b, "last index") {
            NetError::IndexOverflow {
                layer,
                offset,
                position,
                size,
                entry,
            } => {
                assert_eq!(layer, LAYERS[l].name);
                assert_eq!((offset, entry), (li, n - 1));
                assert_eq!(position, size);
            }
            other => panic!("got {other}"),
        }
    }
    assert!(tried >= 5, "only {tried} layers had room");
}

#[test]
fn bad_codebooks_biases_nibbles_and_trailing_bytes() {
    let bytes = real();
    let offs = layer_offsets(&bytes);
    // NaN in a codebook.
    let mut b = bytes.clone();
    let at = offs[5] + 4 * 17;
    b[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    match expect_err(&b, "NaN codebook") {
        NetError::NonFinite {
            layer,
            offset,
            entry,
            field,
            ..
        } => {
            assert_eq!(
                (layer.as_str(), offset, entry, field),
                (LAYERS[5].name, at, 17, "codebook")
            );
        }
        other => panic!("got {other}"),
    }
    // Infinite bias.
    let mut b = bytes.clone();
    let at = offs[9] + 1024 + 4 * 3;
    b[at..at + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    assert!(
        matches!(expect_err(&b, "inf bias"), NetError::NonFinite { field: "bias", offset, .. } if offset == at)
    );
    // codebook[0] != 0.
    for (layer, v) in [(0usize, 1.0f32), (12, -1e-30), (25, f32::MIN_POSITIVE)] {
        let mut b = bytes.clone();
        b[offs[layer]..offs[layer] + 4].copy_from_slice(&v.to_le_bytes());
        match expect_err(&b, "codebook[0]") {
            NetError::CodebookZero {
                layer: name,
                offset,
                ..
            } => {
                assert_eq!((name.as_str(), offset), (LAYERS[layer].name, offs[layer]));
            }
            other => panic!("got {other}"),
        }
    }
    // Odd count (fire2/conv3x3_2 has 3073 entries): the last high nibble must be 0.
    let n = 3073;
    let last = offs[3] + 1024 + 4 * 64 + n + n / 2;
    let mut b = bytes.clone();
    b[last] |= 0x10;
    match expect_err(&b, "padding nibble") {
        NetError::PaddingNibble {
            layer,
            offset,
            nibble,
        } => {
            assert_eq!(
                (layer.as_str(), offset, nibble),
                ("fire2/conv3x3_2", last, 1)
            );
        }
        other => panic!("got {other}"),
    }
    // Trailing bytes.
    for extra in [1usize, 2, 4, 1000] {
        let mut b = bytes.clone();
        b.extend(vec![0u8; extra]);
        assert_eq!(
            expect_err(&b, "trailing"),
            NetError::TrailingBytes {
                offset: bytes.len(),
                extra
            }
        );
    }
}

#[test]
fn seeded_random_bytes_never_parse_and_never_panic() {
    let bytes = real();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_0002);
    for round in 0..300 {
        let len = match round % 3 {
            0 => rng.gen_range(0..512),
            1 => rng.gen_range(0..20_000),
            _ => bytes.len(),
        };
        let mut b: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if round % 2 == 1 && len >= HEADER_BYTES {
            // A valid header followed by noise gets past the counts.
            b[..HEADER_BYTES].copy_from_slice(&bytes[..HEADER_BYTES]);
        }
        expect_err(&b, &format!("random round {round}"));
    }
    // Random single-byte corruptions of the real file: parse or error, never panic.
    for _ in 0..300 {
        let mut b = bytes.clone();
        let at = rng.gen_range(0..b.len());
        b[at] = rng.gen();
        let _ = NetFile::parse(&b);
    }
}

#[test]
fn an_all_zero_model_is_valid() {
    // Counts 0, zero codebooks and biases: the smallest well-formed file.
    let len = HEADER_BYTES + LAYERS.iter().map(|l| layer_bytes(l, 0)).sum::<usize>();
    let net = NetFile::parse(&vec![0u8; len]).unwrap();
    assert_eq!(net.total_entries(), 0);
    assert!(net
        .layers
        .iter()
        .all(|l| l.decode_dense().iter().all(|&w| w == 0.0)));
    assert!(NetFile::parse(&vec![0u8; len + 1]).is_err());
    assert!(NetFile::parse(&vec![0u8; len - 1]).is_err());
}

#[test]
fn model_and_class_names_load() {
    let p = weights::default_model_path(Some(std::path::Path::new(MODEL))).unwrap();
    let m = Model::load(&p).unwrap();
    assert!(m.sha256.starts_with("e4ab6960ae8cd815"));
    assert_eq!(m.layers[0].weights.len(), 96 * 3 * 7 * 7);
    let names = weights::ClassNames::for_model(None, &p).unwrap();
    assert_eq!(names.names.len(), 1000);
    assert_eq!(names.short_name(285), "Egyptian cat");
    assert_eq!(names.wnids[285], "n02124075");
    // A missing file is a clear error naming where to get the model.
    let e =
        weights::default_model_path(Some(std::path::Path::new("/nonexistent/x.net"))).unwrap_err();
    assert!(
        e.to_string()
            .contains("songhan/SqueezeNet-Deep-Compression"),
        "{e}"
    );
    let e = Model::load("/nonexistent/x.net").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.net"), "{e}");
    // A corrupt file names the path and the parse error.
    let dir = std::env::temp_dir().join(format!("sqz-weights-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.net");
    std::fs::write(&bad, &real()[..1000]).unwrap();
    let e = Model::load(&bad).unwrap_err().to_string();
    assert!(
        e.contains("bad.net") && e.contains("conv1") && e.contains("offset"),
        "{e}"
    );
    let bad_names = dir.join("names.txt");
    std::fs::write(&bad_names, "n1 a\nn2 b\n").unwrap();
    assert!(weights::ClassNames::load(&bad_names)
        .unwrap_err()
        .to_string()
        .contains("2 class names"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Anything larger than the format allows, and anything that is not a regular file, is refused
/// before it is read: a 2 GB sparse file, a device that never ends, a directory.
#[test]
fn oversized_files_and_non_files_are_refused_without_reading_them() {
    use weights::{Model, ModelError};
    let max = weights::net::max_file_bytes();
    assert!(max > real().len() && max < 4 << 20, "max {max}");
    let dir = std::env::temp_dir().join(format!("sqz-net-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.net");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(2 << 30).unwrap(); // sparse: costs no disk
    drop(f);
    let e = Model::load(&big).unwrap_err();
    assert!(matches!(e, ModelError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("at most"), "{e}");
    let e = Model::load("/dev/zero").unwrap_err();
    assert!(matches!(e, ModelError::NotAFile { .. }), "{e}");
    let e = Model::load(&dir).unwrap_err();
    assert!(e.to_string().contains(&*dir.to_string_lossy()), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
