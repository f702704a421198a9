//! [`DescDecode`]: the descriptor words sliced into named ports, from `spec::descriptor`. A
//! generated Verilog leaf, purely combinational.

use rust_hdl::prelude::*;

/// The descriptor field decoder: slices the `DESC` words into named ports, generated from
/// `spec::descriptor::FIELDS` (positions and widths are read from spec, and `new` checks that
/// every port width equals the spec field width). Purely combinational.
#[derive(LogicBlock, Default)]
pub struct DescDecode {
    pub desc: Signal<In, Bits<{ crate::regfile::DESC_BITS }>>,
    pub k: Signal<Out, Bits<3>>,
    pub src_mid: Signal<Out, Bit>,
    pub dst_mid: Signal<Out, Bit>,
    pub in_signed: Signal<Out, Bit>,
    pub pool: Signal<Out, Bit>,
    pub lut_slot: Signal<Out, Bits<6>>,
    pub out_c: Signal<Out, Bits<16>>,
    pub grid_w: Signal<Out, Bits<16>>,
    pub plane_in: Signal<Out, Bits<16>>,
    pub q_start: Signal<Out, Bits<24>>,
    pub ntiles: Signal<Out, Bits<16>>,
    pub src_base: Signal<Out, Bits<24>>,
    pub weight_base: Signal<Out, Bits<23>>,
    pub weight_beats: Signal<Out, Bits<16>>,
    pub bias_base: Signal<Out, Bits<16>>,
    pub m: Signal<Out, Bits<16>>,
    pub shift: Signal<Out, Bits<6>>,
    pub dst_base: Signal<Out, Bits<24>>,
    pub plane_out: Signal<Out, Bits<16>>,
    pub out_ch_offset: Signal<Out, Bits<16>>,
    pub mask_base: Signal<Out, Bits<16>>,
    pub wr_count: Signal<Out, Bits<24>>,
    pub pool_oh: Signal<Out, Bits<12>>,
    pub pool_chunks: Signal<Out, Bits<8>>,
    pub pool_col0: Signal<Out, Bits<4>>,
}

impl DescDecode {
    pub fn new() -> Self {
        let d = DescDecode::default();
        let widths: [(&str, usize); 25] = [
            ("k", 3),
            ("src_mid", 1),
            ("dst_mid", 1),
            ("in_signed", 1),
            ("pool", 1),
            ("lut_slot", 6),
            ("out_c", 16),
            ("grid_w", 16),
            ("plane_in", 16),
            ("q_start", 24),
            ("ntiles", 16),
            ("src_base", 24),
            ("weight_base", 23),
            ("weight_beats", 16),
            ("bias_base", 16),
            ("m", 16),
            ("shift", 6),
            ("dst_base", 24),
            ("plane_out", 16),
            ("out_ch_offset", 16),
            ("mask_base", 16),
            ("wr_count", 24),
            ("pool_oh", 12),
            ("pool_chunks", 8),
            ("pool_col0", 4),
        ];
        assert_eq!(widths.len(), spec::descriptor::FIELDS.len());
        for (name, w) in widths {
            let f = spec::descriptor::FIELDS
                .iter()
                .find(|f| f.name == name)
                .expect("descriptor field");
            assert_eq!(f.width as usize, w, "port width of descriptor field {name}");
        }
        d
    }
}

impl Logic for DescDecode {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.k.connect();
        self.src_mid.connect();
        self.dst_mid.connect();
        self.in_signed.connect();
        self.pool.connect();
        self.lut_slot.connect();
        self.out_c.connect();
        self.grid_w.connect();
        self.plane_in.connect();
        self.q_start.connect();
        self.ntiles.connect();
        self.src_base.connect();
        self.weight_base.connect();
        self.weight_beats.connect();
        self.bias_base.connect();
        self.m.connect();
        self.shift.connect();
        self.dst_base.connect();
        self.plane_out.connect();
        self.out_ch_offset.connect();
        self.mask_base.connect();
        self.wr_count.connect();
        self.pool_oh.connect();
        self.pool_chunks.connect();
        self.pool_col0.connect();
    }
    fn hdl(&self) -> Verilog {
        let mut s =
            String::from("// Generated from spec::descriptor::FIELDS.\nalways @(*) begin\n");
        let mut used = vec![false; crate::regfile::DESC_BITS];
        for f in spec::descriptor::FIELDS {
            let b = f.bit() as usize;
            s.push_str(&format!(
                "    {} = desc[{}:{}];\n",
                f.name,
                b + f.width as usize - 1,
                b
            ));
            for u in used.iter_mut().skip(b).take(f.width as usize) {
                *u = true;
            }
        }
        s.push_str("end\n");
        // Reserved descriptor bits are not used by the hardware.
        let unused: Vec<String> = (0..used.len())
            .filter(|&i| !used[i])
            .map(|i| format!("desc[{i}]"))
            .collect();
        s.push_str(&format!(
            "/* verilator lint_off UNUSEDSIGNAL */\n// Reserved descriptor bits (not part of any field).\nwire unused_reserved = ^{{{}}};\n/* verilator lint_on UNUSEDSIGNAL */\n",
            unused.join(", ")
        ));
        Verilog::Custom(s)
    }
}
