//! RTL checks of the emitted engine under Verilator with hdl's own small testbench
//! (hdl/tb/tb.cpp): the register file, bad input handling, and bit-exact convolution layers and
//! Fire modules against a direct implementation of the integer contract (`spec::numerics`) (written here
//! independently of the engine's grid/polyphase/sparse machinery). The full cross-check suite
//! against `reference::int8` lives in `sim`.

use spec::job::{plan_conv, plan_fire, ConvLayer, LayerWeights, Planned, Tensor};
use spec::regs;
use spec::AccelConfig;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn tb() -> &'static PathBuf {
    static TB: OnceLock<PathBuf> = OnceLock::new();
    TB.get_or_init(|| {
        let cfg = AccelConfig::tiny();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqz-tb-tiny");
        let old = std::fs::read_to_string(dir.join("sqz_top.v")).ok();
        let new = hdl::emit::verilog(&cfg).unwrap();
        let exe = dir.join("obj").join("Vtb");
        if old.as_deref() != Some(new.as_str()) || !exe.exists() {
            hdl::emit(&cfg, &dir).unwrap();
            let st = Command::new("verilator")
                .args([
                    "--cc",
                    "--exe",
                    "--build",
                    "-j",
                    "2",
                    "-O2",
                    "-Wno-fatal",
                    "-Wno-WIDTH",
                    "-Wno-UNOPTFLAT",
                ])
                .args(["--top-module", "sqz_top", "sqz_top.v"])
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tb/tb.cpp"))
                .args(["-o", "Vtb", "-Mdir", "obj"])
                .current_dir(&dir)
                .stdout(Stdio::null())
                .status()
                .expect("verilator");
            assert!(st.success(), "verilator build failed");
        }
        exe
    })
}

fn run_script(script: &str, backpressure: bool) -> String {
    let mut child = Command::new(tb())
        .env("SQZ_TB_BACKPRESSURE", if backpressure { "1" } else { "0" })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "tb failed: {s}");
    assert!(!s.contains("error") && !s.contains("timeout"), "tb: {s}");
    s
}

/// Script for a plan: reset, load, then per job descriptor + start + output + wait.
fn plan_script(p: &Planned) -> String {
    let mut s = String::from("R 4\n");
    let load = p.load();
    s.push_str(&format!("S {}", load.len()));
    for b in &load {
        s.push_str(&format!(" {b:x}"));
    }
    s.push('\n');
    for j in &p.jobs {
        for (i, w) in j.words().unwrap().iter().enumerate() {
            s.push_str(&format!("W {:x} {:x}\n", regs::DESC.at(i as u32), w));
        }
        s.push_str(&format!(
            "W {:x} {:x}\n",
            regs::CTRL.offset,
            regs::CTRL_START.val(1)
        ));
        // Every job's output ends with the trailer (a mid-buffer job sends the trailer alone).
        s.push_str(&format!(
            "O {}\n",
            j.out_bytes as usize + spec::trailer::TRAILER_BYTES
        ));
        s.push_str(&format!("P 100000000 {:x}\n", regs::STATUS.offset));
        s.push_str(&format!("Q {:x}\n", regs::PERF_BUSY.offset));
    }
    for r in [regs::ERR, regs::PERF_MACS] {
        s.push_str(&format!("Q {:x}\n", r.offset));
    }
    s
}

/// Issue cycles the walker needs by construction: per job, sum over channels of
/// `ntiles * max(entries, 4)` (zero weights cost nothing; a tile lasts >= spec::job::MIN_TILE_CYCLES).
fn model_cycles(p: &Planned) -> Vec<u64> {
    p.jobs
        .iter()
        .map(|j| {
            j.chan_entries
                .iter()
                .map(|&n| {
                    j.descriptor.ntiles as u64 * (n as u64).max(spec::job::MIN_TILE_CYCLES as u64)
                })
                .sum()
        })
        .collect()
}

struct RunResult {
    out: Vec<u8>,
    job_cycles: Vec<u64>,
    err: u32,
    macs: u32,
}

