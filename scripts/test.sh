#!/usr/bin/env bash
# Run every test of the project on a Debian machine: installs what the tests need when it is
# missing (Verilator, Yosys, g++ and make through apt-get), fetches the photos the fidelity tests
# use (scripts/fetch_photos.sh), then runs `cargo test --workspace` with the Verilated engine in
# the driver (`--features host/rtl`; extra arguments go to it), and last checks the driver a user
# installs (scripts/check_install.sh: built without Verilator, run from an empty directory).
# The shared data (model, images, golden outputs) is expected at ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in verilator yosys g++ make; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends verilator yosys g++ make
    else
        echo "error: the tests need ${need[*]}: install them (Debian: sudo apt-get install verilator yosys g++ make) and run this again" >&2
        exit 1
    fi
fi
verilator --version
yosys -V

scripts/fetch_photos.sh
cargo test --workspace --features host/rtl "$@"
scripts/check_install.sh
