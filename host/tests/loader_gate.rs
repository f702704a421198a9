//! The loader's gate (`spec::descriptor::Descriptor::loads_while_running`) on every card model
//! (the software card and the Verilated RTL, preset `tiny`): while a job runs, an `ACT_IN`
//! packet that ends at the job's `src_base` and weight entries just past the job's own are
//! written at once and counted in `PERF_H2C_HIDDEN`; an `ACT_IN` packet that reaches into the
//! job's input and weight entries over the job's own wait until the job is done; and the job's
//! output is the same as without any of them.

use std::time::Duration;

use host::device::model::ModelDevice;
use host::device::{self, Device, Timeouts};
use host::emulate::soft::SoftCard;
use host::emulate::CardModel;
use host::sequencer;
use rand::{Rng, SeedableRng};
use spec::job::{self, ConvLayer, LayerWeights, Planned, Tensor};
use spec::packet::{Packet, PacketType};
use spec::regs;
use spec::AccelConfig;

/// Where the job's input is moved to: everything below it is free while the job runs.
const INPUT_AT: u32 = 32 * 1024;

fn problem(cfg: &AccelConfig) -> Planned {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (in_c, out_c, hw) = (16u32, 16u32, 20u32);
    let n = (in_c * out_c * 9) as usize;
    let w = (0..n)
        .map(|_| {
            if rng.gen_bool(0.35) {
                rng.gen_range(-100i16..=100) * 300
            } else {
                0
            }
        })
        .collect();
    let l = ConvLayer {
        in_c,
        out_c,
        k: 3,
        stride: 1,
        pad: 1,
        pool: false,
        weights: LayerWeights::Dense(w),
        bias: (0..out_c as i32).map(|o| o * 37 - 200).collect(),
        m: 21000,
        shift: 22,
    };
    let x = Tensor {
        c: in_c,
        h: hw,
        w: hw,
        signed: false,
        data: (0..in_c * hw * hw).map(|_| rng.gen()).collect(),
    };
    job::plan_conv(cfg, &l, &x).unwrap()
}

/// Run the plan's job with its input moved to `INPUT_AT`; with `extra`, offer an ACT_IN packet
/// below the input and one that overlaps it while the job runs. Returns the C2H bytes and the
/// H2C beats the card counted as loaded under compute after each packet.
fn run(dev: &mut dyn Device, plan: &Planned, extra: bool) -> (Vec<u8>, Vec<u64>) {
    device::pulse(dev, &[regs::CTRL_SOFT_RESET, regs::CTRL_CLEAR_PERF]).unwrap();
    let mut packets: Vec<Packet> = plan
        .weights
        .iter()
        .chain([&plan.mask, &plan.act])
        .cloned()
        .collect();
    for p in packets.iter_mut().filter(|p| p.ty == PacketType::ActIn) {
        p.addr += INPUT_AT;
    }
    sequencer::send_packets(dev, &packets).unwrap();
    let j = &plan.jobs[0];
    let mut d = j.descriptor.clone();
    d.src_base += INPUT_AT;
    let seq = spec::protocol::start_job(&mut device::JobPort(dev), &d).unwrap();
    let mut hidden = Vec::new();
    if extra {
        let below = Packet::act(false, 0, &vec![0xA5; INPUT_AT as usize]).unwrap();
        let w_end = d.weight_base + d.weight_beats * spec::packet::WEIGHTS_PER_BEAT as u32;
        let beside = Packet::weights(w_end, &[(7, 0); 8]).unwrap();
        for p in [&below, &beside] {
            assert!(d.loads_while_running(p.ty, p.addr, p.payload.len() as u32));
        }
        sequencer::send_packets(dev, &[below, beside]).unwrap();
        hidden.push(device::read_perf(dev).unwrap().h2c_hidden);
        // Two beats across src_base, and the job's own last weight entries: these must wait
        // for the job (they would change its input and its weights).
        let over = Packet::act(false, INPUT_AT - 8, &[0x5A; 16]).unwrap();
        let w_over = Packet::weights(w_end - 4, &[(9, 0); 4]).unwrap();
        for p in [&over, &w_over] {
            assert!(!d.loads_while_running(p.ty, p.addr, p.payload.len() as u32));
        }
        sequencer::send_packets(dev, &[over, w_over]).unwrap();
        let status = dev.read_reg(regs::STATUS.offset).unwrap();
        assert_eq!(regs::STATUS_BUSY.get(status), 0, "taken while the job ran");
        hidden.push(device::read_perf(dev).unwrap().h2c_hidden);
    }
    let mut out = vec![0u8; j.out_bytes as usize + spec::trailer::TRAILER_BYTES];
    dev.read_c2h(&mut out).unwrap();
    let payload = spec::protocol::finish_job(&mut device::JobPort(dev), &out, seq)
        .unwrap()
        .to_vec();
    (payload, hidden)
}

fn device(card: Box<dyn CardModel>) -> ModelDevice<Box<dyn CardModel>> {
    ModelDevice::new(card, Timeouts::uniform(Duration::from_secs(60)))
}

#[test]
fn act_in_below_the_input_loads_under_compute_and_overlapping_waits() {
    let cfg = AccelConfig::tiny();
    let plan = problem(&cfg);
    let (want, _) = run(
        &mut device(Box::new(SoftCard::engine(cfg.clone()))),
        &plan,
        false,
    );
    #[allow(unused_mut)]
    let mut cards: Vec<Box<dyn CardModel>> = vec![Box::new(SoftCard::engine(cfg.clone()))];
    #[cfg(feature = "rtl")]
    cards.push(Box::new(
        host::emulate::rtl::RtlCard::new(&cfg).expect("tiny is verilated"),
    ));
    for card in cards {
        let name = card.name();
        let mut dev = device(card);
        let (got, hidden) = run(&mut dev, &plan, true);
        assert_eq!(got, want, "{name}: the job's output changed");
        let beats = (INPUT_AT / spec::STREAM_BYTES) as u64 + 2;
        assert_eq!(hidden, vec![beats; 2], "{name}: beats loaded under compute");
    }
}