/// The payload of each job's C2H output in `text`, its trailer checked: the jobs are numbered
/// from `first_seq` (PERF_JOBS counts from the script's reset).
fn job_payloads(text: &str, first_seq: u32) -> Vec<Vec<u8>> {
    text.lines()
        .filter_map(|l| l.strip_prefix("out "))
        .enumerate()
        .map(|(k, h)| {
            let bytes: Vec<u8> = (0..h.len() / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let seq = first_seq + k as u32;
            spec::trailer::check_job_output(&bytes, seq)
                .unwrap_or_else(|e| panic!("job {seq}: {e}"))
                .to_vec()
        })
        .collect()
}

fn run_plan(p: &Planned, backpressure: bool) -> RunResult {
    let text = run_script(&plan_script(p), backpressure);
    let payloads = job_payloads(&text, 1);
    assert_eq!(payloads.len(), p.jobs.len(), "{text}");
    let bytes = payloads.concat();
    let mut job_cycles = Vec::new();
    let mut err = u32::MAX;
    let mut macs = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first() {
            Some(&"tlast_ok") => assert_eq!(f[1], "1", "tlast on the wrong beat"),
            Some(&"status") => {
                let st = u32::from_str_radix(f[1], 16).unwrap();
                assert_eq!(
                    st & regs::STATUS_ERROR.mask(),
                    0,
                    "job ended with ERROR: {text}"
                );
            }
            Some(&"reg") => {
                let off = u32::from_str_radix(f[1], 16).unwrap();
                let v = u32::from_str_radix(f[2], 16).unwrap();
                if off == regs::ERR.offset {
                    err = v;
                }
                if off == regs::PERF_MACS.offset {
                    macs = v;
                }
                if off == regs::PERF_BUSY.offset {
                    // Busy cycles of this job = growth of the busy counter.
                    let before: u64 = job_cycles.iter().sum();
                    job_cycles.push(v as u64 - before);
                }
            }
            _ => {}
        }
    }
    RunResult {
        out: p.parse_output(&bytes).unwrap(),
        job_cycles,
        err,
        macs,
    }
}

// ---- an independent reference of the numerics contract (spec::numerics, weights::quant) ----
fn requant(acc: i32, m: u16, shift: u8) -> u8 {
    let v = ((acc as i64) * (m as i64) + (1i64 << (shift - 1))) >> shift;
    v.clamp(0, 255) as u8
}

fn ref_conv(l: &ConvLayer, x: &Tensor) -> Tensor {
    let LayerWeights::Dense(w) = &l.weights else {
        panic!("dense only")
    };
    let (k, s, p) = (l.k as i64, l.stride as i64, l.pad as i64);
    let (h, wd) = (x.h as i64, x.w as i64);
    let oh = (h + 2 * p - k) / s + 1;
    let ow = (wd + 2 * p - k) / s + 1;
    let mut y = vec![0u8; (l.out_c as i64 * oh * ow) as usize];
    for o in 0..l.out_c as i64 {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = l.bias[o as usize];
                for c in 0..l.in_c as i64 {
                    for kh in 0..k {
                        for kw in 0..k {
                            let (iy, ix) = (oy * s + kh - p, ox * s + kw - p);
                            if iy < 0 || ix < 0 || iy >= h || ix >= wd {
                                continue;
                            }
                            let b = x.data[((c * h + iy) * wd + ix) as usize];
                            let a = if x.signed { b as i8 as i32 } else { b as i32 };
                            let wv =
                                w[(((o * l.in_c as i64 + c) * k + kh) * k + kw) as usize] as i32;
                            acc = acc.wrapping_add(wv * a);
                        }
                    }
                }
                y[((o * oh + oy) * ow + ox) as usize] = requant(acc, l.m, l.shift);
            }
        }
    }
    let t = Tensor {
        c: l.out_c,
        h: oh as u32,
        w: ow as u32,
        signed: false,
        data: y,
    };
    if l.pool {
        maxpool(&t)
    } else {
        t
    }
}

