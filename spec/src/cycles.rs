//! The cycle model of a planned job, computed by the planner from what it plans (the layer's
//! entries per channel, the job's tiles and output mask): the walker of hdl/src/engine.rs
//! issues every weight entry of a channel (fillers included) once per tile of `S` grid
//! positions, one entry per cycle; a tile's last entry waits until >= [`MIN_TILE_CYCLES`]
//! cycles after the previous tile's last (the shared requantizers), and each channel spends
//! [`CHANNEL_FETCH_CYCLES`] fetching its bias and entry count.

use serde::Serialize;

/// [`crate::job::MIN_TILE_CYCLES`], widened for cycle arithmetic.
pub const MIN_TILE_CYCLES: u64 = crate::job::MIN_TILE_CYCLES as u64;
/// [`crate::job::CHANNEL_FETCH_CYCLES`], widened for cycle arithmetic.
pub const CHANNEL_FETCH_CYCLES: u64 = crate::job::CHANNEL_FETCH_CYCLES as u64;

/// What the plan makes one job do: the entries, tiles and kept positions the card receives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JobModel {
    pub out_c: u32,
    /// Tiles of `lanes` grid positions per channel.
    pub ntiles: u32,
    pub lanes: u32,
    /// Weight entries over all channels, fillers included: each is issued once per tile.
    pub entries: u64,
    /// Of which decode to weight 0 (15-gap fillers, the one entry of an all-zero channel).
    pub zero_entries: u64,
    /// Output positions the job keeps (set mask bits): OH x OW of the conv output.
    pub positions: u64,
    /// No-issue cycles the minimum tile length adds (channels with few entries).
    pub short_cycles: u64,
    /// Channel fetches (bias and entry count): `out_c`, once per run of a tiled job.
    pub channel_fetches: u64,
}

impl JobModel {
    /// A job from its channels' `(entries, zero entries)`.
    pub fn from_channels(
        lanes: u32,
        ntiles: u32,
        positions: u64,
        chans: &[(u64, u64)],
    ) -> JobModel {
        let nt = ntiles as u64;
        let mut m = JobModel {
            out_c: chans.len() as u32,
            ntiles,
            lanes,
            positions,
            channel_fetches: chans.len() as u64,
            ..Default::default()
        };
        for (o, &(e, z)) in chans.iter().enumerate() {
            m.entries += e;
            m.zero_entries += z;
            // Tiles after the first of a channel follow its previous tile directly; the first
            // follows the channel fetch, which already counts towards the minimum (the job's
            // first channel follows an idle engine, so it never waits).
            m.short_cycles += nt.saturating_sub(1) * MIN_TILE_CYCLES.saturating_sub(e);
            if o > 0 && nt > 0 {
                m.short_cycles += MIN_TILE_CYCLES
                    .saturating_sub(CHANNEL_FETCH_CYCLES)
                    .saturating_sub(e);
            }
        }
        m
    }
    /// Entries issued by the job: every entry once per tile.
    pub fn issue_cycles(&self) -> u64 {
        self.ntiles as u64 * self.entries
    }
    /// Nonzero weights of the layer.
    pub fn nonzero_weights(&self) -> u64 {
        self.entries - self.zero_entries
    }
    /// Nonzero weights x output positions.
    pub fn nonzero_macs(&self) -> u64 {
        self.nonzero_weights() * self.positions
    }
    /// Issue cycles spent on entries that decode to 0.
    pub fn zero_entry_cycles(&self) -> u64 {
        self.ntiles as u64 * self.zero_entries
    }
    pub fn fetch_cycles(&self) -> u64 {
        self.channel_fetches * CHANNEL_FETCH_CYCLES
    }

    /// Add the same job's run over other rows (a band of a tiled step: the same weights).
    pub fn add_rows(&mut self, o: &JobModel) {
        self.ntiles += o.ntiles;
        self.positions += o.positions;
        self.short_cycles += o.short_cycles;
        self.channel_fetches += o.channel_fetches;
    }

    /// Add the same layer's other output channels over the same positions (a channel group of
    /// a tiled step).
    pub fn add_channels(&mut self, o: &JobModel) {
        self.out_c += o.out_c;
        self.entries += o.entries;
        self.zero_entries += o.zero_entries;
        self.short_cycles += o.short_cycles;
        self.channel_fetches += o.channel_fetches;
    }
}
