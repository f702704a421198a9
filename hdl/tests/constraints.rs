//! The Vivado project TCL in constraints/ wires `sqz_top` by port and interface name: every name it
//! uses must exist in the emitted Verilog (Vivado is not available here, so this is the check).

use spec::AccelConfig;

#[test]
fn vivado_tcl_names_only_ports_the_top_has() {
    let tcl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../constraints/nitefury_project.tcl"
    ))
    .expect("constraints/nitefury_project.tcl");
    let v = hdl::emit::verilog(&AccelConfig::nitefury()).expect("emit nitefury");
    let start = v.find("module sqz_top(").expect("module sqz_top") + "module sqz_top(".len();
    let end = start + v[start..].find(");").expect("end of port list");
    let ports: Vec<&str> = v[start..end].split(',').map(str::trim).collect();
    let mut checked = 0;
    for part in tcl.split("sqz/").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // Interfaces (s_axil, s_axis, m_axis) are inferred from their `<name>_t*`/`<name>_*` ports.
        let prefix = format!("{name}_");
        let found = ports.iter().any(|p| *p == name || p.starts_with(&prefix));
        assert!(
            found,
            "constraints TCL uses sqz/{name}, which sqz_top does not have"
        );
        checked += 1;
    }
    assert!(
        checked >= 6,
        "expected the TCL to wire clk, resetn, irq and three buses, saw {checked}"
    );
}
