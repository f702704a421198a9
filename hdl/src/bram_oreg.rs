//! Pack block-RAM output registers (ECP5 place-and-route flow only): a netlist pass over the
//! Yosys JSON that `synth_ecp5` writes, run before nextpnr.
//!
//! Yosys' ECP5 memory mapping always leaves a `DP16KD` port in `REGMODE = NOREG`: its data
//! leaves the block straight from the read latch, more than 4 ns after the clock (nextpnr's
//! speed-8 timing), which leaves about 2 ns of a 150 MHz cycle for the route to the fabric
//! register that every block RAM of this design reads into (docs/ARCHITECTURE.md, the timing
//! rules). The block has that register inside: with `REGMODE = OUTREG` the port's data is registered once
//! more in the block, loaded by `OCE`. This pass moves each such fabric register into its
//! block RAM (what vendor tools do on their own), so the route out of the block gets a whole
//! cycle.
//!
//! The move is exact: a port's read latch feeds a register that loads on the same clock edge
//! whenever its enable is high, and that is what both the fabric flip-flop and the block's
//! output register do. A port is packed only when every used data bit feeds exactly one
//! `TRELLIS_FF` (its `DI`, nothing else), all of them on the port's clock, with one shared
//! enable (or none), no set/reset and no global reset, and the port's own `RST` is tied low.
//! Anything else is left as it is. Verilator and the Xilinx flow never see this pass.

use anyhow::{bail, Context};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// What the pass did: ports packed, flip-flops absorbed, ports left (and why, counted).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OregReport {
    pub ports_packed: usize,
    pub ffs_absorbed: usize,
    pub ports_left: BTreeMap<&'static str, usize>,
}

