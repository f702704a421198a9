//! H2C stream packets and the C2H output format.
//!
//! Every H2C packet is one 64-bit header beat followed by `len` payload beats:
//! header bits [7:0] = packet type, [31:8] = destination address (its unit depends on the type),
//! [63:32] = number of payload beats. `tlast` is not required (the XDMA may cut or merge
//! transfers); the engine follows the lengths. An unknown type sets `ERR.BAD_PACKET`, a write
//! past a memory sets `ERR.WEIGHT_OVERFLOW` / `ERR.ACT_OVERFLOW`; in both cases the rest of
//! the packet is consumed and dropped, so the stream never hangs.
//!
//! C2H: a job that sends output emits exactly [`Descriptor::output_bytes`](crate::descriptor::Descriptor::output_bytes)
//! bytes, as raw little-endian beats, with `tlast` on the job's final beat. `spec::job` parses them.

use crate::STREAM_BYTES;

/// Packet types (header bits [7:0]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PacketType {
    /// Weight entries, 4 per beat in 16-bit slots (bits [7:0] code, [11:8] relative index,
    /// [15:12] zero); address = first weight-memory entry.
    Weights = 1,
    /// One 256-entry codebook LUT of `numerics::LUT_BITS`-bit entries in exactly
    /// [`CODEBOOK_BEATS`] beats (entry i little-endian at bytes `i * LUT_BITS / 8`); address = slot.
    Codebook = 2,
    /// Per-output-channel words, one beat each: [31:0] int32 bias, [47:32] number of weight
    /// entries of the channel (>= 1); address = first channel index.
    Bias = 3,
    /// Input activation bytes (8 per beat, byte 0 first); address = byte address in the input
    /// buffer, a multiple of 8.
    ActIn = 4,
    /// Mask bits, 64 per beat (bit j of beat i = grid position (address + i) * 64 + j of the
    /// mask memory); address = 64-bit word index.
    Mask = 5,
    /// Activation bytes for the mid window: the same buffer and addresses as `ActIn` (the mid
    /// window shares the activation buffer); kept so a trace says what the bytes are.
    ActMid = 6,
}

impl PacketType {
    pub const ALL: [PacketType; 6] = [
        PacketType::Weights,
        PacketType::Codebook,
        PacketType::Bias,
        PacketType::ActIn,
        PacketType::Mask,
        PacketType::ActMid,
    ];
    pub fn from_u8(v: u8) -> Option<PacketType> {
        Self::ALL.iter().copied().find(|t| *t as u8 == v)
    }
}

/// Beats of a codebook packet.
pub const CODEBOOK_BEATS: u32 = crate::numerics::CODEBOOK_BYTES as u32 / STREAM_BYTES;
/// Weight entries per beat.
pub const WEIGHTS_PER_BEAT: usize = 4;
/// Cycles the loader spends on one weight beat: it writes the entries one per cycle and takes
/// the next beat with the last one (every other payload beat takes one cycle). The host uses
/// it to size what it sends while a job runs.
pub const WEIGHT_BEAT_CYCLES: u64 = WEIGHTS_PER_BEAT as u64;
/// Cycles a header takes before its first payload beat: taken, the packet's end computed,
/// judged at the gate (registered), passed.
pub const HEADER_CYCLES: u64 = 4;

/// Loader cycles a packet takes (header included).
pub fn loader_cycles(ty: PacketType, beats: usize) -> u64 {
    let per = if ty == PacketType::Weights {
        WEIGHT_BEAT_CYCLES
    } else {
        1
    };
    HEADER_CYCLES + beats as u64 * per
}

/// Largest header address (24 bits).
pub const MAX_ADDR: u32 = (1 << 24) - 1;

/// Header fields as bit positions, for the RTL generator.
pub const HDR_TYPE_LSB: u32 = 0;
pub const HDR_TYPE_BITS: u32 = 8;
pub const HDR_ADDR_LSB: u32 = 8;
pub const HDR_ADDR_BITS: u32 = 24;
pub const HDR_LEN_LSB: u32 = 32;
pub const HDR_LEN_BITS: u32 = 32;

/// A packet problem found on the host side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet address {0} does not fit in 24 bits")]
    Addr(u32),
    #[error("weight entry {index}: code {code} / relative index {rel} out of range")]
    Entry { index: usize, code: u16, rel: u8 },
    #[error(
        "codebook packet needs exactly {} entries",
        crate::numerics::CODEBOOK_ENTRIES
    )]
    Codebook,
    #[error("activation address {0} is not a multiple of 8")]
    Align(u32),
    #[error("stream ended inside a packet or header is malformed: {0}")]
    Malformed(String),
}

