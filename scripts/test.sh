#!/usr/bin/env bash
# The test command: installs what is missing, builds (warnings are errors), runs every
# test: unit, golden AdmissionReview pairs, and end-to-end tests of the built binary over
# real loopback TLS with curl, h2load, openssl and Python clients.
#
#   scripts/test.sh [swift test flags]                 # everything, as CI runs it
#   scripts/test.sh --sanitize thread|address [flags]  # the whole suite against a server (and
#       tests) built with ThreadSanitizer or AddressSanitizer, in .build-<sanitizer>; every
#       sanitizer report of any process fails the run (leaks: the webhook's processes).
#       Memory limits are not asserted there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
if [[ "${1:-}" != --sanitize ]]; then
  swift build --build-tests
  exec swift test --skip-build "$@"
fi
sanitizer=${2:?--sanitize thread|address}
shift 2
scratch=.build-$sanitizer
swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
# Reports go to files (one per process, the servers' included), so none is lost in a log.
export TSAN_OPTIONS="log_path=$reports/report halt_on_error=0 second_deadlock_stack=1"
# Leaks are checked in the webhook's own processes (the tests pass WEBHOOK_ASAN_OPTIONS to
# every binary they start), not in the test runner, where Foundation's Process and
# FileHandle keep memory until exit.
export ASAN_OPTIONS="log_path=$reports/report detect_leaks=0"
export WEBHOOK_ASAN_OPTIONS="log_path=$reports/report detect_leaks=1"
export WEBHOOK_SANITIZER=$sanitizer
status=0
swift test --skip-build --scratch-path "$scratch" --sanitize="$sanitizer" "$@" || status=$?
if compgen -G "$reports/report*" >/dev/null; then
  echo "sanitizer ($sanitizer) reports:"
  cat "$reports"/report*
  exit 1
fi
echo "sanitizer ($sanitizer): no reports"
exit "$status"
