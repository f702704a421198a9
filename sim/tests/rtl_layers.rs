//! The layer suite, run on two backends: the int8 reference (decoding the layer from its
//! codebook + codes, so the suite's own stimulus is checked) and the Verilated RTL (through the
//! planner `spec::job` and `sim::rtl::Rtl::run_plan`, with random back-pressure on both AXI
//! streams). Every output must equal `reference::int8::conv_layer` on the dense weights, bit
//! for bit.
//!
//! Cases: random single layers (K in {1,3,7}, stride 1/2, padding, pool on/off, channel counts and
//! map sizes that are not multiples of the lane count, Deep-Compression-like sparse codebooks with
//! long zero runs so the 4-bit relative index needs fillers), random Fire modules (squeeze +
//! both expands fused on chip, concatenated), several jobs back to back on one model, and every
//! layer of the real network on the chelsea image (each Fire fused; each fed the int8
//! reference's own input). Replay a case with the seed printed on failure:
//! `SQZ_RTL_SEED=<seed> cargo test -p sim --test rtl_layers <name> -- --nocapture`.
//!
//! Presets under test: `SQZ_RTL_PRESETS` (default `tiny`; each must also be built, which the same
//! variable does at build time). The real-network test prints cycles per layer and Verilator's
//! speed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reference::int8::{self, QConvLayer, QTensor};
use sim::rtl::{Backpressure, Rtl};
use spec::job::{self, ConvLayer, LayerWeights, Tensor};
use spec::AccelConfig;
use std::time::Instant;

// ---- stimulus ---------------------------------------------------------------------------------

/// A layer as the Deep Compression model stores it: a LUT of `LUT_BITS`-bit weights (lut[0] = 0)
/// and a code per dense position, plus its dense view for the reference.
#[derive(Clone, Debug)]
struct CodedLayer {
    q: QConvLayer,
    codes: Vec<u8>,
    lut: Vec<i16>,
}

impl CodedLayer {
    fn to_job(&self) -> ConvLayer {
        ConvLayer {
            in_c: self.q.in_c as u32,
            out_c: self.q.out_c as u32,
            k: self.q.k as u32,
            stride: self.q.stride as u32,
            pad: self.q.pad as u32,
            pool: self.q.pool,
            weights: LayerWeights::Coded {
                codes: self.codes.clone(),
                lut: self.lut.clone(),
            },
            bias: self.q.bias.clone(),
            m: self.q.m,
            shift: self.q.shift,
        }
    }

    fn describe(&self) -> String {
        let nz = self.q.weights.iter().filter(|&&w| w != 0).count();
        format!(
            "{}->{} K{} s{} p{} pool={} m={} shift={} nonzero {}/{}",
            self.q.in_c,
            self.q.out_c,
            self.q.k,
            self.q.stride,
            self.q.pad,
            self.q.pool,
            self.q.m,
            self.q.shift,
            nz,
            self.q.weights.len()
        )
    }
}

fn to_tensor(x: &QTensor) -> Tensor {
    Tensor {
        c: x.c as u32,
        h: x.h as u32,
        w: x.w as u32,
        signed: x.signed,
        data: x.data.clone(),
    }
}

fn random_input(rng: &mut StdRng, c: usize, h: usize, w: usize, signed: bool) -> QTensor {
    // Post-ReLU maps have many zeros; the image does not.
    let zeros = if signed { 0.0 } else { rng.gen_range(0.0..0.6) };
    let data = (0..c * h * w)
        .map(|_| {
            if rng.gen_bool(zeros) {
                0
            } else {
                rng.gen::<u8>()
            }
        })
        .collect();
    QTensor {
        c,
        h,
        w,
        signed,
        data,
    }
}

