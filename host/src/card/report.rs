//! [`CycleReport`]: the cycle figures of one network run on a card (the `bench` report of the
//! card backends): the counters per layer with the planner's model of each job, the per-layer
//! table with its cycle breakdown, totals at a clock, the bytes moved, printed as text or drawn
//! as SVG by `crate::perf_report`.

use std::io::Write;

use spec::AccelConfig;

use crate::perf_report::{self, Clocking, H2cBytes, LayerRow, Totals, Traffic};
use crate::sequencer::{self, NetOutput};

/// Cycle figures of one network run on a card with `lanes` MAC lanes: the counters per layer,
/// the per-layer table with its cycle breakdown, totals at a clock and the bytes moved
/// ([`crate::perf_report`] computes them).
#[derive(Clone, Debug, serde::Serialize)]
pub struct CycleReport {
    pub preset: String,
    pub mac_lanes: u32,
    pub cycles: u64,
    pub macs_issued: u64,
    pub dense_macs: u64,
    /// dense MACs / (lanes x cycles).
    pub efficiency: f64,
    /// Images per second at the preset's target clock.
    pub images_per_s_at_target: f64,
    pub target_mhz: u32,
    /// Host time of the image in the sequencer (wall clock: planning, transfers, waiting for
    /// the card), and the sequencer's own CPU time: the thread's CPU time less what it spent
    /// inside the device's calls (packets, the next input streamed from each output, the
    /// trailer checks, C2H bytes parsed into CHW tensors). Image decoding and preprocessing are
    /// not included.
    pub wall_ms: f64,
    pub host_ms: f64,
    /// The parts of `host_ms` planning each step's packets and input, and parsing outputs into
    /// tensors.
    pub host_plan_ms: f64,
    pub host_parse_ms: f64,
    pub layers: Vec<sequencer::LayerReport>,
    /// One row per layer: MACs, cycles, ideal, efficiency, utilisation, cycle breakdown.
    pub rows: Vec<LayerRow>,
    /// The image at the clock of [`Clocking`] (`bench --fmax`, else the target clock).
    pub totals: Totals,
    /// Bytes moved per image and their time on the link (`bench --link-gbps`).
    pub traffic: Traffic,
}

impl CycleReport {
    /// The report at the preset's target clock and the default link rate.
    pub fn of(out: &NetOutput, cfg: &AccelConfig) -> CycleReport {
        CycleReport::at(out, cfg, &Clocking::default())
    }

    pub fn at(out: &NetOutput, cfg: &AccelConfig, clock: &Clocking) -> CycleReport {
        let layers: Vec<_> = out.steps.iter().flat_map(|s| s.layers.clone()).collect();
        let cycles: u64 = layers.iter().map(|l| l.perf.busy).sum();
        let dense: u64 = layers.iter().map(|l| l.dense_macs).sum();
        let lanes = cfg.mac_lanes();
        let rows: Vec<LayerRow> = layers
            .iter()
            .map(|l| LayerRow::new(l.layer, l.dense_macs, &l.model, &l.perf, lanes))
            .collect();
        let totals = Totals::of(&rows, lanes, cfg.target_mhz, clock);
        let mut h2c = H2cBytes::default();
        for s in &out.steps {
            h2c += s.h2c;
        }
        let c2h = layers.iter().map(|l| l.out_bytes).sum();
        let hidden =
            layers.iter().map(|l| l.perf.h2c_hidden).sum::<u64>() * spec::STREAM_BYTES as u64;
        let traffic = Traffic::new(h2c, hidden, c2h, &totals, clock);
        CycleReport {
            preset: cfg.name.clone(),
            mac_lanes: lanes,
            cycles,
            macs_issued: layers.iter().map(|l| l.perf.macs).sum(),
            dense_macs: dense,
            efficiency: if cycles == 0 {
                0.0
            } else {
                dense as f64 / (lanes as f64 * cycles as f64)
            },
            images_per_s_at_target: if cycles == 0 {
                0.0
            } else {
                cfg.target_mhz as f64 * 1e6 / cycles as f64
            },
            target_mhz: cfg.target_mhz,
            wall_ms: out.steps.iter().map(|s| s.wall.as_secs_f64() * 1e3).sum(),
            host_ms: out.host_time().as_secs_f64() * 1e3,
            host_plan_ms: out.host_plan_parse().0.as_secs_f64() * 1e3,
            host_parse_ms: out.host_plan_parse().1.as_secs_f64() * 1e3,
            layers,
            rows,
            totals,
            traffic,
        }
    }

    /// The same counters projected at another clock and link rate.
    pub fn reclock(mut self, clock: &Clocking) -> CycleReport {
        self.totals = Totals::of(&self.rows, self.mac_lanes, self.target_mhz, clock);
        self.traffic = Traffic::new(
            self.traffic.h2c,
            self.traffic.h2c_hidden_bytes,
            self.traffic.c2h_bytes,
            &self.totals,
            clock,
        );
        self
    }

