//! The C2H trailer: every job's output on C2H ends with two 64-bit beats the engine computes,
//! so the host can tell a job's own, whole, uncorrupted output from anything else (bytes left
//! over from a killed run, another process's job, a card sending garbage).
//!
//! | beat | bits 31:0 | bits 63:32 |
//! |---|---|---|
//! | 0 | [`TRAILER_MAGIC`] (`"SQZT"` in stream byte order) | job sequence number |
//! | 1 | payload bytes of this job | CRC-32 of the payload |
//!
//! * The **sequence number** is the value `PERF_JOBS` takes when this job is counted: the host
//!   reads `PERF_JOBS` before START and expects one more, in the trailer and in the register.
//! * The **payload** is every C2H beat of the job before the trailer (a job that writes only
//!   to the mid buffer has none: its output is the trailer alone).
//! * The **CRC** is CRC-32 (IEEE 802.3: reflected polynomial `0xEDB88320`, initial value and
//!   final XOR `0xFFFFFFFF`) over the payload's bytes in stream order (each beat little-endian).
//!   The engine folds one 64-bit beat per cycle with [`crc32_beat_masks`], the same function.
//! * `tlast` marks the trailer's second beat, the job's last; STATUS.DONE is set once it has left.

use crate::STREAM_BYTES;

/// Beats the trailer adds to every job's C2H output.
pub const TRAILER_BEATS: u32 = 2;
/// Bytes the trailer adds to every job's C2H output.
pub const TRAILER_BYTES: usize = (TRAILER_BEATS * STREAM_BYTES) as usize;
/// Low word of the trailer's first beat: the bytes `S`, `Q`, `Z`, `T` on the stream.
pub const TRAILER_MAGIC: u32 = u32::from_le_bytes(*b"SQZT");
/// CRC-32's reflected polynomial.
pub const CRC32_POLY: u32 = 0xEDB8_8320;
/// CRC-32's initial register value (also its final XOR).
pub const CRC32_INIT: u32 = 0xFFFF_FFFF;

const _: () = assert!(
    STREAM_BYTES == 8,
    "the trailer is laid out for 64-bit beats"
);

/// A job's trailer, as the engine sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    pub seq: u32,
    pub bytes: u32,
    pub crc: u32,
}

/// What a trailer says that the host did not expect.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrailerError {
    #[error("the job's output does not end with a trailer (magic 0x{got:08X}, expected 0x{TRAILER_MAGIC:08X}): the C2H stream is out of step with the jobs")]
    Magic { got: u32 },
    #[error("the output belongs to job {got}, not to job {want} that the host started")]
    Seq { got: u32, want: u32 },
    #[error("the card says it sent {got} bytes, the host expected {want}")]
    Bytes { got: u32, want: u32 },
    #[error(
        "CRC-32 mismatch: the card computed 0x{card:08X}, the bytes received give 0x{host:08X}"
    )]
    Crc { card: u32, host: u32 },
    #[error("{got} bytes where a {TRAILER_BYTES}-byte trailer belongs")]
    Short { got: usize },
}

impl Trailer {
    /// The trailer the engine sends after `payload` as job `seq`.
    pub fn of_payload(seq: u32, payload: &[u8]) -> Trailer {
        Trailer {
            seq,
            bytes: payload.len() as u32,
            crc: crc32(payload),
        }
    }

    /// The two beats on the stream.
    pub fn to_beats(&self) -> [u64; TRAILER_BEATS as usize] {
        [
            (self.seq as u64) << 32 | TRAILER_MAGIC as u64,
            (self.crc as u64) << 32 | self.bytes as u64,
        ]
    }

