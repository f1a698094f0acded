#!/usr/bin/env bash
# The test command: installs what is missing, builds (warnings are errors), runs every
# test: unit, golden AdmissionReview pairs, and end-to-end tests of the built binary over
# real loopback TLS with curl, h2load, openssl and Python clients.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build "$@"