/// Random sparse codebook layer; bias and m/shift are scaled from the real accumulators of `x`
/// so that outputs spread over 0..=255 instead of saturating.
#[allow(clippy::too_many_arguments)]
fn random_layer(
    rng: &mut StdRng,
    in_c: usize,
    out_c: usize,
    k: usize,
    stride: usize,
    pad: usize,
    pool: bool,
    sparsity: f64,
    x: &QTensor,
) -> CodedLayer {
    // Full-width LUT entries, some small (as in a real codebook), some at the extremes.
    let qmax = weights::quant::WEIGHT_QMAX;
    let mut lut: Vec<i16> = (0..256)
        .map(|c| match c % 4 {
            0 => rng.gen_range(-qmax..=qmax),
            1 => rng.gen_range(-127..=127),
            2 => rng.gen_range(-4096..=4096),
            _ => {
                if rng.gen_bool(0.5) {
                    qmax
                } else {
                    -qmax
                }
            }
        } as i16)
        .collect();
    lut[0] = 0;
    // Some nonzero codes map to a zero weight, as rounding a small codebook entry can.
    for _ in 0..3 {
        let c = rng.gen_range(1..256);
        lut[c] = 0;
    }
    let n = out_c * in_c * k * k;
    let mut codes = vec![0u8; n];
    let mut i = 0;
    while i < n {
        if rng.gen_bool(sparsity) {
            // Zero runs, sometimes long enough to need filler entries (gap > 15).
            let run = if rng.gen_bool(0.1) {
                rng.gen_range(16..60)
            } else {
                rng.gen_range(1..4)
            };
            i += run;
        } else {
            codes[i] = rng.gen_range(1..=255);
            i += 1;
        }
    }
    let weights: Vec<i16> = codes.iter().map(|&c| lut[c as usize]).collect();
    let mut q = QConvLayer {
        in_c,
        out_c,
        k,
        stride,
        pad,
        pool,
        weights,
        bias: vec![0; out_c],
        m: 16384,
        shift: 20,
    };
    let acc = int8::conv_acc(x, &q).expect("valid random layer");
    let amax = acc
        .iter()
        .map(|a| a.unsigned_abs())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    q.bias = (0..out_c)
        .map(|_| rng.gen_range(-(amax as i64) / 2..=(amax as i64) / 2) as i32)
        .collect();
    // y ~ acc * m / 2^shift: put 1.5 * amax at about 255.
    q.m = rng.gen_range(16384..=32767);
    let want = 255.0 / (1.5 * amax) / q.m as f64;
    q.shift = (-(want.log2())).round().clamp(1.0, 46.0) as u8;
    CodedLayer { q, codes, lut }
}

/// Parameters of one random single-layer case.
fn random_case(
    rng: &mut StdRng,
    force_k: Option<usize>,
    force_stride: Option<usize>,
) -> (CodedLayer, QTensor) {
    let k = force_k.unwrap_or_else(|| [1, 3, 7][rng.gen_range(0..3)]);
    // 7x7 is specified with stride 2 (conv1); stride 1 is its own case below.
    let stride = force_stride.unwrap_or(if k == 7 { 2 } else { rng.gen_range(1..=2) });
    let pad = rng.gen_range(0..=k / 2);
    let pool = rng.gen_bool(0.4);
    let in_c = rng.gen_range(1..=24);
    let out_c = rng.gen_range(1..=21);
    let signed = rng.gen_bool(0.25);
    // The conv output must be >= 3 (pool) and the map at least K after padding.
    let min_hw = k.max(if pool { 3 * stride + k } else { k });
    let h = rng.gen_range(min_hw..=min_hw + 22);
    let w = rng.gen_range(min_hw..=min_hw + 22);
    let x = random_input(rng, in_c, h, w, signed);
    let sparsity = rng.gen_range(0.3..0.97);
    (
        random_layer(rng, in_c, out_c, k, stride, pad, pool, sparsity, &x),
        x,
    )
}

// ---- backends ---------------------------------------------------------------------------------

/// Something that runs layers and Fire modules.
trait Backend {
    fn name(&self) -> String;
    fn conv(&mut self, l: &CodedLayer, x: &QTensor, bp: Backpressure) -> anyhow::Result<QTensor>;
    fn fire(
        &mut self,
        sq: &CodedLayer,
        e1: &CodedLayer,
        e3: &CodedLayer,
        x: &QTensor,
        bp: Backpressure,
    ) -> anyhow::Result<QTensor>;
}