/// One packet, header + payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub ty: PacketType,
    pub addr: u32,
    pub payload: Vec<u64>,
}

/// Encode a header beat.
pub fn header(ty: PacketType, addr: u32, beats: u32) -> u64 {
    (ty as u64)
        | ((addr as u64 & MAX_ADDR as u64) << HDR_ADDR_LSB)
        | ((beats as u64) << HDR_LEN_LSB)
}

/// Decode a header beat: (raw type, addr, beats).
pub fn parse_header(h: u64) -> (u8, u32, u32) {
    (
        (h & 0xFF) as u8,
        ((h >> HDR_ADDR_LSB) & MAX_ADDR as u64) as u32,
        (h >> HDR_LEN_LSB) as u32,
    )
}

/// Little-endian packing of bytes into beats (zero padded at the end).
pub fn bytes_to_beats(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

/// The H2C bytes of `packets`, one after the other.
pub fn packets_to_bytes(packets: &[Packet]) -> Vec<u8> {
    let beats: usize = packets.iter().map(|p| 1 + p.payload.len()).sum();
    let mut out = Vec::with_capacity(beats * 8);
    for p in packets {
        p.write_bytes(&mut out);
    }
    out
}

/// H2C bytes of an activation packet of `len` payload bytes: its header beat and the payload
/// padded to whole beats.
pub fn act_packet_bytes(len: usize) -> u64 {
    let beat = STREAM_BYTES as usize;
    ((1 + len.div_ceil(beat)) * beat) as u64
}

/// Append the H2C bytes of an `ACT_IN` (or, with `mid`, `ACT_MID`) packet of `bytes` at
/// `addr` to `out`, as [`Packet::act`] and [`Packet::write_bytes`] would, without the beats in
/// between (the host streams activations this way).
pub fn write_act(mid: bool, addr: u32, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), PacketError> {
    if addr % STREAM_BYTES != 0 {
        return Err(PacketError::Align(addr));
    }
    if addr > MAX_ADDR {
        return Err(PacketError::Addr(addr));
    }
    let ty = if mid {
        PacketType::ActMid
    } else {
        PacketType::ActIn
    };
    let beat = STREAM_BYTES as usize;
    let beats = bytes.len().div_ceil(beat);
    out.reserve(beat * (1 + beats));
    out.extend_from_slice(&header(ty, addr, beats as u32).to_le_bytes());
    out.extend_from_slice(bytes);
    out.resize(out.len() + beats * beat - bytes.len(), 0);
    Ok(())
}

/// Inverse of [`bytes_to_beats`].
pub fn beats_to_bytes(beats: &[u64]) -> Vec<u8> {
    let mut v = Vec::with_capacity(beats.len() * 8);
    for b in beats {
        v.extend_from_slice(&b.to_le_bytes());
    }
    v
}

impl Packet {
    fn new(ty: PacketType, addr: u32, payload: Vec<u64>) -> Result<Packet, PacketError> {
        if addr > MAX_ADDR {
            return Err(PacketError::Addr(addr));
        }
        Ok(Packet { ty, addr, payload })
    }

    /// Weight entries `(code, rel)` starting at entry `addr`.
    pub fn weights(addr: u32, entries: &[(u8, u8)]) -> Result<Packet, PacketError> {
        let mut beats = Vec::with_capacity(entries.len().div_ceil(WEIGHTS_PER_BEAT));
        for (ci, chunk) in entries.chunks(WEIGHTS_PER_BEAT).enumerate() {
            let mut b = 0u64;
            for (j, &(code, rel)) in chunk.iter().enumerate() {
                if rel > 15 {
                    return Err(PacketError::Entry {
                        index: ci * 4 + j,
                        code: code as u16,
                        rel,
                    });
                }
                b |= ((code as u64) | ((rel as u64) << 8)) << (16 * j);
            }
            beats.push(b);
        }
        Packet::new(PacketType::Weights, addr, beats)
    }

    /// A codebook LUT for `slot`.
    pub fn codebook(slot: u32, lut: &[i16]) -> Result<Packet, PacketError> {
        if lut.len() != crate::numerics::CODEBOOK_ENTRIES {
            return Err(PacketError::Codebook);
        }
        let entry_bytes = crate::numerics::LUT_BITS as usize / 8;
        let bytes: Vec<u8> = lut
            .iter()
            .flat_map(|&v| v.to_le_bytes().into_iter().take(entry_bytes))
            .collect();
        Packet::new(PacketType::Codebook, slot, bytes_to_beats(&bytes))
    }

    /// Bias and entry count per channel, from channel `addr`.
    pub fn bias(addr: u32, chans: &[(i32, u16)]) -> Result<Packet, PacketError> {
        let beats = chans
            .iter()
            .map(|&(b, n)| (b as u32 as u64) | ((n as u64) << 32))
            .collect();
        Packet::new(PacketType::Bias, addr, beats)
    }

    /// Activation bytes at byte address `addr` of the activation buffer (`mid`: typed `ActMid`).
    pub fn act(mid: bool, addr: u32, bytes: &[u8]) -> Result<Packet, PacketError> {
        if addr % 8 != 0 {
            return Err(PacketError::Align(addr));
        }
        let ty = if mid {
            PacketType::ActMid
        } else {
            PacketType::ActIn
        };
        Packet::new(ty, addr, bytes_to_beats(bytes))
    }

    /// Mask bits starting at 64-bit word `addr`.
    pub fn mask(addr: u32, bits: &[bool]) -> Result<Packet, PacketError> {
        let beats = bits
            .chunks(64)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u64, |a, (j, &b)| a | ((b as u64) << j))
            })
            .collect();
        Packet::new(PacketType::Mask, addr, beats)
    }

    /// Append the packet's H2C bytes (header and payload beats, little-endian) to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.reserve(8 * (1 + self.payload.len()));
        out.extend_from_slice(&header(self.ty, self.addr, self.payload.len() as u32).to_le_bytes());
        for b in &self.payload {
            out.extend_from_slice(&b.to_le_bytes());
        }
    }

    /// Header + payload beats.
    pub fn to_beats(&self) -> Vec<u64> {
        let mut v = Vec::with_capacity(1 + self.payload.len());
        v.push(header(self.ty, self.addr, self.payload.len() as u32));
        v.extend_from_slice(&self.payload);
        v
    }

    /// Parse a stream of packets (the inverse of concatenated [`to_beats`](Self::to_beats)).
    pub fn parse_stream(mut beats: &[u64]) -> Result<Vec<Packet>, PacketError> {
        let mut out = Vec::new();
        while let Some((&h, rest)) = beats.split_first() {
            let (ty, addr, len) = parse_header(h);
            let ty = PacketType::from_u8(ty)
                .ok_or_else(|| PacketError::Malformed(format!("type {ty}")))?;
            if rest.len() < len as usize {
                return Err(PacketError::Malformed(format!(
                    "{} beats left, header says {len}",
                    rest.len()
                )));
            }
            out.push(Packet {
                ty,
                addr,
                payload: rest[..len as usize].to_vec(),
            });
            beats = &rest[len as usize..];
        }
        Ok(out)
    }

    /// Decode a weights packet back into entries.
    pub fn weight_entries(&self) -> Vec<(u8, u8)> {
        self.payload
            .iter()
            .flat_map(|b| {
                (0..4).map(move |j| ((b >> (16 * j)) as u8, ((b >> (16 * j + 8)) & 0xF) as u8))
            })
            .collect()
    }

    /// Decode a codebook payload (whole beats) back into its LUT entries.
    pub fn codebook_entries(payload: &[u64]) -> Vec<i16> {
        const _: () = assert!(crate::numerics::LUT_BITS == 16);
        beats_to_bytes(payload)
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte encoders give exactly the bytes of the packets' beats.
    #[test]
    fn byte_encoders_match_the_beats() {
        let lut: Vec<i16> = (0..256).map(|i| i as i16 - 128).collect();
        let data: Vec<u8> = (0..21).map(|i| i * 7 + 1).collect();
        let packets = [
            Packet::weights(16, &[(1, 2), (3, 4), (5, 6)]).unwrap(),
            Packet::codebook(3, &lut).unwrap(),
            Packet::act(false, 24, &data).unwrap(),
        ];
        let beats: Vec<u64> = packets.iter().flat_map(|p| p.to_beats()).collect();
        assert_eq!(packets_to_bytes(&packets), beats_to_bytes(&beats));
        for mid in [false, true] {
            let mut out = vec![0xAA];
            write_act(mid, 24, &data, &mut out).unwrap();
            let p = Packet::act(mid, 24, &data).unwrap();
            assert_eq!(out[0], 0xAA);
            assert_eq!(out[1..], beats_to_bytes(&p.to_beats()));
            assert_eq!(act_packet_bytes(data.len()), out.len() as u64 - 1);
        }
        assert!(matches!(
            write_act(false, 4, &data, &mut Vec::new()),
            Err(PacketError::Align(4))
        ));
        assert!(write_act(false, MAX_ADDR + 1, &data, &mut Vec::new()).is_err());
    }

    /// A bounded fuzz of the packet parser: random streams, and valid streams with random beats
    /// flipped, cut or appended, never panic; whatever parses re-encodes to the beats it came from.
    #[test]
    fn random_and_mutated_streams_never_panic() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let lut: Vec<i16> = (0..256).map(|i| i as i16 * 100).collect();
        let valid: Vec<u64> = [
            Packet::weights(0, &[(1, 2), (3, 4), (5, 6)]).unwrap(),
            Packet::codebook(1, &lut).unwrap(),
            Packet::bias(2, &[(-5, 7)]).unwrap(),
            Packet::act(false, 8, &[9; 20]).unwrap(),
        ]
        .iter()
        .flat_map(|p| p.to_beats())
        .collect();
        for round in 0..20_000 {
            let mut beats: Vec<u64> = if round % 2 == 0 {
                (0..next() % 40).map(|_| next()).collect()
            } else {
                valid.clone()
            };
            for _ in 0..(next() % 4) {
                if beats.is_empty() {
                    break;
                }
                let i = (next() % beats.len() as u64) as usize;
                match next() % 3 {
                    0 => beats[i] ^= 1 << (next() % 64),
                    1 => beats.truncate(i),
                    _ => beats.push(next()),
                }
            }
            if let Ok(ps) = Packet::parse_stream(&beats) {
                let back: Vec<u64> = ps.iter().flat_map(|p| p.to_beats()).collect();
                assert_eq!(back, beats);
            }
        }
    }

    #[test]
    fn header_round_trip() {
        let h = header(PacketType::Mask, 0xABCDEF, 77);
        assert_eq!(parse_header(h), (5, 0xABCDEF, 77));
    }

    #[test]
    fn stream_round_trip() {
        let lut: Vec<i16> = (0..256).map(|i: i32| (i - 128) as i16 * 255).collect();
        let ps = vec![
            Packet::weights(12, &[(1, 2), (255, 15), (0, 0), (7, 1), (9, 9)]).unwrap(),
            Packet::codebook(3, &lut).unwrap(),
            Packet::bias(5, &[(-7, 3), (i32::MAX, 65535)]).unwrap(),
            Packet::act(false, 16, &[1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap(),
            Packet::mask(2, &[true, false, true]).unwrap(),
        ];
        let beats: Vec<u64> = ps.iter().flat_map(|p| p.to_beats()).collect();
        let back = Packet::parse_stream(&beats).unwrap();
        assert_eq!(back, ps);
        assert_eq!(
            back[0].weight_entries()[..5],
            [(1, 2), (255, 15), (0, 0), (7, 1), (9, 9)]
        );
        assert_eq!(back[1].payload.len() as u32, CODEBOOK_BEATS);
        // 16-bit entries, little-endian, four per beat, in order.
        let lut: Vec<i16> = (0..256).map(|i: i32| (i - 128) as i16 * 255).collect();
        assert_eq!(Packet::codebook_entries(&back[1].payload), lut);
        assert_eq!(back[1].payload[0] & 0xFFFF, (-128i16 * 255) as u16 as u64);
        assert_eq!(back[2].payload[0], (-7i32 as u32 as u64) | (3 << 32));
        assert_eq!(back[4].payload, vec![0b101]);
        assert_eq!(
            beats_to_bytes(&back[3].payload)[..9],
            [1, 2, 3, 4, 5, 6, 7, 8, 9]
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(Packet::weights(0, &[(1, 16)]).is_err());
        assert!(Packet::codebook(0, &[0; 10]).is_err());
        assert!(Packet::act(false, 3, &[0]).is_err());
        assert!(Packet::act(false, 1 << 24, &[0]).is_err());
        assert!(Packet::parse_stream(&[header(PacketType::Bias, 0, 5), 1]).is_err());
        assert!(Packet::parse_stream(&[0x99]).is_err());
    }
}
