//! The SqueezeNet v1.0 topology as data: the 26 convolution layers in `.net` (prototxt) order with
//! their Caffe names, shapes, stride, padding, spatial sizes, whether a 3x3/2 max-pool follows, and
//! the Fire grouping (squeeze feeding two expands whose outputs are concatenated, 1x1 first).
//!
//! Every other part of the project (parser, quantizer, reference models, RTL tests, driver) walks
//! the network through this table instead of retyping shapes.

/// Channels, height and width of the network input (BGR minus mean, CHW).
pub const INPUT_C: usize = 3;
/// The Caffe mean the float network subtracts from each 8-bit pixel, in network (BGR) order.
/// The engine takes the raw pixels and has it folded into conv1's bias (`weights::quant`).
pub const INPUT_MEAN_BGR: [f32; INPUT_C] = [104.0, 117.0, 123.0];
/// Height of the network input.
pub const INPUT_H: usize = 227;
/// Width of the network input.
pub const INPUT_W: usize = 227;
/// Elements of one input image (3 x 227 x 227).
pub const INPUT_LEN: usize = INPUT_C * INPUT_H * INPUT_W;
/// Number of output classes (ImageNet-1k).
pub const NUM_CLASSES: usize = 1000;
/// Number of convolution layers stored in the `.net` file.
pub const NUM_LAYERS: usize = 26;
/// Max-pool window and stride (every pool in SqueezeNet v1.0 is 3x3 stride 2).
pub const POOL_K: usize = 3;
/// Max-pool stride.
pub const POOL_STRIDE: usize = 2;

/// What a convolution layer is within the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// conv1, 7x7 stride 2 on the image.
    Conv1,
    /// `fireN/conv1x1_1`, the squeeze 1x1.
    Squeeze,
    /// `fireN/conv1x1_2`, the expand 1x1 (first half of the concatenation).
    Expand1x1,
    /// `fireN/conv3x3_2`, the expand 3x3 pad 1 (second half of the concatenation).
    Expand3x3,
    /// conv_final, 1x1 pad 1 with 1000 outputs, followed by global average pool.
    Final,
}

/// Where a layer takes its input from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The (quantized) image.
    Image,
    /// The output of one layer (after its max-pool when it has one).
    Layer(usize),
    /// The channel concatenation of two layers' outputs (a Fire module's expands), first one first.
    Concat(usize, usize),
}

/// One convolution layer (always followed by ReLU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    /// Caffe name, e.g. `fire2/conv3x3_2`.
    pub name: &'static str,
    /// Role in the network.
    pub role: Role,
    /// Fire module number (2..=9) for squeeze/expand layers.
    pub fire: Option<u8>,
    /// Output channels (O).
    pub out_c: usize,
    /// Input channels (I).
    pub in_c: usize,
    /// Kernel size (square, K).
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
    /// A 3x3 stride-2 max-pool follows the ReLU (for expands: the pool after the Fire concat,
    /// which is per channel and so applies to each expand separately).
    pub pool: bool,
    /// Input height = width.
    pub in_hw: usize,
    /// Convolution output height = width (before the pool).
    pub out_hw: usize,
    /// Where the input comes from.
    pub input: Input,
    /// First channel of this layer's output in the tensor the next layer reads
    /// (the 3x3 expand sits after the 1x1 expand in the Fire concatenation).
    pub concat_offset: usize,
}

impl LayerSpec {
    /// Dense weight count O*I*K*K.
    pub const fn weight_count(&self) -> usize {
        self.out_c * self.in_c * self.k * self.k
    }

    /// Output height = width after the optional max-pool.
    pub const fn pooled_hw(&self) -> usize {
        if self.pool {
            pooled_size(self.out_hw)
        } else {
            self.out_hw
        }
    }

    /// Dense multiply-accumulates of one image.
    pub const fn dense_macs(&self) -> u64 {
        (self.weight_count() * self.out_hw * self.out_hw) as u64
    }
}

/// Max-pool 3x3/2 output size, floor mode (equal to Caffe's ceil mode on every SqueezeNet size).
pub const fn pooled_size(n: usize) -> usize {
    if n < POOL_K {
        0
    } else {
        (n - POOL_K) / POOL_STRIDE + 1
    }
}

/// Convolution output size.
pub const fn conv_size(n: usize, k: usize, stride: usize, pad: usize) -> usize {
    if n + 2 * pad < k || stride == 0 {
        0
    } else {
        (n + 2 * pad - k) / stride + 1
    }
}

