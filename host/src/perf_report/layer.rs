//! Per-layer cycle accounting: a layer's row of the report ([`LayerRow`]: dense and nonzero MACs,
//! measured and ideal cycles, efficiency, utilisation) and the [`Breakdown`] of its measured busy
//! cycles into causes, taken from the planner's [`JobModel`] and the card's counters, that adds up
//! to the busy counter exactly.

use serde::Serialize;

use super::{ratio, JobModel};
use crate::device::Perf;

/// Where a layer's busy cycles went. The fields add up to the measured busy cycles exactly
/// ([`Breakdown::total`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// Nonzero MACs / lanes (rounded to a cycle): the ideal.
    pub useful: u64,
    /// Issued cycles beyond the ideal: lanes on grid positions outside the output (tile
    /// quantisation, junk grid columns, the squeeze's border) and entries that decode to 0.
    pub lane_waste: u64,
    /// No-issue cycles of the minimum tile length (channels with few entries), modelled.
    pub short_channels: u64,
    /// No-issue cycles fetching each channel's bias and count, modelled.
    pub channel_fetch: u64,
    /// No-issue cycles the card counted as C2H back-pressure (`stall_out`, capped at the
    /// no-issue cycles left after the two above).
    pub c2h_stall: u64,
    /// The card's other no-issue cycles: output credits (C2H serializer, max-pool, mid
    /// writes), pipeline drain at the end of the job.
    pub other_stall: u64,
    /// Measured busy cycles minus all of the above: nonzero only where the model and the
    /// counters disagree (issue count differs, or modelled stalls exceed the counted ones).
    pub remainder: i64,
}

impl Breakdown {
    /// Split the counters `p` of one job planned as `m`.
    pub fn of(m: &JobModel, p: &Perf) -> Breakdown {
        let lanes = m.lanes.max(1) as u64;
        let issue = m.issue_cycles();
        let useful = ((m.nonzero_macs() + lanes / 2) / lanes).min(issue);
        let short = m.short_cycles;
        let fetch = m.fetch_cycles();
        let left = p.stall as i64 - short as i64 - fetch as i64;
        let c2h = p.stall_out.min(left.max(0) as u64);
        let other = (left - c2h as i64).max(0) as u64;
        let mut b = Breakdown {
            useful,
            lane_waste: issue - useful,
            short_channels: short,
            channel_fetch: fetch,
            c2h_stall: c2h,
            other_stall: other,
            remainder: 0,
        };
        b.remainder = p.busy as i64 - b.total();
        b
    }
    /// Sum of all fields (= the busy cycles it was made from).
    pub fn total(&self) -> i64 {
        (self.useful
            + self.lane_waste
            + self.short_channels
            + self.channel_fetch
            + self.c2h_stall
            + self.other_stall) as i64
            + self.remainder
    }
}

impl std::ops::AddAssign for Breakdown {
    fn add_assign(&mut self, o: Breakdown) {
        self.useful += o.useful;
        self.lane_waste += o.lane_waste;
        self.short_channels += o.short_channels;
        self.channel_fetch += o.channel_fetch;
        self.c2h_stall += o.c2h_stall;
        self.other_stall += o.other_stall;
        self.remainder += o.remainder;
    }
}

/// One row of the per-layer table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerRow {
    pub layer: &'static str,
    /// K*K*I*O*OH*OW.
    pub dense_macs: u64,
    /// Nonzero weights x output positions.
    pub nonzero_macs: u64,
    /// Busy cycles counted by the card.
    pub cycles: u64,
    /// Cycles in which an entry issued (busy - stall), counted by the card.
    pub issued: u64,
    /// Nonzero MACs / MAC lanes.
    pub ideal_cycles: f64,
    /// Dense MACs / (lanes x cycles).
    pub efficiency: f64,
    /// Nonzero MACs / (lanes x cycles).
    pub utilisation: f64,
    /// Of the lane waste: issue cycles of entries that decode to 0 (fillers).
    pub zero_entry_cycles: u64,
    pub breakdown: Breakdown,
}