fn maxpool(t: &Tensor) -> Tensor {
    let (oh, ow) = ((t.h - 3) / 2 + 1, (t.w - 3) / 2 + 1);
    let mut y = Vec::new();
    for c in 0..t.c {
        for py in 0..oh {
            for px in 0..ow {
                let mut m = 0u8;
                for dy in 0..3 {
                    for dx in 0..3 {
                        m = m.max(t.data[((c * t.h + 2 * py + dy) * t.w + 2 * px + dx) as usize]);
                    }
                }
                y.push(m);
            }
        }
    }
    Tensor {
        c: t.c,
        h: oh,
        w: ow,
        signed: false,
        data: y,
    }
}

/// Deterministic pseudo-random generator (no dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

#[allow(clippy::too_many_arguments)]
fn layer(
    r: &mut Lcg,
    in_c: u32,
    out_c: u32,
    k: u32,
    stride: u32,
    pad: u32,
    pool: bool,
    density: u32,
) -> ConvLayer {
    let n = (in_c * out_c * k * k) as usize;
    let w = (0..n)
        .map(|_| {
            if r.next() % 100 < density {
                // 16-bit weights (`spec::numerics::LUT_BITS`) across the whole range, at most
                // 254 distinct nonzero values (the planner builds the layer's codebook).
                (((r.next() % 255) as i32 - 127) * 258) as i16
            } else {
                0
            }
        })
        .collect();
    let bias = (0..out_c)
        .map(|_| (r.next() % 20001) as i32 - 10000)
        .collect();
    ConvLayer {
        in_c,
        out_c,
        k,
        stride,
        pad,
        pool,
        weights: LayerWeights::Dense(w),
        bias,
        m: 16384 + (r.next() % 16384) as u16,
        shift: 19 + (r.next() % 4) as u8,
    }
}

fn tensor(r: &mut Lcg, c: u32, h: u32, w: u32, signed: bool) -> Tensor {
    Tensor {
        c,
        h,
        w,
        signed,
        data: (0..c * h * w).map(|_| (r.next() % 256) as u8).collect(),
    }
}

fn check_conv(
    seed: u64,
    in_c: u32,
    out_c: u32,
    k: u32,
    stride: u32,
    pad: u32,
    pool: bool,
    hw: (u32, u32),
    signed: bool,
    bp: bool,
) {
    let cfg = AccelConfig::tiny();
    let mut r = Lcg(seed);
    let l = layer(&mut r, in_c, out_c, k, stride, pad, pool, 40);
    let x = tensor(&mut r, in_c, hw.0, hw.1, signed);
    let want = ref_conv(&l, &x);
    let plan = plan_conv(&cfg, &l, &x).unwrap();
    let got = run_plan(&plan, bp);
    assert_eq!(
        (plan.out_c, plan.out_h, plan.out_w),
        (want.c, want.h, want.w)
    );
    let diff = got
        .out
        .iter()
        .zip(&want.data)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        diff,
        0,
        "{diff} of {} bytes differ (k{k} s{stride} p{pad} pool {pool})\n got {:?}\nwant {:?}",
        want.data.len(),
        &got.out[..got.out.len().min(64)],
        &want.data[..want.data.len().min(64)]
    );
    assert_eq!(got.err, 0);
    assert!(got.macs > 0);
    eprintln!(
        "conv k{k}/s{stride}/p{pad} pool={pool} {in_c}->{out_c} {}x{}: cycles {:?}",
        hw.0, hw.1, got.job_cycles
    );
}