const fn conv1() -> LayerSpec {
    LayerSpec {
        name: "conv1",
        role: Role::Conv1,
        fire: None,
        out_c: 96,
        in_c: 3,
        k: 7,
        stride: 2,
        pad: 0,
        pool: true,
        in_hw: 227,
        out_hw: 111,
        input: Input::Image,
        concat_offset: 0,
    }
}

/// The three layers of Fire module `n` starting at layer index `first`, reading `input` of
/// `in_c` channels at `hw` x `hw`; `pool` marks the max-pool after the concatenation.
#[allow(clippy::too_many_arguments)] // a const table builder: one argument per table column
const fn fire(
    n: u8,
    first: usize,
    names: [&'static str; 3],
    input: Input,
    in_c: usize,
    squeeze: usize,
    expand: usize,
    hw: usize,
    pool: bool,
) -> [LayerSpec; 3] {
    [
        LayerSpec {
            name: names[0],
            role: Role::Squeeze,
            fire: Some(n),
            out_c: squeeze,
            in_c,
            k: 1,
            stride: 1,
            pad: 0,
            pool: false,
            in_hw: hw,
            out_hw: hw,
            input,
            concat_offset: 0,
        },
        LayerSpec {
            name: names[1],
            role: Role::Expand1x1,
            fire: Some(n),
            out_c: expand,
            in_c: squeeze,
            k: 1,
            stride: 1,
            pad: 0,
            pool,
            in_hw: hw,
            out_hw: hw,
            input: Input::Layer(first),
            concat_offset: 0,
        },
        LayerSpec {
            name: names[2],
            role: Role::Expand3x3,
            fire: Some(n),
            out_c: expand,
            in_c: squeeze,
            k: 3,
            stride: 1,
            pad: 1,
            pool,
            in_hw: hw,
            out_hw: hw,
            input: Input::Layer(first),
            concat_offset: expand,
        },
    ]
}

const fn build() -> [LayerSpec; NUM_LAYERS] {
    let f2 = fire(
        2,
        1,
        ["fire2/conv1x1_1", "fire2/conv1x1_2", "fire2/conv3x3_2"],
        Input::Layer(0),
        96,
        16,
        64,
        55,
        false,
    );
    let f3 = fire(
        3,
        4,
        ["fire3/conv1x1_1", "fire3/conv1x1_2", "fire3/conv3x3_2"],
        Input::Concat(2, 3),
        128,
        16,
        64,
        55,
        false,
    );
    let f4 = fire(
        4,
        7,
        ["fire4/conv1x1_1", "fire4/conv1x1_2", "fire4/conv3x3_2"],
        Input::Concat(5, 6),
        128,
        32,
        128,
        55,
        true,
    );
    let f5 = fire(
        5,
        10,
        ["fire5/conv1x1_1", "fire5/conv1x1_2", "fire5/conv3x3_2"],
        Input::Concat(8, 9),
        256,
        32,
        128,
        27,
        false,
    );
    let f6 = fire(
        6,
        13,
        ["fire6/conv1x1_1", "fire6/conv1x1_2", "fire6/conv3x3_2"],
        Input::Concat(11, 12),
        256,
        48,
        192,
        27,
        false,
    );
    let f7 = fire(
        7,
        16,
        ["fire7/conv1x1_1", "fire7/conv1x1_2", "fire7/conv3x3_2"],
        Input::Concat(14, 15),
        384,
        48,
        192,
        27,
        false,
    );
    let f8 = fire(
        8,
        19,
        ["fire8/conv1x1_1", "fire8/conv1x1_2", "fire8/conv3x3_2"],
        Input::Concat(17, 18),
        384,
        64,
        256,
        27,
        true,
    );
    let f9 = fire(
        9,
        22,
        ["fire9/conv1x1_1", "fire9/conv1x1_2", "fire9/conv3x3_2"],
        Input::Concat(20, 21),
        512,
        64,
        256,
        13,
        false,
    );
    let last = LayerSpec {
        name: "conv_final",
        role: Role::Final,
        fire: None,
        out_c: NUM_CLASSES,
        in_c: 512,
        k: 1,
        stride: 1,
        pad: 1,
        pool: false,
        in_hw: 13,
        out_hw: 15,
        input: Input::Concat(23, 24),
        concat_offset: 0,
    };
    [
        conv1(),
        f2[0],
        f2[1],
        f2[2],
        f3[0],
        f3[1],
        f3[2],
        f4[0],
        f4[1],
        f4[2],
        f5[0],
        f5[1],
        f5[2],
        f6[0],
        f6[1],
        f6[2],
        f7[0],
        f7[1],
        f7[2],
        f8[0],
        f8[1],
        f8[2],
        f9[0],
        f9[1],
        f9[2],
        last,
    ]
}

/// The 26 convolution layers of SqueezeNet v1.0 in `.net` order.
pub const LAYERS: [LayerSpec; NUM_LAYERS] = build();

/// A Fire module: indices into [`LAYERS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fire {
    /// Module number (2..=9).
    pub n: u8,
    /// Index of the squeeze 1x1 layer.
    pub squeeze: usize,
    /// Index of the expand 1x1 layer.
    pub expand1x1: usize,
    /// Index of the expand 3x3 layer.
    pub expand3x3: usize,
}

