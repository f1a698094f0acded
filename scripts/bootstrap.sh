#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian/Ubuntu machine, and nothing
# that is already there. Idempotent; safe to run every time.
#   build: libnghttp2-dev (HTTP/2), libssl-dev (TLS), libcurl4-openssl-dev (Kubernetes API client)
#   tests: curl, openssl, nghttp2-client (h2load), sslscan, python3 with jsonpatch, PyYAML and
#          kubernetes-validate, kubectl (for `kubectl kustomize`)
set -euo pipefail

need=()
for pkg in libnghttp2-dev libssl-dev libcurl4-openssl-dev pkg-config curl openssl nghttp2-client sslscan python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "bootstrap: installing ${need[*]}" >&2
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# kubectl: preinstalled on this project's machines; Debian's kubernetes-client otherwise.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "bootstrap: installing kubectl (kubernetes-client)" >&2
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq kubernetes-client >/dev/null
fi
for module in jsonpatch:jsonpatch yaml:PyYAML kubernetes_validate:kubernetes-validate; do
  if ! python3 -c "import ${module%%:*}" 2>/dev/null; then
    echo "bootstrap: installing the ${module#*:} Python package" >&2
    python3 -m pip install -q "${module#*:}" 2>/dev/null || python3 -m pip install -q --break-system-packages "${module#*:}"
  fi
done
