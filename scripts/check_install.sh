#!/usr/bin/env bash
# The driver as a user gets it, checked on this machine:
# 1. its default build needs no Verilator: `cargo tree` shows no `sim`/`hdl` in sqz-host's build
#    graph, and `cargo install --path host` succeeds with every `verilator` hidden from PATH;
# 2. the installed binary, run from an empty directory with SQZ_MODEL unset and no ../shared
#    reachable, classifies the sample image with the built-in model: 285 (Egyptian cat) first.
# It installs with the test profile into target/ (sharing what `cargo test` built), so it costs
# only the driver's own compile.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

graph=$(cargo tree -p host -e normal,build --prefix none --format '{p}' | awk '{print $1}' | sort -u)
for crate in sim hdl rust-hdl; do
    if grep -qx "$crate" <<<"$graph"; then
        echo "error: sqz-host's default build depends on $crate (it must build without Verilator)" >&2
        exit 1
    fi
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# PATH without Verilator: every other tool of each PATH directory, linked into one directory.
mkdir "$scratch/bin" "$scratch/root" "$scratch/empty"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do
        name=$(basename "$f")
        case "$name" in verilator*) continue ;; esac
        [ -x "$f" ] && [ ! -e "$scratch/bin/$name" ] && ln -s "$f" "$scratch/bin/$name"
    done
done
if PATH="$scratch/bin" command -v verilator >/dev/null; then
    echo "error: could not hide verilator from PATH" >&2
    exit 1
fi
PATH="$scratch/bin" VERILATOR=/nonexistent/verilator \
    cargo install --quiet --offline --locked --path host --profile test --target-dir "$repo/target" \
    --root "$scratch/root"

cp examples/chelsea.png "$scratch/empty/"
cd "$scratch/empty"
out=$(env -u SQZ_MODEL "$scratch/root/bin/sqz-host" infer chelsea.png --top 1)
echo "$out"
if ! grep -Eq '^ +1\. +285 ' <<<"$out"; then
    echo "error: the installed sqz-host did not print 285 (Egyptian cat) first" >&2
    exit 1
fi
echo "check_install: sqz-host builds without Verilator and classifies from an empty directory"
