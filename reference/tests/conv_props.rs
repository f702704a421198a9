//! Property tests of `int8::conv_layer` (the fast, sparse, padded-buffer implementation) against a
//! straightforward naive implementation written here from the numerics contract (`spec::numerics`):
//! random shapes, K in {1, 3, 7}, strides 1..=3, pads 0..=3, pool on/off, int8 or uint8 input,
//! random sparse 16-bit weights (including -32768), biases (including values that make the i32 accumulator wrap), m and
//! shift. Also two real SqueezeNet layers (conv1 7x7/2 on the real image, a 3x3 pad-1 expand).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::{Rng, SeedableRng};
use reference::int8::{conv_layer, try_conv_layer, QConvLayer, QTensor};

/// Naive reference: loops over every output and every weight, bounds-checking the padding.
fn naive(x: &QTensor, l: &QConvLayer) -> QTensor {
    let ho = (x.h + 2 * l.pad - l.k) / l.stride + 1;
    let wo = (x.w + 2 * l.pad - l.k) / l.stride + 1;
    let mut y = vec![0u8; l.out_c * ho * wo];
    for o in 0..l.out_c {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut acc: i32 = l.bias[o];
                for i in 0..l.in_c {
                    for ky in 0..l.k {
                        for kx in 0..l.k {
                            let iy = (oy * l.stride + ky) as isize - l.pad as isize;
                            let ix = (ox * l.stride + kx) as isize - l.pad as isize;
                            if iy < 0 || ix < 0 || iy >= x.h as isize || ix >= x.w as isize {
                                continue; // padding pixel = 0
                            }
                            let byte = x.data[(i * x.h + iy as usize) * x.w + ix as usize];
                            let a: i32 = if x.signed {
                                (byte as i8).into()
                            } else {
                                byte.into()
                            };
                            let w: i32 = l.weights[((o * l.in_c + i) * l.k + ky) * l.k + kx].into();
                            acc = acc.wrapping_add(w * a);
                        }
                    }
                }
                let r = (acc as i64 * l.m as i64 + (1i64 << (l.shift - 1))) >> l.shift;
                y[(o * ho + oy) * wo + ox] = r.clamp(0, 255) as u8;
            }
        }
    }
    if !l.pool {
        return QTensor {
            c: l.out_c,
            h: ho,
            w: wo,
            signed: false,
            data: y,
        };
    }
    let (ph, pw) = ((ho - 3) / 2 + 1, (wo - 3) / 2 + 1);
    let mut p = vec![0u8; l.out_c * ph * pw];
    for o in 0..l.out_c {
        for py in 0..ph {
            for px in 0..pw {
                let mut m = 0u8;
                for dy in 0..3 {
                    for dx in 0..3 {
                        m = m.max(y[(o * ho + 2 * py + dy) * wo + 2 * px + dx]);
                    }
                }
                p[(o * ph + py) * pw + px] = m;
            }
        }
    }
    QTensor {
        c: l.out_c,
        h: ph,
        w: pw,
        signed: false,
        data: p,
    }
}

#[derive(Debug, Clone)]
struct Case {
    in_c: usize,
    out_c: usize,
    k: usize,
    stride: usize,
    pad: usize,
    pool: bool,
    signed: bool,
    h: usize,
    w: usize,
    density: f64,
    bias_full_range: bool,
    shift_random: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            1usize..=6,
            1usize..=6,
            prop_oneof![Just(1usize), Just(3), Just(7)],
            1usize..=3,
            0usize..=3,
            any::<bool>(),
            any::<bool>(),
        ),
        (
            0usize..=14,
            0usize..=14,
            prop_oneof![Just(0.0), Just(0.3), Just(0.7), Just(1.0)],
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.2),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (in_c, out_c, k, stride, pad, pool, signed),
                (dh, dw, density, bias_full_range, shift_random, seed),
            )| {
                // Smallest input the kernel (and, with a pool, a 3x3 output) fits in.
                let need = if pool { k + 2 * stride } else { k };
                let min = need.saturating_sub(2 * pad).max(1);
                Case {
                    in_c,
                    out_c,
                    k,
                    stride,
                    pad,
                    pool,
                    signed,
                    h: min + dh,
                    w: min + dw,
                    density,
                    bias_full_range,
                    shift_random,
                    seed,
                }
            },
        )
}

fn build(c: &Case) -> (QTensor, QConvLayer) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed);
    let data: Vec<u8> = (0..c.in_c * c.h * c.w).map(|_| rng.gen()).collect();
    let x = QTensor {
        c: c.in_c,
        h: c.h,
        w: c.w,
        signed: c.signed,
        data,
    };
    let n = c.out_c * c.in_c * c.k * c.k;
    let weights: Vec<i16> = (0..n)
        .map(|_| {
            if rng.gen_bool(c.density) {
                rng.gen()
            } else {
                0
            }
        })
        .collect();
    let bias: Vec<i32> = (0..c.out_c)
        .map(|_| {
            if c.bias_full_range {
                rng.gen()
            } else {
                rng.gen_range(-200_000..200_000)
            }
        })
        .collect();
    let m: u16 = rng.gen_range(1..=32767);
    // Put the typical accumulator (~ sqrt(n_taps) * 32767 * 128) near the middle of 0..255 so
    // the outputs are not all clamped, unless the case asks for a random shift.
    let taps = (c.in_c * c.k * c.k) as f64;
    let typical = taps.sqrt() * 32767.0 * 128.0 * m as f64 / 100.0;
    let shift = if c.shift_random {
        rng.gen_range(1..=46)
    } else {
        ((typical.log2().round() as i32) + rng.gen_range(-3..=3)).clamp(1, 46) as u8
    };
    let l = QConvLayer {
        in_c: c.in_c,
        out_c: c.out_c,
        k: c.k,
        stride: c.stride,
        pad: c.pad,
        pool: c.pool,
        weights,
        bias,
        m,
        shift,
    };
    (x, l)
}