/// The eight Fire modules in order.
pub const FIRES: [Fire; 8] = {
    let mut f = [Fire {
        n: 0,
        squeeze: 0,
        expand1x1: 0,
        expand3x3: 0,
    }; 8];
    let mut i = 0;
    while i < 8 {
        let s = 1 + 3 * i;
        f[i] = Fire {
            n: (i + 2) as u8,
            squeeze: s,
            expand1x1: s + 1,
            expand3x3: s + 2,
        };
        i += 1;
    }
    f
};

/// Index of the final (classifier) layer.
pub const FINAL: usize = NUM_LAYERS - 1;

/// Index of a layer by Caffe name.
pub fn layer_index(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.name == name)
}

/// The layer whose output scale a layer shares: an expand 3x3 shares its 1x1 sibling's scale
/// (they are concatenated); every other layer is its own.
pub fn scale_group(index: usize) -> usize {
    match LAYERS[index].role {
        Role::Expand3x3 => index - 1,
        _ => index,
    }
}

/// Total dense weights of the network.
pub fn total_dense_weights() -> usize {
    LAYERS.iter().map(|l| l.weight_count()).sum()
}

/// Total dense multiply-accumulates per image.
pub fn total_dense_macs() -> u64 {
    LAYERS.iter().map(|l| l.dense_macs()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels(input: Input) -> (usize, usize) {
        match input {
            Input::Image => (INPUT_C, INPUT_H),
            Input::Layer(i) => (LAYERS[i].out_c, LAYERS[i].pooled_hw()),
            Input::Concat(a, b) => {
                assert_eq!(LAYERS[a].pooled_hw(), LAYERS[b].pooled_hw());
                assert_eq!(LAYERS[b].concat_offset, LAYERS[a].out_c);
                (LAYERS[a].out_c + LAYERS[b].out_c, LAYERS[a].pooled_hw())
            }
        }
    }

    #[test]
    fn shapes_chain_and_sizes_are_consistent() {
        for (i, l) in LAYERS.iter().enumerate() {
            let (c, hw) = channels(l.input);
            assert_eq!(c, l.in_c, "{} input channels", l.name);
            assert_eq!(hw, l.in_hw, "{} input size", l.name);
            assert_eq!(
                conv_size(l.in_hw, l.k, l.stride, l.pad),
                l.out_hw,
                "{}",
                l.name
            );
            if let Input::Layer(j) | Input::Concat(j, _) = l.input {
                assert!(j < i, "{} reads a later layer", l.name);
            }
        }
        assert_eq!(LAYERS[FINAL].out_hw, 15);
        assert_eq!(LAYERS[0].pooled_hw(), 55);
        assert_eq!(LAYERS[9].pooled_hw(), 27);
        assert_eq!(LAYERS[21].pooled_hw(), 13);
    }

    #[test]
    fn totals_match_the_model_readme() {
        assert_eq!(total_dense_weights(), 1_244_448);
        // README: 861.3 M multiply-accumulates per image.
        assert_eq!(total_dense_macs() / 100_000, 8_613);
    }

    #[test]
    fn fires_and_names() {
        for f in FIRES {
            let n = f.n;
            assert_eq!(LAYERS[f.squeeze].name, format!("fire{n}/conv1x1_1"));
            assert_eq!(LAYERS[f.expand1x1].name, format!("fire{n}/conv1x1_2"));
            assert_eq!(LAYERS[f.expand3x3].name, format!("fire{n}/conv3x3_2"));
            assert_eq!(scale_group(f.expand3x3), f.expand1x1);
        }
        assert_eq!(layer_index("conv_final"), Some(FINAL));
        assert_eq!(layer_index("nope"), None);
        let pools: Vec<_> = LAYERS.iter().filter(|l| l.pool).map(|l| l.name).collect();
        assert_eq!(
            pools,
            [
                "conv1",
                "fire4/conv1x1_2",
                "fire4/conv3x3_2",
                "fire8/conv1x1_2",
                "fire8/conv3x3_2"
            ]
        );
    }
}