/// The int8 reference, fed the layer decoded from its codes and LUT (not its dense view).
struct Reference;

fn decoded(l: &CodedLayer) -> QConvLayer {
    QConvLayer {
        weights: l.codes.iter().map(|&c| l.lut[c as usize]).collect(),
        ..l.q.clone()
    }
}

impl Backend for Reference {
    fn name(&self) -> String {
        "reference".into()
    }
    fn conv(&mut self, l: &CodedLayer, x: &QTensor, _: Backpressure) -> anyhow::Result<QTensor> {
        Ok(int8::try_conv_layer(x, &decoded(l))?)
    }
    fn fire(
        &mut self,
        sq: &CodedLayer,
        e1: &CodedLayer,
        e3: &CodedLayer,
        x: &QTensor,
        _: Backpressure,
    ) -> anyhow::Result<QTensor> {
        let s = int8::try_conv_layer(x, &decoded(sq))?;
        let a = int8::try_conv_layer(&s, &decoded(e1))?;
        let b = int8::try_conv_layer(&s, &decoded(e3))?;
        Ok(QTensor::concat(&[&a, &b])?)
    }
}

/// The Verilated engine through the planner.
struct RtlBackend {
    cfg: AccelConfig,
    /// Reuse one model across calls (back-to-back jobs) instead of a fresh one per call.
    keep: Option<Rtl>,
    reuse: bool,
    /// Cycles and perf of the last run.
    last: Option<sim::rtl::PlanRun>,
    last_speed: f64,
}

impl RtlBackend {
    fn new(cfg: &AccelConfig, reuse: bool) -> Self {
        RtlBackend {
            cfg: cfg.clone(),
            keep: None,
            reuse,
            last: None,
            last_speed: 0.0,
        }
    }

    fn run(&mut self, plan: &job::Planned, bp: Backpressure) -> anyhow::Result<Vec<u8>> {
        let mut dut = match self.keep.take() {
            Some(d) if self.reuse => d,
            _ => Rtl::new(&self.cfg)?,
        };
        dut.set_backpressure(bp);
        // Generous: every dense MAC on one lane, plus streaming.
        let timeout = plan.dense_macs / self.cfg.mac_lanes() as u64 * 4
            + plan.load().len() as u64 * 8
            + 200_000;
        let t = Instant::now();
        let r = dut.run_plan(plan, timeout)?;
        self.last_speed = r.cycles as f64 / t.elapsed().as_secs_f64().max(1e-9);
        let out = r.output.clone();
        self.last = Some(r);
        if self.reuse {
            self.keep = Some(dut);
        }
        Ok(out)
    }
}

impl Backend for RtlBackend {
    fn name(&self) -> String {
        format!("rtl {}", self.cfg.name)
    }
    fn conv(&mut self, l: &CodedLayer, x: &QTensor, bp: Backpressure) -> anyhow::Result<QTensor> {
        let plan = job::plan_conv(&self.cfg, &l.to_job(), &to_tensor(x))?;
        let data = self.run(&plan, bp)?;
        Ok(QTensor {
            c: plan.out_c as usize,
            h: plan.out_h as usize,
            w: plan.out_w as usize,
            signed: false,
            data,
        })
    }
    fn fire(
        &mut self,
        sq: &CodedLayer,
        e1: &CodedLayer,
        e3: &CodedLayer,
        x: &QTensor,
        bp: Backpressure,
    ) -> anyhow::Result<QTensor> {
        let plan = job::plan_fire(
            &self.cfg,
            &sq.to_job(),
            &e1.to_job(),
            &e3.to_job(),
            &to_tensor(x),
        )?;
        let data = self.run(&plan, bp)?;
        Ok(QTensor {
            c: plan.out_c as usize,
            h: plan.out_h as usize,
            w: plan.out_w as usize,
            signed: false,
            data,
        })
    }
}

// ---- comparison -------------------------------------------------------------------------------

