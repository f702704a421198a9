//! The engine (Verilated `tiny` preset, in process through `sim::rtl::Rtl` and the driver's job
//! protocol) against a direct implementation of the integer contract (`spec::numerics`), written
//! here independently of the engine's grid/polyphase/sparse machinery and of `reference`:
//! convolution layers (K 1/3/7, stride 1/2, padding, fused pool, signed input) and Fire modules
//! bit-exact, with random and real (Deep Compression) weights; bad packets and descriptors raise
//! their ERR bits without hanging; plans run back to back without a reset; and the issue cycles
//! the engine counts (PERF_BUSY - PERF_STALL) equal the planner's cycle model (`Plan::models`).
//! The layer suite against `reference::int8` is `rtl_layers.rs`, the register file `rtl_regs.rs`.

use sim::rtl::{Backpressure, PlanRun, Rtl};
use spec::job::{plan_conv, plan_fire, ConvLayer, LayerWeights, Planned, Tensor};
use spec::regs;
use spec::AccelConfig;

fn tiny() -> Rtl {
    Rtl::new(&AccelConfig::tiny()).expect("the tiny preset is always built")
}

/// Cycle budget of each job's wait for DONE: every dense MAC on one lane, plus streaming.
fn job_timeout(p: &Planned) -> u64 {
    p.dense_macs / AccelConfig::tiny().mac_lanes() as u64 * 4 + p.load().len() as u64 * 8 + 200_000
}

/// Random stalls on both streams (H2C valid 3/4, C2H ready 2/3 of the cycles) and the register bus.
fn stalls(seed: u64) -> Backpressure {
    Backpressure::random(seed, 0.75, 0.67)
}

/// Issue cycles the planner's model gives the plan's jobs (every entry once per tile).
fn model_issue(p: &Planned) -> u64 {
    p.models.iter().map(|m| m.issue_cycles()).sum()
}

struct RunResult {
    out: Vec<u8>,
    run: PlanRun,
    err: u32,
}

