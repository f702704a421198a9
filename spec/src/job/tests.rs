//! The planner's unit tests: channel encoding, codebooks, polyphase order, plans and their
//! output parsing, errors.

use super::*;
use crate::numerics::CODEBOOK_ENTRIES;
use crate::packet::PacketType;
use crate::AccelConfig;

fn layer(in_c: u32, out_c: u32, k: u32, stride: u32, pad: u32, pool: bool, seed: u32) -> ConvLayer {
    let n = (in_c * out_c * k * k) as usize;
    let w = (0..n)
        .map(|i| {
            let h = (i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 7;
            if h.is_multiple_of(3) {
                // Some 16-bit magnitudes, at most 255 distinct values.
                (((h >> 8) % 255) as i32 - 127) as i16 * 181
            } else {
                0
            }
        })
        .collect();
    ConvLayer {
        in_c,
        out_c,
        k,
        stride,
        pad,
        pool,
        weights: LayerWeights::Dense(w),
        bias: vec![5; out_c as usize],
        m: 20000,
        shift: 20,
    }
}

fn tensor(c: u32, h: u32, w: u32) -> Tensor {
    Tensor {
        c,
        h,
        w,
        signed: false,
        data: (0..c * h * w).map(|i| (i * 7 % 251) as u8).collect(),
    }
}

/// Decode entries back into dense positions: the engine's walk.
fn walk(entries: &[(u8, u8)]) -> Vec<(u32, u8)> {
    let mut p: i64 = -1;
    let mut v = Vec::new();
    for &(c, r) in entries {
        p += r as i64 + 1;
        if c != 0 {
            v.push((p as u32, c));
        }
    }
    v
}

#[test]
fn channel_encoding_round_trips_with_fillers() {
    let pos = vec![(0u32, 3u8), (1, 4), (40, 9), (41, 1), (200, 7)];
    let e = encode_channel(pos.clone().into_iter());
    assert!(e.iter().all(|&(_, r)| r <= 15));
    assert!(
        e.iter().any(|&(c, r)| c == 0 && r == 15),
        "a gap of 38 needs fillers"
    );
    assert_eq!(walk(&e), pos);
    assert_eq!(encode_channel(std::iter::empty()), vec![(0, 0)]);
}

#[test]
fn dense_weights_get_a_sorted_codebook_and_too_many_values_are_refused() {
    let w = [0i16, 300, -32767, 300, 0, 7, 32767];
    let (codes, lut) = dense_codes(&w).unwrap();
    assert_eq!(lut.len(), CODEBOOK_ENTRIES);
    assert_eq!(&lut[..5], &[0, -32767, 7, 300, 32767]);
    assert_eq!(codes, vec![0, 3, 1, 3, 0, 2, 4]);
    let many: Vec<i16> = (1..=256).collect();
    assert!(dense_codes(&many).is_err());
    let ok: Vec<i16> = (1..=255).collect();
    assert!(dense_codes(&ok).is_ok());
    // An entry past the symmetric range (-32768) is refused by the planner.
    let mut l = layer(1, 1, 1, 1, 0, false, 3);
    l.weights = LayerWeights::Dense(vec![i16::MIN]);
    assert!(engine_layer(&l).is_err());
}

#[test]
fn stride2_weights_follow_polyphase_order() {
    let l = layer(3, 4, 7, 2, 0, false, 1);
    let el = engine_layer(&l).unwrap();
    assert_eq!(el.k, 4);
    let LayerWeights::Dense(w) = &l.weights else {
        unreachable!()
    };
    for (o, ch) in el.chans.iter().enumerate() {
        for (p, code) in walk(ch) {
            let (c4, a, b) = (p / 16, (p / 4) % 4, p % 4);
            let (c, ph) = (c4 / 4, c4 % 4);
            let (kh, kw) = (2 * a + ph / 2, 2 * b + ph % 2);
            assert_eq!(
                w[(((o as u32 * 3 + c) * 7 + kh) * 7 + kw) as usize],
                el.lut[code as usize]
            );
        }
        let nz = (0..3 * 49).filter(|&i| w[o * 147 + i] != 0).count();
        assert_eq!(walk(ch).len(), nz);
    }
}

#[test]
fn conv_plan_packets_and_output_parse() {
    let cfg = AccelConfig::tiny();
    let l = layer(5, 3, 3, 1, 1, false, 2);
    let x = tensor(5, 9, 7);
    let p = plan_conv(&cfg, &l, &x).unwrap();
    let pk = Packet::parse_stream(&p.load()).unwrap();
    let types: Vec<PacketType> = pk.iter().map(|p| p.ty).collect();
    assert_eq!(
        types,
        [
            PacketType::Weights,
            PacketType::Codebook,
            PacketType::Bias,
            PacketType::Mask,
            PacketType::ActIn
        ]
    );
    let d = &p.jobs[0].descriptor;
    assert_eq!((d.grid_w, d.k, d.out_c), (9, 3, 3));
    assert_eq!(Descriptor::unpack(&p.jobs[0].words().unwrap()), *d);
    // Input grid: border of zeros, data inside.
    let act = crate::packet::beats_to_bytes(&pk[4].payload);
    assert_eq!(act[0], 0);
    assert_eq!(act[9 + 1], x.data[0]);
    // Parse: fabricate C2H bytes whose value encodes (channel, grid position).
    let mut c2h = vec![0u8; p.out_bytes() as usize];
    let per = (d.ntiles * cfg.pixel_lanes) as usize;
    for o in 0..3 {
        for q in 0..per {
            c2h[o * per + q] = (o * 50 + q) as u8;
        }
    }
    let out = p.parse_output(&c2h).unwrap();
    assert_eq!((p.out_h, p.out_w), (9, 7));
    assert_eq!(out[(2 * 9 + 3) * 7 + 4], (2 * 50 + 3 * 9 + 4) as u8);
    assert!(p.parse_output(&c2h[1..]).is_err());
}

#[test]
fn fire_plan_has_three_jobs_and_concat_offsets() {
    let cfg = AccelConfig::tiny();
    let (sq, e1, e3) = (
        layer(8, 4, 1, 1, 0, false, 3),
        layer(4, 6, 1, 1, 0, true, 4),
        layer(4, 5, 3, 1, 1, true, 5),
    );
    let p = plan_fire(&cfg, &sq, &e1, &e3, &tensor(8, 11, 11)).unwrap();
    assert_eq!(p.jobs.len(), 3);
    assert!(p.jobs[0].descriptor.dst_mid && p.jobs[0].out_bytes == 0);
    assert!(p.jobs[1].descriptor.src_mid && p.jobs[2].descriptor.src_mid);
    assert_eq!(p.jobs[2].descriptor.out_ch_offset, 6);
    assert_eq!((p.out_c, p.out_h, p.out_w), (11, 5, 5));
    let per = (cfg.pixel_lanes / 2 - 1) as usize;
    assert_eq!(
        p.jobs[1].descriptor.pool_chunks as usize,
        5usize.div_ceil(per)
    );
    // Mask of the squeeze marks exactly the interior of the 13x13 grid.
    let pk = Packet::parse_stream(&p.load()).unwrap();
    let mask = pk.iter().find(|p| p.ty == PacketType::Mask).unwrap();
    let ones: u32 = mask.payload.iter().map(|b| b.count_ones()).sum();
    assert_eq!(ones, 121 + 2 * 121);
}

#[test]
fn capacity_and_shape_errors() {
    let cfg = AccelConfig::tiny();
    let l = layer(4, 2, 3, 1, 1, false, 6);
    assert!(matches!(
        plan_conv(&cfg, &l, &tensor(3, 5, 5)),
        Err(JobError::Shape(_))
    ));
    let big = tensor(4, 400, 400);
    assert!(matches!(
        plan_conv(&cfg, &l, &big),
        Err(JobError::Capacity(_))
    ));
    let bad = ConvLayer { m: 0, ..l.clone() };
    assert!(plan_conv(&cfg, &bad, &tensor(4, 5, 5)).is_err());
}

/// Each channel parsed into a zero-bordered plane (the next input, streamed) holds the same map
/// as the whole output parsed at once, plain and pooled.
#[test]
fn channels_parse_into_planes_as_the_whole_output_does() {
    let cfg = AccelConfig::tiny();
    let conv = plan_conv(&cfg, &layer(5, 3, 3, 1, 1, false, 2), &tensor(5, 9, 7)).unwrap();
    let (sq, e1, e3) = (
        layer(8, 4, 1, 1, 0, false, 3),
        layer(4, 6, 1, 1, 0, true, 4),
        layer(4, 5, 3, 1, 1, true, 5),
    );
    let fire = plan_fire(&cfg, &sq, &e1, &e3, &tensor(8, 11, 11)).unwrap();
    for p in [&*conv, &*fire] {
        let c2h: Vec<u8> = (0..p.out_bytes())
            .map(|i| (i * 31 % 251) as u8 + 1)
            .collect();
        let y = p.parse_output(&c2h).unwrap();
        let lay = ActLayout {
            base: 0,
            c: p.out_c,
            h: p.out_h,
            w: p.out_w,
            pad: 1,
        };
        let mut planes = vec![0u8; lay.len()];
        let mut at = 0;
        for j in &p.jobs {
            let bytes = &c2h[at..at + j.out_bytes as usize];
            at += j.out_bytes as usize;
            let Some((ch0, n, cb)) = j.out_channels() else {
                continue;
            };
            let cb = cb as usize;
            assert!(!j.parse_channel_into(&bytes[..cb - 1], &mut planes, lay.w as usize + 2));
            for c in 0..n as usize {
                let (o, stride) = lay.map_at(ch0 + c as u32);
                assert!(j.parse_channel_into(&bytes[c * cb..][..cb], &mut planes[o..], stride));
            }
        }
        let (h, w) = (p.out_h as usize, p.out_w as usize);
        for (c, plane) in planes.chunks(lay.plane()).enumerate() {
            for (r, row) in plane.chunks(w + 2).enumerate() {
                for (x, &v) in row.iter().enumerate() {
                    let inside = (1..=h).contains(&r) && (1..=w).contains(&x);
                    let want = if inside {
                        y[(c * h + r - 1) * w + x - 1]
                    } else {
                        0
                    };
                    assert_eq!(v, want, "channel {c} row {r} column {x}");
                }
            }
        }
    }
}
