#!/usr/bin/env bash
# Load benchmark for users: release build, start `serve` on loopback, drive it with h2load
# (HTTP/2, 8 connections x 16 streams) and wrk (HTTP/1.1, 32 keep-alive connections) on
# the seed review, a denied one, a mutating one and a 100 KB one; print requests/s, p99
# and the server's CPU time per request (from /proc: the steadiest figure on small boxes).
#
#   scripts/bench.sh [SECONDS]        (default 10 per case; loopback only, bounded)
#
# Needs h2load (nghttp2-client) and wrk: apt-get install nghttp2-client wrk.
# For a side-by-side run against the Go peer, see the README ("Performance").
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
((secs >= 1 && secs <= 120)) || { echo "SECONDS must be 1..120" >&2; exit 2; }
for tool in h2load wrk python3 curl; do
  command -v $tool >/dev/null || { echo "bench: $tool is missing (apt-get install nghttp2-client wrk)" >&2; exit 2; }
done
scripts/bootstrap.sh
swift build -c release --static-swift-stdlib --product wasmplugin-webhook >/dev/null

work=$(mktemp -d /tmp/wasmplugin-bench.XXXXXX)
port=9555
fixtures=Tests/WasmPluginPolicyTests/Fixtures
cp $fixtures/validate-seed-gateway.request.json "$work/valid.json"
cp $fixtures/validate-ftp-scheme.request.json "$work/invalid.json"
cp $fixtures/mutate-no-scheme.request.json "$work/mutate.json"
python3 - "$work" <<'PY'
import json, sys, base64
d = json.load(open(sys.argv[1] + "/valid.json"))
creds = [f"user{i:04d}:pass{i:04d}" if i % 2 else base64.b64encode(f"user{i:04d}:pass{i:04d}".encode()).decode() for i in range(3600)]
d["request"]["object"]["spec"]["pluginConfig"]["basic_auth_rules"][0]["credentials"] = creds
json.dump(d, open(sys.argv[1] + "/large.json", "w"))
PY
cat > "$work/post.lua" <<'LUA'
local f = io.open(os.getenv("BODY"), "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"
LUA

# Plain user:pass credentials stay as written so that /mutate answers the same each time.
printf 'credentials: keep\n' > "$work/policy.yaml"
.build/release/wasmplugin-webhook serve --listen 127.0.0.1:$port --policy "$work/policy.yaml" 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sk https://127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.1; done

cpu_ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
hz=$(getconf CLK_TCK)
rss_kib=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
printf '# %s  %s cores  %ss per case  idle RSS %s MiB\n' "$(date -u +%FT%TZ)" "$(nproc)" "$secs" "$((rss_kib / 1024))"
printf '%-22s %12s %10s %14s %8s\n' case "requests/s" "p99 ms" "CPU us/req" errors
for proto in h2 h1; do
  for c in validate/valid validate/invalid mutate/mutate validate/large; do
    endpoint=${c%/*}; body="$work/${c#*/}.json"
    before=$(cpu_ticks)
    if [[ $proto == h2 ]]; then
      out=$(h2load -t1 -c8 -m16 -D "$secs" -d "$body" -H 'content-type: application/json' https://127.0.0.1:$port/$endpoint 2>&1)
      rps=$(awk '/^finished in/ {print $(NF-2)}' <<<"$out" | tr -d ',')
      done_n=$(awk '/^requests:/ {print $8}' <<<"$out")
      errors=$(awk '/^requests:/ {print $10 + $12}' <<<"$out")
      p99="(mean $(awk '/^time for request:/ {print $6}' <<<"$out"))"  # h2load prints no percentiles
    else
      out=$(BODY="$body" wrk -t2 -c32 -d "${secs}s" --latency -s "$work/post.lua" https://127.0.0.1:$port/$endpoint 2>&1)
      rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
      done_n=$(awk '/requests in/ {print $1}' <<<"$out")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
      errors=$(awk '/Non-2xx|Socket errors/ {s += $NF} END {print s + 0}' <<<"$out")
    fi
    after=$(cpu_ticks)
    cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$done_n" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')
    printf '%-22s %12s %10s %14s %8s\n' "$proto/$c" "$rps" "$p99" "$cpu_us" "$errors"
  done
done