#[test]
fn registers_identify_the_build_and_unmapped_is_slverr() {
    let cfg = AccelConfig::tiny();
    let s = run_script(
        &format!(
            "R 4\nQ {:x}\nQ {:x}\nQ {:x}\nQ ffc\nW ffc 1\nW {:x} 5a5a\nQ {:x}\n",
            regs::ID.offset,
            regs::CONFIG_HASH.offset,
            regs::CAPS.offset,
            regs::SCRATCH.offset,
            regs::SCRATCH.offset
        ),
        false,
    );
    assert!(s.contains(&format!("reg 0 {:x} 0", regs::ID_VALUE)), "{s}");
    assert!(
        s.contains(&format!("reg 8 {:x} 0", cfg.config_hash())),
        "{s}"
    );
    assert!(s.contains("reg ffc 0 2"), "{s}");
    assert!(s.contains("bresp 2"), "{s}");
    assert!(
        s.contains(&format!("reg {:x} 5a5a 0", regs::SCRATCH.offset)),
        "{s}"
    );
}

#[test]
fn conv_1x1() {
    check_conv(1, 6, 5, 1, 1, 0, false, (5, 7), false, false);
}

#[test]
fn conv_3x3_pad1() {
    check_conv(2, 4, 3, 3, 1, 1, false, (9, 6), false, false);
}

#[test]
fn conv_3x3_pool_backpressure() {
    check_conv(3, 3, 4, 3, 1, 1, true, (11, 13), false, true);
}

#[test]
fn conv_7x7_stride2_signed_input() {
    check_conv(4, 3, 4, 7, 2, 0, false, (21, 19), true, false);
}

#[test]
fn conv_7x7_stride2_pool() {
    check_conv(5, 3, 2, 7, 2, 0, true, (27, 27), true, true);
}

#[test]
fn fire_module_bit_exact() {
    let cfg = AccelConfig::tiny();
    let mut r = Lcg(9);
    let sq = layer(&mut r, 12, 4, 1, 1, 0, false, 50);
    let e1 = layer(&mut r, 4, 6, 1, 1, 0, false, 50);
    let e3 = layer(&mut r, 4, 5, 3, 1, 1, false, 50);
    let x = tensor(&mut r, 12, 9, 10, false);
    let s = ref_conv(&sq, &x);
    let (y1, y3) = (ref_conv(&e1, &s), ref_conv(&e3, &s));
    let plan = plan_fire(&cfg, &sq, &e1, &e3, &x).unwrap();
    let got = run_plan(&plan, true);
    let mut want = y1.data.clone();
    want.extend_from_slice(&y3.data);
    assert_eq!(got.out, want);
    eprintln!("fire: cycles {:?}", got.job_cycles);
}

fn reg_value(text: &str, off: u32) -> Vec<u32> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 4 && f[0] == "reg" && u32::from_str_radix(f[1], 16).ok()? == off)
                .then(|| u32::from_str_radix(f[2], 16).unwrap())
        })
        .collect()
}

#[test]
fn bad_packets_descriptors_and_overflows_raise_err_bits_without_hanging() {
    use spec::packet::{header, PacketType};
    let cfg = AccelConfig::tiny();
    let err = regs::ERR.offset;
    let status = regs::STATUS.offset;
    let ctrl = regs::CTRL.offset;
    let mut s = String::from("R 4\n");
    // (Each query after a stream waits a few cycles: beats pass the H2C register slice first.)
    // Unknown packet type 0x77 with 2 payload beats: dropped, BAD_PACKET.
    s.push_str(&format!(
        "S 3 {:x} 1 2\nC 4\nQ {err:x}\nQ {status:x}\n",
        0x77u64 | (2u64 << 32)
    ));
    // W1C clears it.
    s.push_str(&format!("W {err:x} f\nQ {err:x}\n"));
    // Activation write past the buffer: ACT_OVERFLOW; the stream still drains.
    s.push_str(&format!(
        "S 2 {:x} 0\nC 4\nQ {err:x}\n",
        header(PacketType::ActIn, cfg.act_in_bytes, 1)
    ));
    // SOFT_RESET clears ERR; then START with an all-zero descriptor: BAD_DESC, never busy.
    s.push_str(&format!(
        "W {ctrl:x} {:x}\nC 4\nQ {err:x}\n",
        regs::CTRL_SOFT_RESET.val(1)
    ));
    s.push_str(&format!(
        "W {ctrl:x} {:x}\nC 4\nQ {err:x}\nQ {status:x}\n",
        regs::CTRL_START.val(1)
    ));
    // A codebook packet with the wrong length: BAD_PACKET, and the payload is consumed.
    s.push_str(&format!(
        "W {err:x} f\nS 3 {:x} 0 0\nC 4\nQ {err:x}\n",
        header(PacketType::Codebook, 0, 2)
    ));
    let t = run_script(&s, false);
    let e = reg_value(&t, err);
    let st = reg_value(&t, status);
    assert_eq!(e[0], regs::ERR_BAD_PACKET.mask(), "{t}");
    assert_ne!(st[0] & regs::STATUS_ERROR.mask(), 0, "{t}");
    assert_eq!(e[1], 0, "W1C clears: {t}");
    assert_eq!(e[2], regs::ERR_ACT_OVERFLOW.mask(), "{t}");
    assert_eq!(e[3], 0, "soft reset clears: {t}");
    assert_eq!(e[4], regs::ERR_BAD_DESC.mask(), "{t}");
    assert_eq!(st[1] & regs::STATUS_BUSY.mask(), 0, "{t}");
    assert_eq!(e[5], regs::ERR_BAD_PACKET.mask(), "{t}");
}