/// A bit of a Yosys JSON connection: a net number, or a constant ("0", "1", "x", "z").
fn bit_id(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn conn_bit(cell: &Value, port: &str) -> Option<Value> {
    cell["connections"][port]
        .as_array()
        .and_then(|a| a.first())
        .cloned()
}

fn param_str(cell: &Value, name: &str) -> String {
    cell["parameters"][name]
        .as_str()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Pack the output registers of every `DP16KD` port in module `top` of `netlist` (in place).
pub fn pack(netlist: &mut Value, top: &str) -> anyhow::Result<OregReport> {
    let module = netlist["modules"]
        .get_mut(top)
        .with_context(|| format!("module {top} not in the netlist"))?;
    let cells = module["cells"]
        .as_object()
        .context("netlist module has no cells")?
        .clone();
    // Every sink of every net bit: (cell, port) for cell inputs; module outputs count too.
    let mut sinks: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    for (name, cell) in &cells {
        let dirs = &cell["port_directions"];
        if let Some(conns) = cell["connections"].as_object() {
            for (port, bits) in conns {
                if dirs[port].as_str() == Some("output") {
                    continue;
                }
                for b in bits.as_array().into_iter().flatten().filter_map(bit_id) {
                    sinks
                        .entry(b)
                        .or_default()
                        .push((name.clone(), port.clone()));
                }
            }
        }
    }
    if let Some(ports) = module["ports"].as_object() {
        for (port, p) in ports {
            if p["direction"].as_str() != Some("input") {
                for b in p["bits"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(bit_id)
                {
                    sinks
                        .entry(b)
                        .or_default()
                        .push(("<top>".into(), port.clone()));
                }
            }
        }
    }
    let mut report = OregReport::default();
    let mut removed: Vec<String> = Vec::new();
    let mut edits: Vec<(String, char, Value, Vec<(String, Value)>)> = Vec::new();
    for (name, cell) in &cells {
        if cell["type"].as_str() != Some("DP16KD") {
            continue;
        }
        for side in ['A', 'B'] {
            let mut left = |why: &'static str| *report.ports_left.entry(why).or_default() += 1;
            let regmode = param_str(cell, &format!("REGMODE_{side}"));
            if !(regmode.is_empty() || regmode == "NOREG") {
                left("already registered");
                continue;
            }
            if conn_bit(cell, &format!("RST{side}")) != Some(Value::String("0".into())) {
                left("port reset used");
                continue;
            }
            let Some(clk) = conn_bit(cell, &format!("CLK{side}")) else {
                left("no clock");
                continue;
            };
            // (data port, the flip-flop it feeds)
            let mut moves: Vec<(String, String)> = Vec::new();
            let mut enable: Option<Value> = None;
            let mut ok = true;
            let mut why = "";
            for i in 0..18 {
                let port = format!("DO{side}{i}");
                let Some(b) = conn_bit(cell, &port).as_ref().and_then(bit_id) else {
                    continue;
                };
                let s = sinks.get(&b).map(Vec::as_slice).unwrap_or(&[]);
                if s.is_empty() {
                    continue;
                }
                let [(ff, ffport)] = s else {
                    ok = false;
                    why = "data bit with several loads";
                    break;
                };
                let f = &cells[ff.as_str()];
                if ff == "<top>" || f["type"].as_str() != Some("TRELLIS_FF") || ffport != "DI" {
                    ok = false;
                    why = "data bit into logic";
                    break;
                }
                let lsr_tied = conn_bit(f, "LSR") == Some(Value::String("0".into()))
                    || param_str(f, "LSRMUX") == "0";
                if conn_bit(f, "CLK").as_ref() != Some(&clk)
                    || param_str(f, "CLKMUX") != "CLK"
                    || !lsr_tied
                    || param_str(f, "GSR") != "DISABLED"
                {
                    ok = false;
                    why = "register with another clock, a reset or GSR";
                    break;
                }
                let ce = match param_str(f, "CEMUX").as_str() {
                    "1" => Value::String("1".into()),
                    "CE" => conn_bit(f, "CE").unwrap_or(Value::String("1".into())),
                    _ => {
                        ok = false;
                        why = "register with an inverted enable";
                        break;
                    }
                };
                if enable.get_or_insert(ce.clone()) != &ce {
                    ok = false;
                    why = "registers with different enables";
                    break;
                }
                moves.push((port, ff.clone()));
            }
            if !ok {
                left(why);
                continue;
            }
            let Some(ce) = enable else {
                left("port unused");
                continue;
            };
            let rewired = moves
                .iter()
                .map(|(port, ff)| (port.clone(), cells[ff.as_str()]["connections"]["Q"].clone()))
                .collect();
            removed.extend(moves.iter().map(|(_, ff)| ff.clone()));
            report.ports_packed += 1;
            report.ffs_absorbed += moves.len();
            edits.push((name.clone(), side, ce, rewired));
        }
    }
    let cells = module["cells"].as_object_mut().expect("checked above");
    for (name, side, ce, rewired) in edits {
        let cell = cells.get_mut(&name).expect("cell listed above");
        cell["parameters"][format!("REGMODE_{side}")] = Value::String("OUTREG".into());
        cell["connections"][format!("OCE{side}")] = Value::Array(vec![ce]);
        for (port, q) in rewired {
            cell["connections"][port] = q;
        }
    }
    for ff in &removed {
        if cells.remove(ff).is_none() {
            bail!("flip-flop {ff} was absorbed twice");
        }
    }
    Ok(report)
}

/// Read `path`, pack the output registers of module `top`, write it back; returns the report.
pub fn pack_file(path: &std::path::Path, top: &str) -> anyhow::Result<OregReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut j: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let r = pack(&mut j, top)?;
    std::fs::write(path, serde_json::to_string(&j)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ff(d: u64, q: u64, ce: Option<u64>, lsr: Value) -> Value {
        json!({
            "type": "TRELLIS_FF",
            "parameters": {"CEMUX": if ce.is_some() {"CE"} else {"1 "}, "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR", "REGSET": "RESET"},
            "port_directions": {"CLK": "input", "CE": "input", "LSR": "input", "DI": "input", "Q": "output"},
            "connections": {"CLK": [2], "CE": [ce.map(Value::from).unwrap_or(json!("1"))], "LSR": [lsr], "DI": [d], "Q": [q]}
        })
    }

    fn netlist(extra_load_on_bit1: bool, second_ce: Option<u64>) -> Value {
        let mut cells = serde_json::Map::new();
        cells.insert(
            "ram".into(),
            json!({
                "type": "DP16KD",
                "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG"},
                "port_directions": {"CLKA": "input", "CLKB": "input", "RSTA": "input", "RSTB": "input",
                    "OCEA": "input", "OCEB": "input", "DOB0": "output", "DOB1": "output", "DOA0": "output"},
                "connections": {"CLKA": [2], "CLKB": [2], "RSTA": ["0"], "RSTB": ["0"], "OCEA": ["1"], "OCEB": ["1"],
                    "DOB0": [10], "DOB1": [11], "DOA0": [12]}
            }),
        );
        cells.insert("q0".into(), ff(10, 20, Some(5), json!("0")));
        cells.insert("q1".into(), ff(11, 21, second_ce.or(Some(5)), json!("0")));
        // Port A's bit goes through logic: left alone.
        cells.insert(
            "lut".into(),
            json!({"type": "LUT4", "parameters": {}, "port_directions": {"A": "input", "Z": "output"},
                   "connections": {"A": [12], "Z": [30]}}),
        );
        if extra_load_on_bit1 {
            cells.insert(
                "lut2".into(),
                json!({"type": "LUT4", "parameters": {}, "port_directions": {"A": "input", "Z": "output"},
                       "connections": {"A": [11], "Z": [31]}}),
            );
        }
        json!({"modules": {"top": {"ports": {}, "cells": cells}}})
    }

    #[test]
    fn packs_a_port_whose_bits_all_feed_registers() {
        let mut n = netlist(false, None);
        let r = pack(&mut n, "top").unwrap();
        assert_eq!((r.ports_packed, r.ffs_absorbed), (1, 2));
        assert_eq!(r.ports_left.get("data bit into logic"), Some(&1));
        let ram = &n["modules"]["top"]["cells"]["ram"];
        assert_eq!(ram["parameters"]["REGMODE_B"], "OUTREG");
        assert_eq!(ram["parameters"]["REGMODE_A"], "NOREG");
        assert_eq!(ram["connections"]["OCEB"], json!([5]));
        assert_eq!(ram["connections"]["DOB0"], json!([20]));
        assert_eq!(ram["connections"]["DOB1"], json!([21]));
        let cells = n["modules"]["top"]["cells"].as_object().unwrap();
        assert!(
            !cells.contains_key("q0") && !cells.contains_key("q1") && cells.contains_key("lut")
        );
    }

    #[test]
    fn leaves_a_port_with_a_shared_bit_or_mixed_enables() {
        for (extra, ce) in [(true, None), (false, Some(6))] {
            let mut n = netlist(extra, ce);
            let before = n.clone();
            let r = pack(&mut n, "top").unwrap();
            assert_eq!(r.ports_packed, 0);
            assert_eq!(n, before);
        }
    }
}
