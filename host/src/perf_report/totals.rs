//! Per-image totals and the link: the [`Totals`] of the layer rows at a clock ([`Clocking`]: the
//! P&R Fmax or the preset's target, and the link rate), the H2C bytes by kind ([`H2cBytes`]) and
//! what the bytes cost on the link against compute ([`Traffic`]).

use serde::Serialize;
use spec::packet::{Packet, PacketType};

use super::{ratio, Breakdown, LayerRow, DEFAULT_LINK_GBPS};

/// H2C bytes by kind (packet headers included in their packet's kind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct H2cBytes {
    /// Weight entries, codebooks and per-channel bias/count words.
    pub weights: u64,
    /// Output-position masks.
    pub masks: u64,
    /// Input activations (the image, each layer's input).
    pub activations: u64,
}

impl H2cBytes {
    pub fn of(packets: &[Packet]) -> H2cBytes {
        let mut b = H2cBytes::default();
        for p in packets {
            let n = (p.payload.len() as u64 + 1) * spec::STREAM_BYTES as u64;
            match p.ty {
                PacketType::Weights | PacketType::Codebook | PacketType::Bias => b.weights += n,
                PacketType::Mask => b.masks += n,
                PacketType::ActIn | PacketType::ActMid => b.activations += n,
            }
        }
        b
    }
    pub fn total(&self) -> u64 {
        self.weights + self.masks + self.activations
    }
}

impl std::ops::AddAssign for H2cBytes {
    fn add_assign(&mut self, o: H2cBytes) {
        self.weights += o.weights;
        self.masks += o.masks;
        self.activations += o.activations;
    }
}

/// The clock and link a report is projected at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clocking {
    /// The engine clock from place and route (`--fmax`); `None`: the preset's target clock.
    pub fmax_mhz: Option<f64>,
    /// Host<->card payload rate per direction, GB/s (`--link-gbps`).
    pub link_gbps: f64,
}

impl Default for Clocking {
    fn default() -> Self {
        Clocking {
            fmax_mhz: None,
            link_gbps: DEFAULT_LINK_GBPS,
        }
    }
}

/// Totals of one image.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    pub cycles: u64,
    pub dense_macs: u64,
    pub nonzero_macs: u64,
    pub ideal_cycles: f64,
    pub efficiency: f64,
    pub utilisation: f64,
    pub breakdown: Breakdown,
    /// The clock the times are projected at, and where it comes from.
    pub mhz: f64,
    pub mhz_source: &'static str,
    /// Compute time (busy cycles at `mhz`) and its rate.
    pub compute_ms: f64,
    pub images_per_s: f64,
}

pub const FMAX_GIVEN: &str = "P&R Fmax (--fmax)";
pub const FMAX_TARGET: &str = "target clock, no P&R figure given";

impl Totals {
    pub fn of(rows: &[LayerRow], mac_lanes: u32, target_mhz: u32, clock: &Clocking) -> Totals {
        let cycles: u64 = rows.iter().map(|r| r.cycles).sum();
        let dense: u64 = rows.iter().map(|r| r.dense_macs).sum();
        let nz: u64 = rows.iter().map(|r| r.nonzero_macs).sum();
        let mut breakdown = Breakdown::default();
        for r in rows {
            breakdown += r.breakdown;
        }
        let (mhz, mhz_source) = match clock.fmax_mhz {
            Some(f) => (f, FMAX_GIVEN),
            None => (target_mhz as f64, FMAX_TARGET),
        };
        let lanes = mac_lanes as f64;
        let compute_s = ratio(cycles as f64, mhz * 1e6);
        Totals {
            cycles,
            dense_macs: dense,
            nonzero_macs: nz,
            ideal_cycles: ratio(nz as f64, lanes),
            efficiency: ratio(dense as f64, lanes * cycles as f64),
            utilisation: ratio(nz as f64, lanes * cycles as f64),
            breakdown,
            mhz,
            mhz_source,
            compute_ms: compute_s * 1e3,
            images_per_s: ratio(1.0, compute_s),
        }
    }
}

/// Bytes moved per image and what they cost on the link.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Traffic {
    pub h2c: H2cBytes,
    pub h2c_bytes: u64,
    /// H2C payload bytes the card wrote while a job ran (its `PERF_H2C_HIDDEN` x 8): loaded
    /// under compute.
    pub h2c_hidden_bytes: u64,
    /// Stream time of the rest of H2C, which loads between jobs.
    pub h2c_exposed_ms: f64,
    pub c2h_bytes: u64,
    /// The assumed link payload rate per direction (GB/s).
    pub link_gbps: f64,
    /// What the card's 64-bit streams carry at the clock: STREAM_BYTES x MHz (GB/s).
    pub stream_port_gbps: f64,
    /// min(link, stream port): the rate the bytes actually move at.
    pub effective_gbps: f64,
    pub h2c_ms: f64,
    pub c2h_ms: f64,
    pub compute_ms: f64,
    /// compute + H2C + C2H, nothing overlapped.
    pub serial_ms: f64,
    /// compute + exposed H2C: this engine (C2H drains during each job, the next input streams
    /// in under compute, the rest of H2C loads between jobs).
    pub today_ms: f64,
    /// max(compute, H2C, C2H): both directions under compute (full duplex).
    pub overlapped_ms: f64,
    /// Whether both directions would hide under compute if overlapped.
    pub hides_under_compute: bool,
}