#[test]
fn conv_3x3_stride2_pad1() {
    check_conv(6, 5, 3, 3, 2, 1, false, (13, 12), false, false);
}

#[test]
fn fire_module_with_pool_real_shape_cycles() {
    // fire4-like channel counts on a small map, with the fused pool.
    let cfg = AccelConfig::tiny();
    let mut r = Lcg(11);
    let sq = layer(&mut r, 32, 8, 1, 1, 0, false, 35);
    let e1 = layer(&mut r, 8, 16, 1, 1, 0, true, 35);
    let e3 = layer(&mut r, 8, 16, 3, 1, 1, true, 35);
    let x = tensor(&mut r, 32, 13, 13, false);
    let s = ref_conv(&sq, &x);
    let (y1, y3) = (ref_conv(&e1, &s), ref_conv(&e3, &s));
    let plan = plan_fire(&cfg, &sq, &e1, &e3, &x).unwrap();
    let got = run_plan(&plan, false);
    let mut want = y1.data.clone();
    want.extend_from_slice(&y3.data);
    assert_eq!(got.out, want);
    let cycles: u64 = got.job_cycles.iter().sum();
    eprintln!(
        "fire+pool 32->8->16+16 13x13: job cycles {:?}, dense MACs {}, dense-equivalent efficiency {:.2} on {} lanes",
        got.job_cycles,
        plan.dense_macs,
        plan.dense_macs as f64 / (cfg.mac_lanes() as f64 * cycles as f64),
        cfg.mac_lanes()
    );
}

/// A real SqueezeNet layer (Deep Compression weights through the committed int8 quantization),
/// as the engine stores it: codes + the layer's codebook LUT.
fn real_layer(q: &weights::QuantLayer, pool: bool) -> ConvLayer {
    let s = q.spec;
    let n = s.out_c * s.in_c * s.k * s.k;
    let mut codes = vec![0u8; n];
    let mut p: usize = 0;
    for (i, (&c, &r)) in q.codes.iter().zip(&q.rel_idx).enumerate() {
        p = if i == 0 {
            r as usize
        } else {
            p + r as usize + 1
        };
        codes[p] = c;
    }
    // The dense int8 weights the reference uses must be the LUT applied to the codes.
    assert!(codes
        .iter()
        .zip(&q.weights)
        .all(|(&c, &w)| q.lut[c as usize] == w));
    ConvLayer {
        in_c: s.in_c as u32,
        out_c: s.out_c as u32,
        k: s.k as u32,
        stride: s.stride as u32,
        pad: s.pad as u32,
        pool,
        weights: LayerWeights::Coded {
            codes,
            lut: q.lut.to_vec(),
        },
        bias: q.bias.clone(),
        m: q.m,
        shift: q.shift,
    }
}