#[test]
fn conv_layer_matches_naive_on_random_layers() {
    let mut runner = TestRunner::new(Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    });
    let varied = std::cell::Cell::new(0usize);
    let total = std::cell::Cell::new(0usize);
    runner
        .run(&case(), |c| {
            let (x, l) = build(&c);
            let got = conv_layer(&x, &l);
            let want = naive(&x, &l);
            prop_assert_eq!(&got, &want, "case {:?}", c);
            total.set(total.get() + 1);
            let first = want.data[0];
            if want.data.iter().any(|&v| v != first) {
                varied.set(varied.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    println!(
        "conv_layer vs naive: {} cases, {} with non-constant output",
        total.get(),
        varied.get()
    );
    // The comparison is only meaningful if most outputs are not trivially clamped.
    assert!(
        varied.get() * 2 > total.get(),
        "{} of {} varied",
        varied.get(),
        total.get()
    );
}

#[test]
fn accumulator_wraps_like_i32() {
    // One 1x1 tap: bias i32::MAX plus 127 * 127 wraps negative, so ReLU gives 0; without wrapping
    // (i64) it would saturate at 255.
    let x = QTensor {
        c: 1,
        h: 1,
        w: 1,
        signed: false,
        data: vec![127],
    };
    let l = QConvLayer {
        in_c: 1,
        out_c: 1,
        k: 1,
        stride: 1,
        pad: 0,
        pool: false,
        weights: vec![127],
        bias: vec![i32::MAX],
        m: 1,
        shift: 1,
    };
    assert_eq!(conv_layer(&x, &l).data, vec![0]);
    assert_eq!(naive(&x, &l).data, vec![0]);
}

#[test]
fn invalid_layers_are_errors_not_panics() {
    let x = QTensor {
        c: 2,
        h: 5,
        w: 5,
        signed: false,
        data: vec![1; 50],
    };
    let ok = QConvLayer {
        in_c: 2,
        out_c: 1,
        k: 3,
        stride: 1,
        pad: 0,
        pool: false,
        weights: vec![1; 18],
        bias: vec![0],
        m: 1,
        shift: 1,
    };
    assert!(try_conv_layer(&x, &ok).is_ok());
    let bad = [
        QConvLayer {
            in_c: 3,
            weights: vec![1; 27],
            ..ok.clone()
        },
        QConvLayer {
            weights: vec![1; 17],
            ..ok.clone()
        },
        QConvLayer {
            bias: vec![],
            ..ok.clone()
        },
        QConvLayer {
            k: 7,
            weights: vec![1; 98],
            ..ok.clone()
        },
        QConvLayer {
            pool: true,
            ..ok.clone()
        }, // 3x3 output is the smallest poolable; 5-3+1 = 3 is fine...
        QConvLayer {
            shift: 0,
            ..ok.clone()
        },
        QConvLayer {
            shift: 47,
            ..ok.clone()
        },
        QConvLayer { m: 0, ..ok.clone() },
        QConvLayer {
            m: 40000,
            ..ok.clone()
        },
        QConvLayer {
            stride: 0,
            ..ok.clone()
        },
    ];
    for (i, l) in bad.iter().enumerate() {
        if i == 4 {
            assert!(try_conv_layer(&x, l).is_ok());
            let x4 = QTensor {
                c: 2,
                h: 4,
                w: 5,
                signed: false,
                data: vec![1; 40],
            };
            assert!(
                try_conv_layer(&x4, l).is_err(),
                "2x3 output cannot be pooled"
            );
            continue;
        }
        assert!(try_conv_layer(&x, l).is_err(), "case {i} accepted");
    }
    let short = QTensor {
        c: 2,
        h: 5,
        w: 5,
        signed: false,
        data: vec![1; 49],
    };
    assert!(try_conv_layer(&short, &ok).is_err());
}

#[test]
fn real_layers_match_naive() {
    use weights::quant::QuantModel;
    let model = weights::Model::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/models/squeezenet-v1.0-dc/compressed_SqueezeNet.net"
    ))
    .unwrap();
    let q = QuantModel::from_model_committed(&model).unwrap();
    let inputs = reference::golden::load_inputs().unwrap();
    let out = reference::int8::forward(&q, &inputs[1]);
    for i in [0usize, 3, 20] {
        let x = out.layer_input(i);
        let l = QConvLayer::from_quant(&q.layers[i]);
        let want = naive(&x, &l);
        assert_eq!(conv_layer(&x, &l), want, "{}", q.layers[i].name());
        assert_eq!(out.layers[i], want);
        let nz = want.data.iter().filter(|&&v| v != 0).count();
        println!(
            "real layer {:18} matches naive ({} of {} outputs nonzero)",
            q.layers[i].name(),
            nz,
            want.data.len()
        );
    }
}
