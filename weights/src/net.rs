//! Reader for the Deep Compression `.net` format (songhan/SqueezeNet-Deep-Compression): a header of
//! 26 little-endian `u32` entry counts, then per layer a 256-entry f32 codebook, the f32 biases,
//! one `u8` code per entry and the 4-bit relative indices packed two per byte (low nibble first).
//!
//! The parser is strict: it consumes the input exactly and turns every malformed input (truncation at
//! any offset, a count larger than the layer, a relative index running past O*I*K*K, a non-finite or
//! non-zero `codebook[0]`, a non-zero padding nibble, trailing bytes) into a [`NetError`] naming the
//! layer and the byte offset. It never panics on any input.

use crate::topology::{LayerSpec, LAYERS, NUM_LAYERS};

/// Entries in every layer's codebook.
pub const CODEBOOK_LEN: usize = 256;
/// Largest relative index a 4-bit field holds (a gap of 15 zeros; longer gaps need a filler).
pub const MAX_REL_INDEX: u8 = 15;
/// Bytes of the header (26 u32 counts).
pub const HEADER_BYTES: usize = NUM_LAYERS * 4;

/// A malformed `.net` input. `offset` is the byte offset in the file where the problem was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetError {
    /// The input ended before a field was complete.
    #[error("truncated .net file: layer {layer} `{field}` needs {need} bytes at offset {offset}, only {have} left")]
    Truncated {
        layer: String,
        field: &'static str,
        offset: usize,
        need: usize,
        have: usize,
    },
    /// An entry count that cannot belong to this layer.
    #[error("bad entry count in .net header for layer {layer} at offset {offset}: {count} entries but the layer has only {size} weights")]
    BadCount {
        layer: String,
        offset: usize,
        count: u32,
        size: usize,
    },
    /// Decoding the relative indices lands past the end of the layer's weights.
    #[error("relative index runs past the weights of layer {layer} at offset {offset}: entry {entry} lands on position {position} of {size}")]
    IndexOverflow {
        layer: String,
        offset: usize,
        entry: usize,
        position: usize,
        size: usize,
    },
    /// The last byte of an odd-length index array carries a non-zero high nibble.
    #[error(
        "layer {layer}: non-zero padding nibble {nibble} in the last index byte at offset {offset}"
    )]
    PaddingNibble {
        layer: String,
        offset: usize,
        nibble: u8,
    },
    /// A codebook or bias value is NaN or infinite.
    #[error("layer {layer}: non-finite {field} value {value} (entry {entry}) at offset {offset}")]
    NonFinite {
        layer: String,
        field: &'static str,
        entry: usize,
        offset: usize,
        value: f32,
    },
    /// codebook[0] must be exactly 0.0 (code 0 is the filler / zero weight).
    #[error("layer {layer}: codebook[0] = {value} at offset {offset}, must be 0.0")]
    CodebookZero {
        layer: String,
        offset: usize,
        value: f32,
    },
    /// Bytes left over after the last layer.
    #[error("trailing bytes in .net file: {extra} bytes after the last layer (conv_final) at offset {offset}")]
    TrailingBytes { offset: usize, extra: usize },
}

/// One layer as stored: codebook, biases, codes and (unpacked) relative indices.
#[derive(Clone, Debug, PartialEq)]
pub struct NetLayer {
    /// The layer this is (from the topology).
    pub spec: &'static LayerSpec,
    /// The 256 shared weights; `codebook[0] == 0.0`.
    pub codebook: [f32; CODEBOOK_LEN],
    /// One bias per output channel.
    pub bias: Vec<f32>,
    /// One codebook index per entry (fillers included).
    pub codes: Vec<u8>,
    /// One relative index (0..=15) per entry, unpacked from the nibbles.
    pub rel_idx: Vec<u8>,
    /// Byte offset of this layer's codebook in the file.
    pub offset: usize,
}

