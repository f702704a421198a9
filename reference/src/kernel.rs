//! The direct-convolution kernel shared by the float and int8 reference models: the input is copied
//! once into a zero-padded (and, for stride > 1, column-phase-split) buffer so that every nonzero
//! weight becomes one long contiguous multiply-accumulate over the output plane. Zero weights are
//! skipped entirely (the model is 2/3 zeros), nothing is im2col'ed, and the inner loops have no
//! bounds logic, so the compiler vectorises them.

/// Element types of one kernel instantiation.
pub(crate) trait Mac {
    /// Input and weight element.
    type X: Copy + Default;
    /// Accumulator.
    type A: Copy;
    /// `acc + w * x` in the kernel's arithmetic.
    fn mac(acc: Self::A, w: Self::X, x: Self::X) -> Self::A;
}

/// f32 arithmetic (the float reference).
pub(crate) struct F32;
impl Mac for F32 {
    type X = f32;
    type A = f32;
    #[inline(always)]
    fn mac(acc: f32, w: f32, x: f32) -> f32 {
        acc + w * x
    }
}

/// LUT-width weight x (u)int8 activation products in i32 (exact: `spec::numerics::PRODUCT_BITS`
/// <= 32), wrapping i32 accumulation, as the engine's 32-bit accumulators.
pub(crate) struct I32;
impl Mac for I32 {
    type X = i32;
    type A = i32;
    #[inline(always)]
    fn mac(acc: i32, w: i32, x: i32) -> i32 {
        acc.wrapping_add(w.wrapping_mul(x))
    }
}
const _: () = assert!(spec::numerics::PRODUCT_BITS <= 32);

/// A zero-padded input. Stride 1: `[c][hp][wp]`. Stride s > 1: `[c][hp][s][wq]` where phase p of a
/// row holds padded columns p, p + s, p + 2s, ... so a strided read becomes a contiguous one.
pub(crate) struct Padded<X> {
    pub hp: usize,
    pub wp: usize,
    pub stride: usize,
    pub wq: usize,
    pub data: Vec<X>,
}

impl<X: Copy + Default> Padded<X> {
    /// Pad `c` planes of `h` x `w` (element `get(i)` at flat CHW index `i`).
    pub fn new(
        c: usize,
        h: usize,
        w: usize,
        pad: usize,
        stride: usize,
        get: impl Fn(usize) -> X,
    ) -> Self {
        let hp = h + 2 * pad;
        let wp = w + 2 * pad;
        let wq = if stride == 1 { wp } else { wp.div_ceil(stride) };
        let row = stride * wq;
        let mut data = vec![X::default(); c * hp * row];
        for ch in 0..c {
            for y in 0..h {
                let dst_row = (ch * hp + y + pad) * row;
                let src_row = (ch * h + y) * w;
                for x in 0..w {
                    let col = x + pad;
                    let d = if stride == 1 {
                        col
                    } else {
                        (col % stride) * wq + col / stride
                    };
                    data[dst_row + d] = get(src_row + x);
                }
            }
        }
        Padded {
            hp,
            wp,
            stride,
            wq,
            data,
        }
    }

    /// Offset of the source element that weight (i, kh, kw) multiplies for output (0, 0).
    #[inline]
    pub fn tap_offset(&self, i: usize, kh: usize, kw: usize) -> usize {
        if self.stride == 1 {
            (i * self.hp + kh) * self.wp + kw
        } else {
            ((i * self.hp + kh) * self.stride + kw % self.stride) * self.wq + kw / self.stride
        }
    }
}

/// The nonzero taps of output channel `o` of dense (O,I,K,K) weights, as (source offset, weight).
pub(crate) fn taps<X: Copy + Default, W: Copy + PartialEq + Default>(
    p: &Padded<X>,
    weights: &[W],
    o: usize,
    in_c: usize,
    k: usize,
    conv: impl Fn(W) -> X,
    out: &mut Vec<(usize, X)>,
) {
    out.clear();
    let per_o = in_c * k * k;
    let ws = &weights[o * per_o..(o + 1) * per_o];
    for i in 0..in_c {
        for kh in 0..k {
            for kw in 0..k {
                let w = ws[(i * k + kh) * k + kw];
                if w != W::default() {
                    out.push((p.tap_offset(i, kh, kw), conv(w)));
                }
            }
        }
    }
}

/// One output channel: `out[oh * wo + ow] = init + sum over taps of w * x`. `scratch` is reused
/// between calls to avoid allocation.
pub(crate) fn conv_channel<K: Mac>(
    p: &Padded<K::X>,
    taps: &[(usize, K::X)],
    ho: usize,
    wo: usize,
    init: K::A,
    scratch: &mut Vec<K::A>,
    out: &mut [K::A],
) {
    if ho == 0 || wo == 0 {
        return;
    }
    if p.stride == 1 {
        // "Wide" accumulation over rows of the padded width: one contiguous run per tap; the
        // k - 1 extra columns per row are discarded below.
        let len = (ho - 1) * p.wp + wo;
        scratch.clear();
        scratch.resize(len, init);
        for &(base, w) in taps {
            let src = &p.data[base..base + len];
            for (a, &x) in scratch.iter_mut().zip(src) {
                *a = K::mac(*a, w, x);
            }
        }
        for oh in 0..ho {
            out[oh * wo..(oh + 1) * wo].copy_from_slice(&scratch[oh * p.wp..oh * p.wp + wo]);
        }
    } else {
        for a in out.iter_mut() {
            *a = init;
        }
        let rstep = p.stride * p.stride * p.wq;
        for &(base, w) in taps {
            for oh in 0..ho {
                let src = &p.data[base + oh * rstep..base + oh * rstep + wo];
                let dst = &mut out[oh * wo..(oh + 1) * wo];
                for (a, &x) in dst.iter_mut().zip(src) {
                    *a = K::mac(*a, w, x);
                }
            }
        }
    }
}