    /// The per-layer tables, totals, traffic and host time.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        perf_report::print_tables(out, &self.rows, &self.totals)?;
        perf_report::print_totals(
            out,
            &self.totals,
            &self.traffic,
            self.mac_lanes,
            &self.preset,
        )?;
        writeln!(
            out,
            "host: {:.1} ms per image in the sequencer, of which {:.2} ms its own CPU time (not in device calls): {:.2} ms planning packets and inputs, {:.2} ms parsing outputs, the rest streaming next inputs and checking each job's output",
            self.wall_ms, self.host_ms, self.host_plan_ms, self.host_parse_ms
        )
    }

    /// Per-layer measured vs ideal cycles as an SVG document.
    pub fn svg(&self) -> String {
        perf_report::svg(
            &format!(
                "sqz {} ({} MAC lanes): cycles per layer, measured vs ideal; {} cycles per image, efficiency {:.3}",
                self.preset, self.mac_lanes, self.cycles, self.totals.efficiency
            ),
            &self.rows,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Perf;
    use crate::perf_report::{H2cBytes, JobModel};
    use crate::sequencer::LayerReport;
    use crate::sequencer::StepReport;
    use reference::int8::QTensor;
    use std::time::Duration;

    /// Two steps of synthetic counters: one conv and one two-layer step.
    fn output() -> NetOutput {
        let layer = |name, busy, stall, e: u64| LayerReport {
            layer: name,
            perf: Perf {
                busy,
                macs: 16 * 3 * e,
                stall,
                jobs: 1,
                ..Default::default()
            },
            dense_macs: 9 * 64 * 8,
            out_bytes: 256,
            model: JobModel::from_channels(16, 4, 60, &[(e, 1), (e, 0)]),
        };
        let h2c = H2cBytes {
            weights: 1000,
            masks: 16,
            activations: 4000,
        };
        let step = |name, layers| StepReport {
            step: name,
            layers,
            h2c_bytes: h2c.total(),
            h2c,
            wall: Duration::from_millis(3),
            host: Duration::from_millis(1),
            host_plan: Duration::from_micros(200),
            host_parse: Duration::from_micros(100),
        };
        NetOutput {
            input: QTensor {
                c: 1,
                h: 1,
                w: 1,
                signed: true,
                data: vec![0],
            },
            layers: Vec::new(),
            logits: Vec::new(),
            probabilities: Vec::new(),
            steps: vec![
                step("a", vec![layer("a", 100, 36, 8)]),
                step("b", vec![layer("b1", 90, 26, 8), layer("b2", 60, 12, 6)]),
            ],
        }
    }

    #[test]
    fn report_json_and_text_carry_the_breakdown() {
        let cfg = AccelConfig::tiny();
        let r = CycleReport::of(&output(), &cfg);
        assert_eq!((r.rows.len(), r.cycles, r.totals.cycles), (3, 250, 250));
        assert_eq!(r.traffic.h2c_bytes, 2 * 5016);
        assert_eq!(r.traffic.c2h_bytes, 3 * 256);
        for row in &r.rows {
            assert_eq!(row.breakdown.total(), row.cycles as i64, "{row:?}");
        }
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["rows"].as_array().unwrap().len(), 3);
        assert_eq!(j["rows"][1]["layer"], "b1");
        assert!(j["rows"][0]["breakdown"]["useful"].as_u64().unwrap() > 0);
        assert!(j["rows"][0]["efficiency"].as_f64().unwrap() > 0.0);
        assert_eq!(j["totals"]["mhz_source"], perf_report::FMAX_TARGET);
        assert_eq!(j["traffic"]["h2c"]["weights"], 2000);
        assert_eq!(j["traffic"]["link_gbps"], 1.6);
        assert!(j["layers"][0]["model"]["entries"].as_u64().is_some());
        // At a P&R clock: the same counters, another time.
        let slow = r.clone().reclock(&Clocking {
            fmax_mhz: Some(37.0),
            link_gbps: 0.5,
        });
        assert_eq!(slow.totals.mhz_source, perf_report::FMAX_GIVEN);
        assert!((slow.totals.compute_ms - 250.0 / 37e3).abs() < 1e-12);
        assert_eq!(slow.traffic.effective_gbps, 0.296_f64.min(0.5));
        let mut text = Vec::new();
        slow.print(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("b2") && text.contains("lane waste"), "{text}");
        assert!(text.contains("at 37 MHz (P&R Fmax (--fmax))"), "{text}");
        assert_eq!(slow.svg().matches(r#"class="measured""#).count(), 3);
    }
}
