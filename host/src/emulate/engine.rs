//! A functional model of one engine job, written from the descriptor and packet definitions in
//! `spec` (not from the RTL): with it the software card computes what the engine computes, so
//! the planner, the sequencer and the `xdma` path can be checked bit for bit against the int8
//! reference in milliseconds, independently of the Verilated RTL.
//!
//! Semantics (spec::descriptor's module doc): per output channel `o`, walk the channel's weight
//! entries from `weight_base` (channels contiguous, `count` entries each from the bias memory),
//! position `p += rel + 1`, weight `lut[code]`; `p` is the tap `(c, kh, kw)` of a `k x k` window;
//! output grid position `q` (from `q_start`, `ntiles * lanes` of them) accumulates
//! `w * src[src_base + c * plane_in + q + kh * grid_w + kw]` onto the channel's bias; the mask bit
//! of position `r = q - q_start` (tile `mask_base + r / lanes`) keeps `requantize(acc)`, else 0.
//! Output goes to the mid window of the activation buffer (`dst_base + o * plane_out + r` for
//! `r < wr_count`; it shares the buffer with the input, `src_mid` only names the job) or to C2H:
//! the masked plane, or with `pool` the 3x3/2 max-pool of the plane in chunks of `lanes/2 - 1`
//! pooled columns, each sent as `lanes/2` bytes.
//!
//! `PERF_BUSY` is estimated as one cycle per weight entry per tile (the weight-broadcast engine's
//! ideal); the RTL's counters are the real figures.

use spec::descriptor::Descriptor;
use spec::regs;
use spec::AccelConfig;
use weights::quant::requantize;

use super::soft::{JobExecutor, JobOutput, Memories};

/// The functional engine.
pub struct Engine;

impl JobExecutor for Engine {
    fn execute(
        &mut self,
        cfg: &AccelConfig,
        d: &Descriptor,
        mem: &mut Memories,
    ) -> Result<JobOutput, u32> {
        run(cfg, d, mem)
    }
}

fn bad_desc() -> u32 {
    regs::ERR_BAD_DESC.val(1)
}

fn act_ovf() -> u32 {
    regs::ERR_ACT_OVERFLOW.val(1)
}

fn run(cfg: &AccelConfig, d: &Descriptor, mem: &mut Memories) -> Result<JobOutput, u32> {
    let s = cfg.pixel_lanes as usize;
    let k = d.k as usize;
    if !(1..=spec::descriptor::MAX_K as usize).contains(&k)
        || d.out_c == 0
        || d.m == 0
        || !(1..=46).contains(&d.shift)
        || d.lut_slot as usize >= mem.luts.len()
        || (d.pool && d.dst_mid)
        || (d.src_mid && d.dst_mid)
        || (d.dst_mid && (d.dst_base % s as u32 != 0 || d.plane_out % s as u32 != 0))
    {
        return Err(bad_desc());
    }
    let npos = d.ntiles as usize * s;
    let lut = mem.luts[d.lut_slot as usize];
    // Sign- or zero-extend the source once.
    let src: Vec<i32> = {
        let b = &mem.act_in;
        if d.in_signed {
            b.iter().map(|&v| v as i8 as i32).collect()
        } else {
            b.iter().map(|&v| v as i32).collect()
        }
    };
    let mask_at = |r: usize| -> Result<bool, u32> {
        mem.mask
            .get(d.mask_base as usize * s + r)
            .copied()
            .ok_or(act_ovf())
    };
    let mut mask = Vec::with_capacity(npos);
    for r in 0..npos {
        mask.push(mask_at(r)?);
    }
    let mut entry = d.weight_base as usize;
    let mut out = JobOutput::default();
    let mut acc = vec![0i32; npos];
    let mut plane = vec![0u8; npos];
    for o in 0..d.out_c as usize {
        let (bias, count) = *mem.bias.get(d.bias_base as usize + o).ok_or(bad_desc())?;
        acc.fill(bias);
        let mut p: i64 = -1;
        for _ in 0..count {
            let (code, rel) = *mem.weights.get(entry).ok_or(bad_desc())?;
            entry += 1;
            p += rel as i64 + 1;
            let w = lut[code as usize] as i32;
            if w == 0 {
                continue;
            }
            let p = p as usize;
            let (c, kh, kw) = (p / (k * k), (p / k) % k, p % k);
            let base = d.src_base as usize
                + c * d.plane_in as usize
                + d.q_start as usize
                + kh * d.grid_w as usize
                + kw;
            let xs = src.get(base..base + npos).ok_or(act_ovf())?;
            for (a, &x) in acc.iter_mut().zip(xs) {
                *a = a.wrapping_add(w.wrapping_mul(x));
            }
        }
        out.busy_cycles += count as u64 * d.ntiles as u64;
        out.macs += count as u64 * npos as u64;
        for r in 0..npos {
            plane[r] = if mask[r] {
                requantize(acc[r], d.m as u16, d.shift as u8)
            } else {
                0
            };
        }
        if d.dst_mid {
            let n = d.wr_count as usize;
            let at = d.dst_base as usize + (d.out_ch_offset as usize + o) * d.plane_out as usize;
            let dst = mem.act_in.get_mut(at..at + n).ok_or(act_ovf())?;
            let take = n.min(npos);
            dst[..take].copy_from_slice(&plane[..take]);
        } else if d.pool {
            pool_chunks(d, s, &plane, &mut out.c2h)?;
        } else {
            out.c2h.extend_from_slice(&plane);
        }
    }
    Ok(out)
}

/// 3x3/2 max-pool of one channel's conv plane (grid rows of `grid_w`, conv column 0 at grid
/// column `pool_col0`), sent as `pool_oh` rows of `pool_chunks` chunks of `lanes/2` bytes.
fn pool_chunks(d: &Descriptor, s: usize, plane: &[u8], c2h: &mut Vec<u8>) -> Result<(), u32> {
    let gw = d.grid_w as usize;
    let half = s / 2;
    let per = half - 1;
    let at = |y: usize, x: usize| -> Result<u8, u32> {
        plane
            .get(y * gw + x + d.pool_col0 as usize)
            .copied()
            .ok_or(act_ovf())
    };
    for py in 0..d.pool_oh as usize {
        for chunk in 0..d.pool_chunks as usize {
            for j in 0..half {
                let px = chunk * per + j;
                let mut m = 0u8;
                // Column `per` of a chunk and columns past the grid are padding.
                if j < per && 2 * px + 2 + (d.pool_col0 as usize) < gw {
                    for dy in 0..3 {
                        for dx in 0..3 {
                            m = m.max(at(2 * py + dy, 2 * px + dx)?);
                        }
                    }
                }
                c2h.push(m);
            }
        }
    }
    Ok(())
}
