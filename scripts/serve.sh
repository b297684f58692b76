#!/usr/bin/env bash
# README command 1: set up what is missing, then serve the models folder (the demo models on a
# fresh clone) on http://127.0.0.1:5000. Extra arguments go to the server, e.g. --port 5001.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec target/release/onnx-web "$@"