impl Traffic {
    pub fn new(
        h2c: H2cBytes,
        h2c_hidden_bytes: u64,
        c2h_bytes: u64,
        totals: &Totals,
        clock: &Clocking,
    ) -> Traffic {
        let port = spec::STREAM_BYTES as f64 * totals.mhz * 1e6 / 1e9;
        let rate = clock.link_gbps.min(port);
        let ms = |bytes: u64| ratio(bytes as f64, rate * 1e9) * 1e3;
        let (h2c_ms, c2h_ms, compute_ms) = (ms(h2c.total()), ms(c2h_bytes), totals.compute_ms);
        let h2c_exposed_ms = ms(h2c.total().saturating_sub(h2c_hidden_bytes));
        Traffic {
            h2c,
            h2c_bytes: h2c.total(),
            h2c_hidden_bytes,
            h2c_exposed_ms,
            c2h_bytes,
            link_gbps: clock.link_gbps,
            stream_port_gbps: port,
            effective_gbps: rate,
            h2c_ms,
            c2h_ms,
            compute_ms,
            serial_ms: compute_ms + h2c_ms + c2h_ms,
            today_ms: compute_ms + h2c_exposed_ms,
            overlapped_ms: compute_ms.max(h2c_ms).max(c2h_ms),
            hides_under_compute: h2c_ms.max(c2h_ms) <= compute_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::perf;
    use super::super::JobModel;
    use super::*;

    #[test]
    fn rows_totals_and_traffic() {
        let m = JobModel::from_channels(16, 4, 50, &[(5, 1), (2, 0), (7, 2)]);
        let p = perf(100, 44, 0);
        let r = LayerRow::new("x", 9 * 3 * 64, &m, &p, 16);
        assert_eq!(r.issued, 56);
        assert!((r.efficiency - 1728.0 / 1600.0).abs() < 1e-12);
        assert!((r.utilisation - 550.0 / 1600.0).abs() < 1e-12);
        assert!((r.ideal_cycles - 550.0 / 16.0).abs() < 1e-12);
        let rows = vec![r.clone(), LayerRow { layer: "y", ..r }];
        let t = Totals::of(&rows, 16, 150, &Clocking::default());
        assert_eq!((t.cycles, t.breakdown.total()), (200, 200));
        assert_eq!(t.mhz_source, FMAX_TARGET);
        assert!((t.images_per_s - 150e6 / 200.0).abs() < 1e-6);
        let clock = Clocking {
            fmax_mhz: Some(50.0),
            link_gbps: 1.6,
        };
        let t = Totals::of(&rows, 16, 150, &clock);
        assert_eq!(t.mhz_source, FMAX_GIVEN);
        assert!((t.compute_ms - 200.0 / 50e6 * 1e3).abs() < 1e-12);
        // At 50 MHz the 64-bit stream (0.4 GB/s) is slower than the link: it sets the rate.
        let h2c = H2cBytes {
            weights: 800,
            masks: 8,
            activations: 400_000,
        };
        let tr = Traffic::new(h2c, 0, 8000, &t, &clock);
        assert!((tr.effective_gbps - 0.4).abs() < 1e-12);
        assert!((tr.h2c_ms - 400_808.0 / 0.4e9 * 1e3).abs() < 1e-9);
        assert!(!tr.hides_under_compute, "1 ms of H2C vs 4 us of compute");
        assert!((tr.serial_ms - (tr.compute_ms + tr.h2c_ms + tr.c2h_ms)).abs() < 1e-12);
        assert_eq!(tr.overlapped_ms, tr.h2c_ms);
        let big = Totals {
            compute_ms: 10.0,
            ..t.clone()
        };
        assert!(Traffic::new(h2c, 0, 8000, &big, &clock).hides_under_compute);
        // Bytes loaded under compute leave the exposed part only.
        let tr = Traffic::new(h2c, 400_000, 8000, &big, &clock);
        assert!((tr.h2c_exposed_ms - 808.0 / 0.4e9 * 1e3).abs() < 1e-9);
        assert!((tr.today_ms - (10.0 + tr.h2c_exposed_ms)).abs() < 1e-12);
    }

    #[test]
    fn h2c_bytes_by_kind_include_headers() {
        let p = [
            Packet::weights(0, &[(1, 0); 5]).unwrap(),
            Packet::codebook(0, &[0i16; 256]).unwrap(),
            Packet::bias(0, &[(0, 5)]).unwrap(),
            Packet::mask(0, &[true; 70]).unwrap(),
            Packet::act(false, 0, &[1u8; 20]).unwrap(),
        ];
        let b = H2cBytes::of(&p);
        let cb = spec::packet::CODEBOOK_BEATS as u64;
        assert_eq!(b.weights, 8 * ((1 + 2) + (1 + cb) + (1 + 1)));
        assert_eq!(b.masks, 8 * 3);
        assert_eq!(b.activations, 8 * 4);
        let beats: usize = p.iter().map(|p| p.to_beats().len()).sum();
        assert_eq!(b.total(), 8 * beats as u64);
    }
}