impl NetLayer {
    /// Number of stored entries (nonzeros plus fillers).
    pub fn entries(&self) -> usize {
        self.codes.len()
    }

    /// Absolute flat positions (O,I,K,K order) of every entry.
    pub fn positions(&self) -> Vec<usize> {
        let mut pos = Vec::with_capacity(self.rel_idx.len());
        let mut p: usize = 0;
        for (k, &r) in self.rel_idx.iter().enumerate() {
            p = if k == 0 {
                r as usize
            } else {
                p + r as usize + 1
            };
            pos.push(p);
        }
        pos
    }

    /// Dense f32 weights in (O,I,K,K) row-major order.
    pub fn decode_dense(&self) -> Vec<f32> {
        let mut w = vec![0.0f32; self.spec.weight_count()];
        for (p, &c) in self.positions().into_iter().zip(&self.codes) {
            // Positions were bounds-checked by the parser.
            w[p] = self.codebook[c as usize];
        }
        w
    }

    /// Entries whose weight is zero (code 0): the fillers that bridge gaps longer than 15.
    pub fn fillers(&self) -> usize {
        self.codes
            .iter()
            .filter(|&&c| self.codebook[c as usize] == 0.0)
            .count()
    }

    /// Nonzero weights.
    pub fn nonzeros(&self) -> usize {
        self.entries() - self.fillers()
    }

    /// Bytes this layer occupies in the file.
    pub fn file_bytes(&self) -> usize {
        layer_bytes(self.spec, self.entries())
    }
}

/// Bytes a layer with `entries` entries occupies in the file.
pub fn layer_bytes(spec: &LayerSpec, entries: usize) -> usize {
    CODEBOOK_LEN * 4 + spec.out_c * 4 + entries + entries.div_ceil(2)
}

/// The largest `.net` file the SqueezeNet v1.0 topology allows: the 26 entry counts, then every
/// layer with as many entries as weights (every entry advances at least one position). Loaders
/// refuse a larger file before reading it.
pub fn max_file_bytes() -> usize {
    LAYERS
        .iter()
        .map(|s| 4 + layer_bytes(s, s.weight_count()))
        .sum()
}

/// A parsed `.net` file.
#[derive(Clone, Debug, PartialEq)]
pub struct NetFile {
    /// The 26 layers in file order.
    pub layers: Vec<NetLayer>,
}