impl LayerRow {
    pub fn new(
        layer: &'static str,
        dense_macs: u64,
        m: &JobModel,
        p: &Perf,
        mac_lanes: u32,
    ) -> LayerRow {
        let lanes = mac_lanes as f64;
        let cap = lanes * p.busy as f64;
        LayerRow {
            layer,
            dense_macs,
            nonzero_macs: m.nonzero_macs(),
            cycles: p.busy,
            issued: p.busy.saturating_sub(p.stall),
            ideal_cycles: ratio(m.nonzero_macs() as f64, lanes),
            efficiency: ratio(dense_macs as f64, cap),
            utilisation: ratio(m.nonzero_macs() as f64, cap),
            zero_entry_cycles: m.zero_entry_cycles(),
            breakdown: Breakdown::of(m, p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::perf;
    use super::super::{CHANNEL_FETCH_CYCLES, MIN_TILE_CYCLES};
    use super::*;

    #[test]
    fn short_channel_cycles_follow_the_walker() {
        // One channel of 1 entry, 3 tiles: the 2nd and 3rd tile wait 3 cycles each.
        assert_eq!(
            JobModel::from_channels(16, 3, 40, &[(1, 0)]).short_cycles,
            6
        );
        // A second channel of 1 entry: its first tile waits what the fetch does not cover (no
        // cycle with the three fetch cycles), then 3 per tile.
        let m = JobModel::from_channels(16, 3, 40, &[(1, 0), (1, 0)]);
        assert_eq!(
            m.short_cycles,
            6 + MIN_TILE_CYCLES.saturating_sub(CHANNEL_FETCH_CYCLES + 1) + 6
        );
        // 2 entries after a fetch do not wait; 4 entries never wait.
        assert_eq!(
            JobModel::from_channels(16, 2, 20, &[(4, 1), (2, 0)]).short_cycles,
            2
        );
        assert_eq!(
            JobModel::from_channels(16, 5, 20, &[(4, 0), (9, 2)]).short_cycles,
            0
        );
    }

    #[test]
    fn breakdown_adds_up_to_busy_on_a_synthetic_job() {
        // 3 channels: 5 entries (1 filler), 2 entries, 7 entries (2 fillers); 4 tiles of 16
        // positions, 50 of the 64 kept.
        let m = JobModel::from_channels(16, 4, 50, &[(5, 1), (2, 0), (7, 2)]);
        assert_eq!(m.issue_cycles(), 4 * 14);
        assert_eq!(m.nonzero_macs(), 11 * 50);
        // ch 2: 3 tiles after the first wait 2 each; its first tile follows a fetch: no wait.
        assert_eq!(m.short_cycles, 6);
        let f = m.fetch_cycles();
        assert_eq!(f, 3 * CHANNEL_FETCH_CYCLES);
        // A card that issued exactly the model and stalled 6 + f + 20 cycles, 5 of them C2H.
        let stall = 6 + f + 20;
        let p = perf(56 + stall, stall, 5);
        let b = Breakdown::of(&m, &p);
        assert_eq!(b.useful, (550 + 8) / 16);
        assert_eq!(b.useful + b.lane_waste, 56);
        assert_eq!((b.short_channels, b.channel_fetch, b.c2h_stall), (6, f, 5));
        assert_eq!(b.other_stall, 15);
        assert_eq!(b.remainder, 0);
        assert_eq!(b.total(), p.busy as i64);
        // The counters disagree with the model (3 issues more than planned): shown, not hidden.
        let p = perf(56 + 3 + stall, stall, 5);
        let b = Breakdown::of(&m, &p);
        assert_eq!((b.remainder, b.total()), (3, p.busy as i64));
        // Fewer stalls than modelled: negative remainder, other stall 0.
        let p = perf(56 + 8, 8, 0);
        let b = Breakdown::of(&m, &p);
        assert_eq!(
            (b.other_stall, b.remainder, b.total()),
            (0, 8 - 6 - f as i64, 64)
        );
        // Back-pressure counted while the walker issued is capped at the no-issue cycles left.
        let p = perf(56 + 6 + f + 2, 6 + f + 2, 100);
        let b = Breakdown::of(&m, &p);
        assert_eq!((b.c2h_stall, b.other_stall, b.remainder), (2, 0, 0));
    }

    /// The job models of the real network, planned for `tiny` and `nitefury`: one per layer,
    /// nonzero weights equal to the quantized model's, positions equal to each layer's output,
    /// and the nonzero MACs of the whole network.
    #[test]
    fn real_network_nonzero_macs() {
        use weights::topology::{LAYERS, NUM_LAYERS};
        let path = weights::default_model_path(None).expect("model file");
        let bytes = std::fs::read(&path).unwrap();
        let net = weights::net::NetFile::parse(&bytes).unwrap();
        let q =
            weights::quant::QuantModel::from_model_committed(&weights::Model::load(&path).unwrap())
                .unwrap();
        // Nonzero weights x output positions, from the .net file (`weights inspect`'s
        // "nonzero" column) and from the int8 model the card runs.
        let file_macs: u64 = (0..NUM_LAYERS)
            .map(|i| net.layers[i].nonzeros() as u64 * (LAYERS[i].out_hw * LAYERS[i].out_hw) as u64)
            .sum();
        let q_nonzeros: Vec<u64> = q
            .layers
            .iter()
            .map(|l| l.weights.iter().filter(|&&w| w != 0).count() as u64)
            .collect();
        let q_macs: u64 = (0..NUM_LAYERS)
            .map(|i| q_nonzeros[i] * (LAYERS[i].out_hw * LAYERS[i].out_hw) as u64)
            .sum();
        eprintln!(
            "nonzero MACs: {file_macs} from the .net file ({} nonzeros), {q_macs} in int8 ({} nonzeros); dense {}",
            net.total_nonzeros(),
            q_nonzeros.iter().sum::<u64>(),
            weights::topology::total_dense_macs()
        );
        for cfg in [spec::AccelConfig::tiny(), spec::AccelConfig::nitefury()] {
            let seq = crate::sequencer::Sequencer::new(&cfg, &q).unwrap();
            let models: Vec<&JobModel> = seq.job_models().iter().flatten().collect();
            assert_eq!(models.len(), NUM_LAYERS, "{}", cfg.name);
            for (i, m) in models.iter().enumerate() {
                let l = &LAYERS[i];
                assert_eq!(
                    m.nonzero_weights(),
                    q_nonzeros[i],
                    "{} {}",
                    cfg.name,
                    l.name
                );
                assert_eq!(
                    m.positions,
                    (l.out_hw * l.out_hw) as u64,
                    "{} {}",
                    cfg.name,
                    l.name
                );
                assert_eq!(m.out_c as usize, l.out_c);
                assert!(
                    m.lanes == cfg.pixel_lanes && m.ntiles as u64 * m.lanes as u64 >= m.positions
                );
            }
            let total: u64 = models.iter().map(|m| m.nonzero_macs()).sum();
            assert_eq!(total, q_macs, "{}", cfg.name);
        }
        // `weights inspect`: 415,921 nonzero weights in the file, 443.2 M nonzero MACs; 47 of
        // them round to 0 in the 16-bit LUT and are not issued (443.19 M MACs).
        assert_eq!(net.total_nonzeros(), 415_921);
        assert_eq!(file_macs, 443_223_545);
        assert_eq!(q_nonzeros.iter().sum::<u64>(), 415_874);
        assert_eq!(q_macs, 443_189_282);
    }
}