fn dense(l: &ConvLayer, q: &weights::QuantLayer) -> ConvLayer {
    ConvLayer {
        weights: LayerWeights::Dense(q.weights.clone()),
        ..l.clone()
    }
}

#[test]
fn real_fire_modules_bit_exact_with_cycles() {
    let Ok(model) = weights::Model::load_default() else {
        eprintln!("model file not found: skipping the real-weights RTL test");
        return;
    };
    let qm = weights::QuantModel::from_model_committed(&model).unwrap();
    let cfg = AccelConfig::tiny();
    for (fire, hw, pool) in [(2u8, 55u32, false), (9, 13, false)] {
        let get = |role: weights::topology::Role| {
            qm.layers
                .iter()
                .find(|l| l.spec.fire == Some(fire) && l.spec.role == role)
                .unwrap()
        };
        let (qs, q1, q3) = (
            get(weights::topology::Role::Squeeze),
            get(weights::topology::Role::Expand1x1),
            get(weights::topology::Role::Expand3x3),
        );
        let (sq, e1, e3) = (
            real_layer(qs, false),
            real_layer(q1, pool),
            real_layer(q3, pool),
        );
        let mut r = Lcg(fire as u64);
        // Post-ReLU-like input: a third zeros, the rest small.
        let mut x = tensor(&mut r, sq.in_c, hw, hw, false);
        for b in x.data.iter_mut() {
            if *b % 3 == 0 {
                *b = 0;
            } else {
                *b /= 4;
            }
        }
        let s = ref_conv(&dense(&sq, qs), &x);
        let (y1, y3) = (ref_conv(&dense(&e1, q1), &s), ref_conv(&dense(&e3, q3), &s));
        let plan = plan_fire(&cfg, &sq, &e1, &e3, &x).unwrap();
        let got = run_plan(&plan, false);
        let mut want = y1.data.clone();
        want.extend_from_slice(&y3.data);
        assert_eq!(got.out.len(), want.len());
        let diff = got.out.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "fire{fire}: {diff} bytes differ");
        assert!(
            want.iter().any(|&v| v != 0) && want.iter().any(|&v| v == 0),
            "non-trivial output"
        );
        let cycles: u64 = got.job_cycles.iter().sum();
        eprintln!(
            "fire{fire} (real weights, {} entries) on tiny: job cycles {:?} (walker issue cycles {:?}), dense MACs {}, efficiency {:.2} on {} lanes",
            plan.weight_entries,
            got.job_cycles,
            model_cycles(&plan),
            plan.dense_macs,
            plan.dense_macs as f64 / (cfg.mac_lanes() as f64 * cycles as f64),
            cfg.mac_lanes()
        );
    }
}