/// A bounds-checked little-endian reader that names the layer and field on truncation.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, layer: &str, field: &'static str) -> Result<&'a [u8], NetError> {
        let have = self.buf.len() - self.pos;
        if n > have {
            return Err(NetError::Truncated {
                layer: layer.to_string(),
                field,
                offset: self.pos,
                need: n,
                have,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
}

fn f32_at(b: &[u8], i: usize) -> f32 {
    f32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

impl NetFile {
    /// Parse a complete `.net` file for the SqueezeNet v1.0 topology.
    pub fn parse(bytes: &[u8]) -> Result<NetFile, NetError> {
        let mut cur = Cursor { buf: bytes, pos: 0 };
        let mut counts = [0usize; NUM_LAYERS];
        for (l, spec) in LAYERS.iter().enumerate() {
            let offset = cur.pos;
            let b = cur.take(4, spec.name, "entry count")?;
            let count = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            // Every entry advances at least one position, so a layer never holds more entries than weights.
            if count as usize > spec.weight_count() {
                return Err(NetError::BadCount {
                    layer: spec.name.to_string(),
                    offset,
                    count,
                    size: spec.weight_count(),
                });
            }
            counts[l] = count as usize;
        }
        let mut layers = Vec::with_capacity(NUM_LAYERS);
        for (spec, &n) in LAYERS.iter().zip(&counts) {
            layers.push(Self::parse_layer(&mut cur, spec, n)?);
        }
        if cur.pos != bytes.len() {
            return Err(NetError::TrailingBytes {
                offset: cur.pos,
                extra: bytes.len() - cur.pos,
            });
        }
        Ok(NetFile { layers })
    }

    fn parse_layer(
        cur: &mut Cursor<'_>,
        spec: &'static LayerSpec,
        n: usize,
    ) -> Result<NetLayer, NetError> {
        let name = spec.name;
        let offset = cur.pos;
        let cb_bytes = cur.take(CODEBOOK_LEN * 4, name, "codebook")?;
        let mut codebook = [0.0f32; CODEBOOK_LEN];
        for (i, c) in codebook.iter_mut().enumerate() {
            let v = f32_at(cb_bytes, i);
            if !v.is_finite() {
                return Err(NetError::NonFinite {
                    layer: name.to_string(),
                    field: "codebook",
                    entry: i,
                    offset: offset + 4 * i,
                    value: v,
                });
            }
            *c = v;
        }
        // Exactly +0.0 or -0.0: code 0 is the zero weight the fillers use.
        if codebook[0] != 0.0 {
            return Err(NetError::CodebookZero {
                layer: name.to_string(),
                offset,
                value: codebook[0],
            });
        }
        let bias_off = cur.pos;
        let bias_bytes = cur.take(spec.out_c * 4, name, "bias")?;
        let mut bias = Vec::with_capacity(spec.out_c);
        for i in 0..spec.out_c {
            let v = f32_at(bias_bytes, i);
            if !v.is_finite() {
                return Err(NetError::NonFinite {
                    layer: name.to_string(),
                    field: "bias",
                    entry: i,
                    offset: bias_off + 4 * i,
                    value: v,
                });
            }
            bias.push(v);
        }
        let codes = cur.take(n, name, "codes")?.to_vec();
        let ind_off = cur.pos;
        let packed = cur.take(n.div_ceil(2), name, "relative indices")?;
        let size = spec.weight_count();
        let mut rel_idx = Vec::with_capacity(n);
        let mut pos: usize = 0;
        for k in 0..n {
            let byte = packed[k / 2];
            let r = if k % 2 == 0 { byte & 0x0f } else { byte >> 4 };
            pos = if k == 0 {
                r as usize
            } else {
                pos + r as usize + 1
            };
            if pos >= size {
                return Err(NetError::IndexOverflow {
                    layer: name.to_string(),
                    offset: ind_off + k / 2,
                    entry: k,
                    position: pos,
                    size,
                });
            }
            rel_idx.push(r);
        }
        if n % 2 == 1 {
            let nibble = packed[n / 2] >> 4;
            if nibble != 0 {
                return Err(NetError::PaddingNibble {
                    layer: name.to_string(),
                    offset: ind_off + n / 2,
                    nibble,
                });
            }
        }
        Ok(NetLayer {
            spec,
            codebook,
            bias,
            codes,
            rel_idx,
            offset,
        })
    }

    /// Total stored entries (nonzeros + fillers).
    pub fn total_entries(&self) -> usize {
        self.layers.iter().map(|l| l.entries()).sum()
    }

    /// Total filler entries.
    pub fn total_fillers(&self) -> usize {
        self.layers.iter().map(|l| l.fillers()).sum()
    }

    /// Total nonzero weights.
    pub fn total_nonzeros(&self) -> usize {
        self.layers.iter().map(|l| l.nonzeros()).sum()
    }

    /// Serialise back to the exact `.net` byte layout (used by tests and tools that write models).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for l in &self.layers {
            out.extend_from_slice(&(l.entries() as u32).to_le_bytes());
        }
        for l in &self.layers {
            for c in l.codebook {
                out.extend_from_slice(&c.to_le_bytes());
            }
            for b in &l.bias {
                out.extend_from_slice(&b.to_le_bytes());
            }
            out.extend_from_slice(&l.codes);
            for pair in l.rel_idx.chunks(2) {
                let hi = pair.get(1).copied().unwrap_or(0);
                out.push((pair[0] & 0x0f) | (hi << 4));
            }
        }
        out
    }
}
