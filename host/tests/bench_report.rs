//! `sqz-host bench --backend sim` (the Verilated `tiny` engine in process, one image, one run, no
//! warm-up):
//! the per-layer table has one row per layer, each row's cycle breakdown adds up to its measured
//! cycles, the efficiencies are sane, the totals name the clock they assume, the host's own CPU
//! time is reported, and the SVG plot is written with one bar per layer.
#![cfg(feature = "rtl")]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sqz-host");
const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images");

/// Rows of the table whose header line starts with "layer" and contains `column`, up to and
/// including its "total" row, split on whitespace.
fn table(out: &str, column: &str) -> Vec<Vec<String>> {
    let mut lines = out
        .lines()
        .skip_while(|l| !(l.starts_with("layer") && l.contains(column)));
    assert!(lines.next().is_some(), "no table with `{column}`:\n{out}");
    let mut rows = Vec::new();
    for l in lines {
        let cols: Vec<String> = l.split_whitespace().map(String::from).collect();
        let last = cols.first().is_some_and(|c| c == "total");
        rows.push(cols);
        if last {
            break;
        }
    }
    rows
}

fn num(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("`{s}` is not a number"))
}

#[test]
fn sim_bench_prints_per_layer_breakdown_and_plot() {
    let dir = std::env::temp_dir().join(format!("sqz-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plot = dir.join("tiny.svg");
    let o = Command::new(BIN)
        .args([
            "bench",
            "--backend",
            "sim",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--images",
            &format!("{IMAGES}/chelsea.png"),
            "--plot",
            plot.to_str().unwrap(),
        ])
        .env_remove("SQZ_MODEL")
        .output()
        .expect("spawn sqz-host");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let names: Vec<&str> = weights::topology::LAYERS.iter().map(|l| l.name).collect();

    // Per-layer table: layer, dense MACs, nonzero MACs, cycles, ideal, dense eff, nz util.
    let rows = table(&out, "dense MACs");
    assert_eq!(
        rows.len(),
        names.len() + 1,
        "one row per layer + total:\n{out}"
    );
    let mut cycles = Vec::new();
    for (r, name) in rows.iter().zip(&names) {
        assert_eq!(r.len(), 7, "{r:?}");
        assert_eq!(r[0], *name);
        let (dense, nz, c, ideal, eff, util) = (
            num(&r[1]),
            num(&r[2]),
            num(&r[3]),
            num(&r[4]),
            num(&r[5]),
            num(&r[6]),
        );
        assert!(nz > 0.0 && nz <= dense && c > 0.0, "{r:?}");
        assert!(ideal <= c, "no layer beats its ideal: {r:?}");
        // Each issue computes at most 16 useful MACs: utilisation <= 1.
        assert!(util > 0.0 && util <= 1.0, "{r:?}");
        assert!(
            eff > 0.0 && (eff - util * dense / nz).abs() < 2e-3 * eff.max(1.0),
            "{r:?}"
        );
        cycles.push(c as u64);
    }
    let total = rows.last().unwrap();
    assert_eq!(num(&total[3]) as u64, cycles.iter().sum::<u64>());
    let eff = num(&total[5]);
    assert!(eff > 0.0 && eff <= 2.5, "total efficiency {eff}");

    // Breakdown: cycles = useful + lane waste + short ch + ch fetch + C2H stall + other + remainder.
    let rows = table(&out, "lane waste");
    assert_eq!(rows.len(), names.len() + 1, "{out}");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), 9, "{r:?}");
        let parts: Vec<i64> = r[1..]
            .iter()
            .map(|s| s.parse().unwrap_or_else(|_| panic!("{r:?}")))
            .collect();
        assert_eq!(
            parts[0],
            parts[1..].iter().sum::<i64>(),
            "{r:?} does not add up"
        );
        if i < names.len() {
            assert_eq!(r[0], names[i]);
            assert_eq!(parts[0] as u64, cycles[i], "same cycles in both tables");
            // Useful work is most of every layer on this engine.
            assert!(parts[1] * 2 > parts[0], "{r:?}");
        }
    }

    // Totals name the clock (no --fmax: the target clock) and the link.
    assert!(
        out.contains("at 150 MHz (target clock, no P&R figure given)"),
        "{out}"
    );
    assert!(
        out.contains("XDMA PCIe Gen2 x4") && out.contains("serial"),
        "{out}"
    );
    assert!(out.contains("H2C") && out.contains("C2H"), "{out}");

    // The host's own CPU time per image: more than nothing, less than the image's wall time.
    let host = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("host CPU per image in the sequencer (all timed images): median ")
        })
        .unwrap_or_else(|| panic!("no host CPU line:\n{out}"));
    let host_ms = num(host.split(" ms").next().unwrap());
    let wall = out
        .lines()
        .find_map(|l| l.strip_prefix("ms/image (all images, per run): median "))
        .unwrap_or_else(|| panic!("no ms/image line:\n{out}"));
    let wall_ms = num(wall.split(',').next().unwrap());
    assert!(
        host_ms > 0.0 && host_ms < wall_ms,
        "{host_ms} ms of {wall_ms} ms:\n{out}"
    );

    // The last image's: its own CPU time, and the planning and parsing parts of it.
    let line = out
        .lines()
        .find(|l| l.starts_with("host: ") && l.contains("its own CPU time"))
        .unwrap_or_else(|| panic!("no host line:\n{out}"));
    let ms: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(ms.len(), 4, "{line}");
    let (own, plan, parse) = (ms[1], ms[2], ms[3]);
    // Printed to 0.01 ms.
    assert!(
        own > 0.0 && plan > 0.0 && plan + parse <= own + 0.011,
        "{line}"
    );

    // The plot: one bar per layer, with the layer names.
    assert!(
        out.contains(&format!("written to {}", plot.display())),
        "{out}"
    );
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches(r#"<rect class="measured""#).count(),
        names.len()
    );
    assert_eq!(svg.matches(r#"<line class="ideal""#).count(), names.len());
    for name in &names {
        assert!(svg.contains(&format!(">{name}</text>")), "{name}");
    }
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