/// Whole-network cycle model for the `nitefury` preset (256 lanes), from the planner's real
/// jobs: per job `max(walker issue cycles + 3 per channel, C2H bytes / 8)`. The issue model
/// matches the RTL's PERF_BUSY to 0.1 % on `tiny` (see `real_fire_modules_bit_exact_with_cycles`).
/// Input loads are counted separately (not overlapped with compute in this build).
#[test]
fn nitefury_network_cycle_model() {
    use weights::topology::Role;
    let Ok(model) = weights::Model::load_default() else {
        eprintln!("model file not found: skipping");
        return;
    };
    let qm = weights::QuantModel::from_model_committed(&model).unwrap();
    let cfg = AccelConfig::nitefury();
    let zeros = |c: u32, h: u32, signed: bool| Tensor {
        c,
        h,
        w: h,
        signed,
        data: vec![0; (c * h * h) as usize],
    };
    let mut plans = Vec::new();
    let conv1 = qm
        .layers
        .iter()
        .find(|l| l.spec.role == Role::Conv1)
        .unwrap();
    plans.push((
        "conv1".to_string(),
        plan_conv(&cfg, &real_layer(conv1, true), &zeros(3, 227, true)).unwrap(),
    ));
    let mut hw = 55;
    for fire in 2u8..=9 {
        let get = |role: Role| {
            qm.layers
                .iter()
                .find(|l| l.spec.fire == Some(fire) && l.spec.role == role)
                .unwrap()
        };
        let pool = fire == 4 || fire == 8;
        let (qs, q1, q3) = (
            get(Role::Squeeze),
            get(Role::Expand1x1),
            get(Role::Expand3x3),
        );
        let p = plan_fire(
            &cfg,
            &real_layer(qs, false),
            &real_layer(q1, pool),
            &real_layer(q3, pool),
            &zeros(qs.spec.in_c as u32, hw, false),
        )
        .unwrap();
        plans.push((format!("fire{fire}"), p));
        if pool {
            hw = (hw - 3) / 2 + 1;
        }
    }
    let fin = qm
        .layers
        .iter()
        .find(|l| l.spec.role == Role::Final)
        .unwrap();
    plans.push((
        "conv10".to_string(),
        plan_conv(&cfg, &real_layer(fin, false), &zeros(512, 13, false)).unwrap(),
    ));
    let (mut total, mut load, mut macs, mut entries, mut largest) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for (name, p) in &plans {
        let issue = model_cycles(p);
        let c: u64 = p
            .jobs
            .iter()
            .zip(&issue)
            .map(|(j, &i)| (i + 3 * j.descriptor.out_c as u64).max(j.out_bytes / 8))
            .sum();
        eprintln!(
            "{name:7} weight entries {:6}, C2H beats {:?}, issue {:?} -> {c} cycles",
            p.weight_entries,
            p.jobs.iter().map(|j| j.out_bytes / 8).collect::<Vec<_>>(),
            issue
        );
        total += c;
        load += p.load().len() as u64;
        macs += p.dense_macs;
        entries += p.weight_entries;
        largest = largest.max(p.weight_entries);
    }
    let eff = macs as f64 / (cfg.mac_lanes() as f64 * total as f64);
    eprintln!(
        "nitefury model: {total} compute cycles, dense MACs {macs}, efficiency {eff:.2}; H2C beats per image incl. weights {load} \
         (with loads serialized: {:.2}); weight entries {entries} of {}",
        macs as f64 / (cfg.mac_lanes() as f64 * (total + load) as f64),
        cfg.weight_entries
    );
    assert!(macs > 800_000_000 && macs < 900_000_000, "{macs}");
    // Weights stream per step: each step's weights must fit the weight memory.
    assert!(
        cfg.weights_fit(largest),
        "{largest} > {}",
        cfg.weight_entries
    );
}

#[test]
fn back_to_back_plans_without_reset() {
    // The driver runs layer after layer with no reset in between: state must not leak.
    let cfg = AccelConfig::tiny();
    let mut r = Lcg(21);
    let l1 = layer(&mut r, 4, 6, 3, 1, 1, true, 45);
    let x1 = tensor(&mut r, 4, 12, 10, false);
    let l2 = layer(&mut r, 6, 3, 1, 1, 0, false, 60);
    let x2 = tensor(&mut r, 6, 7, 9, false);
    let (p1, p2) = (
        plan_conv(&cfg, &l1, &x1).unwrap(),
        plan_conv(&cfg, &l2, &x2).unwrap(),
    );
    let s2 = plan_script(&p2);
    let script = plan_script(&p1) + s2.strip_prefix("R 4\n").unwrap();
    let text = run_script(&script, true);
    // No reset between the plans: the second plan's jobs continue the sequence numbers.
    let outs = job_payloads(&text, 1);
    assert_eq!(outs.len(), p1.jobs.len() + p2.jobs.len(), "{text}");
    let (o1, o2) = outs.split_at(p1.jobs.len());
    assert_eq!(
        p1.parse_output(&o1.concat()).unwrap(),
        ref_conv(&l1, &x1).data
    );
    assert_eq!(
        p2.parse_output(&o2.concat()).unwrap(),
        ref_conv(&l2, &x2).data
    );
}
