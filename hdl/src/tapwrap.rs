//! The tap-index wrap of the weight walk as one table: for a kernel of `K` in 1..4 and a
//! running tap index `t1 = t + 1 + rel` (< 32), `tn = t1 mod K*K`, `tn1 = tn + 1` and
//! `wraps = t1 / K*K` (input channels stepped over). A generated Verilog `case` over
//! `{K mod 4, t1}` (128 entries), so every output bit is a 7-input function, two LUT levels,
//! instead of an add, four compares and a subtract in series. It also gives the tap's row and
//! column, `kh = tn / K` and `kw = tn mod K`. Purely combinational.
//!
//! Ports: `k` (the descriptor's K; 4 is `3'd4`), `t1`; `wraps`, `tn1`, `kh`, `kw` (`tn` itself
//! is not needed: the address generator, [`crate::addr_gen`], keeps `tn + 1` and the tap's row
//! and column).

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct TapWrap {
    pub k: Signal<In, Bits<3>>,
    pub t1: Signal<In, Bits<5>>,
    pub wraps: Signal<Out, Bits<5>>,
    pub tn1: Signal<Out, Bits<5>>,
    pub kh: Signal<Out, Bits<2>>,
    pub kw: Signal<Out, Bits<2>>,
}

/// `(wraps, tn, tn1)` for kernel `k` (1..=4) and tap index `t1` — the table the leaf holds.
pub fn wrap(k: u32, t1: u32) -> (u32, u32, u32) {
    let kk = k * k;
    (t1 / kk, t1 % kk, t1 % kk + 1)
}

/// The tap's `(kh, kw)` for kernel `k` and tap index `tn < k*k`.
pub fn tap(k: u32, tn: u32) -> (u32, u32) {
    (tn / k, tn % k)
}

impl Logic for TapWrap {
    // Judged only as Verilog (Verilator); rust-hdl's simulator does not run this leaf.
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.wraps.connect();
        self.tn1.connect();
        self.kh.connect();
        self.kw.connect();
    }
    fn hdl(&self) -> Verilog {
        let mut s = String::from(
            "/* verilator lint_off UNUSEDSIGNAL */\n// K is 1..4: its low two bits tell them apart (4 is 2'b00).\nwire unused_k = k[2];\n/* verilator lint_on UNUSEDSIGNAL */\nalways @(*) begin\n    case ({k[1:0], t1})\n",
        );
        for k in 1..=4u32 {
            for t1 in 0..32u32 {
                let (w, tn, tn1) = wrap(k, t1);
                let (kh, kw) = tap(k, tn);
                // Outputs are 5 bits; for K = 1 and t1 up to 31 every value fits.
                s.push_str(&format!(
                    "        7'd{}: begin wraps = 5'd{w}; tn1 = 5'd{tn1}; kh = 2'd{kh}; kw = 2'd{kw}; end\n",
                    ((k % 4) << 5) | t1
                ));
            }
        }
        s.push_str("    endcase\nend\n");
        Verilog::Custom(s)
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn table_is_the_wrap_of_the_tap_recurrence() {
        // The address generator's reachable inputs: t1 = (first ? 0 : t + 1) + rel with
        // t < K*K, rel < 16.
        for k in 1..=4u32 {
            let kk = k * k;
            for base in 0..=kk {
                for rel in 0..16 {
                    let t1 = base + rel;
                    assert!(t1 < 32);
                    let (w, tn, tn1) = wrap(k, t1);
                    assert!(tn < kk && tn1 == tn + 1 && w * kk + tn == t1);
                    assert!(w < 32 && tn1 < 32);
                    let (kh, kw) = super::tap(k, tn);
                    assert!(kh < k && kw < k && kh * k + kw == tn);
                }
            }
        }
    }
}