/// Bit-exact comparison with a readable first difference.
fn compare(what: &str, got: &QTensor, want: &QTensor) -> Result<(), String> {
    if (got.c, got.h, got.w) != (want.c, want.h, want.w) {
        return Err(format!(
            "{what}: shape {}x{}x{}, expected {}x{}x{}",
            got.c, got.h, got.w, want.c, want.h, want.w
        ));
    }
    let diffs: Vec<usize> = (0..want.data.len())
        .filter(|&i| got.data[i] != want.data[i])
        .collect();
    if let Some(&i) = diffs.first() {
        let (c, y, x) = (i / (want.h * want.w), i / want.w % want.h, i % want.w);
        let chans: std::collections::BTreeSet<usize> =
            diffs.iter().map(|&i| i / (want.h * want.w)).collect();
        return Err(format!(
            "{what}: {} of {} bytes differ (channels {:?}); first at (c{c}, y{y}, x{x}): got {}, expected {}",
            diffs.len(),
            want.data.len(),
            chans.iter().take(12).collect::<Vec<_>>(),
            got.data[i],
            want.data[i]
        ));
    }
    Ok(())
}

fn base_seed() -> u64 {
    std::env::var("SQZ_RTL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5A5A_2024)
}

fn presets_under_test() -> Vec<AccelConfig> {
    let list = std::env::var("SQZ_RTL_PRESETS").unwrap_or_else(|_| "tiny".into());
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| AccelConfig::preset(p).unwrap_or_else(|e| panic!("SQZ_RTL_PRESETS: {e}")))
        .collect()
}

/// Random stream back-pressure; `SQZ_RTL_BP=0` turns it off (for triage: same stimulus, no stalls).
fn random_bp(rng: &mut StdRng, seed: u64) -> Backpressure {
    let bp = Backpressure::random(seed, rng.gen_range(0.3..=1.0), rng.gen_range(0.3..=1.0));
    if std::env::var("SQZ_RTL_BP").as_deref() == Ok("0") {
        Backpressure::NONE
    } else {
        bp
    }
}

// ---- the suite (one function per case family, run on every backend) ---------------------------