    /// The trailer's bytes in stream order.
    pub fn to_bytes(&self) -> [u8; TRAILER_BYTES] {
        let mut b = [0u8; TRAILER_BYTES];
        for (i, w) in self.to_beats().iter().enumerate() {
            b[i * 8..(i + 1) * 8].copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// Read a trailer from its bytes (checks the magic only).
    pub fn parse(bytes: &[u8]) -> Result<Trailer, TrailerError> {
        if bytes.len() != TRAILER_BYTES {
            return Err(TrailerError::Short { got: bytes.len() });
        }
        let word = |i: usize| u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap());
        if word(0) != TRAILER_MAGIC {
            return Err(TrailerError::Magic { got: word(0) });
        }
        Ok(Trailer {
            seq: word(1),
            bytes: word(2),
            crc: word(3),
        })
    }
}

/// Check one job's C2H output (`payload` followed by the trailer) against the job the host
/// started as number `seq`. Returns the payload.
pub fn check_job_output(output: &[u8], seq: u32) -> Result<&[u8], TrailerError> {
    if output.len() < TRAILER_BYTES {
        return Err(TrailerError::Short { got: output.len() });
    }
    let (payload, tail) = output.split_at(output.len() - TRAILER_BYTES);
    let t = Trailer::parse(tail)?;
    if t.seq != seq {
        return Err(TrailerError::Seq {
            got: t.seq,
            want: seq,
        });
    }
    if t.bytes as usize != payload.len() {
        return Err(TrailerError::Bytes {
            got: t.bytes,
            want: payload.len() as u32,
        });
    }
    let host = crc32(payload);
    if t.crc != host {
        return Err(TrailerError::Crc { card: t.crc, host });
    }
    Ok(payload)
}

/// The CRC register after one byte (no initial value or final XOR: the bare linear step).
const fn crc_byte(mut state: u32, byte: u8) -> u32 {
    state ^= byte as u32;
    let mut k = 0;
    while k < 8 {
        state = (state >> 1) ^ (CRC32_POLY & (state & 1).wrapping_neg());
        k += 1;
    }
    state
}

/// `CRC_TABLES[k][b]`: the register after byte `b` followed by `k` zero bytes (from a zero
/// register), so that eight bytes fold with eight lookups (slicing-by-8).
const CRC_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        t[0][i] = crc_byte(0, i as u8);
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

/// Fold `bytes` into a running CRC-32 register (start from [`CRC32_INIT`]).
pub fn crc32_update(mut state: u32, bytes: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ state;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        state = t[7][(lo & 0xFF) as usize]
            ^ t[6][(lo >> 8 & 0xFF) as usize]
            ^ t[5][(lo >> 16 & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xFF) as usize]
            ^ t[2][(hi >> 8 & 0xFF) as usize]
            ^ t[1][(hi >> 16 & 0xFF) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in words.remainder() {
        state = (state >> 8) ^ t[0][((state ^ b as u32) & 0xFF) as usize];
    }
    state
}

/// CRC-32 of `bytes` (IEEE 802.3, as zlib's `crc32`). The host checks every byte the card
/// sends, so this takes crc32fast's carry-less-multiply folding (the same function as
/// [`crc32_update`], several times faster; a test holds them equal).
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// The CRC register after one little-endian 64-bit beat, bit by bit: the step is linear, so
/// bit `i` of the next register is the parity of `state & masks[i].0` and `beat & masks[i].1`.
/// The engine's CRC leaf is generated from these masks.
pub fn crc32_beat_masks() -> [(u32, u64); 32] {
    let step = |s: u32, d: u64| crc32_update(s, &d.to_le_bytes());
    let mut m = [(0u32, 0u64); 32];
    for j in 0..32 {
        let col = step(1 << j, 0);
        for (i, mi) in m.iter_mut().enumerate() {
            if col >> i & 1 == 1 {
                mi.0 |= 1 << j;
            }
        }
    }
    for k in 0..64 {
        let col = step(0, 1 << k);
        for (i, mi) in m.iter_mut().enumerate() {
            if col >> i & 1 == 1 {
                mi.1 |= 1 << k;
            }
        }
    }
    m
}

/// [`crc32_update`] of one beat through the masks (what the engine computes).
pub fn crc32_beat(state: u32, beat: u64) -> u32 {
    crc32_beat_masks()
        .iter()
        .enumerate()
        .map(|(i, &(ms, md))| (((state & ms).count_ones() + (beat & md).count_ones()) & 1) << i)
        .fold(0, |a, b| a | b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_standard_one() {
        // The CRC-32 check value (zlib, PNG, Ethernet).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // The fast path equals the definition at every length and alignment.
        let data: Vec<u8> = (0..4099u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for (a, b) in [(0, 4099), (1, 4098), (3, 70), (5, 5), (7, 4000)] {
            assert_eq!(
                crc32(&data[a..b]),
                !crc32_update(CRC32_INIT, &data[a..b]),
                "{a}..{b}"
            );
        }
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn eight_bytes_at_a_time_is_the_bit_wise_crc() {
        let bytes: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for n in [0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 999, 1000] {
            for s in [0, 0x1234_5678, CRC32_INIT] {
                let bitwise = bytes[..n].iter().fold(s, |s, &b| crc_byte(s, b));
                assert_eq!(
                    crc32_update(s, &bytes[..n]),
                    bitwise,
                    "{n} bytes from {s:#x}"
                );
            }
        }
    }

    #[test]
    fn the_beat_masks_compute_the_byte_wise_crc() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut s = CRC32_INIT;
        let mut bytes = Vec::new();
        for _ in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let next = crc32_beat(s, x);
            assert_eq!(next, crc32_update(s, &x.to_le_bytes()));
            s = next;
            bytes.extend(x.to_le_bytes());
        }
        assert_eq!(!s, crc32(&bytes));
    }

    #[test]
    fn a_trailer_round_trips_and_each_field_is_checked() {
        let payload: Vec<u8> = (0..64u32).map(|i| (i * 7) as u8).collect();
        let t = Trailer::of_payload(5, &payload);
        assert_eq!(Trailer::parse(&t.to_bytes()).unwrap(), t);
        assert_eq!(&t.to_bytes()[..4], b"SQZT");
        let mut out = payload.clone();
        out.extend(t.to_bytes());
        assert_eq!(check_job_output(&out, 5).unwrap(), &payload[..]);
        assert!(matches!(
            check_job_output(&out, 6),
            Err(TrailerError::Seq { got: 5, want: 6 })
        ));
        let mut bad = out.clone();
        bad[3] ^= 0x10;
        assert!(matches!(
            check_job_output(&bad, 5),
            Err(TrailerError::Crc { .. })
        ));
        // Stale bytes in front: the byte count no longer matches.
        let mut shifted = vec![0u8; 8];
        shifted.extend(&out[..out.len() - 8]);
        assert!(check_job_output(&shifted, 5).is_err());
        assert!(matches!(
            check_job_output(&out[8..], 5),
            Err(TrailerError::Bytes { got: 64, want: 56 })
        ));
        let zeros = vec![0u8; out.len()];
        assert!(matches!(
            check_job_output(&zeros, 5),
            Err(TrailerError::Magic { got: 0 })
        ));
        // A job with no payload still has its trailer.
        let t0 = Trailer::of_payload(1, &[]);
        assert!(check_job_output(&t0.to_bytes(), 1).unwrap().is_empty());
    }
}
