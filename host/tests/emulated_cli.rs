//! The command line against an emulated card in another process: `sqz-host emulate` serves the
//! files, `sqz-host info` identifies the card, and `sqz-host infer --backend xdma` prints the same
//! classes and probabilities as `--backend reference`; a missing device is a clear non-zero exit.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sqz-host");
const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images");

fn sqz(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SQZ_MODEL")
        .output()
        .expect("spawn sqz-host")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `sqz-host emulate` as a child process, killed (by its own handle) when dropped.
struct Card {
    child: Child,
    dir: PathBuf,
}

impl Card {
    fn start(test: &str, preset: &str, card: &str) -> Card {
        let dir = std::env::temp_dir().join(format!("sqz-emucli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let child = Command::new(BIN)
            .args([
                "emulate",
                "--dir",
                dir.to_str().unwrap(),
                "--preset",
                preset,
                "--card",
                card,
                "--seconds",
                "300",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn emulate");
        let card = Card { child, dir };
        let t0 = Instant::now();
        while !card.dir.join("xdma0_c2h_0").exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "emulated card did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The register file is published right after the pipes are made.
        std::thread::sleep(Duration::from_millis(100));
        card
    }
    fn prefix(&self) -> String {
        self.dir.join("xdma0").to_string_lossy().into_owned()
    }
}

impl Drop for Card {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn image(name: &str) -> String {
    Path::new(IMAGES)
        .join(format!("{name}.png"))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn info_and_infer_through_the_emulated_card() {
    let card = Card::start("infer", "tiny", "soft");
    let prefix = card.prefix();
    let info = sqz(&["info", "--device", &prefix]);
    let out = text(&info.stdout);
    assert!(info.status.success(), "{out}{}", text(&info.stderr));
    assert!(
        out.contains(&format!("0x{:08X} (sqz engine)", spec::regs::ID_VALUE))
            && out.contains("preset `tiny`"),
        "{out}"
    );
    let info = sqz(&["info", "--device", &prefix, "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&info.stdout).expect("info --json");
    assert_eq!(j["preset"], "tiny");
    assert_eq!(j["id_ok"], true);

    let imgs = [image("chelsea"), image("coffee")];
    let mut args = vec!["infer", "--json", "--backend", "xdma", "--device", &prefix];
    args.extend(imgs.iter().map(String::as_str));
    let card_run = sqz(&args);
    assert!(card_run.status.success(), "{}", text(&card_run.stderr));
    let mut args = vec!["infer", "--json", "--backend", "reference"];
    args.extend(imgs.iter().map(String::as_str));
    let reference = sqz(&args);
    assert!(reference.status.success(), "{}", text(&reference.stderr));
    let a: serde_json::Value = serde_json::from_slice(&card_run.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&reference.stdout).unwrap();
    assert_eq!(a["backend"], "xdma");
    assert_eq!(a["results"], b["results"], "same classes and probabilities");
    assert_eq!(a["results"][0]["top"][0]["class"], 285);
    assert_eq!(a["results"][1]["top"][0]["class"], 967);

    // bench reports the card's own counters per layer (its plot goes beside the emulated card).
    let plot = format!("{prefix}-bench.svg");
    let b = sqz(&[
        "bench",
        "--json",
        "--runs",
        "1",
        "--backend",
        "xdma",
        "--device",
        &prefix,
        "--images",
        &imgs[0],
        "--plot",
        &plot,
    ]);
    assert!(b.status.success(), "{}", text(&b.stderr));
    assert!(std::path::Path::new(&plot).exists(), "plot written");
    let j: serde_json::Value = serde_json::from_slice(&b.stdout).expect("bench --json");
    assert_eq!(j["card"]["layers"].as_array().map(Vec::len), Some(26));
    assert!(
        j["card"]["cycles"].as_u64().unwrap() > 1_000_000,
        "{}",
        j["card"]
    );
    // A preset the card was not built from is refused with both names.
    let wrong = sqz(&[
        "infer",
        "--backend",
        "xdma",
        "--device",
        &prefix,
        "--preset",
        "ecp5",
        &imgs[0],
    ]);
    assert!(!wrong.status.success());
    let e = text(&wrong.stderr);
    assert!(e.contains("preset `tiny`") && e.contains("`ecp5`"), "{e}");
}

#[test]
fn missing_device_is_a_clear_error() {
    let o = sqz(&["info", "--device", "/nonexistent/xdma7"]);
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(
        e.contains("/nonexistent/xdma7_user") && e.contains("XDMA driver"),
        "{e}"
    );
    let o = sqz(&[
        "infer",
        "--backend",
        "xdma",
        "--device",
        "/nonexistent/xdma7",
        &image("chelsea"),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("does not exist"),
        "{}",
        text(&o.stderr)
    );
}

/// `(class, probability)` lists of `infer --json`.
fn classes(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("infer --json");
    v["results"].clone()
}

/// `infer` on the Verilated RTL behind the emulated XDMA files prints the reference's classes.
/// (`--backend sim`, the same RTL in process, runs through the CLI in `tests/bench_report.rs`,
/// and is bit-exact on every layer in `tests/device_rtl.rs`.)
#[cfg(feature = "rtl")]
#[test]
fn emulated_rtl_prints_the_reference_classes() {
    let chelsea = image("chelsea");
    let reference = classes(&sqz(&[
        "infer",
        "--json",
        "--backend",
        "reference",
        &chelsea,
    ]));
    assert_eq!(reference[0]["top"][0]["class"], 285);
    // The RTL behind the emulated XDMA files, through the xdma backend.
    let card = Card::start("rtl", "tiny", "rtl");
    let prefix = card.prefix();
    let xdma = classes(&sqz(&[
        "infer",
        "--json",
        "--backend",
        "xdma",
        "--device",
        &prefix,
        &chelsea,
    ]));
    assert_eq!(xdma, reference, "--backend xdma on the emulated RTL");
}

/// SIGTERM (and SIGINT) stop `sqz-host emulate` cleanly: it exits 0 and removes the card's
/// files, so a later `info` finds no card instead of a dead one's registers.
#[test]
fn sigterm_stops_the_emulator_and_removes_its_files() {
    let mut card = Card::start("sigterm", "tiny", "soft");
    let pid = card.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(status.success());
    let t0 = Instant::now();
    let exit = loop {
        if let Some(s) = card.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "emulate ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    for f in ["xdma0_user", "xdma0_h2c_0", "xdma0_c2h_0", "xdma0_alive"] {
        assert!(!card.dir.join(f).exists(), "{f} left behind");
    }
    let prefix = card.prefix();
    let info = sqz(&["info", "--device", &prefix]);
    assert!(!info.status.success());
    assert!(
        text(&info.stderr).contains("does not exist"),
        "{}",
        text(&info.stderr)
    );
}

/// SIGKILL leaves the emulator no chance to remove its files, yet `info` and `infer` on them say
/// at once that nobody serves the card (the kernel dropped the emulator's liveness lock) instead
/// of reporting a live engine or waiting.
#[test]
fn a_killed_emulator_is_reported_as_not_served() {
    let mut card = Card::start("sigkill", "tiny", "soft");
    let prefix = card.prefix();
    assert!(sqz(&["info", "--device", &prefix]).status.success());
    card.child.kill().unwrap();
    card.child.wait().unwrap();
    assert!(card.dir.join("xdma0_user").exists());
    let img = image("chelsea");
    for args in [
        vec!["info", "--device", &prefix],
        vec!["infer", "--backend", "xdma", "--device", &prefix, &img],
    ] {
        let t0 = Instant::now();
        let out = sqz(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {}", text(&out.stdout));
        assert!(err.contains("not served"), "{args:?}: {err}");
        assert!(t0.elapsed() < Duration::from_secs(10), "{args:?}");
    }
}

/// Recovery: an `infer` killed mid-run or timed out leaves its output in the C2H stream, stray
/// bytes written into the H2C file leave a partial beat, bytes written into the C2H file sit
/// ahead of the next job's; the next `infer` resets the card, drains the stale output and
/// resynchronises the stream, and prints the right class.
#[test]
fn a_killed_run_and_stray_bytes_do_not_spoil_the_next_run() {
    use std::io::Write;
    let card = Card::start("recovery", "tiny", "soft");
    let prefix = card.prefix();
    let chelsea = image("chelsea");
    let top1 = |out: &std::process::Output| -> String {
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["results"][0]["top"][0]["class"].to_string()
    };
    let args = [
        "infer",
        "--json",
        "--backend",
        "xdma",
        "--device",
        &prefix,
        &chelsea,
    ];
    assert_eq!(top1(&sqz(&args)), "285");
    for kill_after_ms in [150u64, 400, 800] {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            top1(&sqz(&args)),
            "285",
            "after a kill at {kill_after_ms} ms"
        );
    }
    // Three stray bytes into the H2C stream.
    let mut h2c = std::fs::OpenOptions::new()
        .write(true)
        .open(card.dir.join("xdma0_h2c_0"))
        .unwrap();
    h2c.write_all(&[0xAB, 0xCD, 0xEF]).unwrap();
    drop(h2c);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(top1(&sqz(&args)), "285", "after stray H2C bytes");
    // A run whose deadline is far too short fails (non-zero exit), and the next is right.
    let mut hurried = args.to_vec();
    hurried.extend(["--timeout", "0.01"]);
    let out = sqz(&hurried);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert_eq!(top1(&sqz(&args)), "285", "after a timed-out run");
    // Bytes someone else wrote into the C2H stream are drained before the next run.
    let mut c2h = std::fs::OpenOptions::new()
        .write(true)
        .open(card.dir.join("xdma0_c2h_0"))
        .unwrap();
    c2h.write_all(&[0x5A; 40]).unwrap();
    drop(c2h);
    assert_eq!(top1(&sqz(&args)), "285", "after stray C2H bytes");
}
