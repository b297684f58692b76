#!/usr/bin/env bash
# README command 2: set up what is missing, then run every test (unit tests, and end-to-end tests
# that start the real server on the tiny models and talk to it over HTTP).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# cargo test builds the binary the end-to-end tests start, so the set-up need not build it too.
SETUP_SKIP_BUILD=1 bash scripts/setup.sh
# A too-old ONNX Runtime, for the test that the server refuses it cleanly instead of crashing.
if [[ ! -e third_party/onnxruntime-1.22/libonnxruntime.so ]]; then
  PYTHON=.venv/bin/python bash tools/fetch-onnxruntime.sh third_party/onnxruntime-1.22 onnxruntime 1.22.1
fi
# The GUI end-to-end test (crates/server/tests/gui.rs): Debian's Chromium and playwright-core from npm.
if [[ ! -x /usr/bin/chromium ]]; then
  sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
  echo "test: installing Debian's chromium for the GUI tests"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
  echo "test: installing Node.js and npm for the GUI tests"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
gui_tests=crates/server/tests/gui
lock_sum=$(sha256sum "$gui_tests/package-lock.json" | cut -d' ' -f1)
if [[ "$(cat "$gui_tests/node_modules/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]]; then
  (cd "$gui_tests" && npm ci --silent --no-audit --no-fund)
  echo "$lock_sum" >"$gui_tests/node_modules/.lock-sha256"
fi
cargo test --release --workspace "$@"
