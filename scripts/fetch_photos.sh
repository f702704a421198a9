#!/usr/bin/env bash
# Fetch the real photos that the built-in calibration was made from and that the fidelity check
# runs on, from three packages on PyPI that bundle them (no other source is needed):
#   scikit-learn 1.9.1   sklearn/datasets/images/china.jpg, flower.jpg
#   matplotlib 3.11.2    matplotlib/mpl-data/sample_data/grace_hopper.jpg
#   mahotas 1.4.19       mahotas/demos/data/DepartmentStore.jpg, luispedro.jpg
# The wheels are only unpacked, never installed; each photo is checked against its SHA-256.
# Usage: scripts/fetch_photos.sh [DIR]   (default: target/photos; DIR is what SQZ_PHOTOS names)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-target/photos}"
mkdir -p "$dir"

want() {
    cat <<'SUMS'
1b6ae6ab0fd757370501368981f989fe7b1b6d0d7703028990a6bffe94cc67e0  DepartmentStore.jpg
8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29  china.jpg
a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638  flower.jpg
a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130  grace_hopper.jpg
27e7af47501a4e9a06e4d8bd8b834bd773fe7b187baef2f47e120c663524bed1  luispedro.jpg
SUMS
}

if (cd "$dir" && want | sha256sum --quiet -c - >/dev/null 2>&1); then
    echo "photos already in $dir"
    exit 0
fi

wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" \
    scikit-learn==1.9.1 matplotlib==3.11.2 mahotas==1.4.19
extract() { # wheel-glob member...
    local whl
    whl="$(ls "$wheels"/$1)"
    shift
    python3 - "$whl" "$dir" "$@" <<'PY'
import os, sys, zipfile
whl, out, members = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(whl) as z:
    for m in members:
        with open(os.path.join(out, os.path.basename(m)), "wb") as f:
            f.write(z.read(m))
PY
}
extract 'scikit_learn-*.whl' sklearn/datasets/images/china.jpg sklearn/datasets/images/flower.jpg
extract 'matplotlib-*.whl' matplotlib/mpl-data/sample_data/grace_hopper.jpg
extract 'mahotas-*.whl' mahotas/demos/data/DepartmentStore.jpg mahotas/demos/data/luispedro.jpg
(cd "$dir" && want | sha256sum -c --quiet -)
echo "photos in $dir"
