#!/usr/bin/env bash
# README command 2: set up what is missing, then run every test (unit tests, and end-to-end tests
# that start the real server on the tiny models and talk to it over HTTP).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# cargo test builds the binary the end-to-end tests start, so the set-up need not build it too.
SETUP_SKIP_BUILD=1 bash scripts/setup.sh
cargo test --release --workspace "$@"
