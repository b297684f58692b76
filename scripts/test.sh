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
cargo test --release --workspace "$@"
