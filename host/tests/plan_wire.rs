//! The planner's output on the wire: a whole-network run of the real model through the
//! sequencer against the functional soft card, with every H2C byte, register write and C2H
//! transfer size hashed. The hashes were taken from the planner that flattened every step into
//! beats and parsed them back; the structured planner must send exactly the same stream.

use std::time::Duration;

use host::device::model::ModelDevice;
use host::device::{Device, Result, Timeouts};
use host::emulate::soft::SoftCard;
use host::sequencer::Sequencer;
use spec::AccelConfig;
use weights::quant::QuantModel;
use weights::topology::INPUT_LEN;

/// FNV-1a, 64 bit.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A device that hashes what the host sends (H2C bytes, register writes, C2H read sizes).
struct Recorder<D> {
    dev: D,
    h2c: Fnv,
    regs: Fnv,
    h2c_bytes: u64,
}

impl<D: Device> Device for Recorder<D> {
    fn name(&self) -> String {
        self.dev.name()
    }
    fn read_reg(&mut self, off: u32) -> Result<u32> {
        self.dev.read_reg(off)
    }
    fn write_reg(&mut self, off: u32, value: u32) -> Result<()> {
        self.regs.eat(&off.to_le_bytes());
        self.regs.eat(&value.to_le_bytes());
        self.dev.write_reg(off, value)
    }
    fn write_h2c(&mut self, data: &[u8]) -> Result<()> {
        self.h2c.eat(data);
        self.h2c_bytes += data.len() as u64;
        self.regs.eat(b"h2c");
        self.regs.eat(&(data.len() as u64).to_le_bytes());
        self.dev.write_h2c(data)
    }
    fn read_c2h(&mut self, buf: &mut [u8]) -> Result<()> {
        self.regs.eat(b"c2h");
        self.regs.eat(&(buf.len() as u64).to_le_bytes());
        self.dev.read_c2h(buf)
    }
    fn exchange(&mut self, h2c: &[u8], c2h: &mut [u8]) -> Result<()> {
        self.h2c.eat(h2c);
        self.h2c_bytes += h2c.len() as u64;
        self.regs.eat(b"xchg");
        self.regs.eat(&(h2c.len() as u64).to_le_bytes());
        self.regs.eat(&(c2h.len() as u64).to_le_bytes());
        self.dev.exchange(h2c, c2h)
    }
    fn timeouts(&self) -> Timeouts {
        self.dev.timeouts()
    }
    fn drain_c2h(&mut self) -> Result<usize> {
        self.dev.drain_c2h()
    }
    fn wait_done(&mut self, timeout: Duration) -> Result<()> {
        self.dev.wait_done(timeout)
    }
}

fn model() -> Option<QuantModel> {
    let path = weights::default_model_path(None).ok()?;
    let m = weights::Model::load(&path).ok()?;
    Some(QuantModel::from_model_committed(&m).expect("quantize"))
}

/// A deterministic preprocessed image.
fn image(seed: u32) -> Vec<f32> {
    (0..INPUT_LEN as u32)
        .map(|i| {
            let h = i
                .wrapping_mul(2654435761)
                .wrapping_add(seed.wrapping_mul(40503))
                >> 9;
            (h % 4001) as f32 / 1000.0 - 2.0
        })
        .collect()
}

/// (H2C hash, register/transfer hash, H2C bytes, job models hash) of `images` images in a row.
fn run(cfg: &AccelConfig, q: &QuantModel, images: u32) -> (u64, u64, u64, u64) {
    let dev = ModelDevice::new(
        SoftCard::engine(cfg.clone()),
        Timeouts::uniform(Duration::from_secs(60)),
    );
    let mut rec = Recorder {
        dev,
        h2c: Fnv::new(),
        regs: Fnv::new(),
        h2c_bytes: 0,
    };
    let mut seq = Sequencer::new(cfg, q).unwrap();
    let mut models = Fnv::new();
    models.eat(format!("{:?}", seq.job_models()).as_bytes());
    for i in 0..images {
        let out = seq.run(&mut rec, &image(i), &mut |_| {}).unwrap();
        models.eat(format!("{:?}", out.logits).as_bytes());
    }
    (rec.h2c.0, rec.regs.0, rec.h2c_bytes, models.0)
}

#[test]
fn real_network_stream_is_unchanged() {
    let Some(q) = model() else {
        eprintln!("model file not found: skipping");
        return;
    };
    let tiny = run(&AccelConfig::tiny(), &q, 1);
    let nitefury = run(&AccelConfig::nitefury(), &q, 2);
    eprintln!("tiny {tiny:#x?}\nnitefury {nitefury:#x?}");
    assert_eq!(tiny, TINY);
    assert_eq!(nitefury, NITEFURY);
}

const TINY: (u64, u64, u64, u64) = (
    0x15bcf92e3551588a,
    0x7263b7d5d1d453d2,
    0x357568,
    0x68e85db5c3efc98a,
);
const NITEFURY: (u64, u64, u64, u64) = (
    0x1d16ecf7422c38c5,
    0xcf24084ca373bead,
    0x6aef90,
    0x10550f4241ce09f1,
);
