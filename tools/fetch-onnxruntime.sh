#!/usr/bin/env bash
# Fetch libonnxruntime from a PyPI wheel and unpack only the C-API libraries.
# usage: tools/fetch-onnxruntime.sh DEST [PACKAGE] [VERSION]
#   PACKAGE: onnxruntime (CPU, default) | onnxruntime-gpu (CUDA/TensorRT) | onnxruntime-migraphx (AMD)
# The wheel's libonnxruntime.so does not depend on Python, so any local python3 with pip can fetch it.
set -euo pipefail
dest=${1:?destination folder}
package=${2:-onnxruntime}
version=${3:-1.31.1}
python=${PYTHON:-python3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_34_x86_64 --python-version 3.11 \
  -d "$tmp" "${package}==${version}"
mkdir -p "$dest"
"$python" - "$tmp" "$dest" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
dest = sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        base = os.path.basename(member)
        if member.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime"):
            with archive.open(member) as src, open(os.path.join(dest, base), "wb") as out:
                out.write(src.read())
PY
cd "$dest"
full=$(ls libonnxruntime.so.1.* | head -n 1)
ln -sf "$full" libonnxruntime.so.1
ln -sf libonnxruntime.so.1 libonnxruntime.so
echo "$package $version -> $(pwd)/$full"