/// One plan on a fresh model: load, per job descriptor + START + C2H payload with its checked
/// trailer (tlast on the last beat only) + DONE without ERROR + PERF_JOBS; then ERR.
fn run_plan(p: &Planned, bp: Option<Backpressure>) -> RunResult {
    let mut dut = tiny();
    if let Some(bp) = bp {
        dut.set_backpressure(bp);
    }
    let run = dut
        .run_plan(p, job_timeout(p))
        .unwrap_or_else(|e| panic!("{e}"));
    let err = dut.read_reg(regs::ERR.offset).unwrap();
    // The counters agree with the plan: one count per job, and the cycles in which an entry
    // issued are exactly the model's issue cycles (stalls, back-pressure included, are not).
    assert_eq!(run.perf.jobs as usize, p.jobs.len(), "{:?}", run.perf);
    assert_eq!(run.job_busy.len(), p.jobs.len());
    assert_eq!(run.job_busy.iter().sum::<u64>(), run.perf.busy);
    assert_eq!(
        run.perf.busy - run.perf.stall,
        model_issue(p),
        "issued cycles vs the planner's model: {:?}",
        run.perf
    );
    RunResult {
        out: run.output.clone(),
        run,
        err,
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

#[allow(clippy::too_many_arguments)]
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
    let got = run_plan(&plan, bp.then(|| stalls(seed)));
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
    assert_eq!(got.out.len(), want.data.len());
    assert_eq!(
        diff,
        0,
        "{diff} of {} bytes differ (k{k} s{stride} p{pad} pool {pool})\n got {:?}\nwant {:?}",
        want.data.len(),
        &got.out[..got.out.len().min(64)],
        &want.data[..want.data.len().min(64)]
    );
    assert_eq!(got.err, 0);
    assert!(got.run.perf.macs > 0);
    eprintln!(
        "conv k{k}/s{stride}/p{pad} pool={pool} {in_c}->{out_c} {}x{}: cycles {:?}",
        hw.0, hw.1, got.run.job_busy
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
fn conv_3x3_stride2_pad1() {
    check_conv(6, 5, 3, 3, 2, 1, false, (13, 12), false, false);
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
    let got = run_plan(&plan, Some(stalls(9)));
    let mut want = y1.data.clone();
    want.extend_from_slice(&y3.data);
    assert_eq!(got.out, want);
    assert_eq!(got.err, 0);
    eprintln!("fire: cycles {:?}", got.run.job_busy);
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
    let got = run_plan(&plan, None);
    let mut want = y1.data.clone();
    want.extend_from_slice(&y3.data);
    assert_eq!(got.out, want);
    assert_eq!(got.err, 0);
    let cycles = got.run.perf.busy;
    eprintln!(
        "fire+pool 32->8->16+16 13x13: job cycles {:?}, dense MACs {}, dense-equivalent efficiency {:.2} on {} lanes",
        got.run.job_busy,
        plan.dense_macs,
        plan.dense_macs as f64 / (cfg.mac_lanes() as f64 * cycles as f64),
        cfg.mac_lanes()
    );
}

#[test]
fn bad_packets_descriptors_and_overflows_raise_err_bits_without_hanging() {
    use spec::packet::{header, PacketType};
    let cfg = AccelConfig::tiny();
    let (err, status, ctrl) = (regs::ERR.offset, regs::STATUS.offset, regs::CTRL.offset);
    let mut dut = tiny();
    // Every bad stream below must still drain (all beats accepted) well within this budget.
    dut.set_stream_timeout(10_000);
    // (Each read after a stream waits a few cycles: beats pass the H2C register slice first.)
    // Unknown packet type 0x77 with 2 payload beats: dropped, BAD_PACKET.
    dut.stream_in(&[0x77u64 | (2u64 << 32), 1, 2]).unwrap();
    dut.run(4);
    assert_eq!(dut.read_reg(err).unwrap(), regs::ERR_BAD_PACKET.mask());
    assert_ne!(dut.read_reg(status).unwrap() & regs::STATUS_ERROR.mask(), 0);
    // W1C clears it.
    dut.write_reg(err, 0xf).unwrap();
    assert_eq!(dut.read_reg(err).unwrap(), 0, "W1C clears");
    // Activation write past the buffer: ACT_OVERFLOW; the stream still drains.
    dut.stream_in(&[header(PacketType::ActIn, cfg.act_in_bytes, 1), 0])
        .unwrap();
    dut.run(4);
    assert_eq!(dut.read_reg(err).unwrap(), regs::ERR_ACT_OVERFLOW.mask());
    // SOFT_RESET clears ERR; then START with an all-zero descriptor: BAD_DESC, never busy.
    dut.write_reg(ctrl, regs::CTRL_SOFT_RESET.val(1)).unwrap();
    dut.run(4);
    assert_eq!(dut.read_reg(err).unwrap(), 0, "soft reset clears");
    dut.write_reg(ctrl, regs::CTRL_START.val(1)).unwrap();
    dut.run(4);
    assert_eq!(dut.read_reg(err).unwrap(), regs::ERR_BAD_DESC.mask());
    assert_eq!(dut.read_reg(status).unwrap() & regs::STATUS_BUSY.mask(), 0);
    // A codebook packet with the wrong length: BAD_PACKET, and the payload is consumed.
    dut.write_reg(err, 0xf).unwrap();
    dut.stream_in(&[header(PacketType::Codebook, 0, 2), 0, 0])
        .unwrap();
    dut.run(4);
    assert_eq!(dut.read_reg(err).unwrap(), regs::ERR_BAD_PACKET.mask());
}

#[test]
fn back_to_back_plans_without_reset() {
    // The driver runs layer after layer with no reset and no counter clear in between: state
    // must not leak, and the second plan's jobs continue the sequence numbers.
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
    let mut dut = tiny();
    dut.set_backpressure(stalls(21));
    let o1 = dut.run_plan_continuing(&p1, job_timeout(&p1)).unwrap();
    assert_eq!(o1.perf.jobs as usize, p1.jobs.len());
    let o2 = dut.run_plan_continuing(&p2, job_timeout(&p2)).unwrap();
    assert_eq!(o2.perf.jobs as usize, p1.jobs.len() + p2.jobs.len());
    assert_eq!(o1.output, ref_conv(&l1, &x1).data);
    assert_eq!(o2.output, ref_conv(&l2, &x2).data);
    assert_eq!(dut.read_reg(regs::ERR.offset).unwrap(), 0);
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

/// The shared SqueezeNet model, quantized with the committed scales.
fn real_model() -> weights::QuantModel {
    let model = weights::Model::load_default().expect("the shared SqueezeNet model");
    weights::QuantModel::from_model_committed(&model).unwrap()
}

#[test]
fn real_fire_modules_bit_exact_with_cycles() {
    let qm = real_model();
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
        let got = run_plan(&plan, None);
        let mut want = y1.data.clone();
        want.extend_from_slice(&y3.data);
        assert_eq!(got.out.len(), want.len());
        let diff = got.out.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "fire{fire}: {diff} bytes differ");
        assert!(
            want.iter().any(|&v| v != 0) && want.contains(&0),
            "non-trivial output"
        );
        assert_eq!(got.err, 0);
        let cycles = got.run.perf.busy;
        eprintln!(
            "fire{fire} (real weights, {} entries) on tiny: job cycles {:?} (model issue cycles {:?}), dense MACs {}, efficiency {:.2} on {} lanes",
            plan.weight_entries,
            got.run.job_busy,
            plan.models.iter().map(|m| m.issue_cycles()).collect::<Vec<_>>(),
            plan.dense_macs,
            plan.dense_macs as f64 / (cfg.mac_lanes() as f64 * cycles as f64),
            cfg.mac_lanes()
        );
    }
}

/// Whole-network cycle model for the `nitefury` preset (256 lanes), from the planner's real
/// jobs and their cycle models (`Plan::models`, checked against the RTL's counters on `tiny`
/// by every test above): per job `max(issue + short-channel + channel-fetch cycles, C2H bytes /
/// 8)`. Input loads are counted separately (not overlapped with compute in this build).
/// No RTL: nitefury is not verilated by default.
#[test]
fn nitefury_network_cycle_model() {
    use weights::topology::Role;
    let qm = real_model();
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
        assert_eq!(p.models.len(), p.jobs.len(), "{name}: one model per job");
        let issue: Vec<u64> = p
            .models
            .iter()
            .map(|m| m.issue_cycles() + m.short_cycles + m.fetch_cycles())
            .collect();
        let c: u64 = p
            .jobs
            .iter()
            .zip(&issue)
            .map(|(j, &i)| i.max(j.out_bytes / 8))
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
