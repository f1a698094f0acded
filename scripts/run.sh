#!/usr/bin/env bash
# The run command: builds the release binary (Swift runtime linked statically, as in the
# image: smaller resident memory) and starts the webhook on
# https://127.0.0.1:8443. Without --tls-cert/--tls-key it serves a development
# certificate and logs where its CA is (the "caFile" field). Extra flags go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release --static-swift-stdlib --product wasmplugin-webhook
exec .build/release/wasmplugin-webhook serve "$@"