/// `n` random single layers, optionally with a fixed K / stride. Reports every failing case.
fn suite_random_layers(
    b: &mut dyn Backend,
    n: usize,
    salt: u64,
    k: Option<usize>,
    stride: Option<usize>,
) {
    let mut failures = Vec::new();
    for i in 0..n {
        let seed = base_seed() ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64;
        let mut rng = StdRng::seed_from_u64(seed);
        let (l, x) = random_case(&mut rng, k, stride);
        let bp = random_bp(&mut rng, seed);
        let want = int8::conv_layer(&x, &l.q);
        let what = format!(
            "[{}] case {i} seed {seed}: {} on {}x{}x{}{}",
            b.name(),
            l.describe(),
            x.c,
            x.h,
            x.w,
            if x.signed { " int8" } else { "" }
        );
        match b.conv(&l, &x, bp) {
            Ok(got) => match compare(&what, &got, &want) {
                Ok(()) => println!("ok   {what}"),
                Err(e) => failures.push(e),
            },
            Err(e) => failures.push(format!("{what}: {e:#}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `n` random Fire modules; the expands may carry the fused max-pool.
fn suite_random_fires(b: &mut dyn Backend, n: usize) {
    let mut failures = Vec::new();
    for i in 0..n {
        let seed = base_seed() ^ 0xF1E ^ ((i as u64) << 20);
        let mut rng = StdRng::seed_from_u64(seed);
        let in_c = rng.gen_range(1..=40);
        let (s1, e1c, e3c) = (
            rng.gen_range(1..=12),
            rng.gen_range(1..=20),
            rng.gen_range(1..=20),
        );
        let pool = rng.gen_bool(0.4);
        let (h, w) = (rng.gen_range(3..=22), rng.gen_range(3..=22));
        let x = random_input(&mut rng, in_c, h, w, false);
        let (sp_sq, sp_e1, sp_e3) = (
            rng.gen_range(0.2..0.8),
            rng.gen_range(0.2..0.8),
            rng.gen_range(0.3..0.95),
        );
        let sq = random_layer(&mut rng, in_c, s1, 1, 1, 0, false, sp_sq, &x);
        let mid = int8::conv_layer(&x, &sq.q);
        let e1 = random_layer(&mut rng, s1, e1c, 1, 1, 0, pool, sp_e1, &mid);
        let e3 = random_layer(&mut rng, s1, e3c, 3, 1, 1, pool, sp_e3, &mid);
        let want = QTensor::concat(&[
            &int8::conv_layer(&mid, &e1.q),
            &int8::conv_layer(&mid, &e3.q),
        ])
        .unwrap();
        let bp = random_bp(&mut rng, seed);
        let what = format!("[{}] fire {i} seed {seed}: {in_c}x{h}x{w} -> squeeze {s1} -> {e1c} + {e3c} pool={pool}", b.name());
        match b.fire(&sq, &e1, &e3, &x, bp) {
            Ok(got) => match compare(&what, &got, &want) {
                Ok(()) => println!("ok   {what}"),
                Err(e) => failures.push(e),
            },
            Err(e) => failures.push(format!("{what}: {e:#}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} Fire modules failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// in_c, out_c, k, stride, pad, pool, h, w, sparsity.
type EdgeCase = (usize, usize, usize, usize, usize, bool, usize, usize, f64);

/// Hand-picked edge shapes: one channel, channel/row counts one off the lane count, 1x1 maps
/// padded to 3x3, a fully sparse layer (every channel is one filler entry), a dense layer.
fn suite_edges(b: &mut dyn Backend, lanes: usize) {
    let mut failures = Vec::new();
    let cases: Vec<EdgeCase> = vec![
        // in_c, out_c, k, stride, pad, pool, h, w, sparsity
        (1, 1, 1, 1, 0, false, 1, 1, 0.0),
        (1, 1, 3, 1, 1, false, 1, 1, 0.0),
        (lanes + 1, lanes - 1, 3, 1, 1, false, 5, lanes + 3, 0.5),
        (3, lanes + 1, 1, 1, 0, true, 7, 9, 0.5),
        (2, 3, 3, 2, 1, false, lanes + 1, 3, 0.5),
        (5, 4, 3, 1, 1, false, 6, 6, 1.0),
        (6, 5, 3, 1, 0, false, 8, 9, 0.0),
        (3, 4, 7, 2, 3, true, 23, 21, 0.3),
        (3, 2, 7, 2, 0, false, 7, 8, 0.0),
    ];
    for (i, &(in_c, out_c, k, stride, pad, pool, h, w, sp)) in cases.iter().enumerate() {
        let seed = base_seed() ^ 0xED6E ^ i as u64;
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random_input(&mut rng, in_c, h, w, i % 3 == 2);
        let mut l = random_layer(
            &mut rng,
            in_c,
            out_c,
            k,
            stride,
            pad,
            pool,
            sp.min(0.999),
            &x,
        );
        if sp >= 1.0 {
            l.codes.iter_mut().for_each(|c| *c = 0);
            l.q.weights.iter_mut().for_each(|w| *w = 0);
            // All outputs are requant(bias): make some positive.
            let unit = (1i64 << l.q.shift) / 64;
            l.q.bias.iter_mut().enumerate().for_each(|(o, b)| {
                *b = ((o as i64 - 1) * unit).clamp(i32::MIN as i64, i32::MAX as i64) as i32
            });
        }
        let want = int8::conv_layer(&x, &l.q);
        let what = format!(
            "[{}] edge {i}: {} on {}x{}x{}",
            b.name(),
            l.describe(),
            in_c,
            h,
            w
        );
        match b.conv(&l, &x, random_bp(&mut rng, seed)) {
            Ok(got) => match compare(&what, &got, &want) {
                Ok(()) => println!("ok   {what}"),
                Err(e) => failures.push(e),
            },
            Err(e) => failures.push(format!("{what}: {e:#}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} edge cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---- reference backend ------------------------------------------------------------------------

#[test]
fn reference_random_layers() {
    suite_random_layers(&mut Reference, 24, 1, None, None);
}

#[test]
fn reference_random_fires() {
    suite_random_fires(&mut Reference, 8);
}

#[test]
fn reference_edges() {
    suite_edges(&mut Reference, 16);
}

#[test]
fn reference_k7_stride1() {
    suite_random_layers(&mut Reference, 2, 7, Some(7), Some(1));
}

// ---- RTL backend ------------------------------------------------------------------------------

#[test]
fn rtl_random_layers() {
    for cfg in presets_under_test() {
        suite_random_layers(&mut RtlBackend::new(&cfg, false), 24, 1, None, None);
    }
}

#[test]
fn rtl_random_layers_k7_stride2() {
    for cfg in presets_under_test() {
        suite_random_layers(&mut RtlBackend::new(&cfg, false), 4, 72, Some(7), Some(2));
    }
}

/// 7x7 with stride 1 is inside "K in {1,3,7}, stride 1 or 2" but not in SqueezeNet: the planner
/// only maps 7x7 stride 2 (polyphase to 4x4). Known gap, kept visible: `cargo test -- --ignored`.
#[test]
#[ignore = "7x7 stride 1 is not supported by the planner/engine yet (tap window <= 4x4)"]
fn rtl_random_layers_k7_stride1() {
    for cfg in presets_under_test() {
        suite_random_layers(&mut RtlBackend::new(&cfg, false), 2, 7, Some(7), Some(1));
    }
}

#[test]
fn rtl_random_fires() {
    for cfg in presets_under_test() {
        suite_random_fires(&mut RtlBackend::new(&cfg, false), 8);
    }
}

#[test]
fn rtl_edges() {
    for cfg in presets_under_test() {
        suite_edges(&mut RtlBackend::new(&cfg, false), cfg.pixel_lanes as usize);
    }
}

/// Several plans back to back on one model: weights, codebooks and buffers are reloaded over
/// the previous job's contents; nothing may leak from one job into the next.
#[test]
fn rtl_back_to_back_jobs_on_one_model() {
    for cfg in presets_under_test() {
        let mut b = RtlBackend::new(&cfg, true);
        suite_random_layers(&mut b, 6, 0xB2B, None, None);
        suite_random_fires(&mut b, 2);
        suite_random_layers(&mut b, 3, 0xB2C, Some(3), Some(1));
    }
}

// ---- the real network -------------------------------------------------------------------------

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/models/squeezenet-v1.0-dc/compressed_SqueezeNet.net"
);

/// A real layer as a coded layer: dense codes rebuilt from the stored (code, relative index)
/// entries, so the engine sees the model's own codebook.
fn real_layer(l: &weights::quant::QuantLayer) -> CodedLayer {
    let q = QConvLayer::from_quant(l);
    let mut codes = vec![0u8; q.weights.len()];
    let mut pos = 0usize;
    for (k, (&c, &r)) in l.codes.iter().zip(&l.rel_idx).enumerate() {
        pos = if k == 0 {
            r as usize
        } else {
            pos + r as usize + 1
        };
        codes[pos] = c;
    }
    let cl = CodedLayer {
        q,
        codes,
        lut: l.lut.to_vec(),
    };
    assert_eq!(
        decoded(&cl).weights,
        cl.q.weights,
        "{}: codes + LUT must give the dense weights",
        l.name()
    );
    cl
}

/// Every layer of SqueezeNet v1.0 on chelsea: conv1, the eight Fire modules (fused), conv_final,
/// each fed the int8 reference's own input and compared with its output.
#[test]
fn rtl_real_network_layers() {
    use weights::topology::{Input, FINAL, FIRES, LAYERS};
    let model = weights::Model::load(MODEL).expect("the shared SqueezeNet model");
    let q = weights::quant::QuantModel::from_model_committed(&model).unwrap();
    let image = reference::golden::load_inputs().expect("golden inputs")[0].clone();
    let t = Instant::now();
    let refout = int8::forward(&q, &image);
    println!("int8 reference forward: {:.2} s", t.elapsed().as_secs_f64());
    let layers: Vec<CodedLayer> = q.layers.iter().map(real_layer).collect();
    assert!(matches!(LAYERS[0].input, Input::Image));

    for cfg in presets_under_test() {
        let mut b = RtlBackend::new(&cfg, false);
        let bp = if std::env::var("SQZ_RTL_BP").as_deref() == Ok("0") {
            Backpressure::NONE
        } else {
            Backpressure::random(base_seed(), 0.8, 0.7)
        };
        let mut failures = Vec::new();
        let (mut total_cycles, mut total_wall, mut total_busy, mut total_dense) =
            (0u64, 0.0f64, 0u64, 0u64);
        // (name, layer indices, input, expected)
        let mut steps: Vec<(String, Vec<usize>, QTensor, QTensor)> = vec![(
            "conv1".into(),
            vec![0],
            refout.layer_input(0),
            refout.layers[0].clone(),
        )];
        for f in FIRES.iter() {
            let want = QTensor::concat(&[&refout.layers[f.expand1x1], &refout.layers[f.expand3x3]])
                .unwrap();
            steps.push((
                format!("fire{}", f.n),
                vec![f.squeeze, f.expand1x1, f.expand3x3],
                refout.layer_input(f.squeeze),
                want,
            ));
        }
        steps.push((
            LAYERS[FINAL].name.into(),
            vec![FINAL],
            refout.layer_input(FINAL),
            refout.layers[FINAL].clone(),
        ));
        let covered: usize = steps.iter().map(|s| s.1.len()).sum();
        assert_eq!(covered, LAYERS.len(), "every layer is covered once");

        println!("preset {}: {} MAC lanes", cfg.name, cfg.mac_lanes());
        println!(
            "{:<12} {:>12} {:>12} {:>12} {:>10} {:>8}",
            "step", "cycles", "busy", "dense MACs", "cycles/s", "eff"
        );
        for (name, idx, x, want) in &steps {
            let t = Instant::now();
            let got = if idx.len() == 1 {
                b.conv(&layers[idx[0]], x, bp)
            } else {
                b.fire(&layers[idx[0]], &layers[idx[1]], &layers[idx[2]], x, bp)
            };
            let wall = t.elapsed().as_secs_f64();
            let dense: u64 = idx.iter().map(|&i| LAYERS[i].dense_macs()).sum();
            match got {
                Ok(got) => {
                    let r = b.last.as_ref().unwrap();
                    total_cycles += r.cycles;
                    total_busy += r.perf.busy;
                    total_wall += wall;
                    total_dense += dense;
                    let eff = dense as f64 / (cfg.mac_lanes() as f64 * r.perf.busy.max(1) as f64);
                    println!(
                        "{name:<12} {:>12} {:>12} {dense:>12} {:>10.0} {eff:>8.3}",
                        r.cycles, r.perf.busy, b.last_speed
                    );
                    if idx.len() > 1 {
                        // Per layer of the fused Fire module: busy cycles of each job.
                        for (&i, busy) in idx.iter().zip(&r.job_busy) {
                            let d = LAYERS[i].dense_macs();
                            let e = d as f64 / (cfg.mac_lanes() as f64 * (*busy).max(1) as f64);
                            println!(
                                "  {:<18} {:>12} {d:>12} {:>10} {e:>8.3}",
                                LAYERS[i].name, busy, ""
                            );
                        }
                    }
                    if let Err(e) = compare(&format!("[{}] {name}", b.name()), &got, want) {
                        failures.push(e);
                    }
                }
                Err(e) => {
                    println!("{name:<12} FAILED after {wall:.1} s: {e:#}");
                    failures.push(format!("[{}] {name}: {e:#}", b.name()));
                }
            }
        }
        if total_wall > 0.0 {
            println!(
                "total: {total_cycles} cycles ({total_busy} busy) in {total_wall:.1} s = {:.0} cycles/s; dense-equivalent efficiency {:.3}",
                total_cycles as f64 / total_wall,
                total_dense as f64 / (cfg.mac_lanes() as f64 * total_busy.max(1) as f64)
            );
        }
        assert!(
            failures.is_empty(),
            "{} of {} steps failed:\n{}",
            failures.len(),
            steps.len(),
            failures.join("\n")
        );
    }
}

/// Back-pressure changes timing, never results, and a seed replays the exact same cycle count.
#[test]
fn rtl_backpressure_changes_timing_not_results() {
    for cfg in presets_under_test() {
        let mut rng = StdRng::seed_from_u64(base_seed() ^ 0xBAC);
        let x = random_input(&mut rng, 9, 13, 11, false);
        let l = random_layer(&mut rng, 9, 7, 3, 1, 1, true, 0.6, &x);
        let want = int8::conv_layer(&x, &l.q);
        let plan = job::plan_conv(&cfg, &l.to_job(), &to_tensor(&x)).unwrap();
        let run = |bp: Backpressure| {
            let mut dut = Rtl::new(&cfg).unwrap();
            dut.set_backpressure(bp);
            let r = dut.run_plan(&plan, 10_000_000).unwrap();
            let got = QTensor {
                c: want.c,
                h: want.h,
                w: want.w,
                signed: false,
                data: r.output,
            };
            compare(&format!("[rtl {}] {bp:?}", cfg.name), &got, &want).unwrap();
            r.cycles
        };
        let fast = run(Backpressure::NONE);
        let slow = run(Backpressure {
            axil: 0.3,
            ..Backpressure::random(11, 0.2, 0.2)
        });
        let again = run(Backpressure {
            axil: 0.3,
            ..Backpressure::random(11, 0.2, 0.2)
        });
        let other = run(Backpressure {
            axil: 0.3,
            ..Backpressure::random(12, 0.2, 0.2)
        });
        println!(
            "{}: {fast} cycles without stalls, {slow} / {other} with (seeds 11 / 12)",
            cfg.name
        );
        assert!(
            slow > fast + plan.load().len() as u64,
            "stalls must cost cycles: {slow} vs {fast}"
        );
        assert_eq!(slow, again, "the same seed replays the same cycle count");
        assert_ne!(slow, other, "another seed gives other stalls");
    }
}

/// Every Fire layer of the real network on its own (squeeze, expand1x1, expand3x3 as separate
/// C2H convolutions), fed the int8 reference's input for that layer: the squeeze outputs, which
/// never leave the chip in the fused run, are compared directly here. conv1 and conv_final run
/// standalone in `rtl_real_network_layers`.
#[test]
fn rtl_real_network_fire_layers_standalone() {
    use weights::topology::FIRES;
    let model = weights::Model::load(MODEL).expect("the shared SqueezeNet model");
    let q = weights::quant::QuantModel::from_model_committed(&model).unwrap();
    let image = reference::golden::load_inputs().expect("golden inputs")[0].clone();
    let refout = int8::forward(&q, &image);
    for cfg in presets_under_test() {
        let mut b = RtlBackend::new(&cfg, false);
        let bp = random_bp(&mut StdRng::seed_from_u64(base_seed() ^ 0x57A), base_seed());
        let mut failures = Vec::new();
        let mut n = 0;
        for f in FIRES.iter() {
            for i in [f.squeeze, f.expand1x1, f.expand3x3] {
                let name = q.layers[i].name();
                let l = real_layer(&q.layers[i]);
                match b.conv(&l, &refout.layer_input(i), bp) {
                    Ok(got) => {
                        let r = b.last.as_ref().unwrap();
                        println!(
                            "{name:<18} {:>10} cycles {:>10} busy {:>10.0} cycles/s",
                            r.cycles, r.perf.busy, b.last_speed
                        );
                        if let Err(e) =
                            compare(&format!("[{}] {name}", b.name()), &got, &refout.layers[i])
                        {
                            failures.push(e);
                        }
                    }
                    Err(e) => failures.push(format!("[{}] {name}: {e:#}", b.name())),
                }
                n += 1;
            }
        }
        assert_eq!(n, 24);
        assert!(
            failures.is_empty(),
            "{} of {n} layers failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
